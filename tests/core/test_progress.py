"""Progress events: the format written by the library's named writers, and read back once."""
from __future__ import annotations

import json

import pytest

from spring_lib.core import progress


@pytest.fixture
def events(tmp_path, monkeypatch):
    path = tmp_path / "progress.jsonl"
    monkeypatch.setenv(progress.PROGRESS_ENV, str(path))
    return path


def _lines(path):
    return [{k: v for k, v in json.loads(line).items() if k != "t"}
            for line in path.read_text().splitlines()]


def test_the_named_writers_keep_the_json_lines_format(events):
    progress.arms_planned([("VGG19-TL", "planned", 120.0), ("AlexNet-TL", "not run: x", None)])
    progress.arm_skipped("AlexNet-TL", "not run: x", None)
    progress.warning("damaged cache")
    progress.arm_finished("VGG19-TL", 130.5, "trained")
    assert _lines(events) == [
        {"kind": "arms planned", "arms": [{"arm": "VGG19-TL", "status": "planned", "estimate_s": 120.0},
                                  {"arm": "AlexNet-TL", "status": "not run: x", "estimate_s": None}]},
        {"kind": "arm_skip", "arm": "AlexNet-TL", "status": "not run: x", "estimate_s": None},
        {"kind": "warning", "message": "damaged cache"},
        {"kind": "arm_total", "arm": "VGG19-TL", "seconds": 130.5, "status": "trained"}]
    assert all(isinstance(json.loads(line)["t"], float) for line in events.read_text().splitlines())


def test_nothing_is_written_outside_the_runner(tmp_path, monkeypatch):
    monkeypatch.delenv(progress.PROGRESS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    progress.warning("nobody listens")
    progress.Progress("VGG19-TL").done(status="trained")
    assert not progress.under_runner() and list(tmp_path.iterdir()) == []


def test_a_training_is_told_in_events(events, monkeypatch):
    monkeypatch.setattr(progress, "STEP_EVERY_S", 0.0)
    p = progress.Progress("VGG19-TL", seed=1, estimate_s=60.0)
    p.epoch(1, 2, n_images=10)
    p.step(5, loss=0.5)
    p.epoch_done({"epoch": 1, "train_loss": 0.5, "val_acc": 0.8, "img_per_s": 20.0, "other": 1})
    p.done(seconds=12.34, status="trained")
    kinds = [e["kind"] for e in _lines(events)]
    assert kinds == ["arm_start", "step", "epoch", "arm_done"]
    step, epoch, done = _lines(events)[1:]
    assert (step["seen"], step["images"], step["epoch"], step["epochs"]) == (5, 10, 1, 2)
    assert step["eta_s"] >= 0 and step["img_per_s"] > 0
    assert epoch == {"kind": "epoch", "arm": "VGG19-TL", "seed": 1, "epochs": 2, "epoch": 1,
                     "train_loss": 0.5, "val_acc": 0.8, "img_per_s": 20.0}
    assert done == {"kind": "arm_done", "arm": "VGG19-TL", "seed": 1, "seconds": 12.3,
                    "estimate_s": 60.0, "status": "trained"}


def test_read_events_continues_where_it_stopped_and_waits_for_a_cut_line(tmp_path):
    path = tmp_path / "progress.jsonl"
    assert progress.read_events(path) == ([], 0)            # not there yet
    first, second = (json.dumps({"kind": "warning", "message": m}) + "\n" for m in "ab")
    path.write_text(first + "not json\n" + second[:10])
    events, offset = progress.read_events(path)
    assert [e["message"] for e in events] == ["a"]           # the garbled line is passed over
    assert offset == len(first) + len("not json\n")          # the cut line is read again
    with open(path, "a") as f:
        f.write(second[10:])
    events, offset = progress.read_events(path, offset)
    assert [e["message"] for e in events] == ["b"] and offset == path.stat().st_size
    assert progress.read_events(path, offset) == ([], offset)


def test_arm_budgets_set_estimates_against_actual_times():
    events = [
        {"kind": "arms planned", "arms": [{"arm": "A", "status": "planned", "estimate_s": 100.0},
                                  {"arm": "B", "status": "not run: over budget",
                                   "estimate_s": 900.0}]},
        {"kind": "arm_done", "arm": "A", "seed": 0, "seconds": 40.04, "status": "trained"},
        {"kind": "arm_done", "arm": "A", "seed": 1, "seconds": 50.0, "status": "trained"},
        {"kind": "arm_done", "arm": "P", "seconds": 7.0, "estimate_s": 9.0},   # planned elsewhere
        {"kind": "arm_total", "arm": "GLCM+SVM", "seconds": 33.0, "status": "fitted"},
        {"kind": "arm_total", "arm": "P", "seconds": 8.0, "status": "probed"},  # the whole arm
        {"kind": "warning", "message": "not an arm"},
    ]
    assert progress.arm_budgets(events) == [
        {"arm": "A", "status": "trained", "estimate_s": 100.0, "actual_s": 90.0},
        {"arm": "B", "status": "not run: over budget", "estimate_s": 900.0, "actual_s": 0.0},
        {"arm": "P", "status": "probed", "estimate_s": 9.0, "actual_s": 8.0},
        {"arm": "GLCM+SVM", "estimate_s": None, "actual_s": 33.0, "status": "fitted"}]
