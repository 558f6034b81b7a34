"""The on-disk caches of what a frozen network computes per tile: one .npz per key, tile digests
and their rows, opened once per process and file version, written atomically, a damaged file
moved aside and rebuilt. The probes' pooled features live here; the fine-tuned arms' trunk maps
(`cached_trunk.MapCache`) beside them.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from ..data.tileset import tile_digests
from .training_state import move_damaged

FEATURE_CACHE_VERSION = 1


def state_digest(state: dict) -> str:
    """Identity of a set of weights by their content, whatever file or hub they came from."""
    h = hashlib.sha256()
    for k in sorted(state):
        v = state[k]
        h.update(k.encode())
        if torch.is_tensor(v):
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def feature_cache_files(cache_dir: str | Path, architecture: str, tile_size: int) -> list[Path]:
    """The architecture's feature caches for tiles of `tile_size` (every weights' content, input
    size and precision), found without loading the weights (`probe.FrozenFeatures.cache_name`)."""
    return sorted(Path(cache_dir).glob(f"features-{architecture}-*-{tile_size}-*.npz"))


def uncached_tiles(cache_dir: str | None, name: str, tiles: np.ndarray) -> int:
    """How many of `tiles` the feature cache `name` (`probe.FrozenFeatures.cache_name`) lacks."""
    index = FeatureCache.open(cache_dir, name).index
    return sum(k not in index for k in tile_digests(tiles))


class FeatureCache:
    """One .npz per (weights, input size): tile digests and their feature rows. Opened once per
    process and file version: a grid search reads it for every fit and score."""

    PREFIX = "features"
    _open: dict = {}   # path -> (its (mtime, size) when read, the cache)

    @classmethod
    def _path(cls, cache_dir: str | None, key: str) -> Path | None:
        return Path(cache_dir) / f"{cls.PREFIX}-{key}.npz" if cache_dir else None

    @staticmethod
    def _stamp(path: Path) -> tuple[int, int]:
        st = path.stat()
        return st.st_mtime_ns, st.st_size

    @classmethod
    def open(cls, cache_dir: str | None, key: str) -> "FeatureCache":
        path = cls._path(cache_dir, key)
        if path is None or not path.exists():
            return cls(cache_dir, key)
        stamp = cls._stamp(path)
        if cls._open.get(path, (None,))[0] != stamp:
            cls._open[path] = (stamp, cls(cache_dir, key))
        return cls._open[path][1]

    def __init__(self, cache_dir: str | None, key: str):
        self.path = self._path(cache_dir, key)
        self.keys, self.rows, self.index = np.array([], dtype="<U24"), None, {}
        if self.path and self.path.exists():
            try:
                with np.load(self.path) as f:
                    self.keys, self.rows = f["keys"], f["rows"]
            except Exception as exc:  # noqa: BLE001 - a damaged cache is rebuilt, not fatal
                move_damaged(self.path, type(exc).__name__, f"{self.PREFIX} cache")
            self.index = {k: i for i, k in enumerate(self.keys)}

    def add(self, keys: np.ndarray, rows: np.ndarray) -> None:
        self.keys = np.concatenate([self.keys, keys])
        self.rows = rows if self.rows is None else np.concatenate([self.rows, rows])
        self.index = {k: i for i, k in enumerate(self.keys)}
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.tmp.npz")
            np.savez(tmp, keys=self.keys, rows=self.rows)
            tmp.replace(self.path)
            type(self)._open[self.path] = (self._stamp(self.path), self)

    def get(self, keys: np.ndarray) -> np.ndarray:
        return self.rows[[self.index[k] for k in keys]]
