"""Classifying new micrographs with a checkpoint, tiled the way it was trained, and phase maps.

The checkpoint carries what tiling needs: tile size, scale, data bar, input transform and class
names. A phase map slides the tile window with a stride below the tile size and colours each
pixel by the class of the windows covering it, so a metallographer sees where each constituent
of a mixed microstructure lies.
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

import numpy as np
import pandas as pd
import torch

from ..data.catalogue import IMAGE_SUFFIXES, DataError
from ..data.images import read_micrograph
from ..data.tiling import covering_origins, cut_tiles, resample_to_scale, tile_origins
from .budget import inference_execution
from .checkpoint import Checkpoint, CheckpointError
from .execution import Execution, InputTransform, evaluate


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

    def tile_probabilities(self, img: np.ndarray, stride: int,
                           whole_image: bool = False) -> tuple[np.ndarray, list]:
        """Probabilities of the tiles on the training grid, or (whole_image) of a sliding
        window that also reaches the bottom and right edges."""
        origins = (covering_origins if whole_image else tile_origins)(*img.shape, self.tile_size,
                                                                       stride)
        # tiles are cut a chunk at a time: a large micrograph's windows never sit in memory at once
        n = max(1, (64 << 20) // self.tile_size ** 2)   # about 64 MB of tiles at a time
        parts = [evaluate(self.model, cut_tiles(img, origins[s:s + n], self.tile_size), None,
                          self.transform, self.execution)[2] for s in range(0, len(origins), n)]
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
        proba, origins = self._training_grid(img, windows)
        mean = proba.mean(0)
        row = {"image": str(path), "predicted_class": self.classes[int(mean.argmax())],
               "n_tiles": len(origins), **{f"p:{c}": float(v) for c, v in zip(self.classes, mean)}}
        per_tile = pd.DataFrame({"image": str(path), "y": [o[0] for o in origins],
                                 "x": [o[1] for o in origins],
                                 "predicted_class": np.asarray(self.classes)[proba.argmax(1)]})
        for i, c in enumerate(self.classes):
            per_tile[f"p:{c}"] = proba[:, i]
        return row, per_tile

    def class_grid(self, img: np.ndarray, stride_fraction: float = 0.5, windows=None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(classes, row edges, column edges): the class map on the cells cut by the windows'
        edges. Every pixel of a cell lies in the same windows, so the map is exact, and its
        size grows with the number of windows, not with the pixels (a 12000 px micrograph
        would need one float per class and pixel, gigabytes)."""
        proba, origins = windows or self.map_windows(img, stride_fraction)
        t = self.tile_size
        edges = [np.unique(np.r_[0, n, [o[k] for o in origins], [o[k] + t for o in origins]])
                 for k, n in enumerate(img.shape)]
        acc = np.zeros((len(edges[0]) - 1, len(edges[1]) - 1, len(self.classes)), np.float64)
        hits = np.zeros(acc.shape[:2], np.int64)
        for p, (y, x) in zip(proba, origins):
            (y0, y1), (x0, x1) = (np.searchsorted(edges[0], [y, y + t]),
                                  np.searchsorted(edges[1], [x, x + t]))
            acc[y0:y1, x0:x1] += p
            hits[y0:y1, x0:x1] += 1
        return np.where(hits > 0, acc.argmax(-1), -1), edges[0], edges[1]

    def map_windows(self, img: np.ndarray, stride_fraction: float = 0.5) -> tuple[np.ndarray, list]:
        """Probabilities of a sliding window over the whole image (stride a fraction of a tile)."""
        stride = max(1, int(self.tile_size * stride_fraction))
        return self.tile_probabilities(img, stride, whole_image=True)

    def class_map(self, img: np.ndarray, stride_fraction: float = 0.5) -> np.ndarray:
        """Per pixel, the class with the highest mean probability over the windows covering it."""
        grid, ys, xs = self.class_grid(img, stride_fraction)
        small = grid.astype(np.int8 if len(self.classes) < 127 else np.int16)
        return np.repeat(np.repeat(small, np.diff(ys), 0), np.diff(xs), 1)

    def phase_map(self, path: Path, um_per_px: float | None = None, stride_fraction: float = 0.5,
                  title: str | None = None, ax=None, img: np.ndarray | None = None, windows=None):
        """The micrograph with its class map overlaid, a colour per class and a legend."""
        import matplotlib.pyplot as plt
        from matplotlib.colors import ListedColormap
        from matplotlib.patches import Patch

        img = self.image(path, um_per_px) if img is None else img
        cmap, ys, xs = self.class_grid(img, stride_fraction, windows)
        colours = plt.cm.tab10(np.arange(len(self.classes)) % 10)
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 7 * img.shape[0] / img.shape[1] + 0.6))
        h, w = img.shape
        step = max(1, math.ceil(max(h, w) / 2000))   # more pixels than the figure shows: thin
        ax.imshow(img[::step, ::step], cmap="gray", vmin=0, vmax=255, extent=(0, w, h, 0))
        ax.pcolormesh(xs, ys, np.ma.masked_less(cmap, 0), cmap=ListedColormap(colours),
                      vmin=-0.5, vmax=len(self.classes) - 0.5, alpha=0.4)
        ax.set_xlim(0, w)
        ax.set_ylim(h, 0)
        present = sorted(set(np.unique(cmap).tolist()) - {-1})
        ax.legend(handles=[Patch(color=colours[i], label=self.classes[i], alpha=0.6)
                           for i in present], loc="upper center", bbox_to_anchor=(0.5, -0.01),
                  ncol=min(3, max(1, len(present))), fontsize=7, frameon=False)
        ax.set_title(title or f"{Path(path).name}: {self.arm}, window {self.tile_size} px, "
                     f"stride {int(self.tile_size * stride_fraction)} px", fontsize=8)
        ax.set_axis_off()
        ax.figure.tight_layout()
        return ax.figure


def expand_inputs(inputs: list[str]) -> list[Path]:
    paths = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            paths += sorted(q for q in p.rglob("*") if q.suffix.lower() in IMAGE_SUFFIXES)
        else:
            paths.append(p)
    return paths


def _check_writable(option: str, target: str | None, folder: bool = False) -> None:
    """Refuse an output that cannot be written before any work is done."""
    if not target:
        return
    p = Path(target)
    if folder:
        if p.exists() and not p.is_dir():
            raise DataError(f"{option} {p}: exists and is not a folder")
        parent = p if p.exists() else p.parent
    else:
        if p.is_dir():
            raise DataError(f"{option} {p}: is a folder; give a file name such as {p}/predictions.csv")
        parent = p.parent
    if not parent.exists():
        raise DataError(f"{option} {p}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise DataError(f"{option} {p}: not writable")
    if not folder:   # permissions do not tell everything (/proc, a read-only mount): try it
        try:
            if p.exists():
                open(p, "a").close()   # opens without changing a byte
            else:
                open(p, "x").close()
                p.unlink()
        except OSError as exc:
            raise DataError(f"{option} {p}: cannot be written ({exc.strerror}); give another "
                            "file") from None


def _check_not_an_input(outputs: dict[str, str | None], checkpoint: str, images: list[Path],
                        map_dir: str | None) -> None:
    """Refuse an output that is (after links are followed) an input, the other output or a
    file inside the map folder: writing it would destroy what the run reads or writes."""
    real = lambda q: Path(os.path.realpath(q))   # noqa: E731
    inputs = {real(checkpoint): f"the checkpoint {checkpoint}",
              **{real(i): f"the input image {i}" for i in images}}
    taken: dict[Path, str] = {}
    for option, target in outputs.items():
        if not target:
            continue
        r = real(target)
        what = inputs.get(r) or taken.get(r)
        if what is None and map_dir and real(map_dir) in r.parents:
            what = f"a file inside --map {map_dir}"
        if what:
            raise DataError(f"{option} {target} is {what}: writing it would destroy it; give "
                            "another file name")
        taken[r] = f"also given as {option}"


def predict_cli(checkpoint: str, inputs: list[str], output: str | None, tiles_output: str | None,
                um_per_px: float | None, map_dir: str | None = None,
                map_stride_fraction: float = 0.5, precision: str = "auto") -> int:
    """Predict every image; report unreadable ones and carry on. Exit 1 if any failed."""
    if um_per_px is not None and not (math.isfinite(um_per_px) and um_per_px > 0):
        raise DataError(f"--um-per-px must be a positive scale in µm per pixel, got {um_per_px}")
    if not 0 < map_stride_fraction < 1:
        raise DataError(f"--map-stride must lie between 0 and 1 (of the tile size), got "
                        f"{map_stride_fraction}")
    _check_writable("--output", output)
    _check_writable("--tiles-output", tiles_output)
    _check_writable("--map", map_dir, folder=True)
    paths = expand_inputs(inputs)
    if not paths:
        raise DataError(f"no images (.png, .tif, .jpg, .bmp) in {', '.join(inputs)}")
    _check_not_an_input({"--output": output, "--tiles-output": tiles_output}, checkpoint, paths,
                        map_dir)
    if map_dir:
        if Path(map_dir).is_dir() and any(Path(map_dir).iterdir()):
            raise DataError(f"--map {map_dir}: the folder is not empty; give a new or empty folder "
                            "(maps already there are not overwritten)")
        stems = [p.stem for p in paths]
        twice = sorted({s for s in stems if stems.count(s) > 1})
        if twice:
            raise DataError(f"--map: several images are named {twice[:3]}; their maps would "
                            "overwrite each other, predict them in separate runs")
    predictor = Predictor.from_checkpoint(checkpoint, precision)
    if predictor.um_per_px and not um_per_px:
        raise DataError(f"{checkpoint} was trained on micrographs resampled to "
                        f"{predictor.um_per_px} µm/px: give the images' scale with --um-per-px")
    if map_dir:
        matplotlib.use("Agg")
        Path(map_dir).mkdir(parents=True, exist_ok=True)
    rows, tiles, failed = [], [], []
    for path in paths:
        try:
            img = predictor.image(path, um_per_px)
            windows = predictor.map_windows(img, map_stride_fraction) if map_dir else None
            row, per_tile = predictor.predict(path, um_per_px, img, windows)
            if map_dir:
                import matplotlib.pyplot as plt

                fig = predictor.phase_map(path, um_per_px, map_stride_fraction, img=img,
                                          windows=windows)
                fig.savefig(Path(map_dir) / f"{path.stem}.png", dpi=110, bbox_inches="tight")
                plt.close(fig)
        except (DataError, OSError) as exc:
            failed.append(path)
            print(f"skipped {path}: {exc}", file=sys.stderr)
            continue
        rows.append(row)
        tiles.append(per_tile)
    table = pd.DataFrame(rows)
    if output and rows:
        table.to_csv(output, index=False)
    else:
        print(table.to_csv(index=False), end="")
    if tiles_output and tiles:
        pd.concat(tiles, ignore_index=True).to_csv(tiles_output, index=False)
    print(f"{len(rows)} micrograph(s) predicted with {predictor.arm} "
          f"({predictor.execution.precision}), {len(failed)} failed",
          file=sys.stderr)
    return 1 if failed else 0
