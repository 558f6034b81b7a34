"""Classifying new micrographs with a checkpoint, tiled the way it was trained, and phase maps.

The checkpoint carries what tiling needs: tile size, scale, data bar, input transform and class
names. A phase map (`phase_map`) slides the tile window with a stride below the tile size and
colours each pixel by the class of the windows covering it, so a metallographer sees where each
constituent of a mixed microstructure lies. The command itself is `predict_cli`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..data.catalogue import DataError
from ..data.images import read_micrograph
from ..data.tiling import covering_origins, cut_tiles, resample_to_scale, tile_origins
from . import phase_map as maps
from .execution import inference_execution
from .checkpoint import Checkpoint, CheckpointError
from .execution import Execution, InputTransform
from .inference import fold_batchnorm

#: tiles per forward pass: on a 2-core EPYC, EfficientNet-Lite0 at its native input ran
#: fastest at 8-16 tiles (bf16 and fp32 alike; at 64 a third slower: the batch leaves the caches)
BATCH = 16


@dataclass
class Predictor:
    model: torch.nn.Module
    transform: InputTransform
    classes: list[str]
    tile_size: int
    um_per_px: float | None
    databar: str | int
    arm: str
    execution: Execution = field(default_factory=Execution)

    @classmethod
    def from_checkpoint(cls, path: str | Path, precision: str = "auto") -> "Predictor":
        """`precision` auto: bf16 where the hardware computes it natively (prediction is
        inference, where bf16 costs least accuracy and saves most time), else fp32."""
        ck = Checkpoint.load(path)
        try:
            model = ck.model()
        except CheckpointError as exc:
            raise CheckpointError(f"{path}: {exc}") from None
        execution = inference_execution(precision=precision)
        return cls(execution.prepare(model), ck.input_transform(), list(ck.classes),
                   int(ck.tile_size), ck.um_per_px, ck.databar, ck.arm, execution)

    @cached_property
    def network(self) -> torch.nn.Module:
        """`model` with its batch norms folded into the convolutions, for inference only
        (`model` stays as trained, for Grad-CAM)."""
        return self.execution.prepare(fold_batchnorm(self.model, self.transform.size))

    def image(self, path: Path, um_per_px: float | None = None) -> np.ndarray:
        """The micrograph as the model saw its training micrographs: data bar cut, rescaled."""
        img = read_micrograph(path, self.databar)
        if self.um_per_px:
            if not um_per_px:
                raise DataError(f"{path}: the model was trained at {self.um_per_px} µm/px; give the "
                                "image's scale with --um-per-px")
            img = resample_to_scale(img, um_per_px, self.um_per_px)
        if min(img.shape) < self.tile_size:
            raise DataError(f"{path}: {img.shape[1]}x{img.shape[0]} px is smaller than one "
                            f"{self.tile_size} px tile")
        return img

    def probabilities(self, tiles: np.ndarray) -> np.ndarray:
        """Class probabilities of a batch of uint8 tiles, as `execution.evaluate` computes them."""
        with torch.no_grad():
            x = self.execution.batch(self.transform(tiles))
            with self.execution.autocast():
                return torch.softmax(self.network(x).float(), 1).cpu().numpy()

    def tile_probabilities(self, img: np.ndarray, stride: int,
                           whole_image: bool = False) -> tuple[np.ndarray, list]:
        """Probabilities of the tiles on the training grid, or (whole_image) of a sliding
        window that also reaches the bottom and right edges; cut a batch at a time, so a
        large micrograph's windows never sit in memory together."""
        origins = (covering_origins if whole_image else tile_origins)(*img.shape, self.tile_size,
                                                                       stride)
        parts = [self.probabilities(cut_tiles(img, origins[s:s + BATCH], self.tile_size))
                 for s in range(0, len(origins), BATCH)]
        proba = np.concatenate(parts) if parts else np.zeros((0, len(self.classes)), np.float32)
        return proba, origins

    def _training_grid(self, img: np.ndarray, windows=None) -> tuple[np.ndarray, list]:
        """Probabilities on the training grid, taken from a map's windows when they hold it."""
        grid = tile_origins(*img.shape, self.tile_size, self.tile_size)
        index = {o: i for i, o in enumerate(windows[1])} if windows else {}
        if windows and all(o in index for o in grid):
            return windows[0][[index[o] for o in grid]], grid
        return self.tile_probabilities(img, self.tile_size)

    def predict(self, path: Path, um_per_px: float | None = None, img: np.ndarray | None = None,
                windows=None) -> tuple[dict, pd.DataFrame]:
        """`img`, `windows`: the image and its map windows' (probabilities, origins) when the
        caller has them already (a 12000 px micrograph takes seconds to decode)."""
        img = self.image(path, um_per_px) if img is None else img
        return self.rows(path, *self._training_grid(img, windows))

    def rows(self, path: Path, proba: np.ndarray, origins: list) -> tuple[dict, pd.DataFrame]:
        """The micrograph's row (mean tile probabilities) and its tiles' rows."""
        mean = proba.mean(0)
        row = {"image": str(path), "predicted_class": self.classes[int(mean.argmax())],
               "n_tiles": len(origins), **{f"p:{c}": float(v) for c, v in zip(self.classes, mean)}}
        per_tile = pd.DataFrame({"image": str(path), "y": [o[0] for o in origins],
                                 "x": [o[1] for o in origins],
                                 "predicted_class": np.asarray(self.classes)[proba.argmax(1)]})
        for i, c in enumerate(self.classes):
            per_tile[f"p:{c}"] = proba[:, i]
        return row, per_tile

    def map_stride(self, shape: tuple[int, int], stride_fraction: float = 0.5) -> tuple[int, int]:
        """(stride, requested stride) of a map of an image of `shape` (`phase_map.map_stride`)."""
        requested = max(1, int(self.tile_size * stride_fraction))
        return maps.map_stride(*shape, self.tile_size, requested), requested

    def map_windows(self, img: np.ndarray, stride_fraction: float = 0.5) -> tuple[np.ndarray, list]:
        """Probabilities of a sliding window over the whole image (stride a fraction of a
        tile, grown on a large image as `map_stride` says)."""
        return self.tile_probabilities(img, self.map_stride(img.shape, stride_fraction)[0],
                                       whole_image=True)

    def class_grid(self, img: np.ndarray, stride_fraction: float = 0.5, windows=None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(classes, row edges, column edges) of the map (`phase_map.class_grid`)."""
        proba, origins = windows or self.map_windows(img, stride_fraction)
        return maps.class_grid(proba, origins, img.shape, self.tile_size)

    def class_map(self, img: np.ndarray, stride_fraction: float = 0.5) -> np.ndarray:
        """Per pixel, the class with the highest mean probability over the windows covering it."""
        grid, ys, xs = self.class_grid(img, stride_fraction)
        small = grid.astype(np.int8 if len(self.classes) < 127 else np.int16)
        return np.repeat(np.repeat(small, np.diff(ys), 0), np.diff(xs), 1)

    def phase_map(self, path: Path, um_per_px: float | None = None, stride_fraction: float = 0.5,
                  title: str | None = None, ax=None, img: np.ndarray | None = None, windows=None):
        """The micrograph with its class map overlaid, a colour per class and a legend; the
        title says the window, the stride, and why the stride grew if it did."""
        img = self.image(path, um_per_px) if img is None else img
        grid, ys, xs = self.class_grid(img, stride_fraction, windows)
        note = maps.stride_note(self.tile_size, *self.map_stride(img.shape, stride_fraction))
        return maps.draw(img, grid, ys, xs, self.classes,
                         title or f"{Path(path).name}: {self.arm}, {note}", ax)
