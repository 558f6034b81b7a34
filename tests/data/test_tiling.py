import json
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from spring_lib import build_tileset, load_config
from spring_lib.config import ConfigError
from spring_lib.data import tileset as tileset_mod
from spring_lib.data.catalogue import DataError, catalog_checksum, load_catalog
from spring_lib.data.images import read_micrograph
from spring_lib.data.tile_cache import CacheWarning
from spring_lib.data.tileset import _cache_key
from spring_lib.data.tiling import (choose_stride, cut_tiles, n_tiles, resample_to_scale,
                               spread_sample, tile_origins)


def test_uhcsdb_image_gives_a_2x2_grid():
    origins = tile_origins(481, 645, 224, 224)
    assert origins == [(0, 0), (0, 224), (224, 0), (224, 224)]
    assert n_tiles(481, 645, 224, 224) == 4


@pytest.mark.parametrize("h,w,t,s", [(481, 645, 224, 112), (768, 1024, 224, 224),
                                     (100, 100, 100, 7), (50, 300, 64, 16)])
def test_count_and_bounds(h, w, t, s):
    origins = tile_origins(h, w, t, s)
    assert len(origins) == n_tiles(h, w, t, s) == ((h - t) // s + 1) * ((w - t) // s + 1)
    assert all(0 <= y <= h - t and 0 <= x <= w - t for y, x in origins)


def test_paper_source_image_gives_12_tiles():
    # 1024 x 768 at 224 px without overlap: 4 x 3 = 12 tiles, as in the paper
    assert n_tiles(768, 1024, 224, 224) == 12


def test_tile_larger_than_image_gives_none():
    assert tile_origins(100, 100, 128, 64) == [] and n_tiles(100, 100, 128, 64) == 0


def test_cut_tiles_content():
    img = np.arange(20 * 30, dtype=np.uint8).reshape(20, 30)
    tiles = cut_tiles(img, [(0, 0), (10, 20)], 10)
    assert tiles.shape == (2, 10, 10)
    assert np.array_equal(tiles[1], img[10:20, 20:30])


def test_choose_stride_halves_only_as_needed():
    shapes = [(481, 645)] * 3  # 12 tiles at stride 224
    assert choose_stride(shapes, 224, 224, 32, 12) == 224
    assert choose_stride(shapes, 224, 224, 32, 13) == 112
    assert choose_stride(shapes, 224, 224, 56, 10_000) == 56   # stops at min_stride


def test_spread_sample_is_balanced_across_groups():
    groups = np.array(["a"] * 100 + ["b"] * 10 + ["c"] * 10)
    pick = spread_sample(groups, 30, np.random.default_rng(0))
    counts = {g: int((groups[pick] == g).sum()) for g in "abc"}
    assert counts == {"a": 10, "b": 10, "c": 10}
    assert len(set(pick)) == 30
    assert len(spread_sample(groups, 500, np.random.default_rng(0))) == 120


def test_resample_to_common_scale():
    img = np.tile(np.array([0, 255], np.uint8), (100, 50))
    half = resample_to_scale(img, um_per_px=0.1, target_um_per_px=0.2)
    assert half.shape == (50, 50) and half.dtype == np.uint8
    assert resample_to_scale(img, 0.1, 0.1) is img
    with pytest.raises(ValueError, match="scale"):
        resample_to_scale(img, float("nan"), 0.2)


# ---------------------------------------------------------------- the tile set, on tiny data

def _noise(shape, seed):
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


@pytest.fixture
def lab(tmp_path):
    """Two classes of four noise micrographs; the same file names in both class folders."""
    root = tmp_path / "lab"
    for c, cls in enumerate(("austenite", "bainite")):
        (root / cls).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(_noise((64, 80), 10 * c + i)).save(root / cls / f"img{i}.png")
    return root


def _tiny(root, tmp_path, layout="folders", **sections) -> dict:
    content = {"cache_dir": str(tmp_path / "cache"), "data": {"root": str(root), "layout": layout,
                                                               "n_classes": 2},
               "tiling": {"tile_size": 32, "stride": 32, "min_stride": 16},
               "split": {"val_fraction": 0, "val_tiles_per_class": 0, "train_tiles_per_class": 8,
                         "test_tiles_per_class": 4}}
    for section, values in sections.items():
        content[section] = {**content.get(section, {}), **values}
    return content


def test_tiles_come_from_their_own_micrograph(lab, tmp_path, write_profile):
    ts = build_tileset(load_config(write_profile(_tiny(lab, tmp_path))))
    ids = ts.micrographs["micrograph_id"]
    assert ids.is_unique and len(ids) == 8  # img0..img3 of both classes, none lost
    paths = ts.micrographs.set_index("micrograph_id")["path"]
    assert set(ts.manifest["micrograph_id"].str.split("/").str[0]) == {"austenite", "bainite"}
    for r in ts.manifest.itertuples():
        src = read_micrograph(paths[r.micrograph_id])
        assert np.array_equal(ts.tiles[r.Index], src[r.y:r.y + r.size, r.x:r.x + r.size])
        assert Path(paths[r.micrograph_id]).parent.name == r.label


CATALOG = pd.DataFrame({"micrograph_id": ["1", "2"], "path": ["/x/1.png", "/x/2.png"],
                        "label": ["a", "b"], "sample_key": ["1", "2"],
                        "um_per_px": [float("nan")] * 2})


def test_cache_key_follows_tiling_and_split(write_profile, tmp_path):
    def key(name="p", **sections):
        content = {"description": name, "cnn": {"epochs": 1 + len(name)}, **sections}
        return _cache_key(load_config(write_profile(content, name)), ["a", "b"], "0" * 64,
                          CATALOG)

    base = key()
    # the same profile, or one differing only where tiles do not depend on it: the same tiles
    assert key() == base and key("other-profile-name") == base
    changed = [key(tiling={"tile_size": 112, "stride": 112}), key(tiling={"stride": 112}),
               key(tiling={"min_stride": 16}), key(tiling={"um_per_px": 0.1}),
               key(split={"seed": 1}), key(split={"test_fraction": 0.2}),
               key(split={"group_by": "micrograph"}), key(split={"train_tiles_per_class": 10}),
               key(data={"databar": "none"})]
    assert base not in changed and len(set(changed)) == len(changed)
    cfg = load_config(write_profile({}, "q"))
    at = lambda classes=("a", "b"), checksum="0" * 64, catalog=CATALOG: _cache_key(  # noqa: E731
        cfg, list(classes), checksum, catalog)
    assert at(checksum="1" * 64) != at() and at(classes=("a", "c")) != at()
    # what the catalogue says besides the images: a lab's scale.csv, samples; not where they lie
    assert at(catalog=CATALOG.assign(um_per_px=[0.1, 0.2])) != at()
    assert at(catalog=CATALOG.assign(sample_key=["1", "1"])) != at()
    assert at(catalog=CATALOG.assign(path=["/y/1.png", "/y/2.png"])) == at()


def _scaled_uhcsdb(root: Path, scales: list[float]) -> Path:
    """A UHCSDB-like folder (labels.csv + Croppedmicrograph<ID>.png) with known scales."""
    root.mkdir(parents=True)
    rows = []
    for i, um_per_px in enumerate(scales, start=1):
        Image.fromarray(_noise((96, 128), i)).save(root / f"Croppedmicrograph{i}.png")
        rows.append(dict(micrograph_id=i, label="ab"[i % 2], sample_key=i, micron_bar=10,
                         micron_bar_units="um", micron_bar_px=10 / um_per_px,
                         magnification="1000X", detector="SE"))
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    return root


def test_um_per_px_tiles_are_cut_from_the_resampled_image(tmp_path, write_profile):
    scales = [0.5, 1.0] * 4  # both classes get micrographs at 0.5 and 1.0 µm/px
    root = _scaled_uhcsdb(tmp_path / "uhcs", scales)
    cfg = load_config(write_profile(_tiny(root, tmp_path, layout="uhcsdb",
                                          tiling={"um_per_px": 1.0})))
    ts = build_tileset(cfg)
    micro = ts.micrographs.set_index("micrograph_id")
    assert (ts.manifest["um_per_px"] == 1.0).all()
    assert set(ts.manifest["size"]) == {64, 32}  # 32 px tiles span 64 source px at 0.5 µm/px
    for r in ts.manifest.itertuples():
        src = read_micrograph(micro.loc[r.micrograph_id, "path"])
        factor = micro.loc[r.micrograph_id, "um_per_px"] / 1.0
        resampled = resample_to_scale(src, micro.loc[r.micrograph_id, "um_per_px"], 1.0)
        assert r.size == round(32 / factor) and r.y + r.size <= 96 and r.x + r.size <= 128
        y, x = round(r.y * factor), round(r.x * factor)
        assert np.array_equal(ts.tiles[r.Index], resampled[y:y + 32, x:x + 32])
        if factor != 1:
            assert not np.array_equal(ts.tiles[r.Index], src[r.y:r.y + 32, r.x:r.x + 32])


def test_um_per_px_without_scale_names_key_and_image(lab, tmp_path, write_profile):
    cfg = load_config(write_profile(_tiny(lab, tmp_path, tiling={"um_per_px": 0.5})))
    with pytest.raises(ConfigError, match="tiling.um_per_px") as exc:
        build_tileset(cfg)
    assert "img0.png" in str(exc.value) and "no known scale" in str(exc.value)


def test_image_smaller_than_tile_is_named(lab, tmp_path, write_profile):
    small = lab / "bainite" / "img3.png"
    Image.fromarray(_noise((20, 80), 99)).save(small)
    with pytest.raises(ConfigError, match="tiling.tile_size") as exc:
        build_tileset(load_config(write_profile(_tiny(lab, tmp_path))))
    message = str(exc.value)
    assert f"{small} (80x20 px)" in message and "img2.png" not in message


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _garble(path):
    path.write_bytes(b"\xff\xfe\x00garbage\n\x00\x01")


def _empty(path):
    path.write_bytes(b"")


@pytest.mark.parametrize("which", ["npz", "manifest", "micrographs", "plan"])
@pytest.mark.parametrize("damage", [_truncate, _garble, _empty])
def test_damaged_cache_is_moved_aside_and_rebuilt(lab, tmp_path, write_profile, which, damage):
    cfg = load_config(write_profile(_tiny(lab, tmp_path)))
    first = build_tileset(cfg)
    base = first.cache_path.with_suffix("")
    target = first.cache_path if which == "npz" else base.with_name(f"{base.name}.{which}.csv")
    damage(target)
    broken = target.read_bytes()
    with pytest.warns(CacheWarning, match=target.name) as record:
        again = build_tileset(cfg)
    assert len([w for w in record if w.category is CacheWarning]) == 1
    assert not again.from_cache and np.array_equal(again.tiles, first.tiles)
    aside = list(target.parent.glob(f"{target.name}.damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == broken  # kept, not deleted
    assert str(aside[0].name) in str(record[0].message)
    third = build_tileset(cfg)
    assert third.from_cache and np.array_equal(third.tiles, first.tiles)
    pd.testing.assert_frame_equal(third.manifest.astype(str), first.manifest.astype(str))


def test_cache_disagreeing_with_itself_is_rebuilt(lab, tmp_path, write_profile):
    cfg = load_config(write_profile(_tiny(lab, tmp_path)))
    first = build_tileset(cfg)
    with np.load(first.cache_path) as f:
        tiles = f["tiles"]
    np.savez(first.cache_path, tiles=tiles[:-1])  # a tile short of the manifest
    with pytest.warns(CacheWarning, match="rows in"):
        again = build_tileset(cfg)
    assert not again.from_cache and len(again.tiles) == len(first.tiles)


def test_concurrent_cache_writers_do_not_collide(lab, tmp_path, write_profile, monkeypatch):
    """Both builds finish writing before either renames: shared temp names would collide."""
    cfg = load_config(write_profile(_tiny(lab, tmp_path)))
    barrier, local = threading.Barrier(2, timeout=60), threading.local()
    replace = Path.replace

    def replace_after_both_wrote(self, target):
        if not getattr(local, "waited", False):
            local.waited = True
            barrier.wait()
        return replace(self, target)

    monkeypatch.setattr(Path, "replace", replace_after_both_wrote)
    with ThreadPoolExecutor(2) as pool:
        builds = [f.result() for f in [pool.submit(build_tileset, cfg, False) for _ in range(2)]]
    monkeypatch.undo()
    assert np.array_equal(builds[0].tiles, builds[1].tiles)
    cache = builds[0].cache_path.parent
    assert not [p.name for p in cache.iterdir() if p.name.endswith(".tmp")]
    again = build_tileset(cfg)
    assert again.from_cache and np.array_equal(again.tiles, builds[0].tiles)


def test_given_data_checksum_is_not_recomputed(lab, tmp_path, write_profile, monkeypatch):
    cfg = load_config(write_profile(_tiny(lab, tmp_path)))
    checksum = catalog_checksum(load_catalog(cfg))
    computed = build_tileset(cfg)

    def no_hashing(catalog):
        raise AssertionError("catalog_checksum called although data_checksum was given")

    monkeypatch.setattr(tileset_mod, "catalog_checksum", no_hashing)
    given = build_tileset(cfg, data_checksum=checksum)
    assert given.from_cache and given.cache_path == computed.cache_path
    assert given.data_checksum == checksum
    with pytest.raises(ValueError, match="data_checksum"):
        build_tileset(cfg, data_checksum="unavailable: no data")


def test_same_image_under_two_labels_is_refused_naming_both(lab, tmp_path, write_profile):
    """A file copied into two class folders would train as both classes."""
    twin = lab / "bainite" / "copy-of-img2.png"
    shutil.copy(lab / "austenite" / "img2.png", twin)
    with pytest.raises(DataError) as exc:
        build_tileset(load_config(write_profile(_tiny(lab, tmp_path))))
    message = str(exc.value)
    assert "\n" not in message and "two labels" in message
    assert str(lab / "austenite" / "img2.png") in message and str(twin) in message


def test_cache_repair_warning_reaches_the_runner(lab, tmp_path, write_profile, monkeypatch):
    """Under the runner the warning is also a progress event, which the runner prints."""
    events = tmp_path / "progress.jsonl"
    monkeypatch.setenv("SPRING_PROGRESS_FILE", str(events))
    cfg = load_config(write_profile(_tiny(lab, tmp_path)))
    first = build_tileset(cfg)
    _garble(first.cache_path)
    with pytest.warns(CacheWarning):
        build_tileset(cfg)
    [event] = [json.loads(l) for l in events.read_text().splitlines()]
    assert event["kind"] == "warning" and first.cache_path.name in event["message"]
    assert "damaged tile cache" in event["message"]   # the monitor prints it as a warning
