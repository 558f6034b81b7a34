"""Reading each micrograph whole: overlapping windows over all of it, their scores averaged.

A lab labels a micrograph by looking at all of it, and `predict`'s phase map reads a new one from
windows over its whole area. The k-fold's test micrographs are read the same way: every window at
the phase maps' stride (`evaluation.map_stride_fraction` of a tile, half by default; grown on a
large micrograph as a map's, `tiling.map_stride`), plus a last row and column flush with the
edges, so that every pixel is read, each window in one view (the windows' overlap does what test
views do for a lone tile). Training tiles stay the split's capped tiles; tile-level numbers stay
on those.

The micrographs are read once, as tiled (data bar cut, resampled), and kept in the cache beside
the tile set; windows are cut a fold at a time, so all of them never sit in memory together.
"""
from __future__ import annotations

import os
import uuid
import zipfile
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import StudyConfig
from .tiling import covering_origins, cut_tiles, map_stride


def reading_origins(height: int, width: int, tile: int, fraction: float) -> list[tuple[int, int]]:
    """The windows' top-left corners over a micrograph of this shape, `fraction` of a tile
    apart (as a phase map's), every pixel covered."""
    return covering_origins(height, width, tile, map_stride(
        height, width, tile, max(1, int(tile * fraction))))


def window_count(micrographs: pd.DataFrame, tile: int, fraction: float) -> int:
    """How many windows reading `micrographs` whole takes, from their shapes alone (the tile
    set's `height` and `width`): what planning counts before any image is read."""
    return sum(len(reading_origins(h, w, tile, fraction))
               for h, w in zip(micrographs["height"], micrographs["width"]))


@dataclass
class WholeReading:
    """The run's micrographs as tiled, by id; `windows` cuts the reading windows of some."""
    images: dict[str, np.ndarray]
    micrographs: pd.DataFrame
    tile_size: int
    stride_fraction: float = 0.5

    def origins(self, micrograph_id: str) -> list[tuple[int, int]]:
        return reading_origins(*self.images[micrograph_id].shape, self.tile_size,
                               self.stride_fraction)

    def windows(self, micrograph_ids) -> tuple[np.ndarray, pd.DataFrame]:
        """Every reading window of the micrographs (uint8 [n, t, t]) and one row per window:
        micrograph_id, label, group, y, x."""
        by_id = self.micrographs.set_index("micrograph_id")
        tiles, rows = [], []
        for mid in map(str, micrograph_ids):
            origins = self.origins(mid)
            tiles.append(cut_tiles(self.images[mid], origins, self.tile_size))
            r = by_id.loc[mid]
            rows.append(pd.DataFrame({"micrograph_id": mid, "label": r["label"],
                                      "group": r["group"], "y": [o[0] for o in origins],
                                      "x": [o[1] for o in origins]}))
        if not tiles:
            return (np.empty((0, self.tile_size, self.tile_size), np.uint8),
                    pd.DataFrame(columns=["micrograph_id", "label", "group", "y", "x"]))
        return np.concatenate(tiles), pd.concat(rows, ignore_index=True)

    def n_windows(self) -> int:
        return sum(len(self.origins(m)) for m in self.images)


def whole_reading(cfg: StudyConfig, tileset) -> WholeReading | None:
    """The tile set's micrographs to read whole, from the cache beside the tile set where it is;
    None where the profile reads the capped tiles alone (`evaluation.read_whole: false`)."""
    from .tileset import load_images

    if not cfg.evaluation.read_whole:
        return None
    micro = tileset.micrographs.assign(micrograph_id=tileset.micrographs["micrograph_id"]
                                       .astype(str))
    path = _images_path(tileset)
    if path is not None and path.exists():
        try:
            with np.load(path) as z:
                images = {m: z[m] for m in micro["micrograph_id"] if m in z.files}
        except (OSError, ValueError, zipfile.BadZipFile):   # damaged: read them again
            images = {}
        if len(images) == len(micro):
            return WholeReading(images, micro, tileset.tiles.shape[1],
                                cfg.evaluation.map_stride_fraction)
    images = keep_images(tileset, load_images(micro, cfg))
    return WholeReading(images, micro, tileset.tiles.shape[1], cfg.evaluation.map_stride_fraction)


def _images_path(tileset):
    return (tileset.cache_path.with_name(tileset.cache_path.stem + ".whole.npz")
            if tileset.cache_path else None)


def keep_images(tileset, images: dict) -> dict[str, np.ndarray]:
    """The micrographs as tiled, kept beside the tile set's cache (written whole, then moved
    into place): notebook 01 keeps what it has just read, so no later notebook reads them again."""
    images = {str(m): im for m, im in images.items()}
    path = _images_path(tileset)
    if path is not None:   # under a name of this writer's own, as the tile cache's
        tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:12]}.tmp")
        try:
            with open(tmp, "xb") as f:
                np.savez(f, **images)
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
    return images
