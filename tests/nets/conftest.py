"""Fixtures the nets tests share: the smoke profile's tile set, and a tiny profile whose arms
plan and train in seconds."""
import pytest
import yaml

from spring_lib import build_tileset, load_config


@pytest.fixture(scope="session")
def tiny(tmp_path_factory, data_root, standin_weights):
    """(config, tile set) of a profile small enough to plan and train arms in a test."""
    d = tmp_path_factory.mktemp("tiny")
    prof = d / "tiny-test.yaml"
    prof.write_text(yaml.safe_dump({
        "cache_dir": str(d / "cache"),
        "data": {"root": str(data_root), "micrograph_limit_per_class": 6},
        "tiling": {"tile_size": 64, "stride": 64, "min_stride": 32},
        "split": {"val_fraction": 0.25, "train_tiles_per_class": 8, "val_tiles_per_class": 4,
                  "test_tiles_per_class": 4},
        "cnn": {"epochs": 1, "input_size": 32, "batch_size": 8, "arms_baselines": [],
                "arms_transfer": [], "weights": {"MobileNetV2": str(standin_weights)},
                "max_minutes_per_arm": 30}}))
    cfg = load_config(prof)
    return cfg, build_tileset(cfg)


@pytest.fixture
def fake_measure():
    """A measurement at a given rate (images per second), instead of timing the network."""
    from spring_lib.nets.timing import Measurement
    from spring_lib.nets.execution import Execution

    def at(rate: float):
        def measure(model, recipe, train=True, **kwargs):
            return Measurement(Execution(), rate if train else None, rate * 3)
        return measure
    return at


@pytest.fixture
def steady(monkeypatch):
    """Planning on a machine whose load cannot change the outcome: every timing reads as quiet,
    the feeding costs are fixed, and `clock` stands still unless a test moves it (planning's
    own seconds count against the run's budget, and a busy machine plans slowly)."""
    from spring_lib.core import rate_cache
    from spring_lib.nets import costs

    monkeypatch.setattr(rate_cache, "others_load", lambda fn: (fn(), 0.0))
    monkeypatch.setattr(costs, "input_seconds", lambda *a, **k: 1e-4)
    monkeypatch.setattr(costs, "state_save_seconds", lambda *a, **k: 0.01)
    now = [1e9]
    return lambda: now[0]
