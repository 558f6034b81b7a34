"""`open_study`, every notebook's setup: under a run its config is the run's snapshot, opened
interactively it reads the profile (a name or a YAML path)."""
import json

import pytest
import yaml

from spring_lib.config import ConfigError, load_config, snapshot, write_snapshot
from spring_lib.study import open_study


@pytest.fixture
def profile_file(write_profile):
    return write_profile({"description": "at the start", "evaluation": {"n_bootstrap": 100}},
                         name="studytest")


def test_interactively_the_profile_file_is_read(profile_file, tmp_path, capsys):
    study = open_study(str(profile_file), tmp_path / "out")
    assert study.cfg.evaluation.n_bootstrap == 100 and study.run == {}
    assert (tmp_path / "out" / "tables").is_dir() and (tmp_path / "out" / "figures").is_dir()
    assert f"profile studytest ({profile_file}): at the start" in capsys.readouterr().out


def test_in_a_runs_folder_the_snapshot_is_the_config(profile_file, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "staging"
    folder.mkdir()
    write_snapshot(folder, snapshot(load_config(profile_file), str(profile_file)))
    (folder / "run.json").write_text(json.dumps({"run_id": "r1", "status": "running",
                                                 "data_checksum": "d" * 64}))
    profile_file.write_text(yaml.safe_dump({"evaluation": {"n_bootstrap": 999}}))   # mid-run
    parses = []
    yaml_load = yaml.load
    monkeypatch.setattr(yaml, "load", lambda *a, **k: parses.append(1) or yaml_load(*a, **k))

    study = open_study("studytest", folder)
    assert study.cfg.evaluation.n_bootstrap == 100 and study.cfg.description == "at the start"
    assert parses == []
    assert study.run["run_id"] == "r1" and study.run["data_checksum"] == "d" * 64
    assert f"the run's config.json of {profile_file}" in capsys.readouterr().out
    # the control: the same folder without its snapshot reads the edited file
    (folder / "config.json").unlink()
    assert open_study(str(profile_file), folder).cfg.evaluation.n_bootstrap == 999

    (folder / "run.json").write_text(json.dumps({"run_id": "r1", "status": "ok"}))
    assert open_study(str(profile_file), folder).run == {}   # a finished run is not this one's


def test_a_runs_folder_opened_with_another_profile_is_refused(profile_file, tmp_path):
    write_snapshot(tmp_path, snapshot(load_config(profile_file), str(profile_file)))
    with pytest.raises(ConfigError, match="holds a run of profile 'studytest'.*not 'cpu'"):
        open_study("cpu", tmp_path)
