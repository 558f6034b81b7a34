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


def test_micrograph_label_is_the_mean_tile_score():
    preds = _preds(["a"] * 3 + ["b"] * 3, ["a", "a", "b", "b", "c", "c"], ["m1"] * 3 + ["m2"] * 3)
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


# ---------------------------------------------------------------- the rules for reading

from spring_lib.evaluation import summary  # noqa: E402


@pytest.mark.parametrize("lo,hi,p,verdict", [(0.01, 0.2, 0.01, "a better"),
                                             (-0.3, -0.02, 0.01, "a worse"),
                                             (-0.1, 0.2, 0.4, "no clear difference"),
                                             (0.01, 0.2, 0.2, "no clear difference")])
def test_difference_verdict_needs_interval_and_corrected_p(lo, hi, p, verdict):
    assert summary.difference_verdict(lo, hi, p) == verdict


def _arms(**inner):
    return pd.DataFrame({"arm": list(inner), "kind": ["probe", "TL", "classical", "floor"][:len(inner)],
                         "status": "probed", "inner_score": list(inner.values())})


def test_best_arm_is_chosen_by_inner_score_only():
    arms = pd.DataFrame({"arm": ["p", "t", "GLCM+SVM", "pixel-size", "s"],
                         "kind": ["probe", "TL", "classical", "floor", "scratch"],
                         "status": ["probed", "trained", "fitted", "fitted", "did not learn"],
                         "inner_score": [0.80, 0.85, 0.60, 0.99, 0.95]})
    assert summary.best_arm(arms) == "t"               # not the floor, not a network that failed
    assert summary.best_arm(arms, ("probe",)) == "p"
    assert summary.best_arm(arms, ("scratch",)) is None


def test_best_arm_does_not_change_when_test_predictions_are_permuted(tmp_path, fixed):
    from spring_lib.core.predictions import save_predictions
    from spring_lib.core.results_dir import ResultsDir

    out = ResultsDir(tmp_path)
    arms = pd.DataFrame({"arm": ["m", "n"], "kind": ["probe", "TL"], "status": ["probed", "trained"],
                         "inner_score": [0.7, 0.6]})
    samples = {m: m[-1] for m in fixed["micrograph_id"]}
    good = fixed.assign(fold=[i % 3 for i in range(len(fixed))])
    wrong = good["micrograph_id"].str[-1].isin(["0", "1"])          # m misses these micrographs
    good.loc[wrong, [f"score:{c}" for c in CLASSES]] = 0.0
    good.loc[wrong, "score:a"] = np.where(good.loc[wrong, "true_label"] == "a", 0.0, 1.0)
    good.loc[wrong & (good["true_label"] == "a"), "score:b"] = 1.0
    bad = good.assign(model="n", pred_label=good["true_label"])      # n is perfect on test
    for c in CLASSES:
        bad[f"score:{c}"] = (bad["true_label"] == c).astype(float)
    for df in (good, bad):
        save_predictions(df, tmp_path, "kfold")
    first = summary.results_table(out, arms, CLASSES, samples, 100, 0)
    assert first.iloc[0]["model"] == "n"                # n leads the test table...
    assert summary.best_arm(arms) == "m"                # ...but m has the better inner score
    rng = np.random.default_rng(0)
    cols = ["pred_label"] + [f"score:{c}" for c in CLASSES]
    for df in (good, bad):
        shuffled = df.copy()
        shuffled[cols] = df[cols].to_numpy()[rng.permutation(len(df))]
        save_predictions(shuffled, tmp_path, "kfold")
    assert summary.best_arm(arms) == "m"
    again = summary.results_table(out, arms, CLASSES, samples, 100, 0)
    assert again.set_index("model").loc["n", "macro_f1"] < 1.0   # the permutation took effect


def test_results_table_leads_with_micrographs_and_folds(tmp_path, fixed):
    from spring_lib.core.predictions import save_predictions
    from spring_lib.core.results_dir import ResultsDir

    out = ResultsDir(tmp_path)
    save_predictions(fixed.assign(fold=[i % 3 for i in range(len(fixed))]), tmp_path, "kfold")
    arms = pd.DataFrame({"arm": ["m"], "kind": ["probe"], "status": ["probed"], "inner_score": [0.5]})
    samples = {m: m[-1] for m in fixed["micrograph_id"]}
    t = summary.results_table(out, arms, CLASSES, samples, 50, 0).iloc[0]
    micro = ev.micrograph_predictions(fixed, CLASSES)
    assert t["micrographs"] == micro.shape[0] and t["samples"] == 6 and t["folds"] == 3
    assert t["macro_f1"] == pytest.approx(f1_score(micro["true_label"], micro["pred_label"],
                                                   average="macro"))
    assert t["tile_macro_f1"] == pytest.approx(f1_score(fixed["true_label"], fixed["pred_label"],
                                                        average="macro"))
    assert list(summary.results_table(out, arms, CLASSES, samples, 50, 0).columns[:6]) == [
        "model", "kind", "micrographs", "samples", "folds", "macro_f1"]


def _comparisons(verdict1: str):
    return pd.DataFrame([
        {"claim": 1, "question": "q1", "a": "X-TL", "b": "X-scratch", "difference": 0.2,
         "ci_low": 0.1 if verdict1 == "a better" else -0.1, "ci_high": 0.3, "p_value": 0.01,
         "p_holm": 0.01 if verdict1 == "a better" else 0.5, "verdict": verdict1},
        {"claim": 3, "question": "q3", "a": "X-TL", "b": "GLCM+SVM", "difference": 0.3,
         "ci_low": 0.2, "ci_high": 0.4, "p_value": 0.002, "p_holm": 0.004, "verdict": "a better"}])


def test_claims_are_read_from_the_tables():
    arms = pd.DataFrame({"arm": ["X-TL", "X-scratch", "GLCM+SVM"], "kind": ["TL", "scratch", "classical"],
                         "status": ["trained", "trained", "fitted"], "inner_score": [0.9, 0.6, 0.5]})
    results = pd.DataFrame({"model": ["X-TL"], "balanced_accuracy": [0.85],
                            "balanced_accuracy_ci95": ["[0.800, 0.900]"], "macro_f1": [0.84]})
    c = summary.claims_table(results, _comparisons("a better"), arms, {}).set_axis([1, 2, 3, 4])
    assert c.loc[1, "verdict"] == "supported" and "+0.200" in c.loc[1, "this_study"]
    assert c.loc[2, "verdict"] == "not testable here"            # no depth pair in the table
    assert c.loc[3, "verdict"] == "supported"
    assert c.loc[4, "verdict"] == "not supported on open data"   # 0.90 < 0.982
    changed = summary.claims_table(results, _comparisons("no clear difference"), arms, {})
    assert changed.iloc[0]["verdict"] == "not supported (no clear difference)"
    high = results.assign(balanced_accuracy_ci95="[0.950, 0.990]")
    assert summary.claims_table(high, _comparisons("a better"), arms, {}).iloc[3]["verdict"] == "supported"


def test_a_scratch_twin_that_did_not_learn_makes_claim_1_untestable():
    arms = pd.DataFrame({"arm": ["X-TL", "X-scratch"], "kind": ["TL", "scratch"],
                         "status": ["trained", "did not learn"], "note": ["", "within 2.0 min: flat"],
                         "inner_score": [0.9, None]})
    results = pd.DataFrame({"model": ["X-TL"], "balanced_accuracy": [0.85],
                            "balanced_accuracy_ci95": ["[0.800, 0.900]"], "macro_f1": [0.84]})
    comp = _comparisons("a better").iloc[1:]
    c = summary.claims_table(results, comp, arms, {})
    assert c.iloc[0]["verdict"] == "not testable here"
    assert "X-scratch: did not learn (within 2.0 min: flat)" in c.iloc[0]["why"]


def test_magnification_band_is_where_three_classes_overlap():
    micrographs = pd.DataFrame({
        "micrograph_id": [str(i) for i in range(40)],
        "label": ["net"] * 10 + ["sph"] * 10 + ["wid"] * 10 + ["pea"] * 10,
        "um_per_px": list(np.linspace(1.0, 4.0, 10)) + list(np.linspace(0.1, 0.8, 10))
                     + list(np.linspace(0.15, 0.9, 10)) + list(np.linspace(0.2, 0.7, 10))})
    band = summary.magnification_band(micrographs, ["net", "sph", "wid", "pea"])
    assert set(band["classes"]) >= {"sph", "wid", "pea"} and "net" not in band["classes"]
    assert 0.15 <= band["um_per_px_low"] < band["um_per_px_high"] <= 0.8
    none = summary.magnification_band(micrographs.assign(um_per_px=np.nan), ["net", "sph"])
    assert none is None
