import pytest

from spring_lib.config import ConfigError, load_config


@pytest.mark.parametrize("profile", ["smoke", "cpu", "paper"])
def test_shipped_profiles_validate(profile):
    cfg = load_config(profile)
    assert cfg.profile == profile
    assert cfg.tiling.tile_size <= 224


def test_paper_profile_is_the_papers_protocol():
    cfg = load_config("paper")
    assert (cfg.tiling.tile_size, cfg.split.train_tiles_per_class,
            cfg.split.test_tiles_per_class) == (224, 600, 200)


def test_unknown_key_names_key_and_file(write_profile):
    path = write_profile({"tiling": {"tile_sise": 224}})
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert "tiling.tile_sise" in str(exc.value) and str(path) in str(exc.value)
    assert "unknown key" in str(exc.value)


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


def test_unknown_profile_name_lists_known():
    with pytest.raises(ConfigError, match="known: .*cpu"):
        load_config("nonexistent")


def test_not_a_mapping(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(p)
