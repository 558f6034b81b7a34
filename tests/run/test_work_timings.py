import numpy as np
import pytest

from spring_lib import build_tileset, load_config
from spring_lib.data.tileset import digest_seconds, tile_digests
from spring_lib.glcm.features import GLCMFeatures
from spring_lib.run import work_timings as wt


@pytest.fixture(scope="module")
def smoke(smoke_profile_path):
    cfg = load_config(smoke_profile_path)
    return cfg, build_tileset(cfg)


def test_sample_tiles_come_from_the_tileset_or_the_catalogue(smoke):
    cfg, ts = smoke
    tiles, labels = wt.sample_tiles(cfg, ts, 10)
    assert tiles.shape == (10, *ts.tiles.shape[1:]) and len(set(labels)) > 1
    cut, cut_labels = wt.sample_tiles(cfg, None, 10)
    t = cfg.tiling.tile_size
    assert cut.shape == (10, t, t) and cut.dtype == np.uint8 and len(set(cut_labels)) > 1


def test_the_unit_timings_are_positive_and_per_unit(smoke):
    cfg, ts = smoke
    tiles, labels = wt.sample_tiles(cfg, ts, 16)
    setting = dict(levels=16, distances=(1, 2), angles=(0.0,), rotation="average")
    assert 0 < wt.glcm_seconds(tiles, setting, 1) < 1
    assert 0 < digest_seconds(tiles) < 0.01
    assert 0 < wt.normalisation_seconds(tiles) < 0.1
    assert 0 < wt.npz_seconds(tiles, write=True) < 0.1 and 0 < wt.npz_seconds(tiles, False) < 0.1
    assert 0 < wt.bootstrap_seconds(40, 8, 50) < 5
    assert 0 < wt.search_fit_seconds(60, 3) < 1
    assert 0 < wt.pixel_size_fold_seconds(cfg, ts) < 30
    assert 0 < wt.pixel_size_fold_seconds(cfg, None) < 30


def test_like_features_keeps_the_classes_and_adds_rows(smoke):
    cfg, ts = smoke
    tiles, labels = wt.sample_tiles(cfg, ts, 16)
    X, y = wt.like_features(np.random.default_rng(0).random((16, 6)), labels, 200)
    assert X.shape == (200, 6) and set(y) <= set(labels)
    assert 0 < wt.svc_seconds(X, y, 30, C=1.0) < 5


def test_tile_digests_are_the_features_cache_keys(smoke):
    _, ts = smoke
    keys = tile_digests(ts.tiles[:5])
    assert len(set(keys)) == 5 and keys == tile_digests(ts.tiles[:5].copy())
    f = GLCMFeatures(levels=8, distances=(1,))
    f.fit_transform(ts.tiles[:5])   # the transform's memo is keyed by the same digests
    from spring_lib.glcm.features import _ROWS
    assert any(set(keys) <= set(memo) for memo in _ROWS.values())
