"""The paper's claims: one record per claim number, built whole from this run's tables, the
intervals floats until a reader sees them, and every statement about the run (which networks had
no weights, which stand in for SE-ResNeXt) read from its arms tables."""
import math
from types import SimpleNamespace

import pandas as pd

from spring_lib.evaluation import claims


def _comparisons(verdict1: str):
    return pd.DataFrame([
        {"claim": 1, "question": "q1", "a": "X-TL", "b": "X-scratch", "difference": 0.2,
         "ci_low": 0.1 if verdict1 == "a better" else -0.1, "ci_high": 0.3, "p_value": 0.01,
         "p_holm": 0.01 if verdict1 == "a better" else 0.5, "verdict": verdict1},
        {"claim": 3, "question": "q3", "a": "X-TL", "b": "GLCM+SVM", "difference": 0.3,
         "ci_low": 0.2, "ci_high": 0.4, "p_value": 0.002, "p_holm": 0.004, "verdict": "a better"}])


def _results(models, macro_f1, low, high):
    """A results table: these macro-F1s and intervals, balanced accuracy 0.85 [0.8, 0.9]."""
    return pd.DataFrame({"model": models, "macro_f1": macro_f1, "macro_f1_ci_low": low,
                         "macro_f1_ci_high": high, "balanced_accuracy": 0.85,
                         "balanced_accuracy_ci_low": 0.8, "balanced_accuracy_ci_high": 0.9})


ARMS = pd.DataFrame({"arm": ["X-TL", "X-scratch", "GLCM+SVM"], "kind": ["TL", "scratch", "classical"],
                     "status": ["trained", "trained", "fitted"], "inner_score": [0.9, 0.6, 0.5]})


def test_each_claim_is_a_record_keyed_by_its_number_read_from_the_tables():
    results = _results(["X-TL"], [0.84], [0.7], [0.95])
    c = claims.claims(results, _comparisons("a better"), ARMS, {2: "d2"})
    assert sorted(c) == [1, 2, 3, 4] and all(c[n].number == n for n in c)
    assert c[1].verdict == "supported" and "+0.200" in c[1].this_study
    assert (c[1].value, c[1].ci_low, c[1].ci_high) == (0.2, 0.1, 0.3)     # floats, not text
    assert c[2].verdict == "not testable here" and math.isnan(c[2].ci_low)  # no depth pair
    assert c[2].what_differs == "d2" and c[1].what_differs == ""
    assert c[3].verdict == "supported"
    assert c[4].verdict == "not supported on open data"                     # 0.90 < 0.982
    assert (c[4].measure, c[4].value, c[4].ci_high) == (claims.BALANCED, 0.85, 0.9)
    changed = claims.claims(results, _comparisons("no clear difference"), ARMS, {})
    assert changed[1].verdict == "not supported (no clear difference)"
    high = results.assign(balanced_accuracy_ci_high=0.99)
    assert claims.claims(high, _comparisons("a better"), ARMS, {})[4].verdict == "supported"


def test_the_claims_table_is_made_from_the_records_with_float_intervals():
    results = _results(["X-TL"], [0.84], [0.7], [0.95])
    t = claims.claims_table(results, _comparisons("a better"), ARMS, {})
    assert list(t.columns) == claims.COLUMNS and t["number"].tolist() == [1, 2, 3, 4]
    assert t["ci_low"].dtype == float and t["ci_high"].dtype == float
    assert t.set_index("number").loc[3, ["value", "ci_low", "ci_high"]].tolist() == [0.3, 0.2, 0.4]
    # each interval after its own number: balanced accuracy's (the verdict's), then macro-F1's
    (line4,) = [ln for ln in claims.claims_markdown(t).splitlines() if "**4." in ln]
    assert "balanced accuracy 0.850 [0.800, 0.900]; its macro-F1 0.840 [0.700, 0.950]" in line4


def test_claim_1_names_the_scratch_twin_and_weighs_it_against_the_floor():
    arms = pd.DataFrame({"arm": ["X-TL", "X-scratch", "pixel-size"],
                         "kind": ["TL", "scratch", "floor"],
                         "status": ["trained", "trained", "fitted"], "inner_score": [0.9, 0.3, 0.5]})
    results = _results(["X-TL", "X-scratch", "pixel-size"], [0.84, 0.28, 0.40],
                       [0.7, 0.2, 0.3], [0.9, 0.36, 0.5])
    c = claims.claim_1(results, _comparisons("a better"), arms, "")
    assert "X-scratch itself: macro-F1 0.280 [0.200, 0.360], below the pixel-size floor (0.400)" \
        in c.this_study
    assert c.verdict == "supported against a weak scratch twin" and "well-trained" in c.why
    strong = results.assign(macro_f1=[0.84, 0.6, 0.4])
    c = claims.claim_1(strong, _comparisons("a better"), arms, "")
    assert c.verdict == "supported" and "X-scratch itself: macro-F1 0.600" in c.this_study
    assert "floor" not in c.this_study and c.why == ""


def test_a_scratch_twin_that_did_not_learn_makes_claim_1_untestable():
    arms = pd.DataFrame({"arm": ["X-TL", "X-scratch"], "kind": ["TL", "scratch"],
                         "status": ["trained", "did not learn"], "note": ["", "within 2.0 min: flat"],
                         "inner_score": [0.9, None]})
    c = claims.claim_1(_results(["X-TL"], [0.84], [0.7], [0.95]),
                       _comparisons("a better").iloc[1:], arms, "")
    assert c.verdict == "not testable here"
    assert "X-scratch: did not learn (within 2.0 min: flat)" in c.why


def _depth_arms(se_status: str) -> pd.DataFrame:
    """SE-ResNeXt101-TL as `se_status`, and an evaluated EfficientNet-Lite depth pair."""
    return pd.DataFrame({
        "arm": ["SE-ResNeXt101-TL", "EfficientNet-Lite1-probe", "EfficientNet-Lite0-probe",
                "VGG19-TL"],
        "architecture": ["SE-ResNeXt101", "EfficientNet-Lite1", "EfficientNet-Lite0", "VGG19"],
        "kind": ["TL", "probe", "probe", "TL"],
        "status": [se_status, "probed", "probed", "not run: weights unavailable"],
        "note": ["", "", "", ""], "weights": ["hub unreachable", "package", "package", "no hub"],
        "input_size": [224, 240, 224, 224], "epochs": [10, None, None, 10],
        "inner_score": [0.8 if se_status == "trained" else None, 0.7, 0.6, None]})


CFG = SimpleNamespace(data=SimpleNamespace(layout="uhcsdb"),
                      evaluation=SimpleNamespace(kfold=5), split=SimpleNamespace(group_by="sample"))


def test_a_run_that_trained_se_resnext101_says_nothing_about_missing_weights():
    arms = _depth_arms("trained")
    d = claims.what_differs(CFG, arms)[2]
    assert "weights" not in d.lower()
    assert "stand in for SE-ResNeXt101 vs SE-ResNeXt50" in d          # the Lite pair still does
    c = claims.claim_2(pd.DataFrame(columns=["claim"]), arms, d)
    assert "weights" not in c.why.lower() and "weights" not in c.what_differs.lower()


def test_a_run_without_se_resnext101_weights_says_so_naming_the_arm():
    arms = _depth_arms("not run: weights unavailable")
    d = claims.what_differs(CFG, arms)[2]
    assert d.startswith("SE-ResNeXt101-TL: not run: weights unavailable; "
                        "EfficientNet-Lite1-probe (240 px) vs EfficientNet-Lite0-probe (224 px) "
                        "stand in for SE-ResNeXt101 vs SE-ResNeXt50; UHCSDB")
    assert "VGG19" not in d and "SE-ResNeXt50" not in d.split(";")[0]  # only what was recorded
    c = claims.claim_2(pd.DataFrame(columns=["claim"]), arms, d)
    assert c.verdict == "not testable here"
    assert c.why == ("no two pretrained networks of different depth were evaluated "
                     "(SE-ResNeXt101-TL: not run: weights unavailable)")


def test_claims_markdown_is_one_paragraph_per_claim():
    nan = float("nan")
    table = pd.DataFrame([
        {"number": 1, "claim": "1. X", "paper": "p1", "this_study": "s1",
         "measure": claims.BALANCED, "value": 0.15, "ci_low": 0.1, "ci_high": 0.2,
         "verdict": "supported", "why": nan, "what_differs": "open data."},
        {"number": 2, "claim": "2. Y", "paper": "p2", "this_study": nan,
         "measure": claims.DIFFERENCE, "value": nan, "ci_low": nan, "ci_high": nan,
         "verdict": "not testable here", "why": "no pair", "what_differs": nan},
        {"number": 3, "claim": "3. Z", "paper": "p3",
         "this_study": "a minus b: +0.3; b itself: 0.2 [0.1, 0.3]", "measure": claims.DIFFERENCE,
         "value": 0.3, "ci_low": 0.2, "ci_high": 0.4, "verdict": "supported", "why": nan,
         "what_differs": nan}])    # empty cells as a CSV reads them back
    lines = claims.claims_markdown(table).splitlines()
    assert lines == ["- **1. X** Paper: p1. This study: s1 [0.100, 0.200]. **Verdict: supported**. "
                     "open data.",
                     "- **2. Y** Paper: p2. This study: - . **Verdict: not testable here** "
                     "(no pair). ",
                     # the comparison's interval follows the comparison, not the twin's own score
                     "- **3. Z** Paper: p3. This study: a minus b: +0.3 [+0.200, +0.400]; b itself: "
                     "0.2 [0.1, 0.3]. **Verdict: supported**. "]
    shown = claims.for_people(table)
    assert list(shown.columns) == claims.SHOWN
    assert shown["interval"].tolist() == ["[0.100, 0.200]", "", "[+0.200, +0.400]"]


def test_what_differs_names_this_runs_setting():
    cfg = SimpleNamespace(data=SimpleNamespace(layout="folders"),
                          evaluation=SimpleNamespace(kfold=4), split=SimpleNamespace(group_by="sample"))
    arms = pd.DataFrame({"arm": ["X-scratch"], "kind": ["scratch"], "status": ["trained"],
                         "input_size": [96], "epochs": [10]})
    d = claims.what_differs(cfg, arms)
    assert sorted(d) == [1, 2, 3, 4]
    assert d[1].startswith("this lab's micrographs, not 51CrMnV spring steel; X-scratch at 96 px, "
                           "at most 10 epochs with early stopping on a CPU")
    assert "4-fold grouped by sample" in d[4]
    assert d[2] == ("this lab's micrographs, not 51CrMnV spring steel; 4-fold grouped by sample, "
                    "where the paper's split is not stated.")      # no network to speak of


def test_claim_1_is_stated_at_equal_compute_with_the_twin_of_the_same_input():
    cfg = SimpleNamespace(data=SimpleNamespace(layout="folders"),
                          evaluation=SimpleNamespace(kfold=5), split=SimpleNamespace(group_by="sample"))
    arms = pd.DataFrame({
        "arm": ["X-scratch", "X-TL@twin", "X-TL"], "kind": ["scratch", "TL", "TL"],
        "status": ["trained"] * 3, "input_size": [96, 96, 224], "epochs": [10, 2, 2],
        "actual_minutes": [3.4, 0.5, 1.5], "fold_best_epochs": ["3 9 10 2 4", "0 1 2 0 0",
                                                                "0 0 0 0 0"]})
    text = claims.what_differs(cfg, arms)[1]
    assert ("X-TL@twin (96 px) and X-scratch at 96 px, at most 10 epochs with early stopping on "
            "a CPU: the same input; compared within an equal compute of 3.4 min (the scratch "
            "twin's whole arm; the pretrained twin's took 0.5, every learning rate tried "
            "included); the scratch twin's validation accuracy peaked before its last epoch in "
            "4 of 5 folds (still rising in some: it had not flattened)") in text
    arms.loc[0, "fold_best_epochs"] = "3 9 8 2 4"
    assert "5 of 5 folds (its curve had flattened)" in claims.what_differs(cfg, arms)[1]
    alone = arms[arms["arm"] != "X-TL@twin"]   # without the twin, the TL arm is the pair
    assert "X-TL (224 px) and X-scratch at 96 px, at most 10 epochs with early stopping on a " \
           "CPU: not the same input" in claims.what_differs(cfg, alone)[1]


def test_the_claims_prose_names_only_the_networks_that_ran():
    cfg = SimpleNamespace(data=SimpleNamespace(layout="uhcsdb"),
                          evaluation=SimpleNamespace(kfold=5), split=SimpleNamespace(group_by="sample"))
    nets = ["SE-ResNeXt101", "SE-ResNeXt50", "EfficientNet-Lite0", "EfficientNet-Lite1"]
    arms = pd.DataFrame({"arm": [f"{n}-{k}" for n in nets for k in ("TL", "probe")],
                         "architecture": [n for n in nets for _ in "ab"],
                         "kind": ["TL", "probe"] * 4, "status": ["trained", "probed"] * 4,
                         "input_size": [224, 224, 224, 224, 224, 224, 240, 240]})
    text = claims.what_differs(cfg, arms)[2]
    assert "stand in" not in text and "unavailable" not in text
    assert text.startswith("SE-ResNeXt101 vs SE-ResNeXt50 compared as in the paper; besides it "
                           "EfficientNet-Lite1-TL (240 px) vs EfficientNet-Lite0-TL (224 px)")
    offline = arms[~arms["arm"].str.startswith("SE-")]
    offline = pd.concat([offline, pd.DataFrame({
        "arm": ["SE-ResNeXt101-TL"], "architecture": ["SE-ResNeXt101"], "kind": ["TL"],
        "status": ["not run: weights unavailable"], "input_size": [224]})], ignore_index=True)
    text = claims.what_differs(cfg, offline)[2]
    assert text.startswith("SE-ResNeXt101-TL: not run: weights unavailable; "
                           "EfficientNet-Lite1-TL (240 px) vs EfficientNet-Lite0-TL (224 px), "
                           "EfficientNet-Lite1-probe (240 px) vs EfficientNet-Lite0-probe "
                           "(224 px) stand in for SE-ResNeXt101 vs SE-ResNeXt50")
