"""The live monitor: what the runner's terminal shows of the progress events the library writes."""
from __future__ import annotations

import json

import pytest

from spring_lib.core import progress
from spring_lib.run.monitor import Monitor, mmss


@pytest.fixture
def events(tmp_path, monkeypatch):
    path = tmp_path / "progress.jsonl"
    path.touch()
    monkeypatch.setenv(progress.PROGRESS_ENV, str(path))
    return path


def test_plan_skips_and_ends_of_arms_give_lines_and_etas(events):
    shown = []
    monitor = Monitor(events, shown.append)
    monitor.start_notebook("[3/6] 03_cnn_baselines", later_s=600)
    progress.arms_planned([("VGG19-TL", "planned", 120.0), ("AlexNet-TL", "planned", 60.0),
                           ("VGG19-scratch", "not run: over budget", 900.0)])
    monitor.poll()
    assert shown == ["    plan: VGG19-TL 2.0 min, AlexNet-TL 1.0 min"
                     " | notebook ETA 3:00 | total ETA 13:00"]
    progress.arm_skipped("AlexNet-TL", "not run: weights unavailable", 60.0)
    progress.Progress("VGG19-TL", seed=0, estimate_s=120.0).done(seconds=100.0, status="trained")
    monitor.poll()
    assert shown[1:] == ["    AlexNet-TL: not run: weights unavailable",
                         "    VGG19-TL (seed 0) started, estimated 2:00",
                         "    VGG19-TL done in 1:40 (estimated 2:00)"]   # nothing left: no ETA


def test_a_line_being_written_is_shown_once_whole(events):
    shown = []
    monitor = Monitor(events, shown.append)
    line = json.dumps({"t": 0, "kind": "warning", "message": "half then whole"}) + "\n"
    with open(events, "a") as f:
        f.write(line[:20])
    monitor.poll()
    assert shown == []
    with open(events, "a") as f:
        f.write(line[20:])
    monitor.poll()
    assert shown == ["    warning: half then whole"]


def test_a_warning_reaches_the_terminal_and_an_event_of_another_shape_does_not(events):
    shown = []
    with open(events, "a") as f:
        f.write(json.dumps({"t": 0, "kind": "arm_skip"}) + "\n")   # no arm: not for the terminal
    progress.warning("damaged tile cache moved aside")
    Monitor(events, shown.append).poll()
    assert shown == ["    warning: damaged tile cache moved aside"]


def test_a_quiet_notebook_gets_a_heartbeat(events):
    shown = []
    monitor = Monitor(events, shown.append, heartbeat_s=0.0)
    monitor.start_notebook("[1/2] 01_a", later_s=0)
    monitor.poll()
    assert len(shown) == 1 and shown[0].startswith("    [1/2] 01_a: running for 0:0")


def test_minutes_and_seconds():
    assert [mmss(s) for s in (0, 59.9, 61, 3600, -5)] == ["0:00", "0:59", "1:01", "60:00", "0:00"]
