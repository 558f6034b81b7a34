"""One result for every arm: a closed set of statuses, the note apart from them, and one row
layout for every arms table."""
import math

import pytest

from spring_lib.core.arm_result import (EVALUATED, TRAINED_OR_TRIED, ArmResult, ArmStatus,
                                        describe)


def test_statuses_are_a_closed_set_and_only_three_have_predictions():
    assert set(EVALUATED) == {"fitted", "probed", "trained"}
    assert set(TRAINED_OR_TRIED) == {"trained", "did not learn"}
    assert ArmStatus("did not learn") is ArmStatus.DID_NOT_LEARN and str(ArmStatus.PROBED) == "probed"
    with pytest.raises(ValueError):
        ArmStatus("did not learn within 5.6 min")      # the wording of a note is not a status
    with pytest.raises(ValueError):
        ArmResult("a", "probe", "trained (resumed after epoch 3)")


def test_a_note_is_said_with_its_status():
    assert describe(ArmStatus.TRAINED) == "trained"
    assert describe("trained", "resumed after epoch 3") == "trained (resumed after epoch 3)"
    assert describe("did not learn", math.nan) == "did not learn"     # an empty table cell
    r = ArmResult("X-scratch", "scratch", ArmStatus.DID_NOT_LEARN, "within 2.0 min: flat")
    assert r.describe() == "did not learn (within 2.0 min: flat)" and not r.evaluated


def test_a_classical_row_has_no_architecture_no_estimate_and_its_time_last():
    r = ArmResult("GLCM+SVM", "classical", ArmStatus.FITTED,
                  outcome={"levels": "32", "cv_accuracy": 0.5, "inner_score": 0.4}, actual_s=90.0)
    assert r.row() == {"arm": "GLCM+SVM", "kind": "classical", "status": "fitted", "note": "",
                       "weights": None, "levels": "32", "cv_accuracy": 0.5, "inner_score": 0.4,
                       "actual_minutes": 1.5}
    assert r.evaluated


def test_a_planned_row_keeps_its_estimate_even_when_it_did_not_run():
    r = ArmResult("VGG19-TL", "TL", ArmStatus.NOT_RUN_WEIGHTS, architecture="VGG19",
                  weights="no hub", settings={"input_size": 224, "execution": None}, planned=True)
    assert list(r.row()) == ["arm", "architecture", "kind", "status", "note", "weights",
                             "input_size", "execution", "estimate_minutes"]
    assert r.row()["estimate_minutes"] is None and r.row()["status"] == "not run: weights unavailable"
    ran = ArmResult("V-TL", "TL", ArmStatus.TRAINED, architecture="V", planned=True,
                    estimate_s=120.0, outcome={"inner_score": 0.9}, actual_s=60.0)
    assert list(ran.row())[-3:] == ["estimate_minutes", "inner_score", "actual_minutes"]
    assert ran.row()["estimate_minutes"] == 2.0 and ran.row()["actual_minutes"] == 1.0


def test_finishing_reports_the_whole_time_and_how_it_ended(tmp_path, monkeypatch):
    import json

    events = tmp_path / "progress.jsonl"
    monkeypatch.setenv("SPRING_PROGRESS_FILE", str(events))
    r = ArmResult("a", "probe", ArmStatus.TRAINED, "resumed after epoch 1", actual_s=12.5)
    assert r.finished() is r
    (e,) = [json.loads(line) for line in events.read_text().splitlines()]
    assert (e["kind"], e["arm"], e["seconds"], e["status"]) == (
        "arm_total", "a", 12.5, "trained (resumed after epoch 1)")
