"""One arm end to end, at the seams that decide what a reader sees: a network that did not
learn leaves no predictions and gets no row to rank; one that learned is tested in every fold."""
import numpy as np
import pandas as pd
import pytest

from spring_lib import build_tileset, load_config
from spring_lib.evaluation import verdicts
from spring_lib.nets import arms as A
from spring_lib.nets.budget import Measurement
from spring_lib.core.architectures import Arm
from spring_lib.nets.training import Execution
from spring_lib.core.results_dir import ResultsDir


@pytest.fixture(scope="module")
def smoke(smoke_profile_path):
    cfg = load_config(smoke_profile_path)
    return cfg, build_tileset(cfg)


class _Result:
    def __init__(self, history, model=None):
        self.history, self.model = history, model
        self.best_epoch, self.best_val_acc, self.resumed_from = 1, float(history["val_acc"].max()), None


def _fake_train_run(collapse_on: set):
    """A stand-in for one training: collapsed (one class for every tile) where asked."""
    import torch

    calls = []

    def run(plan, tileset, cfg, index, seed, state_name, share):
        calls.append(state_name)
        tr, va, te = index
        collapsed = any(tag in state_name for tag in collapse_on)
        history = pd.DataFrame({"epoch": [1, 2], "val_acc": [0.2, 0.2 if collapsed else 0.8],
                                "val_top_share": [1.0, 1.0 if collapsed else 0.3],
                                "val_loss": [1.6, 1.6]})
        proba = np.zeros((len(te), len(tileset.classes)))
        proba[:, 0] = 1.0
        va_y = tileset.labels(tileset.manifest.iloc[va])
        from spring_lib.nets.training import did_not_learn
        model = torch.nn.Linear(1, 1)
        return (_Result(history, model), proba, tileset.manifest.iloc[te].reset_index(drop=True),
                "random init", A.InputTransform(64), did_not_learn(history, va_y))

    return run, calls


def _plan(cfg, name):
    arm = Arm.parse(name)
    return A.ArmPlan(arm, cfg.recipe(arm), measurement=Measurement(Execution(), 10.0, 10.0),
                     estimate_s=60.0)


def test_a_collapsed_network_gets_did_not_learn_and_no_predictions(smoke, tmp_path, monkeypatch):
    cfg, ts = smoke
    run, calls = _fake_train_run({"seed"})
    monkeypatch.setattr(A, "_train_run", run)
    out = ResultsDir(tmp_path)
    row = A.run_network(_plan(cfg, "MobileNetV2-scratch"), ts, cfg, out)
    assert row["status"].startswith("did not learn within") and "majority class" in row["status"]
    assert calls == ["MobileNetV2-scratch-seed0"]           # no fold trained after it failed
    assert not (tmp_path / "predictions" / "MobileNetV2-scratch.csv").exists()
    assert not (tmp_path / "kfold" / "MobileNetV2-scratch.csv").exists()
    assert not (tmp_path / "models" / "MobileNetV2-scratch.pt").exists()
    assert out.has_table("training_log_MobileNetV2-scratch")   # its curve is kept
    arms = pd.DataFrame([{"arm": "MobileNetV2-scratch", "kind": "scratch", "weights": None, **row}])
    assert verdicts.evaluated(arms) == [] and verdicts.best_arm(arms) is None
    assert list(verdicts.not_run(arms)["arm"]) == ["MobileNetV2-scratch"]


def test_a_fold_that_collapses_fails_the_arm(smoke, tmp_path, monkeypatch):
    cfg, ts = smoke
    run, calls = _fake_train_run({"fold1"})
    monkeypatch.setattr(A, "_train_run", run)
    monkeypatch.setattr(A.Checkpoint, "save", lambda self, path: path)
    row = A.run_network(_plan(cfg, "MobileNetV2-scratch"), ts, cfg, ResultsDir(tmp_path))
    assert row["status"].startswith("did not learn") and "folds [1]" in row["status"]
    assert not (tmp_path / "kfold" / "MobileNetV2-scratch.csv").exists()


def test_a_network_that_learned_is_tested_in_every_fold(smoke, tmp_path, monkeypatch):
    cfg, ts = smoke
    run, calls = _fake_train_run(set())
    monkeypatch.setattr(A, "_train_run", run)
    monkeypatch.setattr(A.Checkpoint, "save", lambda self, path: path)
    row = A.run_network(_plan(cfg, "MobileNetV2-scratch"), ts, cfg, ResultsDir(tmp_path))
    assert row["status"] == "trained" and row["inner_score"] == pytest.approx(0.8)
    k = cfg.evaluation.kfold
    assert calls[-k:] == [f"MobileNetV2-scratch-fold{f}" for f in range(k)]
    kfold = pd.read_csv(tmp_path / "kfold" / "MobileNetV2-scratch.csv", dtype={"micrograph_id": str})
    assert len(kfold) == len(ts.tiles) and sorted(kfold["fold"].unique()) == list(range(k))


def test_fold_indices_keep_samples_whole_and_hold_out_validation_samples(smoke):
    cfg, ts = smoke
    recipe = cfg.recipe("EfficientNet-Lite0-scratch")
    folds = ts.folds(cfg.evaluation.kfold, cfg.split.seed)
    m = ts.manifest
    for f in range(cfg.evaluation.kfold):
        tr, va, te = A.fold_indices(ts, folds, f, recipe, cfg)
        s = [set(m.iloc[i]["sample_key"]) for i in (tr, va, te)]
        assert not (s[0] & s[1]) and not (s[0] & s[2]) and not (s[1] & s[2])
        assert set(te) == set(np.flatnonzero(folds == f))
        assert len(va) > 0
