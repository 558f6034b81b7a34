"""What a step's costs are counted from (`Work`), and notebook 01's units: a cold tile set's
micrographs read and tiled and its cache written, or the cache read (as every later notebook
reads it), and the normalisation statistics."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from ..config import StudyConfig
from ..core import costs, products
from ..core.costs import Unit
from ..core.machine import seconds
from .catalogue import databar_setting, load_catalog
from .images import read_micrograph
from .reading import reading_origins, window_count
from .tileset import TileCounts, TileSet, digest_key, digest_seconds
from .tiling import resample_to_scale, tile_origins


@dataclass
class Work:
    """The profile, its tile set (None before notebook 01 has built it: counted from the
    catalogue and the caps) and the run's results folder (None outside a run)."""
    cfg: StudyConfig
    tileset: TileSet | None = None
    results: Path | None = None
    _samples: dict = field(default_factory=dict, init=False, repr=False)

    @cached_property
    def counts(self) -> TileCounts:
        return TileCounts.of(self.cfg, self.tileset)

    @cached_property
    def windows(self) -> int:
        """Windows the k-fold reads its micrographs whole in (`data.reading`); none where the
        profile does not. Before notebook 01: the first catalogued micrograph's, times all."""
        if not self.cfg.evaluation.read_whole:
            return 0
        fraction = self.cfg.evaluation.map_stride_fraction
        if self.tileset is not None:
            return window_count(self.tileset.micrographs, self.counts.tile_px, fraction)
        r = load_catalog(self.cfg).iloc[0]
        img = read_micrograph(r["path"], databar_setting(self.cfg, r["has_databar"]))
        return self.counts.micrographs * len(reading_origins(*img.shape, self.counts.tile_px,
                                                             fraction))

    @property
    def cold(self) -> bool:
        """No tile cache to read (not built yet counts as cold: knowing its name takes hashing
        every micrograph)."""
        ts = self.tileset
        return not (ts is not None and ts.cache_path and ts.cache_path.exists())

    def sample(self, n: int = 24) -> tuple[np.ndarray, np.ndarray]:
        """n real tiles and their class numbers, spread over the tile set (before notebook 01:
        cut from micrographs spread over the catalogue)."""
        ts, t = self.tileset, self.cfg.tiling.tile_size
        if n not in self._samples and ts is not None and len(ts.tiles):
            pick = np.linspace(0, len(ts.tiles) - 1, n).astype(int)
            self._samples[n] = np.array(ts.tiles[pick]), ts.labels()[pick]
        elif n not in self._samples:
            catalog, tiles, labels = load_catalog(self.cfg), [], []
            for r in catalog.iloc[np.linspace(0, len(catalog) - 1, 5).astype(int)].itertuples():
                img = read_micrograph(r.path, databar_setting(self.cfg, r.has_databar))
                cut = [img[y:y + t, x:x + t]
                       for y, x in tile_origins(*img.shape, t, t)][:max(1, n // 5)]
                tiles, labels = tiles + cut, labels + [r.label] * len(cut)
            codes = np.unique(np.array(labels, str), return_inverse=True)[1]
            reps = -(-n // len(tiles))
            self._samples[n] = np.stack(tiles * reps)[:n], np.tile(codes, reps)[:n]
        return self._samples[n]


def per_tile(work: Work, part: str, key: str, fn, count: float) -> Unit:
    """`count` tiles of the work `fn(tiles)` times per tile on the sample."""
    return Unit(part, key, lambda: fn(work.sample()[0]), count=count)


def digest_unit(part: str, tile_px: int, sample, count: float) -> Unit:
    """`count` tiles of `tile_px` handed to a cached transform (`tileset.digest_seconds`):
    one key for the notebooks' searches and the planner's probes, timed on `sample()`."""
    return Unit(part, digest_key(tile_px), lambda: digest_seconds(sample()), count=count)


def digests(work: Work, part: str, count: float) -> Unit:
    return digest_unit(part, work.counts.tile_px, lambda: work.sample()[0], count)


def cache_read(work: Work) -> Unit:
    n, px = work.counts.tiles, work.counts.tile_px
    return per_tile(work, f"reading the tile cache ({n} tiles)", f"tile cache read|{px}px",
                    lambda t: _npz_seconds(t, write=False), n)


def tiling(work: Work) -> list[Unit]:
    from .normalization import Standardizer

    cfg, n, px = work.cfg, work.counts, work.counts.tile_px

    def fit(tiles: np.ndarray) -> float:   # 512 tiles' float copies outgrow the processor's
        many = np.resize(tiles, (512, *tiles.shape[1:]))   # cache, as the training split's do
        return seconds(lambda: Standardizer.fit(many)) / 512
    norm = per_tile(work, f"normalisation statistics of {n.train} tiles",
                    f"eq. 20 statistics of 512 tiles|{px}px", fit, n.train)
    if not work.cold:
        return [cache_read(work), norm]
    catalog, part = load_catalog(cfg), f"reading and tiling {n.micrographs} micrographs"
    key = (f"micrograph read|{len(catalog)} micrographs|{catalog.attrs['root']}|"
           f"{cfg.data.model_dump_json()}|{cfg.tiling.um_per_px}")
    return [Unit(part, key, lambda: _micrograph_seconds(catalog, cfg), count=n.micrographs),
            per_tile(work, part, f"tile cache write|{px}px", lambda t: _npz_seconds(t, True),
                     n.tiles), norm]


def _micrograph_seconds(catalog, cfg: StudyConfig, n: int = 6) -> float:
    """Read, cropped, resampled, hashed: n micrographs at evenly spaced quantiles of the
    catalogue's sizes (the hash's blur grows faster than the pixels)."""
    from PIL import Image

    from .splits import dhash

    def pixels(path) -> int:
        with Image.open(path) as im:
            return im.size[0] * im.size[1]
    order = np.argsort([pixels(p) for p in catalog["path"]], kind="stable")
    rows = catalog.iloc[order[((np.arange(n) + 0.5) / n * len(order)).astype(int)]]
    um = cfg.tiling.um_per_px

    def work():
        for r in rows.itertuples():
            img = read_micrograph(r.path, databar_setting(cfg, r.has_databar))
            dhash(resample_to_scale(img, r.um_per_px, um) if um else img)
    return seconds(work, 3) / n


def _npz_seconds(tiles: np.ndarray, write: bool) -> float:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "tiles.npz"
        wrote = seconds(lambda: np.savez(path, tiles=tiles))
        return (wrote if write else seconds(lambda: np.load(path)["tiles"], 2)) / len(tiles)


costs.register(products.TILING, tiling)
