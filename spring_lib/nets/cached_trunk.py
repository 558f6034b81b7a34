"""Fine-tuning on the frozen trunk's cached output (LOFF-TA, Konuk et al. 2024).

A fine-tuned arm trains only its top (`freeze`: the last stage, or the last block where a whole
stage does not fit the budget) and its head. Its frozen trunk gives each tile the same output in
every epoch, fold and rerun, so it runs once per tile: each tile's activation map at the top's
input is cached, with the mean and standard deviation of any texture-pooled stage inside the
trunk, and the top trains on those. A trained top's weights load back into the whole network,
which `predict`, Grad-CAM and the phase maps use like any other.

The map of a flipped or rotated tile is not the flipped map, but close to it; the top augments
with the 8 dihedral symmetries of the maps (a micrograph has no up or left), in training and as
test-time views.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data.tileset import tile_digests
from .execution import Execution, InputTransform
from .models import Classifier, texture_stage_names
from .feature_cache import FeatureCache, state_digest

MAP_CACHE_VERSION = 1


def call_order(net: nn.Module) -> list[str]:
    """Every submodule's name in the order a forward pass first calls it (an eval-mode pass on
    a small blank image; every module's mode is left as it was)."""
    order, hooks, modes = [], [], [(m, m.training) for m in net.modules()]
    for name, mod in net.named_modules():
        if name:
            hooks.append(mod.register_forward_pre_hook(
                lambda m, a, n=name: order.append(n) if n not in order else None))
    device = next(net.parameters()).device
    try:
        with torch.no_grad():
            net.eval()(torch.zeros(1, 3, 64, 64, device=device))
    finally:
        for h in hooks:
            h.remove()
        for m, training in modes:
            m.train(training)
    return order


def _ancestors(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def _inside(name: str, modules) -> bool:
    """Whether module `name` is one of `modules` or lies within one."""
    return name in modules or bool(_ancestors(name) & set(modules))


def split_at(net: nn.Module, boundary: str) -> tuple[list[str], list[str]]:
    """(trunk, top): the outermost modules the forward pass calls before `boundary`, and from
    it on; the boundary's ancestors belong to neither."""
    order = call_order(net)
    if boundary not in order:
        raise ValueError(f"{boundary!r} is not a module the network calls; its modules: "
                         f"{order[:8]}...")
    at, above = order.index(boundary), _ancestors(boundary)

    def outermost(names):
        chosen = [n for n in names if n not in above]
        return [n for n in chosen if not (_ancestors(n) & set(chosen))]
    return outermost(order[:at]), outermost(order[at:])


def _set_module(net: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(net.get_submodule(parent) if parent else net, child, module)


def dihedral(x: torch.Tensor, k: int, flip: bool) -> torch.Tensor:
    x = torch.rot90(x, k, dims=(2, 3)) if k else x
    return torch.flip(x, dims=(3,)) if flip else x


VIEWS = {"none": [(0, False)], "flips": [(0, False), (0, True)],
         "dihedral": [(k, f) for f in (False, True) for k in range(4)]}


class CachedTop(nn.Module):
    """The trainable top of a `Classifier` (its trunk replaced by identities) and its head, fed
    the rows `cached_rows` caches: the flattened map at the boundary, then the trunk's texture
    statistics. In training it sees each map in a random dihedral view; in evaluation it
    returns the log of its probabilities averaged over `views`."""

    def __init__(self, model: Classifier, boundary: str, map_shape: tuple[int, ...],
                 augment: bool = True, views: str = "none", memory_format: str = "contiguous"):
        super().__init__()
        self.model = copy.deepcopy(model)
        net = self.model.backbone.net
        trunk, _ = split_at(net, boundary)
        for name in trunk:
            _set_module(net, name, nn.Identity())
        self.boundary, self.map_shape, self.augment, self.views = boundary, map_shape, augment, views
        self.memory_format = memory_format   # the execution's (`Execution.prepare` sets it)
        stages = texture_stage_names(model.backbone)
        self.trunk_stages = [i for i, s in enumerate(stages) if _inside(s, trunk)]
        with torch.no_grad():   # channels of each texture stage, as the whole network has them
            _, st = copy.deepcopy(model.backbone).eval()._stages(torch.zeros(
                1, 3, 64, 64, device=next(model.parameters()).device))
        self.stage_widths = [s.shape[1] for s in st]

    @property
    def backbone(self):   # what a rate's key names (`timing.network_key`)
        return self.model.backbone

    @property
    def input_shape(self) -> tuple[int]:
        """One row: the flattened map, then the trunk's texture statistics (cached whatever
        the pooling, so one cache serves both)."""
        stats = sum(2 * w for i, w in enumerate(self.stage_widths) if i in self.trunk_stages)
        return (int(np.prod(self.map_shape)) + stats,)

    def _logits(self, x: torch.Tensor, trunk_stats: torch.Tensor) -> torch.Tensor:
        bb = self.model.backbone
        if self.memory_format == "channels_last" and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        if bb.pooling == "head":
            return self.model.head(bb.net(x))
        if len(self.trunk_stages) == len(self.stage_widths):   # every stage's output cached
            pooled, stages = bb.net(x), [None] * len(self.stage_widths)
        else:
            pooled, stages = bb._stages(x)
        parts, j = [pooled.float()], 0
        for i, width in enumerate(self.stage_widths):
            if i in self.trunk_stages:   # this stage's output is not computed here: cached
                parts.append(trunk_stats[:, j:j + 2 * width].float())
                j += 2 * width
            else:
                parts += [stages[i].float().mean((2, 3)), stages[i].float().std((2, 3))]
        return self.model.head(torch.cat(parts, 1))

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        n, numel = len(rows), int(np.prod(self.map_shape))
        x = rows[:, :numel].reshape(n, *self.map_shape)
        stats = rows[:, numel:]
        spatial = x.dim() == 4   # a fully connected top's input has no up or left
        if self.training:
            if self.augment and spatial:
                k = torch.randint(0, 4, (1,)).item()
                x = dihedral(x, k, bool(torch.randint(0, 2, (1,)).item()))
            return self._logits(x, stats)
        views = VIEWS[self.views if spatial else "none"]
        p = sum(torch.softmax(self._logits(dihedral(x, k, f), stats).float(), 1)
                for k, f in views) / len(views)
        return torch.log(p.clamp_min(1e-12))

    def whole_state(self) -> dict:
        """The top's trained weights under the whole network's names."""
        return {k.removeprefix("model."): v for k, v in self.state_dict().items()}


class RowInput:
    """Cached rows (float16) -> float32 tensors: the input transform of a cached top."""

    def __call__(self, rows: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.asarray(rows, dtype=np.float32))


class _Stop(Exception):
    pass


class TrunkTap:
    """Hooks that read each tile's trunk row during a backbone's forward pass: its map at
    `boundary`, flattened, then the mean and standard deviation of each texture stage inside
    the trunk (float32). With `stop`, the pass ends at the boundary (`trunk_rows`); without,
    the whole pass runs (a probe's features, its maps kept on the way)."""

    def __init__(self, backbone, boundary: str, stop: bool = False):
        self.net, self.boundary, self.stop = backbone.net, boundary, stop
        trunk = split_at(backbone.net, boundary)[0]
        self.stages = [s for s in texture_stage_names(backbone) if _inside(s, trunk)]
        self.got: dict = {}

    def __enter__(self) -> "TrunkTap":
        def stats(m, a, o, s):
            self.got[s] = torch.cat([o.float().mean((2, 3)), o.float().std((2, 3))], 1)

        def at_boundary(m, args):
            self.got["map"] = args[0]
            if self.stop:
                raise _Stop
        self.hooks = [self.net.get_submodule(s).register_forward_hook(
            lambda m, a, o, s=s: stats(m, a, o, s)) for s in self.stages]
        self.hooks.append(self.net.get_submodule(self.boundary).register_forward_pre_hook(
            at_boundary))
        return self

    def __exit__(self, *exc) -> bool:
        for h in self.hooks:
            h.remove()
        return exc[0] is _Stop   # the stop ends the pass, not the caller

    @property
    def shape(self) -> tuple:
        return tuple(self.got["map"].shape[1:])

    def rows(self) -> np.ndarray:
        """The rows of the batch the last pass read."""
        return torch.cat([self.got["map"].float().flatten(1)]
                         + [self.got[s] for s in self.stages], 1).cpu().numpy()


def trunk_rows(model: Classifier, boundary: str, tiles: np.ndarray, transform: InputTransform,
               execution: Execution, batch_size: int = 32) -> tuple[np.ndarray, tuple]:
    """Each tile's row through the frozen trunk (eval mode, float32; see `TrunkTap`), and the
    map's shape."""
    bb = model.backbone.eval()
    net, rows, tap = execution.prepare(bb.net), [], TrunkTap(bb, boundary, stop=True)
    with torch.no_grad(), execution.autocast():
        for s in range(0, len(tiles), batch_size):
            with tap:
                net(execution.batch(transform(tiles[s:s + batch_size])))
            rows.append(tap.rows())
    return np.concatenate(rows), tap.shape


def map_shape(model: Classifier, boundary: str, size: int) -> tuple:
    """The shape of one tile's map at `boundary`, for input `size` px."""
    return trunk_rows(model, boundary, np.zeros((1, size, size), np.uint8), InputTransform(size),
                      Execution())[1]


class MapCache(FeatureCache):
    """One .npz per (weights, tile size, input size, precision, boundary): tile digests and
    their trunk rows in float16 (exact for bf16 maps), beside the probe features' caches."""
    PREFIX = "maps"


def map_cache_name(architecture: str, weights: str, tile_size: int, transform: InputTransform,
                   precision: str, boundary: str) -> str:
    """The map cache's name: everything a trunk row depends on (`weights`: the backbone's
    `state_digest`, as the probe features' cache names it; the input's size and
    normalisation)."""
    import hashlib

    norm = hashlib.sha256(repr((transform.kind, tuple(transform.mean),
                                tuple(transform.std))).encode()).hexdigest()[:8]
    return (f"{architecture}-{weights}-{tile_size}-{transform.size}-{norm}-{precision}-"
            f"{boundary}-v{MAP_CACHE_VERSION}")


def uncached_maps(cache_dir: str | Path | None, name: str, tiles: np.ndarray,
                  probe_features: str | None = None) -> int:
    """How many of `tiles` the map cache `name` (`map_cache_name`) lacks; with
    `probe_features`, the cache of a probe that keeps these maps as it embeds its tiles, only
    those of them it will not embed (it has their features already)."""
    d = str(cache_dir) if cache_dir else None
    maps = MapCache.open(d, name).index
    features = FeatureCache.open(d, probe_features).index if probe_features else None
    return sum(k not in maps and (features is None or k in features)
               for k in tile_digests(tiles))


def cached_rows(model: Classifier, architecture: str, boundary: str, tiles: np.ndarray,
                transform: InputTransform, execution: Execution, cache_dir: str | Path | None,
                batch_size: int = 32) -> tuple[np.ndarray, tuple]:
    """The trunk rows of `tiles`, computed only for tiles the cache lacks; and the map shape."""
    name = map_cache_name(architecture, state_digest(model.backbone.state_dict()),
                          tiles.shape[1], transform, execution.precision, boundary)
    cache = MapCache.open(str(cache_dir) if cache_dir else None, name)
    keys = np.array(tile_digests(tiles))
    missing = [i for i, k in enumerate(keys) if k not in cache.index]
    if missing:
        rows, shape = trunk_rows(model, boundary, tiles[missing], transform, execution,
                                 batch_size)
        cache.add(keys[missing], rows.astype(np.float16))   # half the disk and memory
    else:
        shape = map_shape(model, boundary, transform.size)
    return cache.get(keys), shape
