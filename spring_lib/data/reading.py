"""Reading each micrograph whole: overlapping windows over all of it, their scores averaged.

A lab labels a micrograph by looking at all of it, and `predict` labels a new one from windows
over its whole area. The k-fold's test micrographs are read the same way: every window at half a
tile's stride (grown on a large micrograph as a phase map's, `tiling.map_stride`), plus a last
row and column flush with the edges, so that every pixel is read. Training tiles stay the split's
capped tiles; tile-level numbers stay on those.

The micrographs are read once, as tiled (data bar cut, resampled), and kept in the cache beside
the tile set; windows are cut a fold at a time, so all of them never sit in memory together.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import StudyConfig
from .tiling import covering_origins, cut_tiles, map_stride

#: a window's step, as a fraction of the tile: predict's phase maps read new micrographs so
READING_STRIDE_FRACTION = 0.5


def reading_origins(height: int, width: int, tile: int) -> list[tuple[int, int]]:
    """The windows' top-left corners over a micrograph of this shape, every pixel covered."""
    return covering_origins(height, width, tile, map_stride(
        height, width, tile, max(1, int(tile * READING_STRIDE_FRACTION))))


def window_count(micrographs: pd.DataFrame, tile: int) -> int:
    """How many windows reading `micrographs` whole takes, from their shapes alone (the tile
    set's `height` and `width`): what planning counts before any image is read."""
    return sum(len(reading_origins(h, w, tile))
               for h, w in zip(micrographs["height"], micrographs["width"]))


@dataclass
class WholeReading:
    """The run's micrographs as tiled, by id; `windows` cuts the reading windows of some."""
    images: dict[str, np.ndarray]
    micrographs: pd.DataFrame
    tile_size: int

    def origins(self, micrograph_id: str) -> list[tuple[int, int]]:
        return reading_origins(*self.images[micrograph_id].shape, self.tile_size)

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
    path = tileset.cache_path.with_name(tileset.cache_path.stem + ".whole.npz") \
        if tileset.cache_path else None
    if path is not None and path.exists():
        with np.load(path) as z:
            images = {m: z[m] for m in micro["micrograph_id"] if m in z.files}
        if len(images) == len(micro):
            return WholeReading(images, micro, tileset.tiles.shape[1])
    images = {str(m): im for m, im in load_images(micro, cfg).items()}
    if path is not None:
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **images)
        tmp.replace(path)
    return WholeReading(images, micro, tileset.tiles.shape[1])

