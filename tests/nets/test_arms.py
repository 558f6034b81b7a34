"""One probe or network arm end to end, at the seams that decide what a reader sees: a network
that did not learn leaves no predictions and gets no row to rank; one that learned is tested in
every fold; an arm its plan does not run writes nothing and says why."""
import numpy as np
import pandas as pd
import pytest

from spring_lib.core.architectures import Arm
from spring_lib.core.arm_result import ArmStatus
from spring_lib.core.results_dir import ResultsDir
from spring_lib.evaluation import verdicts
from spring_lib.nets import arms as A
from spring_lib.nets.timing import Measurement
from spring_lib.nets.execution import Execution, InputTransform
from spring_lib.nets.planning import ArmPlan, plan_arm
from spring_lib.nets.training import did_not_learn

ARM = "MobileNetV2-scratch"


class _Result:
    def __init__(self, history, model=None, resumed_from=None):
        self.history, self.model = history, model
        self.best_epoch, self.best_val_acc = 1, float(history["val_acc"].max())
        self.resumed_from = resumed_from


def _fake_train_run(collapse_on: set, resumed_from=None):
    """A stand-in for one training: collapsed (one class for every tile) where asked."""
    import torch

    calls = []

    def run(plan, tileset, cfg, index, seed, state_name, share, windows=None):
        calls.append(state_name)
        tr, va, te = index
        collapsed = any(tag in state_name for tag in collapse_on)
        history = pd.DataFrame({"epoch": [1, 2], "val_acc": [0.2, 0.2 if collapsed else 0.8],
                                "val_top_share": [1.0, 1.0 if collapsed else 0.3],
                                "val_loss": [1.6, 1.6]})
        proba = np.zeros((len(te), len(tileset.classes)))
        proba[:, 0] = 1.0
        va_y = tileset.labels(tileset.manifest.iloc[va])
        whole = None if windows is None else np.eye(len(tileset.classes))[
            np.zeros(len(windows), int)]
        return (_Result(history, torch.nn.Linear(1, 1), resumed_from), proba,
                tileset.manifest.iloc[te].reset_index(drop=True), "random init",
                InputTransform(64), did_not_learn(history, va_y), whole)

    return run, calls


def _plan(cfg, name=ARM):
    arm = Arm.parse(name)
    return ArmPlan(arm, cfg.recipe(arm), measurement=Measurement(Execution(), 10.0, 10.0),
                   estimate_s=60.0)


def test_a_collapsed_network_gets_did_not_learn_and_no_predictions(smoke, tmp_path, monkeypatch):
    cfg, ts = smoke
    run, calls = _fake_train_run({"seed"})
    monkeypatch.setattr(A, "_train_run", run)
    out = ResultsDir(tmp_path)
    result = A.run_network_arm(ARM, ts, cfg, out, _plan(cfg))
    assert result.status is ArmStatus.DID_NOT_LEARN and "majority class" in result.note
    assert result.note.startswith("within ") and result.paths == []
    assert calls == [f"{ARM}-seed0"]                        # no fold trained after it failed
    assert not (tmp_path / "predictions" / f"{ARM}.csv").exists()
    assert not (tmp_path / "kfold" / f"{ARM}.csv").exists()
    assert not (tmp_path / "models" / f"{ARM}.pt").exists()
    assert out.has_table(f"training_log_{ARM}")              # its curve is kept
    arms = pd.DataFrame([result.row()])
    assert arms.loc[0, "status"] == "did not learn" and arms.loc[0, "estimate_minutes"] == 1.0
    assert verdicts.evaluated(arms) == [] and verdicts.best_arm(arms) is None
    assert list(verdicts.not_run(arms)["arm"]) == [ARM]
    assert list(A.training_logs(out, arms)["arm"].unique()) == [ARM]


def test_a_fold_that_collapses_fails_the_arm(smoke, tmp_path, monkeypatch):
    cfg, ts = smoke
    run, calls = _fake_train_run({"fold1"})
    monkeypatch.setattr(A, "_train_run", run)
    monkeypatch.setattr(A.Checkpoint, "save", lambda self, path: path)
    result = A.run_network_arm(ARM, ts, cfg, ResultsDir(tmp_path), _plan(cfg))
    assert result.status is ArmStatus.DID_NOT_LEARN and "folds [1]" in result.note
    assert not (tmp_path / "kfold" / f"{ARM}.csv").exists()


def test_a_network_that_learned_is_tested_in_every_fold(smoke, tmp_path, monkeypatch):
    cfg, ts = smoke
    run, calls = _fake_train_run(set(), resumed_from=2)
    monkeypatch.setattr(A, "_train_run", run)
    monkeypatch.setattr(A.Checkpoint, "save", lambda self, path: path)
    result = A.run_network_arm(ARM, ts, cfg, ResultsDir(tmp_path), _plan(cfg))
    assert result.status is ArmStatus.TRAINED and result.note == "resumed after epoch 2"
    assert result.outcome["inner_score"] == pytest.approx(0.8) and result.evaluated
    k = cfg.evaluation.kfold
    assert calls[-k:] == [f"{ARM}-fold{f}" for f in range(k)]
    kfold = pd.read_csv(tmp_path / "kfold" / f"{ARM}.csv", dtype={"micrograph_id": str})
    tiles, whole = kfold[kfold["reading"] == "tiles"], kfold[kfold["reading"] == "whole"]
    assert len(tiles) == len(ts.tiles) and sorted(kfold["fold"].unique()) == list(range(k))
    # every micrograph read whole once, in its own fold, from all of its windows
    assert sorted(whole["micrograph_id"]) == sorted(ts.micrographs["micrograph_id"].astype(str))
    fold_of = tiles.groupby("micrograph_id")["fold"].first()
    assert (whole["fold"].to_numpy() == fold_of[whole["micrograph_id"]].to_numpy()).all()
    assert (whole["n_windows"] > 1).all()
    assert result.paths == [f"predictions/{ARM}.csv", f"models/{ARM}.pt", f"kfold/{ARM}.csv"]
    assert all((tmp_path / p).exists() for p in result.paths if not p.startswith("models/"))
    row = result.row()
    assert list(row)[:6] == ["arm", "architecture", "kind", "status", "note", "weights"]
    assert list(row)[-1] == "actual_minutes" and row["estimate_minutes"] == 1.0


def test_a_plan_that_does_not_run_writes_nothing_and_says_why(tiny, fake_measure, tmp_path,
                                                              monkeypatch):
    cfg, ts = tiny
    events = tmp_path / "progress.jsonl"
    monkeypatch.setenv("SPRING_PROGRESS_FILE", str(events))
    monkeypatch.setattr(A, "_train_run", lambda *a: pytest.fail("an unplanned arm trained"))
    plan = plan_arm(Arm.parse(ARM), ts, cfg, measure=fake_measure(0.01))
    result = A.run_network_arm(ARM, ts, cfg, ResultsDir(tmp_path / "out"), plan)
    assert result.status is ArmStatus.NOT_RUN_OVER_CAP and result.note == plan.note
    assert result.actual_s is None and "actual_minutes" not in result.row()
    assert result.row()["estimate_minutes"] > 30
    assert not (tmp_path / "out" / "predictions").exists()
    assert '"arm_skip"' in events.read_text() and plan.note in events.read_text()
    with pytest.raises(ValueError, match="the plan given for MobileNetV2-TL is MobileNetV2-scratch"):
        A.run_network_arm("MobileNetV2-TL", ts, cfg, ResultsDir(tmp_path / "out"), plan)


def test_frozen_tl_arm_trains_only_its_head(tiny, tmp_path, standin_weights, monkeypatch):
    """(One epoch on random stand-in weights learns nothing; that rule has its own tests.)"""
    import torch

    from spring_lib.nets.checkpoint import Checkpoint
    from spring_lib.nets.weights import pretrained_state_dict

    monkeypatch.setattr(A, "did_not_learn", lambda *args, **kwargs: None)
    cfg, ts = tiny
    cfg = cfg.model_copy(update={"cnn": cfg.cnn.model_copy(update={"freeze": "head"})})
    result = A.run_network_arm("MobileNetV2-TL", ts, cfg, ResultsDir(tmp_path))  # planned here
    assert result.status is ArmStatus.TRAINED and result.settings["trainable_params"] == 5 * 1280 + 5
    ck = Checkpoint.load(tmp_path / "models" / "MobileNetV2-TL.pt")
    start, _ = pretrained_state_dict(Arm.parse("MobileNetV2-TL").spec, str(standin_weights))
    trained = ck.state
    assert all(torch.equal(trained[f"backbone.net.{k}"], v.float()) for k, v in start.items()
               if f"backbone.net.{k}" in trained and v.is_floating_point())
