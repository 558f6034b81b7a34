import re

import numpy as np
import pandas as pd
import pytest

from spring_lib import build_tileset, load_config
from spring_lib.config import ConfigError
from spring_lib.data.normalization import Standardizer, minmax_unit
from spring_lib.data.splits import (assert_disjoint, dhash, group_ids, near_duplicate_pairs)
from spring_lib.data.catalogue import UHCSDB_NEAR_DUPLICATES
from spring_lib.data.images import read_micrograph


@pytest.fixture(scope="module")
def full_profile(tmp_path_factory, data_root):
    import yaml
    d = tmp_path_factory.mktemp("p")
    p = d / "full.yaml"
    p.write_text(yaml.safe_dump({
        "cache_dir": str(d / "cache"), "data": {"root": str(data_root)},
        "tiling": {"tile_size": 224, "stride": 224, "min_stride": 56},
        "split": {"train_tiles_per_class": 60, "val_tiles_per_class": 20,
                  "test_tiles_per_class": 30, "leaky_tile_split": True}}))
    return p


@pytest.fixture(scope="module")
def tileset(full_profile):
    return build_tileset(load_config(full_profile))


def test_micrographs_never_in_two_splits(tileset):
    for frame in (tileset.micrographs, tileset.manifest):
        assert_disjoint(frame, "micrograph_id")
        assert_disjoint(frame, "group")


def test_samples_never_in_two_splits_or_two_folds_by_default(tileset):
    """group_by: sample is the default: the 37 samples are the independent units."""
    from spring_lib.data.splits import kfold_assignment

    assert tileset.micrographs["group"].str.startswith("s").all()
    for frame in (tileset.micrographs, tileset.manifest):
        assert_disjoint(frame, "sample_key")
    folds = kfold_assignment(tileset.micrographs, 5, 0)
    per_sample = tileset.micrographs.assign(fold=folds).groupby("sample_key")["fold"].nunique()
    assert (per_sample == 1).all() and folds.nunique() == 5
    tile_folds = tileset.folds(5, 0)
    by_sample = pd.DataFrame({"s": tileset.manifest["sample_key"], "f": tile_folds})
    assert (by_sample.groupby("s")["f"].nunique() == 1).all()


def test_a_fold_check_can_fail():
    df = pd.DataFrame({"sample_key": ["1", "1"], "split": ["0", "1"]})
    with pytest.raises(AssertionError, match="sample_key"):
        assert_disjoint(df, "sample_key")


def test_assert_disjoint_can_fail():
    df = pd.DataFrame({"micrograph_id": ["1", "1"], "split": ["train", "test"]})
    with pytest.raises(AssertionError, match="more than one split"):
        assert_disjoint(df, "micrograph_id")


def test_stratified_on_real_data(tileset):
    micro = tileset.micrographs
    frac = pd.crosstab(micro["label"], micro["split"], normalize="index")
    # every class in training and test (a class held in three samples cannot also fill the
    # validation split), test share near 25 % for classes with enough micrographs
    assert (pd.crosstab(micro["label"], micro["split"])[["train", "test"]] > 0).all().all()
    big = micro["label"].value_counts()[lambda s: s >= 60].index
    assert len(big) >= 3  # spheroidite, network, spheroidite+widmanstatten: else nothing is checked
    for label in big:
        assert 0.15 <= frac.loc[label, "test"] <= 0.35, (label, frac.loc[label, "test"])


def test_near_duplicates_share_a_split(tileset):
    split = tileset.micrographs.set_index("micrograph_id")["split"]
    for a, b in UHCSDB_NEAR_DUPLICATES:
        if a in split and b in split:
            assert split[a] == split[b]


def test_dhash_finds_the_known_near_duplicates(data_root):
    ids = {i for pair in UHCSDB_NEAR_DUPLICATES for i in pair} | {"2", "4", "5", "6"}
    hashes = {i: dhash(read_micrograph(data_root / "images" / f"Croppedmicrograph{i}.png"))
              for i in ids}
    found = {tuple(sorted(p)) for p in near_duplicate_pairs(hashes, 8)}
    assert found == {tuple(sorted(p)) for p in UHCSDB_NEAR_DUPLICATES}


def test_caps_and_provenance(tileset):
    m = tileset.manifest
    counts = m.groupby(["label", "split"], observed=True).size().unstack()
    assert (counts["train"] <= 60).all() and (counts["test"] <= 30).all()
    assert len(tileset.tiles) == len(m)
    for i in (0, len(m) // 2, len(m) - 1):
        mid, y, x, size = m.loc[i, ["micrograph_id", "y", "x", "size"]]
        src = read_micrograph(tileset.micrographs.set_index("micrograph_id").loc[mid, "path"])
        assert np.array_equal(tileset.tiles[i], src[y:y + size, x:x + size])


def test_rare_class_overlaps_and_says_so(tileset):
    plan = tileset.plan.set_index(["label", "split"])
    assert plan.loc[("pearlite", "train"), "overlapping"]
    assert not plan.loc[("spheroidite", "train"), "overlapping"]


def test_cache_roundtrip(full_profile, tileset):
    again = build_tileset(load_config(full_profile))
    assert again.from_cache and np.array_equal(again.tiles, tileset.tiles)
    pd.testing.assert_frame_equal(again.manifest.astype(str), tileset.manifest.astype(str))


def test_leaky_split_is_marked_and_leaks(tileset):
    m = tileset.manifest
    assert "leaky_split" in m
    assert (m.groupby("micrograph_id")["leaky_split"].nunique() > 1).any()


def test_group_by_sample(write_profile, data_root, tmp_path):
    base = {"cache_dir": str(tmp_path), "data": {"root": str(data_root),
            "classes": ["spheroidite", "network", "spheroidite+widmanstatten"]},
            "split": {"group_by": "sample", "train_tiles_per_class": 20,
                      "val_tiles_per_class": 5, "test_tiles_per_class": 10}}
    ts = build_tileset(load_config(write_profile(base)))
    assert_disjoint(ts.micrographs, "sample_key")


def test_class_without_enough_groups_is_a_clear_error(write_profile):
    from spring_lib.data.splits import assign_splits
    cat = pd.DataFrame({"micrograph_id": [str(i) for i in range(44)],
                        "sample_key": [str(i % 20) for i in range(40)] + ["x"] * 4,
                        "label": ["a"] * 40 + ["b"] * 4})
    cfg = load_config(write_profile({"split": {"group_by": "sample"}}))
    with pytest.raises(ConfigError, match="group_by=sample") as exc:
        assign_splits(cat, cfg)
    assert "'b'" in str(exc.value)
    with pytest.raises(ConfigError, match="val_fraction"):
        assign_splits(cat.iloc[:8], load_config(write_profile(
            {"split": {"group_by": "sample", "val_fraction": 0.1, "test_fraction": 0.2}}, "v")))
    ok = assign_splits(cat, load_config(write_profile({"split": {"group_by": "micrograph"}}, "m")))
    assert set(ok[ok["label"] == "b"]["split"]) >= {"train", "test"}


def test_tile_larger_than_micrograph_is_a_config_error(write_profile, data_root, tmp_path):
    path = write_profile({"cache_dir": str(tmp_path), "data": {"root": str(data_root)},
                          "tiling": {"tile_size": 512, "stride": 512, "min_stride": 256}})
    with pytest.raises(ConfigError, match="tiling.tile_size") as exc:
        build_tileset(load_config(path))
    # names the micrographs too small (all 645 x 481 px), not only the key
    assert re.search(r"images/Croppedmicrograph\d+\.png \(645x481 px\)", str(exc.value))


def test_group_ids_merge_linked_pairs():
    cat = pd.DataFrame({"micrograph_id": ["1", "2", "3"], "sample_key": ["a", "b", "c"]})
    g = group_ids(cat, "micrograph", [("1", "3")])
    assert g[0] == g[2] != g[1]


def test_normalisation_eq19_eq20():
    tiles = np.stack([np.full((4, 4), 7, np.uint8), np.arange(16, dtype=np.uint8).reshape(4, 4)])
    unit = minmax_unit(tiles)
    assert unit[0].max() == 0 and unit[1].min() == 0 and unit[1].max() == 1
    std = Standardizer.fit(tiles)
    z = std(tiles)
    assert abs(z.mean()) < 1e-5 and abs(z.std() - 1) < 1e-5
    with pytest.raises(ValueError, match="empty"):
        Standardizer.fit(tiles[:0])


def test_dhash_of_a_large_micrograph_is_cheap_and_stable(data_root):
    """A 12000 px micrograph is hashed on block means first: seconds, not minutes, and the
    hash still sees the picture (the same field at a tenth of the size hashes alike)."""
    import time

    from skimage.transform import resize

    small = read_micrograph(data_root / "images" / "Croppedmicrograph2.png")
    big = np.kron(small[:400, :400], np.ones((30, 30), np.uint8))     # 12000 x 12000 px
    t0 = time.perf_counter()
    h = dhash(big)
    took = time.perf_counter() - t0
    assert took < 5, f"dhash took {took:.1f} s"
    assert (h != dhash(small[:400, :400])).sum() <= 8
    other = resize(small[:400, 200:600] if small.shape[1] >= 600 else small[:400, ::-1], (400, 400))
    assert (h != dhash(other)).sum() > 8
