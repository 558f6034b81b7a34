"""The tile set on disk: one .npz of tiles and three CSV tables per parameter set, written
atomically, read back checked; a damaged file is moved aside (never deleted) and rebuilt."""
from __future__ import annotations

import os
import uuid
import warnings
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import StudyConfig
from ..core.progress import warning
from . import splits as splits_mod
from .catalogue import DataError


CACHE_TABLES = ("manifest", "micrographs", "plan")


# Columns a cached table must have, filled: a file cut short loses them or leaves them empty.
_CACHE_COLUMNS = {"manifest": ["tile_id", "micrograph_id", "label", "split", "x", "y", "size"],
                  "micrographs": ["micrograph_id", "label", "split", "group", "height", "width"],
                  "plan": ["label", "split"]}


# What reading a damaged .npz or .csv raises (BadZipFile, EOFError, pandas' ParserError, ...).
_UNREADABLE = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile)


class CacheWarning(UserWarning):
    """A tile cache file could not be used; it was moved aside and the tile set rebuilt."""


def read_cache(npz: Path, csvs: list[Path], cfg: StudyConfig, catalog: pd.DataFrame,
                classes: list[str]):
    """(tiles, manifest, micrographs, plan) from the cache; None if it is absent or damaged.

    A damaged file is named in a CacheWarning and moved aside, not deleted: the tile set is
    rebuilt, and whoever wants to know what broke it still has the file.
    """
    if not (npz.exists() and all(p.exists() for p in csvs)):
        return None
    damaged: dict[Path, str] = {}
    t = cfg.tiling.tile_size
    tiles = None
    try:
        with open(npz, "rb") as fh, np.load(fh) as f:  # np.load leaks the file on BadZipFile
            tiles = f["tiles"]
        if tiles.dtype != np.uint8 or tiles.ndim != 3 or tiles.shape[1:] != (t, t):
            damaged[npz] = f"tiles are {tiles.dtype} {tiles.shape}, expected uint8 [n, {t}, {t}]"
    except _UNREADABLE as exc:
        damaged[npz] = f"{type(exc).__name__}: {exc}"
    frames = {}
    for name, path in zip(CACHE_TABLES, csvs):
        try:
            df = pd.read_csv(path, dtype={"micrograph_id": str, "sample_key": str, "group": str})
        except _UNREADABLE as exc:
            damaged[path] = f"{type(exc).__name__}: {exc}"
            continue
        needed = _CACHE_COLUMNS[name] + (["leaky_split"] if name == "manifest"
                                         and cfg.split.leaky_tile_split else [])
        gaps = [c for c in needed if c not in df or df[c].isna().any()]
        if gaps:
            damaged[path] = f"column(s) {gaps} missing or with empty cells"
            continue
        df["label"] = pd.Categorical(df["label"], categories=classes)
        df["split"] = pd.Categorical(df["split"], categories=list(splits_mod.SPLITS))
        if df["label"].isna().any() or df["split"].isna().any():
            damaged[path] = "labels or splits that are not this profile's"
            continue
        frames[name] = df
    if "micrographs" in frames and (set(frames["micrographs"]["micrograph_id"])
                                    != set(catalog["micrograph_id"])):
        damaged[csvs[1]] = (f"{len(frames['micrographs'])} micrographs, not the catalogue's "
                            f"{len(catalog)}")
    if "plan" in frames and len(frames["plan"]) != len(classes) * len(splits_mod.SPLITS):
        damaged[csvs[2]] = f"{len(frames['plan'])} rows, expected one per class and split"
    if npz not in damaged and "manifest" in frames and len(tiles) != len(frames["manifest"]):
        why = f"{len(tiles)} tiles in {npz.name}, {len(frames['manifest'])} rows in {csvs[0].name}"
        damaged[npz] = damaged[csvs[0]] = why
    if damaged:
        move_aside(damaged)
        return None
    return tiles, frames["manifest"], frames["micrographs"], frames["plan"]


def move_aside(damaged: dict[Path, str]) -> None:
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    moved = []
    for path, why in damaged.items():
        dest, n = path.with_name(f"{path.name}.damaged-{stamp}"), 1
        while dest.exists():  # never replace an earlier damaged copy
            dest, n = path.with_name(f"{path.name}.damaged-{stamp}-{n}"), n + 1
        try:
            path.rename(dest)
        except FileNotFoundError:  # a concurrent build moved it already
            continue
        except OSError as exc:
            raise DataError(f"tile cache file {path} is damaged ({why}) and cannot be moved "
                            f"aside ({exc}): remove it, or set cache_dir elsewhere") from None
        moved.append(f"{path} ({why}) -> {dest.name}")
    if moved:
        message = f"damaged tile cache moved aside, rebuilding the tile set: {'; '.join(moved)}"
        warning(message)   # the runner's terminal, not only the notebook
        warnings.warn(message, CacheWarning, stacklevel=4)


def write_cache(ts, npz: Path, csvs: list[Path]) -> None:
    """Write beside under names of this writer's own, then rename.

    An interrupted run never leaves a half cache behind, and two builds of the same tiles at
    once never write into each other's files. The .npz goes last: its presence marks a cache.
    """
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
    temps = [p.with_name(f".{p.name}.{tag}.tmp") for p in (*csvs, npz)]
    try:
        for df, tmp in zip((ts.manifest, ts.micrographs, ts.plan), temps):
            with open(tmp, "x", newline="") as f:
                df.to_csv(f, index=False)
        with open(temps[-1], "xb") as f:
            np.savez(f, tiles=ts.tiles)
        for tmp, path in zip(temps, (*csvs, npz)):
            tmp.replace(path)
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
