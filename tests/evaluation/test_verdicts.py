"""The rules for reading: which arms count, the best arm by inner score, when a difference is
a difference, and the paper's claims read from this run's tables."""
import pandas as pd
import pytest

from spring_lib.evaluation import verdicts


@pytest.mark.parametrize("lo,hi,p,verdict", [(0.01, 0.2, 0.01, "a better"),
                                             (-0.3, -0.02, 0.01, "a worse"),
                                             (-0.1, 0.2, 0.4, "no clear difference"),
                                             (0.01, 0.2, 0.2, "no clear difference")])
def test_difference_verdict_needs_interval_and_corrected_p(lo, hi, p, verdict):
    assert verdicts.difference_verdict(lo, hi, p) == verdict


def test_best_arm_is_chosen_by_inner_score_only():
    arms = pd.DataFrame({"arm": ["p", "t", "GLCM+SVM", "pixel-size", "s"],
                         "kind": ["probe", "TL", "classical", "floor", "scratch"],
                         "status": ["probed", "trained", "fitted", "fitted", "did not learn"],
                         "inner_score": [0.80, 0.85, 0.60, 0.99, 0.95]})
    assert verdicts.best_arm(arms) == "t"               # not the floor, not a network that failed
    assert verdicts.best_arm(arms, ("probe",)) == "p"
    assert verdicts.best_arm(arms, ("scratch",)) is None


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
                            "balanced_accuracy_ci95": ["[0.800, 0.900]"], "macro_f1": [0.84],
                            "macro_f1_ci95": ["[0.700, 0.950]"]})
    c = verdicts.claims_table(results, _comparisons("a better"), arms, {}).set_axis([1, 2, 3, 4])
    # each interval after its own number: balanced accuracy's (the verdict's), then macro-F1's
    (line4,) = [line for line in verdicts.claims_markdown(c).splitlines() if "**4." in line]
    assert "balanced accuracy 0.850 [0.800, 0.900]; its macro-F1 0.840 [0.700, 0.950]" in line4
    assert c.loc[1, "verdict"] == "supported" and "+0.200" in c.loc[1, "this_study"]
    assert c.loc[2, "verdict"] == "not testable here"            # no depth pair in the table
    assert c.loc[3, "verdict"] == "supported"
    assert c.loc[4, "verdict"] == "not supported on open data"   # 0.90 < 0.982
    changed = verdicts.claims_table(results, _comparisons("no clear difference"), arms, {})
    assert changed.iloc[0]["verdict"] == "not supported (no clear difference)"
    high = results.assign(balanced_accuracy_ci95="[0.950, 0.990]")
    assert verdicts.claims_table(high, _comparisons("a better"), arms, {}).iloc[3]["verdict"] == "supported"


def test_claim_1_names_the_scratch_twin_and_weighs_it_against_the_floor():
    arms = pd.DataFrame({"arm": ["X-TL", "X-scratch", "pixel-size"],
                         "kind": ["TL", "scratch", "floor"],
                         "status": ["trained", "trained", "fitted"], "inner_score": [0.9, 0.3, 0.5]})
    results = pd.DataFrame({"model": ["X-TL", "X-scratch", "pixel-size"],
                            "balanced_accuracy": [0.85, 0.35, 0.5],
                            "balanced_accuracy_ci95": ["[0.800, 0.900]"] * 3,
                            "macro_f1": [0.84, 0.28, 0.40],
                            "macro_f1_ci95": ["[0.7, 0.9]", "[0.2, 0.36]", "[0.3, 0.5]"]})
    c = verdicts.claims_table(results, _comparisons("a better"), arms, {}).iloc[0]
    assert "X-scratch itself: macro-F1 0.280 [0.2, 0.36], below the pixel-size floor (0.400)" \
        in c["this_study"]
    assert c["verdict"] == "supported against a weak scratch twin" and "well-trained" in c["why"]
    strong = results.assign(macro_f1=[0.84, 0.6, 0.4])
    c = verdicts.claims_table(strong, _comparisons("a better"), arms, {}).iloc[0]
    assert c["verdict"] == "supported" and "X-scratch itself: macro-F1 0.600" in c["this_study"]
    assert "floor" not in c["this_study"]


def test_a_scratch_twin_that_did_not_learn_makes_claim_1_untestable():
    arms = pd.DataFrame({"arm": ["X-TL", "X-scratch"], "kind": ["TL", "scratch"],
                         "status": ["trained", "did not learn"], "note": ["", "within 2.0 min: flat"],
                         "inner_score": [0.9, None]})
    results = pd.DataFrame({"model": ["X-TL"], "balanced_accuracy": [0.85],
                            "balanced_accuracy_ci95": ["[0.800, 0.900]"], "macro_f1": [0.84],
                            "macro_f1_ci95": ["[0.700, 0.950]"]})
    comp = _comparisons("a better").iloc[1:]
    c = verdicts.claims_table(results, comp, arms, {})
    assert c.iloc[0]["verdict"] == "not testable here"
    assert "X-scratch: did not learn (within 2.0 min: flat)" in c.iloc[0]["why"]


def test_an_arm_without_predictions_is_not_evaluated_and_says_why():
    arms = pd.DataFrame({"arm": ["a", "b", "c", "d"], "weights": [None, "w", "w", "w"],
                         "status": ["fitted", "trained", "did not learn",
                                    "not run: weights unavailable"],
                         "note": ["", "resumed after epoch 3", "within 2.0 min: flat", "no hub"]})
    assert verdicts.evaluated(arms) == ["a", "b"]
    assert verdicts.not_run(arms).to_dict("list") == {
        "arm": ["c", "d"], "status": ["did not learn", "not run: weights unavailable"],
        "note": ["within 2.0 min: flat", "no hub"], "weights": ["w", "w"]}


def test_claims_markdown_is_one_paragraph_per_claim():
    claims = pd.DataFrame([
        {"claim": "1. X", "paper": "p1", "this_study": "s1", "interval": "[0.1, 0.2]",
         "verdict": "supported", "why": "", "what_differs": "open data."},
        {"claim": "2. Y", "paper": "p2", "this_study": "", "interval": "",
         "verdict": "not testable here", "why": "no pair", "what_differs": ""},
        {"claim": "3. Z", "paper": "p3", "this_study": "a minus b: +0.3; b itself: 0.2 [0.1, 0.3]",
         "interval": "[+0.2, +0.4]", "verdict": "supported", "why": "", "what_differs": ""}])
    lines = verdicts.claims_markdown(claims).splitlines()
    assert lines == ["- **1. X** Paper: p1. This study: s1 [0.1, 0.2]. **Verdict: supported**. "
                     "open data.",
                     "- **2. Y** Paper: p2. This study: - . **Verdict: not testable here** "
                     "(no pair). ",
                     # the comparison's interval follows the comparison, not the twin's own score
                     "- **3. Z** Paper: p3. This study: a minus b: +0.3 [+0.2, +0.4]; b itself: "
                     "0.2 [0.1, 0.3]. **Verdict: supported**. "]


def test_reading_says_each_number_of_the_tables():
    arms = pd.DataFrame({"arm": ["X-TL", "pixel-size", "Z-scratch"], "kind": ["TL", "floor", "scratch"],
                         "status": ["trained", "fitted", "did not learn"],
                         "weights": [None] * 3, "inner_score": [0.9, 0.4, None]})
    results = pd.DataFrame({"model": ["X-TL", "pixel-size"], "macro_f1": [0.8, 0.5],
                            "macro_f1_ci95": ["[0.700, 0.900]", "[0.400, 0.600]"], "folds": [5, 5],
                            "macro_f1_fold_mean": [0.79, 0.5], "macro_f1_fold_sd": [0.05, 0.1],
                            "balanced_accuracy": [0.81, 0.5],
                            "balanced_accuracy_ci95": ["[0.700, 0.900]", "[0.400, 0.600]"]})
    comp = _comparisons("a better").iloc[[1]]
    ladder = pd.DataFrame({"model": ["X-TL", "X-TL"], "protocol": ["random tiles", "by sample"],
                           "micrograph_macro_f1": [0.95, 0.8]})
    band = {"um_per_px_low": 0.1, "um_per_px_high": 0.5, "classes": ["a", "b", "c"], "micrographs": 9}
    band_scores = pd.DataFrame({"model": ["X-TL"], "macro_f1": [0.6], "macro_f1_ci95": ["[0.4, 0.8]"],
                                "chance": [1 / 3]})
    text = verdicts.reading(results, comp, arms, band, band_scores, ladder)
    assert "**X-TL**, micrograph macro-F1 0.800 [0.700, 0.900] under sample-grouped 5-fold " \
           "(fold mean 0.790 ± 0.050)" in text
    assert "Pixel size alone (log µm/px, no image) scores micrograph macro-F1 0.500" in text
    assert "Arms above it: X-TL" in text
    assert "q3: +0.300 [+0.200, +0.400], Holm p 0.004: a better." in text
    assert "the top arm there is X-TL at 0.600 [0.4, 0.8] (chance 0.33)" in text
    assert "Leakage ladder, X-TL (micrograph macro-F1): random tiles: 0.950, by sample: 0.800." in text
    assert text.splitlines()[-1] == "- Without predictions: Z-scratch (reasons in the arms tables)."


def test_what_differs_names_this_runs_setting():
    from types import SimpleNamespace

    cfg = SimpleNamespace(data=SimpleNamespace(layout="folders"),
                          evaluation=SimpleNamespace(kfold=4), split=SimpleNamespace(group_by="sample"))
    arms = pd.DataFrame({"arm": ["X-scratch"], "kind": ["scratch"], "status": ["trained"],
                         "input_size": [96], "epochs": [10]})
    d = verdicts.what_differs(cfg, arms)
    assert sorted(d) == [1, 2, 3, 4]
    assert d[1].startswith("this lab's micrographs, not 51CrMnV spring steel; X-scratch at 96 px, "
                           "at most 10 epochs with early stopping on a CPU")
    assert "4-fold grouped by sample" in d[4]
