import numpy as np
import pytest

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
