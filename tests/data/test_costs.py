from dataclasses import replace

import numpy as np

from spring_lib.data import costs
from spring_lib.data.costs import Work
from spring_lib.data.tileset import digest_seconds


def test_sample_tiles_come_from_the_tileset_or_the_catalogue(smoke):
    cfg, ts = smoke
    tiles, labels = Work(cfg, ts).sample(10)
    assert tiles.shape == (10, *ts.tiles.shape[1:]) and len(set(labels)) > 1
    cut, cut_labels = Work(cfg).sample(10)
    t = cfg.tiling.tile_size
    assert cut.shape == (10, t, t) and cut.dtype == np.uint8 and len(set(cut_labels)) > 1


def test_a_tile_set_without_its_cache_is_built_cold(smoke, tmp_path):
    cfg, ts = smoke
    assert Work(cfg).cold and not Work(cfg, ts).cold
    assert Work(cfg, replace(ts, cache_path=tmp_path / "gone.npz")).cold


def test_the_unit_timings_are_positive_and_per_tile(smoke):
    cfg, ts = smoke
    cold, warm = costs.tiling(Work(cfg)), costs.tiling(Work(cfg, ts))
    unit = lambda units, starts: next(u for u in units if u.key.startswith(starts))
    assert unit(cold, "micrograph read").count == Work(cfg).counts.micrographs
    for u, most in ((unit(cold, "micrograph read"), 5), (unit(cold, "tile cache write"), 0.1),
                    (unit(warm, "tile cache read"), 0.1), (unit(warm, "eq. 20"), 0.1),
                    (costs.digests(Work(cfg, ts), "x", 1), 0.01)):
        assert 0 < u.time() < most, u.key
    assert 0 < digest_seconds(ts.tiles[:16]) < 0.01
