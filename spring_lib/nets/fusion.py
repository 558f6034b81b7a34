"""The fused arm: the study's probes read together, one linear head on all their features.

Each probe's network sees a tile differently (its depth, its input size); their texture-pooled
features, already cached per tile by the probes, are concatenated and one logistic regression
is fitted on them. Which networks join (every subset of at least `fusion.min_members` of the
profile's `fusion.members` whose probe ran), C and the weighting (`core.weighting`) are chosen by grouped CV
inside each training fold, never by a test score; the search space is the profile's.

The fitted arm is a network like the others (`FusedNetwork`): the members' backbones side by side,
each fed the tile at its own input size and normalisation, and the folded linear head, so
`predict` and the phase maps use its checkpoint as they use any arm's.
"""
from __future__ import annotations

import time
from itertools import combinations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from ..config import StudyConfig
from ..core.arm_kinds import kfold_evaluation
from ..core.arm_result import ArmResult, ArmStatus
from ..core.grouped_cv import cv_table, grouped_search, tuned, tuning_pool
from ..core.weighting import BalancedLogisticRegression
from ..core.architectures import ARCHITECTURES, Arm
from ..core.paths import cache_dir
from ..core.predictions import prediction_frame, save_predictions
from ..core.products import ARMS_TABLES
from ..core.progress import Progress
from ..data.reading import whole_reading
from .checkpoint import Checkpoint
from .execution import InputTransform
from .models import PooledBackbone
from .probe import FrozenFeatures, _extractor, folded_head

ARM = "fused"
SEP = "+"   # members of a candidate, as the grid and the tables spell them


class FusedFeatures(TransformerMixin, BaseEstimator):
    """The texture-pooled features of several frozen networks side by side. `members`: their
    architectures joined by "+" (a grid parameter); `weights`: each one's `cnn.weights`."""

    def __init__(self, members: str = "", weights: dict | None = None,
                 cache_dir: str | None = None, batch_size: int = 32,
                 memory_format: str = "channels_last"):
        self.members, self.weights, self.cache_dir = members, weights, cache_dir
        self.batch_size, self.memory_format = batch_size, memory_format

    def extractors(self) -> list[FrozenFeatures]:
        return [FrozenFeatures(a, (self.weights or {}).get(a), "texture", self.batch_size,
                               self.cache_dir, self.memory_format)
                for a in self.members.split(SEP)]

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.hstack([f.texture_features(X) for f in self.extractors()])


def candidates(cfg: StudyConfig, probed: list[str]) -> list[str]:
    """The member sets the inner search tries: every subset of at least `fusion.min_members`
    of the profile's members whose probe ran, in the profile's order."""
    members = [a for a in cfg.fusion.members if a in probed]
    return [SEP.join(c) for k in range(cfg.fusion.min_members, len(members) + 1)
            for c in combinations(members, k)]


def fused_pipeline(cfg: StudyConfig, memory_format: str = "channels_last") -> Pipeline:
    weights = {a: cfg.weights_for(a) for a in cfg.fusion.members}
    return Pipeline([
        ("features", FusedFeatures("", weights, str(cache_dir(cfg) / "features"),
                                   cfg.probe.batch_size, memory_format)),
        ("scale", StandardScaler()),
        ("clf", BalancedLogisticRegression(max_iter=3000, random_state=cfg.split.seed))])


def fused_grid(cfg: StudyConfig, probed: list[str]) -> dict:
    """The inner search's space: member sets, C and weighting, all from the profile."""
    return {"features__members": candidates(cfg, probed), "clf__C": cfg.fusion.C,
            "clf__weighting": cfg.probe.weighting}


class FusedNetwork(nn.Module):
    """The members' backbones side by side and one linear head on their joined features. Its
    input is the tile at its own size, scaled to [0, 1] (`input_transform`); each member
    resamples and normalises it as its probe did (`FrozenFeatures.input_transform`)."""

    def __init__(self, members: list[str], transforms: list[dict], num_classes: int):
        super().__init__()
        self.members = nn.ModuleList(PooledBackbone(ARCHITECTURES[a], "texture") for a in members)
        self.transforms = [InputTransform(**t) for t in transforms]
        with torch.no_grad():
            dim = sum(m.eval()(torch.zeros(1, 3, 64, 64)).shape[1] for m in self.members)
        self.head = nn.Linear(dim, num_classes)

    @staticmethod
    def input_transform(tile_size: int) -> InputTransform:
        return InputTransform(tile_size, (0.0,) * 3, (1.0,) * 3, "unit")

    def forward(self, x):
        feats = []
        for member, t in zip(self.members, self.transforms):
            xi = x if x.shape[-1] == t.size else F.interpolate(
                x, size=(t.size, t.size), mode="bilinear", antialias=True, align_corners=False)
            mean = torch.tensor(t.mean, device=x.device).view(1, 3, 1, 1)
            std = torch.tensor(t.std, device=x.device).view(1, 3, 1, 1)
            feats.append(member((xi - mean) / std).float())
        return self.head(torch.cat(feats, 1))


def fused_checkpoint(search, tileset, cfg: StudyConfig) -> Checkpoint:
    """The fitted fused probe as one network: every member on its pretrained weights, the
    scaler and logistic regression folded into the head."""
    best = search.best_estimator_
    extractors = best.named_steps["features"].extractors()
    members = [f.architecture for f in extractors]
    transforms = [f.input_transform().to_dict() for f in extractors]
    model = FusedNetwork(members, transforms, len(tileset.classes))
    frozen = [_extractor(f.architecture, f.weights) for f in extractors]   # loaded once already
    for member, (backbone, _, _) in zip(model.members, frozen):
        member.load_state_dict(backbone.state_dict())
    W, b = folded_head(best)
    model.head.weight.data.copy_(W)
    model.head.bias.data.copy_(b)
    return Checkpoint(ARM, tileset.classes, cfg.tiling.tile_size, cfg.tiling.um_per_px,
                      cfg.data.databar, "texture",
                      FusedNetwork.input_transform(cfg.tiling.tile_size).to_dict(),
                      ", ".join(f"{m}: {desc}" for m, (_, desc, _) in zip(members, frozen)),
                      model.state_dict(), cfg.split.seed, profile=cfg.profile,
                      members=[dict(architecture=m, transform=t)
                               for m, t in zip(members, transforms)])


def fused_costs(work) -> list:
    """Notebook 04's fused arm (registered in `core.costs`): its grouped searches on the
    members' cached features, for the held-out split and each fold, as a probe's; members whose
    weights this machine lacks are left out, as the run leaves out their probes."""
    from ..core.costs import Unit
    from . import costs
    from .weights import WeightsUnavailable

    cfg, n, k = work.cfg, work.counts, work.cfg.evaluation.kfold
    widths = {}
    for a in cfg.fusion.members:
        try:
            widths[a] = FrozenFeatures(a, cfg.weights_for(a)).width()
        except WeightsUnavailable:
            continue
    sets = [c.split(SEP) for c in candidates(cfg, list(widths))]
    if not sets:
        return []
    dim = round(np.mean([sum(widths[a] for a in s) for s in sets]))
    grid = len(sets) * len(cfg.fusion.C) * len(cfg.probe.weighting)
    sample = work.sample(64)[0]
    part = f"fused arm: {grid} configurations"
    return [Unit(part, u.key, u.time, u.items, u.count) for u in costs.probe_units(
        n.tiles, k, grid, cfg.probe.cv_folds, dim, sample)]


def probed_architectures(out) -> list[str]:
    """The architectures whose probe this run evaluated (the arms tables written so far)."""
    tables = [out.read_table(t) for t in ARMS_TABLES if out.has_table(t)]
    arms = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=["arm", "status"])
    done = arms.loc[arms["status"] == ArmStatus.PROBED.value, "arm"]
    return [Arm.parse(a).architecture for a in done]


def run_fused_arm(tileset, cfg: StudyConfig, out) -> ArmResult:
    """The fused arm (notebook 04, after the probes): tuned on the split's training and
    validation micrographs (the checkpoint and its held-out test predictions), then evaluated by the run's k-fold, its members,
    C and weighting chosen inside each training fold; not run with fewer than
    `fusion.min_members` probes."""
    grid = fused_grid(cfg, probed_architectures(out))
    if not grid["features__members"]:
        return ArmResult(ARM, ARM, ArmStatus.NOT_RUN_TOO_FEW, f"fewer than "
                         f"{cfg.fusion.min_members} of fusion.members {cfg.fusion.members} "
                         "were probed in this run")
    t0 = time.perf_counter()
    progress = Progress(ARM, cfg.split.seed)
    X, y, groups, _ = tuning_pool(tileset)
    search = grouped_search(fused_pipeline(cfg), grid, X, y, groups, cfg.probe.cv_folds,
                            cfg.split.seed, "probe.cv_folds")
    out.table(cv_table(search), f"probe_cv_{ARM}")
    te_x, te_m = tileset.split("test")
    proba = search.predict_proba(te_x)
    paths = [save_predictions(prediction_frame(te_m, tileset.classes, proba.argmax(1), proba,
                                               ARM, "probability"), out.root),
             fused_checkpoint(search, tileset, cfg).save(out.arm_file("model", ARM))]
    fit = tuned(fused_pipeline(cfg), grid, cfg.probe.cv_folds, cfg.split.seed, "probe.cv_folds")
    chosen, kfold = kfold_evaluation(fit, tileset.tiles, tileset, cfg, out, ARM,
                                     whole_reading(cfg, tileset))
    seconds = time.perf_counter() - t0
    progress.done(seconds, status=ArmStatus.FITTED.value)
    best = search.best_params_
    return ArmResult(ARM, ARM, ArmStatus.FITTED, outcome={
        "members": best["features__members"], "C": best["clf__C"],
        "weighting": best["clf__weighting"],
        "configurations": len(search.cv_results_["params"]),
        "fold_members": " ".join(chosen["members"]),
        "cv_accuracy": float(search.best_score_),
        "inner_score": float(chosen["inner_accuracy"].mean()),
        "test_tile_acc": float((proba.argmax(1) == tileset.labels(te_m)).mean())},
        actual_s=seconds,
        paths=[p.relative_to(out.root).as_posix() for p in paths] + [kfold]).finished()
