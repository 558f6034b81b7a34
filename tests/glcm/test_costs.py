import numpy as np

from spring_lib.data.costs import Work
from spring_lib.data.tileset import tile_digests
from spring_lib.glcm import costs
from spring_lib.glcm.features import GLCMFeatures


def test_the_unit_timings_are_positive_and_per_unit(smoke):
    cfg, ts = smoke
    work = Work(cfg, ts)
    setting = costs.setting(GLCMFeatures(levels=16, distances=(1, 2), angles_deg=(0,)))
    assert 0 < costs.features(work, "x", setting, 1).time() < 1
    assert 0 < costs._search_fit_seconds(60, 3) < 1
    assert 0 < costs._pixel_size_fold_seconds(work) < 30
    assert 0 < costs._pixel_size_fold_seconds(Work(cfg)) < 30


def test_an_svc_fit_counts_its_digests_and_the_searchs_own_work(smoke):
    cfg, ts = smoke
    setting = costs.setting(GLCMFeatures(levels=16, distances=(1,)))
    digests, search, fit = costs.svc(Work(cfg, ts), "x", 200, 30, setting, {"C": 1.0}, 3)
    assert digests.count == 3 * 230 and search.count == fit.count == 3
    assert 0 < fit.time() < 5


def test_like_features_keeps_the_classes_and_adds_rows(smoke):
    cfg, ts = smoke
    tiles, labels = Work(cfg, ts).sample(16)
    X, y = costs.like_features(np.random.default_rng(0).random((16, 6)), labels, 200)
    assert X.shape == (200, 6) and set(y) <= set(labels)


def test_tile_digests_are_the_features_cache_keys(smoke):
    _, ts = smoke
    keys = tile_digests(ts.tiles[:5])
    assert len(set(keys)) == 5 and keys == tile_digests(ts.tiles[:5].copy())
    f = GLCMFeatures(levels=8, distances=(1,))
    f.fit_transform(ts.tiles[:5])   # the transform's memo is keyed by the same digests
    from spring_lib.glcm.features import _ROWS
    assert any(set(keys) <= set(memo) for memo in _ROWS.values())
