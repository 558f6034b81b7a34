"""The study's tile dataset: micrographs -> grouped splits -> capped tiles, cached on disk.

`build_tileset(cfg)` is what every notebook calls; the same parameters give the same tiles,
read back from the cache instead of decoding the micrographs again.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import splits as splits_mod
from ..config import StudyConfig, project_root
from .catalogue import (UHCSDB_NEAR_DUPLICATES, catalog_checksum, databar_setting, load_catalog,
                   read_micrograph)
from .tiling import choose_stride, resample_to_scale, spread_sample, tile_origins

CACHE_ENV = "SPRING_CACHE_DIR"
CACHE_VERSION = 1
# dHash (16x15 bits) distance at or below which two micrographs count as one field: on
# UHCSDB the three known pairs are at 2, 3 and 7 bits. The bound also links the two next
# closest pairs (6 and 7 bits), which can only make the split stricter.
NEAR_DUPLICATE_BITS = 8


@dataclass
class TileSet:
    tiles: np.ndarray            # [n, tile_size, tile_size] uint8
    manifest: pd.DataFrame       # one row per tile, aligned with `tiles`
    micrographs: pd.DataFrame    # catalog with group and split
    plan: pd.DataFrame           # per class and split: stride used, tiles available / taken
    classes: list[str]
    data_checksum: str
    cache_path: Path | None = None
    from_cache: bool = False

    def split(self, name: str, column: str = "split") -> tuple[np.ndarray, pd.DataFrame]:
        """Tiles and manifest rows of one split (`column="leaky_split"` for the leaky one)."""
        mask = (self.manifest[column] == name).to_numpy()
        return self.tiles[mask], self.manifest[mask].reset_index(drop=True)

    def labels(self, manifest: pd.DataFrame | None = None) -> np.ndarray:
        m = self.manifest if manifest is None else manifest
        return pd.Categorical(m["label"], categories=self.classes).codes.astype(np.int64)


def cache_dir(cfg: StudyConfig) -> Path:
    d = cfg.cache_dir or os.environ.get(CACHE_ENV) or str(project_root() / ".cache")
    path = Path(d).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _cache_key(cfg: StudyConfig, classes: list[str], checksum: str) -> str:
    spec = dict(version=CACHE_VERSION, classes=classes, data_checksum=checksum,
                data=cfg.data.model_dump(exclude={"root"}), tiling=cfg.tiling.model_dump(),
                split=cfg.split.model_dump(), near_dup_bits=NEAR_DUPLICATE_BITS)
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def _load_images(catalog: pd.DataFrame, cfg: StudyConfig) -> dict[str, np.ndarray]:
    images = {}
    target = cfg.tiling.um_per_px
    for row in tqdm(catalog.itertuples(), total=len(catalog), desc="reading micrographs",
                    leave=False):
        img = read_micrograph(row.path, databar_setting(cfg, row.has_databar))
        if target:
            img = resample_to_scale(img, row.um_per_px, target)
        images[row.micrograph_id] = img
    return images


def _check_tile_fits(cfg: StudyConfig, images: dict[str, np.ndarray]) -> None:
    smallest = min(min(im.shape) for im in images.values())
    if cfg.tiling.tile_size > smallest:
        where = " after resampling to tiling.um_per_px" if cfg.tiling.um_per_px else ""
        raise cfg.error("tiling.tile_size", f"{cfg.tiling.tile_size} px is larger than the "
                        f"smallest micrograph side ({smallest} px{where})")


def _plan_and_cut(micro: pd.DataFrame, images: dict[str, np.ndarray], cfg: StudyConfig,
                  classes: list[str]):
    t, tc, sc = cfg.tiling.tile_size, cfg.tiling, cfg.split
    caps = {"train": sc.train_tiles_per_class, "val": sc.val_tiles_per_class,
            "test": sc.test_tiles_per_class}
    rng = np.random.default_rng(sc.seed)
    tiles, rows, plan = [], [], []
    for label in classes:
        for split in splits_mod.SPLITS:
            sub = micro[(micro["label"] == label) & (micro["split"] == split)]
            cap = caps[split]
            if len(sub) == 0 or cap == 0:
                plan.append(dict(label=label, split=split, micrographs=len(sub), stride=None,
                                 tiles_available=0, tiles_taken=0, overlapping=False))
                continue
            shapes = [images[m].shape for m in sub["micrograph_id"]]
            stride = choose_stride(shapes, t, tc.stride, tc.min_stride, cap)
            cand = [(r, y, x) for r in sub.itertuples()
                    for (y, x) in tile_origins(*images[r.micrograph_id].shape, t, stride)]
            pick = spread_sample(np.array([c[0].micrograph_id for c in cand]), cap, rng)
            plan.append(dict(label=label, split=split, micrographs=len(sub), stride=stride,
                             tiles_available=len(cand), tiles_taken=len(pick),
                             overlapping=stride < t))
            for i in pick:
                r, y, x = cand[i]
                tiles.append(images[r.micrograph_id][y:y + t, x:x + t])
                factor = (r.um_per_px / tc.um_per_px) if tc.um_per_px else 1.0
                scale = tc.um_per_px if tc.um_per_px else r.um_per_px
                rows.append(dict(micrograph_id=r.micrograph_id, sample_key=r.sample_key,
                                 label=label, split=split, x=round(x / factor),
                                 y=round(y / factor), size=round(t / factor), tile_px=t,
                                 stride=stride, um_per_px=scale, group=r.group))
    manifest = pd.DataFrame(rows)
    manifest.insert(0, "tile_id", [f"t{i:06d}" for i in range(len(manifest))])
    stack = np.stack(tiles) if tiles else np.empty((0, t, t), np.uint8)
    return stack, manifest, pd.DataFrame(plan)


def build_tileset(cfg: StudyConfig, use_cache: bool = True) -> TileSet:
    catalog = load_catalog(cfg)
    classes = list(catalog["label"].cat.categories)
    checksum = catalog_checksum(catalog)
    key = _cache_key(cfg, classes, checksum)
    base = cache_dir(cfg) / f"tiles-{key}"
    npz, csvs = base.with_suffix(".npz"), [base.parent / f"{base.name}.{n}.csv"
                                          for n in ("manifest", "micrographs", "plan")]
    if use_cache and npz.exists() and all(p.exists() for p in csvs):
        with np.load(npz) as f:
            tiles = f["tiles"]
        manifest, micro, plan = (pd.read_csv(p, dtype={"micrograph_id": str, "sample_key": str,
                                                       "group": str}) for p in csvs)
        for df in (manifest, micro, plan):
            df["label"] = pd.Categorical(df["label"], categories=classes)
            df["split"] = pd.Categorical(df["split"], categories=list(splits_mod.SPLITS))
        return TileSet(tiles, manifest, micro, plan, classes, checksum, npz, True)

    images = _load_images(catalog, cfg)
    _check_tile_fits(cfg, images)
    hashes = {m: splits_mod.dhash(im) for m, im in images.items()}
    linked = sorted(set(splits_mod.near_duplicate_pairs(hashes, NEAR_DUPLICATE_BITS))
                    | set(UHCSDB_NEAR_DUPLICATES if cfg.data.layout == "uhcsdb" else []))
    micro = splits_mod.assign_splits(catalog, cfg, linked)
    micro["height"] = [images[m].shape[0] for m in micro["micrograph_id"]]
    micro["width"] = [images[m].shape[1] for m in micro["micrograph_id"]]
    tiles, manifest, plan = _plan_and_cut(micro, images, cfg, classes)
    if cfg.split.leaky_tile_split:
        manifest["leaky_split"] = splits_mod.leaky_tile_split(
            len(manifest), manifest["label"].to_numpy(), cfg)
    ts = TileSet(tiles, manifest, micro, plan, classes, checksum, npz, False)
    _write_cache(ts, npz, csvs)
    return ts


def _write_cache(ts: TileSet, npz: Path, csvs: list[Path]) -> None:
    """Write beside, then rename: an interrupted run never leaves a half cache behind."""
    tmp = npz.with_suffix(".tmp.npz")
    np.savez(tmp, tiles=ts.tiles)
    for df, path in zip((ts.manifest, ts.micrographs, ts.plan), csvs):
        df.to_csv(path.with_suffix(".tmp"), index=False)
    for df, path in zip((ts.manifest, ts.micrographs, ts.plan), csvs):
        path.with_suffix(".tmp").replace(path)
    tmp.replace(npz)
