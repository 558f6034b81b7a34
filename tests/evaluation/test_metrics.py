"""Micrograph-level metrics, sample-bootstrap intervals, paired differences and Holm, each
against scikit-learn or a result known by hand."""
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from spring_lib.evaluation import metrics as ev

CLASSES = ["a", "b", "c"]


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


def test_micrograph_label_is_the_mean_tile_score(make_preds):
    preds = make_preds(["a"] * 3 + ["b"] * 3, ["a", "a", "b", "b", "c", "c"], ["m1"] * 3 + ["m2"] * 3)
    preds.loc[3, "score:b"] = 5.0          # one confident tile outweighs two weak ones
    micro = ev.micrograph_predictions(preds, CLASSES).set_index("micrograph_id")
    assert micro.loc["m1", "pred_label"] == "a" and micro.loc["m2", "pred_label"] == "b"
    assert micro.loc["m1", "n_tiles"] == 3


def test_scores_from_confusions_match_scikit_learn_over_present_classes(fixed):
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix

    sub = fixed[fixed["true_label"] != "c"]            # a class absent from the truth
    cm = confusion_matrix(sub["true_label"], sub["pred_label"], labels=CLASSES)
    s = ev.scores_from_confusions(cm)
    present = ["a", "b"]
    assert s["macro_f1"] == pytest.approx(f1_score(sub["true_label"], sub["pred_label"],
                                                   labels=present, average="macro"))
    assert s["balanced_accuracy"] == pytest.approx(
        balanced_accuracy_score(sub["true_label"], sub["pred_label"]))
    assert s["accuracy"] == pytest.approx(accuracy_score(sub["true_label"], sub["pred_label"]))


def test_bootstrap_weights_draw_whole_units():
    W = ev.bootstrap_weights(7, 500, 3)
    assert W.shape == (500, 7) and set(np.unique(W.sum(1))) == {7.0}
    assert (W == np.round(W)).all()


def test_sample_bootstrap_equals_resampling_samples_by_hand(fixed):
    """The vectorised bootstrap is exactly: draw samples with replacement (the same draws),
    take every row of each drawn sample, and score with scikit-learn over present classes."""
    samples = fixed["micrograph_id"].str[-1]            # 6 samples, each with several micrographs
    n_boot, seed = 300, 11
    t = ev.sample_bootstrap(fixed["true_label"], fixed["pred_label"], samples, CLASSES, n_boot,
                            seed).set_index("metric")
    ids = np.unique(samples)
    draws = np.random.default_rng(seed).integers(0, len(ids), size=(n_boot, len(ids)))
    by_hand = []
    for row in draws:
        part = pd.concat([fixed[samples == ids[i]] for i in row])
        by_hand.append(f1_score(part["true_label"], part["pred_label"],
                                labels=sorted(set(part["true_label"])), average="macro"))
    lo, hi = np.percentile(by_hand, [2.5, 97.5])
    assert t.loc["macro_f1", "ci_low"] == pytest.approx(lo)
    assert t.loc["macro_f1", "ci_high"] == pytest.approx(hi)
    assert t.loc["macro_f1", "value"] == pytest.approx(
        f1_score(fixed["true_label"], fixed["pred_label"], average="macro"))


def test_sample_bootstrap_of_two_samples_has_known_replicates():
    """Sample s1 all right, s2 all wrong: replicates are {s1,s1}: 1, {s2,s2}: 0, {s1,s2}: 0.5."""
    true = pd.Series(["a"] * 4)
    pred = pd.Series(["a", "a", "b", "b"])
    samples = pd.Series(["s1", "s1", "s2", "s2"])
    t = ev.sample_bootstrap(true, pred, samples, CLASSES, 4000, 0).set_index("metric")
    assert t.loc["accuracy", "value"] == 0.5
    assert t.loc["accuracy", "ci_low"] == 0.0 and t.loc["accuracy", "ci_high"] == 1.0


def test_holm_known_values():
    assert ev.holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert ev.holm([0.6, 0.6]) == pytest.approx([1.0, 1.0])         # capped at 1
    assert ev.holm([0.02]) == pytest.approx([0.02])


def test_paired_bootstrap_is_paired_and_signed(fixed):
    perfect = ev.micrograph_predictions(fixed, CLASSES).drop(columns="model")
    perfect["pred_label"] = perfect["true_label"]
    samples = {m: m[-1] for m in perfect["micrograph_id"]}
    wrong = {"a": "b", "b": "c", "c": "a"}
    micro = perfect.copy()
    micro.loc[::2, "pred_label"] = micro.loc[::2, "true_label"].map(wrong)   # half the micrographs
    d = ev.paired_bootstrap(perfect, micro, samples, CLASSES, n_boot=500, seed=0)
    assert d["difference"] > 0 and d["ci_low"] > 0 and d["p_value"] < 0.05
    same = ev.paired_bootstrap(micro, micro, samples, CLASSES, n_boot=200, seed=0)
    assert same["difference"] == 0 and same["ci_low"] == same["ci_high"] == 0
    assert same["p_value"] == 1.0
    with pytest.raises(ValueError, match="same micrographs"):
        ev.paired_bootstrap(micro, micro.iloc[:3], samples, CLASSES)
