"""The paper's input normalisation: eq. 19 (min-max to [0, 1]) then eq. 20 (mean/std).

The mean and std of eq. 20 come from the training split only; computing them on all
tiles would let the test set shape the inputs the model learns from.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def minmax_unit(tiles: np.ndarray) -> np.ndarray:
    """Eq. 19 per tile: (x - min) / (max - min); a constant tile maps to 0."""
    x = np.asarray(tiles, dtype=np.float32)
    axes = tuple(range(1, x.ndim))
    lo = x.min(axis=axes, keepdims=True)
    span = x.max(axis=axes, keepdims=True) - lo
    return np.where(span > 0, (x - lo) / np.where(span > 0, span, 1), 0).astype(np.float32)


@dataclass(frozen=True)
class Standardizer:
    """Eq. 20 with statistics fitted on training tiles."""
    mean: float
    std: float

    @classmethod
    def fit(cls, train_tiles: np.ndarray) -> "Standardizer":
        if len(train_tiles) == 0:
            raise ValueError("cannot fit eq. 20 statistics on an empty training split")
        x = minmax_unit(train_tiles)
        return cls(float(x.mean()), float(max(x.std(), 1e-8)))

    def __call__(self, tiles: np.ndarray) -> np.ndarray:
        return ((minmax_unit(tiles) - self.mean) / self.std).astype(np.float32)
