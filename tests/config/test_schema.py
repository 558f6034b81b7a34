"""The schema: which values a profile may hold, whatever file they come from."""
import pytest

from spring_lib.config import ConfigError, load_config


@pytest.mark.parametrize("profile", ["smoke", "lesson", "cpu", "paper"])
def test_shipped_profiles_validate(profile):
    cfg = load_config(profile)
    assert cfg.profile == profile
    assert cfg.cnn.arms


def test_paper_profile_is_the_papers_protocol():
    from spring_lib.core.paper_numbers import PROTOCOL
    cfg = load_config("paper")
    assert (cfg.tiling.tile_size, cfg.split.train_tiles_per_class,
            cfg.split.test_tiles_per_class) == (PROTOCOL.tile_size, PROTOCOL.train_tiles_per_class,
                                                PROTOCOL.test_tiles_per_class)


def test_wrong_type_names_key(write_profile):
    path = write_profile({"split": {"seed": "zero"}})
    with pytest.raises(ConfigError, match=r"split\.seed"):
        load_config(path)


@pytest.mark.parametrize("section,key,value", [
    ("tiling", "tile_size", -224),
    ("split", "test_fraction", 1.5),
    ("split", "train_tiles_per_class", 0),
    ("data", "n_classes", 1),
])
def test_impossible_values(write_profile, section, key, value):
    path = write_profile({section: {key: value}})
    with pytest.raises(ConfigError, match=rf"{section}\.{key}"):
        load_config(path)


def test_stride_larger_than_tile_rejected(write_profile):
    path = write_profile({"tiling": {"tile_size": 64, "stride": 128, "min_stride": 32}})
    with pytest.raises(ConfigError, match="stride"):
        load_config(path)


@pytest.mark.parametrize("section,key,value", [
    ("cnn", "epochs", True), ("split", "seed", True), ("cnn", "augment", 1),
    ("cnn", "lr", "fast"), ("tiling", "tile_size", 224.5)])
def test_wrong_types_are_not_coerced(write_profile, section, key, value):
    with pytest.raises(ConfigError, match=rf"{section}\.{key}"):
        load_config(write_profile({section: {key: value}}))
