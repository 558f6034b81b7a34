"""The run's one config: written once, read back by every notebook as the same StudyConfig."""
import json

import pytest

from spring_lib.config import (SNAPSHOT_FILE, ConfigError, load_config, read_snapshot, snapshot,
                               write_snapshot)
from spring_lib.core.paths import project_root


@pytest.mark.parametrize("profile", ["smoke", "lesson", "cpu", "paper"])
def test_a_snapshot_reads_back_as_the_config_it_was_made_from(profile, tmp_path):
    cfg = load_config(profile)
    snap = snapshot(cfg, f"params/{profile}.yaml")
    assert write_snapshot(tmp_path, snap) == tmp_path / SNAPSHOT_FILE
    again = read_snapshot(tmp_path)
    assert again.model_dump() == cfg.model_dump()
    assert again.recipe(again.cnn.arms[0]) == cfg.recipe(cfg.cnn.arms[0])
    assert again.source == cfg.source == str(project_root() / "params" / f"{profile}.yaml")
    # what run.json records as `config` is what the file holds
    assert json.loads((tmp_path / SNAPSHOT_FILE).read_text())["config"] == json.loads(
        json.dumps(cfg.model_dump(), default=str))


def test_a_folder_without_a_snapshot_has_none(tmp_path):
    assert read_snapshot(tmp_path) is None


def test_the_profile_asked_for_must_be_the_snapshots(write_profile, tmp_path):
    path = write_profile({"description": "mine"}, name="mine")
    write_snapshot(tmp_path, snapshot(load_config(path), str(path)))
    assert read_snapshot(tmp_path, "mine").profile == "mine"          # its name
    assert read_snapshot(tmp_path, path).profile == "mine"            # or its file
    with pytest.raises(ConfigError) as exc:
        read_snapshot(tmp_path, "cpu")
    message = str(exc.value)
    assert "profile 'mine'" in message and "not 'cpu'" in message and "profile='mine'" in message


@pytest.mark.parametrize("text", ["{not json", '{"profile": "x"}',
                                  '{"profile": "x", "profile_file": "x.yaml", '
                                  '"config": {"profile": "x", "cnn": {"epochs": 0}}}'])
def test_a_damaged_snapshot_is_one_line_naming_the_file(tmp_path, text):
    (tmp_path / SNAPSHOT_FILE).write_text(text)
    with pytest.raises(ConfigError) as exc:
        read_snapshot(tmp_path)
    message = str(exc.value)
    assert str(tmp_path / SNAPSHOT_FILE) in message and "not a run's config snapshot" in message
    assert "\n" not in message
