"""Frozen-feature transfer (`<architecture>-probe`): the cheapest strong arm.

A pretrained network embeds every tile once, resampled to the network's native input size
(the size its weights were made at, larger for the deeper EfficientNet-Lites) and in the normalisation its weights expect; a linear classifier is fitted on the pooled features, its
regularisation and pooling chosen by grouped cross-validation. DeCost et al. (2017) classified
UHCSDB this way (pretrained CNN features and an SVM).

Features are cached on disk per tile, keyed by the architecture, the weights' content and the
tile size; every pooling's features are kept, so any subset of tiles (a CV fold, the k-fold)
and either pooling reuses them. A fine-tuned arm whose head starts from a probe asks for the
features at its own input size instead.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ..config import StudyConfig
from ..core.grouped_cv import grouped_search
from ..core.weighting import BalancedLogisticRegression
from ..core.paths import cache_dir
from ..core.progress import bar
from ..data.tileset import TileSet, tile_digests
from .execution import inference_execution
from .checkpoint import Checkpoint
from .execution import Execution, InputTransform
from .models import PooledBackbone, build_model, head_prefix, input_statistics, native_input_size
from ..core.architectures import Arm, architecture
from .feature_cache import FEATURE_CACHE_VERSION, FeatureCache, state_digest, uncached_tiles
from .weights import load_backbone, pretrained_state_dict

@lru_cache(maxsize=4)
def _extractor(arch_name: str, weights: str | None) -> tuple[PooledBackbone, str, str]:
    """The frozen texture-pooled backbone, its weights' description and content digest
    (loaded once per process: every CV clone of the transformer shares it)."""
    arch = architecture(arch_name)
    state, desc = pretrained_state_dict(arch, weights)
    backbone = PooledBackbone(arch, "texture")
    load_backbone(backbone.net, state, desc, head_prefix(arch, backbone.net))
    return backbone.eval(), desc, state_digest(backbone.state_dict())


class FrozenFeatures(TransformerMixin, BaseEstimator):
    """Pooled features of a frozen pretrained network, for use first in a `Pipeline`.

    pooling="head": what the architecture's own classifier sees; "texture": those plus the
    mean and standard deviation of the last two feature stages (see `PooledBackbone`).
    `weights`: as `cnn.weights` (None: the architecture's default). `input_size`: the edge
    tiles are resampled to (None: the weights' native size). `precision`: "auto" is bf16
    where the CPU (AMX, AVX-512 BF16) or GPU computes it natively, else fp32; features of each
    precision are cached apart. `keep_maps`: a fine-tuned twin's boundary, whose trunk rows
    (`nets.cached_trunk`) the same forward pass caches beside the features, so that the twin's
    frozen trunk never runs again.
    """

    def __init__(self, architecture: str = "EfficientNet-Lite0", weights: str | None = None,
                 pooling: str = "texture", batch_size: int = 64, cache_dir: str | None = None,
                 memory_format: str = "channels_last", input_size: int | None = None,
                 precision: str = "auto", keep_maps: str | None = None):
        self.architecture, self.weights, self.pooling = architecture, weights, pooling
        self.batch_size, self.cache_dir, self.memory_format = batch_size, cache_dir, memory_format
        self.input_size, self.precision, self.keep_maps = input_size, precision, keep_maps

    def execution(self) -> Execution:
        return inference_execution(self.memory_format, self.precision)

    def resolved_input_size(self) -> int:
        if self.input_size:
            return self.input_size
        backbone, _, _ = _extractor(self.architecture, self.weights)
        return native_input_size(architecture(self.architecture), backbone.net)

    def fit(self, X, y=None):
        self.head_width_ = self._head_width()
        return self

    def _head_width(self) -> int:
        backbone, _, _ = _extractor(self.architecture, self.weights)
        device = next(backbone.parameters()).device
        with torch.no_grad():
            return int(backbone.net(torch.zeros(1, 3, 64, 64, device=device)).shape[1])

    def width(self) -> int:
        """Number of features this pooling gives a tile."""
        if self.pooling == "head":
            return self._head_width()
        backbone, _, _ = _extractor(self.architecture, self.weights)
        device = next(backbone.parameters()).device
        with torch.no_grad():
            return int(backbone(torch.zeros(1, 3, 64, 64, device=device)).shape[1])

    def transform(self, X):
        feats = self.texture_features(X)
        return feats if self.pooling == "texture" else feats[:, :self._head_width()]

    def input_transform(self) -> InputTransform:
        backbone, _, _ = _extractor(self.architecture, self.weights)
        mean, std = input_statistics(architecture(self.architecture), backbone.net)
        return InputTransform(self.resolved_input_size(), mean, std, "imagenet")

    def cache_name(self, tile_size: int) -> str:
        """The feature cache's name: the weights' content, tile and input size, precision."""
        _, _, digest = _extractor(self.architecture, self.weights)
        return (f"{self.architecture}-{digest}-{tile_size}-{self.resolved_input_size()}-"
                f"{self.execution().precision}-v{FEATURE_CACHE_VERSION}")

    def _cache(self, tile_size: int) -> "FeatureCache":
        return FeatureCache.open(self.cache_dir, self.cache_name(tile_size))

    def uncached(self, tiles: np.ndarray) -> int:
        """How many of `tiles` still need a forward pass."""
        return uncached_tiles(self.cache_dir, self.cache_name(tiles.shape[1]), tiles)

    def texture_features(self, tiles: np.ndarray) -> np.ndarray:
        """Every pooled feature of every tile, from the cache where it has them."""
        if tiles.ndim != 3 or tiles.dtype != np.uint8:
            raise ValueError(f"frozen features need uint8 tiles shaped (n, h, w), got "
                             f"{tiles.dtype} {tiles.shape}")
        backbone, _, _ = _extractor(self.architecture, self.weights)
        transform = self.input_transform()
        cache = self._cache(tiles.shape[1])
        keys = np.array(tile_digests(tiles))
        missing = [i for i, k in enumerate(keys) if k not in cache.index]
        if missing:
            ex = self.execution()
            net = ex.prepare(backbone)
            out, maps, tap = [], [], self._tap(backbone)
            with torch.no_grad(), ex.autocast():
                for s in bar(range(0, len(missing), self.batch_size),
                             desc=f"{self.architecture} features ({ex.precision})", unit="batch"):
                    idx = missing[s:s + self.batch_size]
                    with tap:
                        out.append(net(ex.batch(transform(tiles[idx]))).float().cpu().numpy())
                    if self.keep_maps:
                        maps.append(tap.rows())
            cache.add(keys[missing], np.concatenate(out))
            if maps:
                self._keep_maps(keys[missing], np.concatenate(maps), tiles.shape[1])
        return cache.get(keys)

    def _tap(self, backbone):
        from contextlib import nullcontext

        from .cached_trunk import TrunkTap
        return TrunkTap(backbone, self.keep_maps) if self.keep_maps else nullcontext()

    def _keep_maps(self, keys: np.ndarray, rows: np.ndarray, tile_size: int) -> None:
        from .cached_trunk import MapCache, map_cache_name

        _, _, digest = _extractor(self.architecture, self.weights)
        cache = MapCache.open(self.cache_dir, map_cache_name(
            self.architecture, digest, tile_size, self.input_transform(),
            self.execution().precision, self.keep_maps))
        new = np.array([k not in cache.index for k in keys])
        if new.any():
            cache.add(keys[new], rows[new].astype(np.float16))


def probe_pipeline(arm: Arm, weights: str | None, cache_dir: str | None, batch_size: int = 64,
                   seed: int = 0, memory_format: str = "channels_last",
                   input_size: int | None = None, keep_maps: str | None = None) -> Pipeline:
    return Pipeline([
        ("features", FrozenFeatures(arm.architecture, weights, batch_size=batch_size,
                                    cache_dir=cache_dir, memory_format=memory_format,
                                    input_size=input_size, keep_maps=keep_maps)),
        ("scale", StandardScaler()),
        ("clf", BalancedLogisticRegression(max_iter=3000, random_state=seed))])


def folded_head(pipeline: Pipeline) -> tuple[torch.Tensor, torch.Tensor]:
    """The fitted scaler and logistic regression as one linear layer on the raw features:
    W' = W / σ, b' = b - W' μ. Softmax of its output equals `predict_proba`."""
    scale, clf = pipeline.named_steps["scale"], pipeline.named_steps["clf"]
    W = clf.coef_ / scale.scale_
    b = clf.intercept_ - W @ scale.mean_
    if W.shape[0] == 1:   # two classes: sklearn keeps one row, softmax([0, z]) = sigmoid(z)
        W, b = np.vstack([np.zeros_like(W), W]), np.r_[0.0, b]
    return torch.tensor(W, dtype=torch.float32), torch.tensor(b, dtype=torch.float32)


# ---------------------------------------------------------------- the probe of an arm

def arm_probe_pipeline(arm: Arm, cfg: StudyConfig, memory_format: str = "channels_last",
                    input_size: int | None = None):
    """`probe_pipeline` as the profile configures it for the arm (weights, cache, batch, seed;
    the maps its fine-tuned twin trains on, where the profile lists one at this input size)."""
    from .cached_tuning import twin_boundary

    return probe_pipeline(arm, cfg.weights_for(arm.architecture), str(cache_dir(cfg) / "features"),
                          cfg.probe.batch_size, cfg.split.seed, memory_format, input_size,
                          twin_boundary(arm, cfg) if input_size is None else None)


def probe_grid(cfg: StudyConfig, poolings: list[str] | None = None) -> dict:
    """The grouped search's grid: the profile's poolings (or `poolings`), C values and
    weightings (`core.weighting`)."""
    return {"features__pooling": poolings or cfg.probe.pooling, "clf__C": cfg.probe.C,
            "clf__weighting": cfg.probe.weighting}


def fit_probe(arm: Arm, tileset: TileSet, cfg: StudyConfig, index: np.ndarray,
              poolings: list[str] | None = None, memory_format: str = "channels_last",
              input_size: int | None = None):
    """The probe pipeline tuned by grouped CV on the tiles `index` (samples kept whole)."""
    m = tileset.manifest.iloc[index]
    return grouped_search(arm_probe_pipeline(arm, cfg, memory_format, input_size),
                          probe_grid(cfg, poolings), tileset.tiles[index], tileset.labels(m),
                          m["group"].to_numpy(), cfg.probe.cv_folds, cfg.split.seed,
                          "probe.cv_folds")


def probe_checkpoint(search, arm: Arm, tileset: TileSet, cfg: StudyConfig) -> Checkpoint:
    """The fitted probe as a network: the frozen backbone with the linear classifier folded
    into its head, so predict, Grad-CAM and phase maps use it like any trained arm."""
    best = search.best_estimator_
    feats: FrozenFeatures = best.named_steps["features"]
    model, desc = build_model(arm, len(tileset.classes), cfg.weights_for(arm.architecture),
                              feats.pooling)
    W, b = folded_head(best)
    model.head.weight.data.copy_(W)
    model.head.bias.data.copy_(b)
    return Checkpoint(arm.name, tileset.classes, cfg.tiling.tile_size, cfg.tiling.um_per_px,
                      cfg.data.databar, feats.pooling, feats.input_transform().to_dict(), desc,
                      model.state_dict(), cfg.split.seed, profile=cfg.profile)
