"""The rules for reading: which arms count, the best arm by inner score, when a difference is
a difference, and the reading's sentences, each interval written from its two float columns."""
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


def test_an_arm_without_predictions_is_not_evaluated_and_says_why():
    arms = pd.DataFrame({"arm": ["a", "b", "c", "d"], "weights": [None, "w", "w", "w"],
                         "status": ["fitted", "trained", "did not learn",
                                    "not run: weights unavailable"],
                         "note": ["", "resumed after epoch 3", "within 2.0 min: flat", "no hub"]})
    assert verdicts.evaluated(arms) == ["a", "b"]
    assert verdicts.not_run(arms).to_dict("list") == {
        "arm": ["c", "d"], "status": ["did not learn", "not run: weights unavailable"],
        "note": ["within 2.0 min: flat", "no hub"], "weights": ["w", "w"]}


def test_reading_says_each_number_of_the_tables():
    arms = pd.DataFrame({"arm": ["X-TL", "pixel-size", "Z-scratch"], "kind": ["TL", "floor", "scratch"],
                         "status": ["trained", "fitted", "did not learn"],
                         "weights": [None] * 3, "inner_score": [0.9, 0.4, None]})
    results = pd.DataFrame({"model": ["X-TL", "pixel-size"], "macro_f1": [0.8, 0.5],
                            "macro_f1_ci_low": [0.7, 0.4], "macro_f1_ci_high": [0.9, 0.6],
                            "folds": [5, 5],
                            "macro_f1_fold_mean": [0.79, 0.5], "macro_f1_fold_sd": [0.05, 0.1],
                            "balanced_accuracy": [0.81, 0.5],
                            # a float is rounded once, where it is printed
                            "balanced_accuracy_ci_low": [0.7004, 0.4],
                            "balanced_accuracy_ci_high": [0.8996, 0.6]})
    comp = pd.DataFrame([{"claim": 3, "question": "q3", "a": "X-TL", "b": "GLCM+SVM",
                          "difference": 0.3, "ci_low": 0.2, "ci_high": 0.4, "p_value": 0.002,
                          "p_holm": 0.004, "verdict": "a better"}])
    ladder = pd.DataFrame({"model": ["X-TL", "X-TL"], "protocol": ["random tiles", "by sample"],
                           "micrograph_macro_f1": [0.95, 0.8]})
    band = {"um_per_px_low": 0.1, "um_per_px_high": 0.5, "classes": ["a", "b", "c"], "micrographs": 9}
    band_scores = pd.DataFrame({"model": ["X-TL"], "macro_f1": [0.6], "macro_f1_ci_low": [0.4],
                                "macro_f1_ci_high": [0.8], "chance": [1 / 3]})
    text = verdicts.reading(results, comp, arms, band, band_scores, ladder)
    assert "**X-TL**, micrograph macro-F1 0.800 [0.700, 0.900] under sample-grouped 5-fold " \
           "(fold mean 0.790 ± 0.050), balanced accuracy 0.810 [0.700, 0.900]." in text
    assert "Pixel size alone (log µm/px, no image) scores micrograph macro-F1 0.500 [0.400, 0.600]" \
        in text
    assert "Arms above it: X-TL" in text
    assert "q3: +0.300 [+0.200, +0.400], Holm p 0.004: a better." in text
    assert "the top arm there is X-TL at 0.600 [0.400, 0.800] (chance 0.33)" in text
    assert "Leakage ladder, X-TL (micrograph macro-F1): random tiles: 0.950, by sample: 0.800." in text
    assert text.splitlines()[-1] == "- Without predictions: Z-scratch (reasons in the arms tables)."
