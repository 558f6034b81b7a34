"""What notebook 01 shows about a tile set: classes, split integrity, one tiled micrograph."""
from __future__ import annotations

import pandas as pd

from .catalogue import databar_setting
from .images import read_micrograph
from .normalization import Standardizer
from .splits import assert_disjoint
from .tileset import TileSet


def class_overview(tileset: TileSet) -> pd.DataFrame:
    """Micrographs, samples, median scale and magnification per class."""
    micro = tileset.micrographs
    return (micro.groupby("label", observed=True)
            .agg(micrographs=("micrograph_id", "nunique"), samples=("sample_key", "nunique"),
                 median_um_per_px=("um_per_px", "median"),
                 median_magnification=("magnification", "median"))
            .reindex(tileset.classes).round(4).reset_index())


def check_disjoint(tileset: TileSet, group_by: str) -> pd.DataFrame:
    """Raise if any micrograph, group (or, grouped by sample, sample) lies in two splits;
    return the groups that join several micrographs (near-duplicates, samples)."""
    for frame in (tileset.micrographs, tileset.manifest):
        for column in ("micrograph_id", "group") + (("sample_key",) if group_by == "sample" else ()):
            assert_disjoint(frame, column)
    merged = tileset.micrographs.groupby("group")["micrograph_id"].apply(list)
    return merged[merged.str.len() > 1].rename("micrographs").reset_index()


def example_micrograph(tileset: TileSet, cfg) -> tuple:
    """From the class with the fewest micrographs, its micrograph with the most tiles:
    (image, its tiles, title)."""
    rare = tileset.micrographs["label"].value_counts().reindex(tileset.classes).idxmin()
    m = tileset.manifest
    mid = m.loc[m["label"] == rare, "micrograph_id"].value_counts().index[0]
    row = tileset.micrographs.set_index("micrograph_id").loc[mid]
    image = read_micrograph(row["path"], databar_setting(cfg, bool(row["has_databar"])))
    return image, m[m["micrograph_id"] == mid], f"micrograph {mid} ({rare}, {row['split']} split)"


def normalisation_table(tileset: TileSet) -> pd.DataFrame:
    """Eq. 20 statistics, fitted on the training tiles only (as the networks fit them)."""
    train, _ = tileset.split("train")
    s = Standardizer.fit(train)
    return pd.DataFrame([{"fitted_on": "train tiles", "n_tiles": len(train), "mean": s.mean,
                          "std": s.std}])


def leaky_summary(tileset: TileSet) -> pd.DataFrame:
    """Tiles per class on each side of the LEAKY random tile split, and how many micrographs
    it scatters over several sides (the reason notebook 05 shows it only as a contrast)."""
    m = tileset.manifest
    table = pd.crosstab(m["label"], m["leaky_split"]).reset_index()
    shared = (m.groupby("micrograph_id")["leaky_split"].nunique() > 1).mean()
    table.attrs["micrographs_on_several_sides"] = shared
    print(f"LEAKY tile-level split: {shared:.0%} of micrographs have tiles on more than one side")
    return table
