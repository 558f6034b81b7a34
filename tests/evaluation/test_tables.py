"""Notebook 05's tables: every arm scored from its k-fold file, the best arm untouched by test
predictions, the magnification band."""
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from spring_lib.core.predictions import save_predictions
from spring_lib.core.results_dir import ResultsDir
from spring_lib.evaluation import metrics as ev, tables, verdicts

CLASSES = ["a", "b", "c"]


def test_best_arm_does_not_change_when_test_predictions_are_permuted(tmp_path, fixed):
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
    first = tables.results_table(out, arms, CLASSES, samples, 100, 0)
    assert first.iloc[0]["model"] == "n"                # n leads the test table...
    assert verdicts.best_arm(arms) == "m"                # ...but m has the better inner score
    rng = np.random.default_rng(0)
    cols = ["pred_label"] + [f"score:{c}" for c in CLASSES]
    for df in (good, bad):
        shuffled = df.copy()
        shuffled[cols] = df[cols].to_numpy()[rng.permutation(len(df))]
        save_predictions(shuffled, tmp_path, "kfold")
    assert verdicts.best_arm(arms) == "m"
    again = tables.results_table(out, arms, CLASSES, samples, 100, 0)
    assert again.set_index("model").loc["n", "macro_f1"] < 1.0   # the permutation took effect


def test_results_table_leads_with_micrographs_and_folds(tmp_path, fixed):
    out = ResultsDir(tmp_path)
    save_predictions(fixed.assign(fold=[i % 3 for i in range(len(fixed))]), tmp_path, "kfold")
    arms = pd.DataFrame({"arm": ["m"], "kind": ["probe"], "status": ["probed"], "inner_score": [0.5]})
    samples = {m: m[-1] for m in fixed["micrograph_id"]}
    t = tables.results_table(out, arms, CLASSES, samples, 50, 0).iloc[0]
    micro = ev.micrograph_predictions(fixed, CLASSES)
    assert t["micrographs"] == micro.shape[0] and t["samples"] == 6 and t["folds"] == 3
    assert t["macro_f1"] == pytest.approx(f1_score(micro["true_label"], micro["pred_label"],
                                                   average="macro"))
    assert t["tile_macro_f1"] == pytest.approx(f1_score(fixed["true_label"], fixed["pred_label"],
                                                        average="macro"))
    table = tables.results_table(out, arms, CLASSES, samples, 50, 0)
    assert list(table.columns[:6]) == ["model", "kind", "micrographs", "samples", "folds", "macro_f1"]
    # every interval is two float columns, the sample bootstrap's own numbers; no text
    boot = ev.sample_bootstrap(micro["true_label"], micro["pred_label"],
                               micro["micrograph_id"].map(samples), CLASSES, 50, 0).set_index("metric")
    for metric in ("macro_f1", "balanced_accuracy"):
        assert t[f"{metric}_ci_low"] == boot.loc[metric, "ci_low"]
        assert t[f"{metric}_ci_high"] == boot.loc[metric, "ci_high"]
    assert t["tile_macro_f1_ci_low"] <= t["tile_macro_f1"] <= t["tile_macro_f1_ci_high"]
    ci = [c for c in table if "_ci" in c]
    assert len(ci) == 6 and all(table[c].dtype == float for c in ci)


def test_magnification_band_is_where_three_classes_overlap():
    micrographs = pd.DataFrame({
        "micrograph_id": [str(i) for i in range(40)],
        "label": ["net"] * 10 + ["sph"] * 10 + ["wid"] * 10 + ["pea"] * 10,
        "um_per_px": list(np.linspace(1.0, 4.0, 10)) + list(np.linspace(0.1, 0.8, 10))
                     + list(np.linspace(0.15, 0.9, 10)) + list(np.linspace(0.2, 0.7, 10))})
    band = tables.magnification_band(micrographs, ["net", "sph", "wid", "pea"])
    assert set(band["classes"]) >= {"sph", "wid", "pea"} and "net" not in band["classes"]
    assert 0.15 <= band["um_per_px_low"] < band["um_per_px_high"] <= 0.8
    none = tables.magnification_band(micrographs.assign(um_per_px=np.nan), ["net", "sph"])
    assert none is None


def _arm_rows(*rows) -> pd.DataFrame:
    return pd.DataFrame([dict(zip(("arm", "architecture", "kind", "status", "inner_score"), r))
                         for r in rows])


def test_comparison_pairs_are_the_studys_questions():
    arms = _arm_rows(("E0-TL", "E0", "TL", "trained", 0.8), ("E0-scratch", "E0", "scratch", "trained", 0.5),
                     ("E0-probe", "E0", "probe", "probed", 0.7),
                     ("EfficientNet-Lite1-probe", "EfficientNet-Lite1", "probe", "probed", 0.75),
                     ("EfficientNet-Lite0-probe", "EfficientNet-Lite0", "probe", "probed", 0.6),
                     ("GLCM+SVM", None, "classical", "fitted", 0.6),
                     ("pixel-size", None, "floor", "fitted", 0.9),
                     ("V-scratch", "V", "scratch", "did not learn", None),
                     ("V-TL", "V", "TL", "trained", 0.4))
    pairs = {(p["claim"], p["a"], p["b"]) for p in tables.comparison_pairs(arms)}
    assert pairs == {(1, "E0-TL", "E0-scratch"), (1, "E0-probe", "E0-scratch"),
                     (None, "E0-TL", "E0-probe"),
                     (2, "EfficientNet-Lite1-probe", "EfficientNet-Lite0-probe"),
                     (3, "E0-TL", "GLCM+SVM"), (None, "E0-TL", "pixel-size")}   # no V pair


def test_comparisons_with_no_pair_is_an_empty_table_with_its_columns():
    arms = _arm_rows(("GLCM+SVM", None, "classical", "fitted", 0.6))
    t = tables.comparisons(pd.DataFrame(), arms, CLASSES, {}, 10, 0)
    assert t.empty and list(t.columns)[:4] == ["claim", "question", "a", "b"]


def test_band_table_counts_a_prediction_outside_the_band_as_an_error():
    micrographs = pd.DataFrame({"micrograph_id": ["1", "2", "3", "4", "5"],
                                "um_per_px": [0.2, 0.3, 0.25, 0.3, 5.0]})
    micro = pd.DataFrame({"model": "m", "micrograph_id": ["1", "2", "3", "4", "5"],
                          "true_label": ["a", "b", "a", "b", "a"],
                          "pred_label": ["a", "b", "c", "b", "a"]})    # 3: c, outside the band
    band = {"um_per_px_low": 0.1, "um_per_px_high": 1.0, "classes": ["a", "b"], "micrographs": 4}
    samples = {m: m for m in micrographs["micrograph_id"]}
    row = tables.band_table(micro, micrographs, band, samples, 50, 0).iloc[0]
    assert row["micrographs"] == 4 and row["chance"] == 0.5              # 5 is out of the band
    assert row["macro_f1_ci_low"] <= row["macro_f1"] <= row["macro_f1_ci_high"]
    assert row["macro_f1"] == pytest.approx(f1_score(["a", "b", "a", "b"], ["a", "b", "(other)", "b"],
                                                     labels=["a", "b"], average="macro"))
    none = tables.band_table(micro, micrographs, None, samples, 50, 0)
    assert none.empty and {"macro_f1_ci_low", "macro_f1_ci_high"} <= set(none.columns)


def test_per_class_counts_micrographs_and_samples_of_each_class(fixed):
    micro = ev.micrograph_predictions(fixed, CLASSES)
    samples = {m: m[-1] for m in micro["micrograph_id"]}
    t = tables.per_class(micro, CLASSES, "recall", samples)
    assert list(t.index) == CLASSES and list(t.columns) == ["micrographs", "samples", "m"]
    assert t["micrographs"].sum() == micro["micrograph_id"].nunique()
    by_hand = (micro["pred_label"] == micro["true_label"]).groupby(micro["true_label"]).mean()
    assert t["m"].to_dict() == pytest.approx(by_hand.to_dict())


def test_arms_of_run_reads_the_arms_tables_the_run_has(tmp_path):
    out = ResultsDir(tmp_path)
    out.table(pd.DataFrame({"arm": ["GLCM+SVM"], "status": ["fitted"]}), "arms_glcm")
    out.table(pd.DataFrame({"arm": ["X-TL"], "status": ["trained"]}), "arms_transfer")
    assert tables.arms_of_run(out)["arm"].tolist() == ["GLCM+SVM", "X-TL"]
