import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from spring_lib.evaluation import metrics as ev

CLASSES = ["a", "b", "c"]


def _preds(true, pred, micro, model="m"):
    n = len(true)
    df = pd.DataFrame({"tile_id": [f"t{i}" for i in range(n)], "micrograph_id": micro,
                       "true_label": true, "pred_label": pred, "model": model,
                       "score_kind": "probability"})
    for c in CLASSES:
        df[f"score:{c}"] = [1.0 if p == c else 0.0 for p in pred]
    return df


@pytest.fixture
def fixed():
    rng = np.random.default_rng(0)
    true = rng.choice(CLASSES, 90)
    pred = np.where(rng.random(90) < 0.7, true, rng.choice(CLASSES, 90))
    micro = [f"{t}{i % 6}" for i, t in enumerate(true)]
    return _preds(true, pred, micro)


def test_metrics_equal_scikit_learn(fixed):
    overall, per_class = ev.tile_metrics(fixed, CLASSES)
    y, p = fixed["true_label"], fixed["pred_label"]
    assert overall["accuracy"] == accuracy_score(y, p)
    assert overall["macro_f1"] == pytest.approx(f1_score(y, p, average="macro", labels=CLASSES))
    prec, rec, f1, _ = precision_recall_fscore_support(y, p, labels=CLASSES)
    assert np.allclose(per_class["precision"], prec) and np.allclose(per_class["recall"], rec)
    assert np.allclose(per_class["f1"], f1)
    cm = ev.confusion(fixed, CLASSES)
    assert cm.to_numpy().sum() == len(fixed) and np.trace(cm.to_numpy()) == (y == p).sum()


def test_bootstrap_point_estimate_matches_metrics(fixed):
    overall, per_class = ev.bootstrap_ci(fixed, CLASSES, n_boot=200, seed=1)
    o = overall.set_index("metric")
    assert o.loc["accuracy", "value"] == pytest.approx(ev.tile_metrics(fixed, CLASSES)[0]["accuracy"])
    assert (o["ci_low"] <= o["value"]).all() and (o["value"] <= o["ci_high"]).all()
    assert set(per_class["metric"]) == {"precision", "recall", "f1"}


def test_bootstrap_resamples_micrographs_not_tiles():
    """Class a: one big micrograph (100 tiles, all right) and one small one (2 tiles, all wrong).

    Resampling micrographs gives replicates made only of the small one (accuracy 0); a tile
    bootstrap would stay near 100/102 = 0.98.
    """
    true = ["a"] * 102 + ["b"] * 4
    pred = ["a"] * 100 + ["b"] * 2 + ["b"] * 4
    micro = ["big"] * 100 + ["small"] * 2 + ["b1"] * 2 + ["b2"] * 2
    preds = _preds(true, pred, micro)
    _, micro_class, counts = ev._micrograph_counts(preds, CLASSES)
    W = ev.bootstrap_weights(micro_class, 2000, 0)
    assert set(np.unique(W.sum(1))) == {4.0}               # 4 micrographs per replicate, never tiles
    recall_a = (W @ counts[:, 0, 0]) / (W @ counts[:, 0, :].sum(1))
    assert set(np.round(np.unique(recall_a), 4)) == {0.0, round(100 / 102, 4), 1.0}
    ci = ev.bootstrap_ci(preds, CLASSES, n_boot=2000, seed=0)[1]
    row = ci[(ci["class"] == "a") & (ci["metric"] == "recall")].iloc[0]
    assert row["ci_low"] == 0.0 and row["ci_high"] == 1.0


def test_mcnemar_and_paired_difference(fixed):
    other = fixed.copy()
    other["pred_label"] = other["true_label"]
    r = ev.mcnemar(fixed, other)
    assert r["only_first_right"] == 0 and r["only_second_right"] == (fixed["pred_label"] != fixed["true_label"]).sum()
    assert r["p_value"] < 0.001
    d = ev.paired_difference_ci(other, fixed, CLASSES, n_boot=300)
    assert d["difference"] == pytest.approx(1 - ev.tile_metrics(fixed, CLASSES)[0]["accuracy"])
    assert 0 < d["ci_low"] <= d["difference"] <= d["ci_high"]
    with pytest.raises(ValueError, match="same test tiles"):
        ev.mcnemar(fixed, other.iloc[:10])


def test_micrograph_aggregation():
    true = ["a"] * 3 + ["b"] * 3
    pred = ["a", "a", "b", "b", "c", "c"]
    preds = _preds(true, pred, ["m1"] * 3 + ["m2"] * 3)
    mean = ev.micrograph_predictions(preds, CLASSES, "mean").set_index("micrograph_id")
    vote = ev.micrograph_predictions(preds, CLASSES, "vote").set_index("micrograph_id")
    assert mean.loc["m1", "pred_label"] == vote.loc["m1", "pred_label"] == "a"
    assert vote.loc["m2", "pred_label"] == "c" and vote.loc["m1", "n_tiles"] == 3
    table = ev.results_table(preds, CLASSES, 100, 0)
    assert table.loc[0, "micrograph_accuracy_vote"] == 0.5


# ---------------------------------------------------------------- the rules for reading

from spring_lib.evaluation import summary  # noqa: E402


@pytest.mark.parametrize("lo,hi,verdict", [(0.01, 0.2, "helps"), (-0.3, -0.02, "hurts"),
                                           (-0.1, 0.2, "makes no clear difference"),
                                           (0.0, 0.2, "makes no clear difference")])
def test_transfer_verdict_needs_the_whole_interval(lo, hi, verdict):
    assert summary.transfer_verdict(lo, hi) == verdict


def test_finetune_verdict_says_so_plainly_when_it_does_not_pay():
    assert summary.finetune_verdict(0.91, 0.90) == "beats the frozen probe"
    assert "does NOT beat" in summary.finetune_verdict(0.90, 0.90)
    assert "cannot be compared" in summary.finetune_verdict(float("nan"), 0.9)


def test_best_arm_has_one_meaning():
    table = pd.DataFrame({"model": ["a", "b", "c"], "kind": ["classical", "probe", "TL"],
                          "macro_f1": [0.9, 0.8, 0.8], "tile_accuracy": [0.5, 0.7, 0.9]})
    assert summary.best_arm(table) == "a"
    assert summary.best_arm(table, summary.NETWORK_KINDS) == "c"      # tie on F1: accuracy
    assert summary.best_arm(table, ("scratch",)) is None


def test_kfold_table_pools_every_fold(tmp_path, fixed):
    from spring_lib.predictions import save_predictions
    from spring_lib.results import ResultsDir

    out = ResultsDir(tmp_path)
    save_predictions(fixed.assign(fold=[i % 3 for i in range(len(fixed))]), tmp_path, "kfold")
    arms = pd.DataFrame({"arm": ["m"], "status": ["probed"]})
    t = summary.kfold_table(out, arms, CLASSES, fixed["micrograph_id"].nunique(), 50, 0)
    assert list(t["fold"]) == ["0", "1", "2", "pooled"]
    pooled = t.iloc[-1]
    assert pooled["tiles"] == len(fixed) and pooled["accuracy"] == pytest.approx(
        accuracy_score(fixed["true_label"], fixed["pred_label"]))
    assert pooled["micrographs"] == pooled["micrographs_of_study"]
