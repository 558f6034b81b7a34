"""The study's tile dataset: micrographs -> grouped splits -> capped tiles, cached on disk.

`build_tileset(cfg)` is what every notebook calls; the same parameters give the same tiles,
read back from the cache instead of decoding the micrographs again.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import splits as splits_mod
from ..config import StudyConfig
from ..core.paths import cache_dir
from .catalogue import (UHCSDB_NEAR_DUPLICATES, DataError, catalog_checksum, databar_setting,
                        load_catalog)
from .images import read_micrograph
from .tile_cache import CACHE_TABLES, read_cache, write_cache
from .tiling import choose_stride, resample_to_scale, spread_sample, tile_origins

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

    def folds(self, k: int, seed: int) -> np.ndarray:
        """Fold of every tile in the k-fold evaluation (its micrograph's, `kfold_assignment`)."""
        by_micrograph = dict(zip(self.micrographs["micrograph_id"].astype(str),
                                 splits_mod.kfold_assignment(self.micrographs, k, seed)))
        return self.manifest["micrograph_id"].astype(str).map(by_micrograph).to_numpy()

    def labels(self, manifest: pd.DataFrame | None = None) -> np.ndarray:
        m = self.manifest if manifest is None else manifest
        return pd.Categorical(m["label"], categories=self.classes).codes.astype(np.int64)


def tile_digests(tiles: np.ndarray) -> list[str]:
    """Each tile's content digest: the key of its cached features, GLCM and network alike (taken
    on every transform, so its cost counts in every fit)."""
    return [hashlib.blake2b(t.tobytes(), digest_size=12).hexdigest() for t in tiles]


def digest_seconds(tiles: np.ndarray, n: int = 256) -> float:
    """Seconds per tile of handing tiles to a cached transform: the copy a fold's indexing
    makes, then their digests (on n tiles, `tiles` repeated as needed, so that the copy leaves
    the processor's cache). Planning and the notebook estimates read it under one key,
    `digest_key`."""
    from ..core.machine import seconds

    many = np.concatenate([tiles] * -(-n // len(tiles)))[:n]
    order = np.random.default_rng(0).permutation(n)
    return seconds(lambda: tile_digests(many[order]), 2) / n


def digest_key(tile_px: int) -> str:
    """The rate cache's key of `digest_seconds` for tiles of `tile_px`."""
    return f"tile digests|{tile_px}px"


def _cache_key(cfg: StudyConfig, classes: list[str], checksum: str,
               catalog: pd.DataFrame) -> str:
    """Everything a tile set holds depends on: the images (`checksum`) and what the catalogue
    says of them besides (samples, scales: a lab's scale.csv added later is a new tile set)."""
    meta = catalog.drop(columns=["path"]).astype(str).to_csv(index=False)
    spec = dict(version=CACHE_VERSION, classes=classes, data_checksum=checksum,
                data=cfg.data.model_dump(exclude={"root"}), tiling=cfg.tiling.model_dump(),
                split=cfg.split.model_dump(), near_dup_bits=NEAR_DUPLICATE_BITS,
                catalogue=hashlib.sha256(meta.encode()).hexdigest())
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def load_images(catalog: pd.DataFrame, cfg: StudyConfig) -> dict[str, np.ndarray]:
    """Micrographs by id, as tiled; an id met twice would silently replace an image."""
    repeated = catalog.loc[catalog["micrograph_id"].duplicated(), "micrograph_id"]
    if len(repeated):
        mid = repeated.iloc[0]
        paths = catalog.loc[catalog["micrograph_id"] == mid, "path"].tolist()
        raise DataError(f"micrograph id {mid} names more than one file: {first_items(paths)}")
    images = {}
    target = cfg.tiling.um_per_px
    check_scales(cfg, catalog)
    for row in tqdm(catalog.itertuples(), total=len(catalog), desc="reading micrographs",
                    leave=False):
        img = read_micrograph(row.path, databar_setting(cfg, row.has_databar))
        if target:
            img = resample_to_scale(img, row.um_per_px, target)
        images[row.micrograph_id] = img
    return images


def check_scales(cfg: StudyConfig, catalog: pd.DataFrame) -> None:
    """Resampling to tiling.um_per_px needs every micrograph's own scale."""
    if cfg.tiling.um_per_px:
        unscaled = catalog.loc[~(catalog["um_per_px"] > 0), "path"].tolist()
        if unscaled:
            raise cfg.error("tiling.um_per_px", f"{len(unscaled)} micrograph(s) have no known "
                            f"scale (µm/px) to resample from: {first_items(unscaled)}. Set "
                            "tiling.um_per_px: null, or leave them out.")


def first_items(items: list[str], n: int = 5) -> str:
    """The first n items and how many more: a message naming hundreds of micrographs is not read."""
    more = f" and {len(items) - n} more" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def _check_tile_fits(cfg: StudyConfig, images: dict[str, np.ndarray],
                     catalog: pd.DataFrame) -> None:
    """Every micrograph must hold one tile; those that cannot are named so they can be fixed."""
    t = cfg.tiling.tile_size
    paths = dict(zip(catalog["micrograph_id"], catalog["path"]))
    small = [f"{paths[m]} ({im.shape[1]}x{im.shape[0]} px)" for m, im in images.items()
             if min(im.shape) < t]
    if small:
        where = " after resampling to tiling.um_per_px" if cfg.tiling.um_per_px else ""
        raise cfg.error("tiling.tile_size", f"{t} px is larger than a side of {len(small)} "
                        f"micrograph(s){where}: {first_items(small)}. Lower tiling.tile_size or leave "
                        "those micrographs out.")


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


def build_tileset(cfg: StudyConfig, use_cache: bool = True,
                  data_checksum: str | None = None) -> TileSet:
    """The tile set of `cfg`, from the cache when it holds it.

    `data_checksum`: `catalog_checksum` of this profile's catalogue when the caller already
    has it; computing it hashes every image.
    """
    catalog = load_catalog(cfg)
    classes = list(catalog["label"].cat.categories)
    if data_checksum is None:
        checksum = catalog_checksum(catalog)
    elif isinstance(data_checksum, str) and re.fullmatch(r"[0-9a-f]{64}", data_checksum):
        checksum = data_checksum
    else:
        raise ValueError(f"data_checksum must be the sha256 hex digest from catalog_checksum(), "
                         f"got {data_checksum!r}")
    key = _cache_key(cfg, classes, checksum, catalog)
    base = cache_dir(cfg) / f"tiles-{key}"
    npz, csvs = base.with_suffix(".npz"), [base.parent / f"{base.name}.{n}.csv"
                                          for n in CACHE_TABLES]
    cached = read_cache(npz, csvs, cfg, catalog, classes) if use_cache else None
    if cached is not None:
        tiles, manifest, micro, plan = cached
        return TileSet(tiles, manifest, micro, plan, classes, checksum, npz, True)

    images = load_images(catalog, cfg)
    _check_tile_fits(cfg, images, catalog)
    hashes = {m: splits_mod.dhash(im) for m, im in images.items()}
    twins = splits_mod.identical_across_labels(hashes, dict(zip(catalog["micrograph_id"],
                                                                catalog["label"].astype(str))))
    if twins:
        path = dict(zip(catalog["micrograph_id"], catalog["path"]))
        a, b = twins[0]
        raise DataError(f"{path[a]} and {path[b]} are the same image under two labels "
                        f"({len(twins)} such pair(s)): keep it in its one right class folder")
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
    write_cache(ts, npz, csvs)
    if cfg.evaluation.read_whole:   # the k-fold reads these micrographs whole (`reading`)
        from .reading import keep_images
        keep_images(ts, images)
    return ts


@dataclass(frozen=True)
class TileCounts:
    """What the profile makes: from the tile set, or before notebook 01 from the catalogue and
    the tiles-per-class caps."""
    micrographs: int
    samples: int
    tiles: int
    pool: int        # the training and validation tiles (the tuning pool)
    train: int
    tile_px: int

    @classmethod
    def of(cls, cfg: StudyConfig, tileset: "TileSet | None") -> "TileCounts":
        if tileset is not None:
            split = tileset.manifest["split"].astype(str)
            return cls(len(tileset.micrographs), tileset.micrographs["sample_key"].nunique(),
                       len(tileset.tiles), int(split.isin(["train", "val"]).sum()),
                       int((split == "train").sum()), tileset.tiles.shape[1])
        catalog, s = load_catalog(cfg), cfg.split
        k = catalog["label"].nunique()
        return cls(len(catalog), catalog["sample_key"].nunique(),
                   k * (s.train_tiles_per_class + s.val_tiles_per_class + s.test_tiles_per_class),
                   k * (s.train_tiles_per_class + s.val_tiles_per_class),
                   k * s.train_tiles_per_class, cfg.tiling.tile_size)
