"""Network recipes: the base recipe, then overrides per arm kind, architecture and arm."""
import pytest

from spring_lib.config import ConfigError, load_config


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


@pytest.mark.parametrize("arms,overrides,match", [
    (["AlexNet-TL"], {"TL": {"lr_grid": [0.001]}}, "AlexNet-TL: lr_grid applies only"),
    (["AlexNet-scratch"], {"scratch": {"batch_norm": "pretrained"}},
     "AlexNet-scratch: batch_norm applies only"),
])
def test_settings_of_a_cached_top_are_refused_elsewhere(write_profile, arms, overrides, match):
    with pytest.raises(ConfigError, match=match):
        load_config(write_profile({"cnn": {"arms_baselines": arms, "arms_transfer": [],
                                           "overrides": overrides}}))


def test_a_twin_takes_its_scratch_twins_input_tiles_and_views():
    cfg = load_config("cpu")
    twin, scratch = cfg.recipe("EfficientNet-Lite0-TL@twin"), cfg.recipe("EfficientNet-Lite0-scratch")
    tl = cfg.recipe("EfficientNet-Lite0-TL")
    for key in ("input_size", "max_train_tiles_per_class", "tta"):
        assert getattr(twin, key) == getattr(scratch, key)
    assert tl.input_size == "native" and (twin.freeze, twin.lr_grid) == (tl.freeze, tl.lr_grid)
    with pytest.raises(ValueError, match="variants are @twin"):
        cfg.recipe("EfficientNet-Lite0-probe@twin")
