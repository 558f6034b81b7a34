"""The audit's checks of the classification metrics, on hand-made numbers that must pass and
numbers that must fail."""
import pandas as pd

from spring_lib.paper import metric_checks
from spring_lib.paper.checks import AMBIGUOUS, CONSISTENT, INCONSISTENT


def test_f1_with_precision_and_recall():
    assert metric_checks.check_f1("m", "c", 90.0, 0.9, 90.0)["verdict"] == CONSISTENT
    assert metric_checks.check_f1("m", "c", 99.04, 0.984, 97.82)["verdict"] == CONSISTENT
    assert metric_checks.check_f1("m", "c", 99.04, 0.989, 97.82)["verdict"] == INCONSISTENT


def test_f1_bound_with_recall_only():
    assert metric_checks.check_f1("m", "c", 90.0, 0.94)["verdict"] == CONSISTENT     # bound 0.947
    row = metric_checks.check_f1("m", "c", 90.11, 0.992)
    assert row["verdict"] == INCONSISTENT and "110.3%" in row["reason"]


def test_predicted_total():
    recall = pd.Series({"a": 90.0, "b": 80.0})
    # a perfect 2-class confusion: a predicted 180 + 40 = 220 ... construct exactly:
    # a: TP 180, predicted 220 -> P = 180/220; b: TP 160, predicted 180 -> P = 160/180
    f1 = pd.Series({"a": round(metric_checks.f1_from(180 / 220, 0.9), 3),
                    "b": round(metric_checks.f1_from(160 / 180, 0.8), 3)})
    rows = metric_checks.check_predicted_total("m", recall, f1, per_class=200)
    assert rows[-1]["verdict"] == CONSISTENT
    rows = metric_checks.check_predicted_total("m", recall, pd.Series({"a": 0.95, "b": 0.2}), per_class=200)
    assert rows[-1]["verdict"] == INCONSISTENT
    assert any("more than the 400 tiles" in r["reason"] for r in rows)


def test_mean_accuracy_is_read_both_ways():
    # recalls 90 and 99 % (mean 94.5); both classes at precision 1.0 (mean ~100)
    r = pd.Series({"a": 90.0, "b": 99.0})
    f1 = pd.Series({"a": round(metric_checks.f1_from(1.0, 0.9), 3), "b": round(metric_checks.f1_from(1.0, 0.99), 3)})
    check = lambda acc: metric_checks.check_mean_accuracy("m", acc, r, f1, {}, "s")  # noqa: E731
    row = check(94.5)
    assert row["verdict"] == CONSISTENT and "only balanced accuracy" in row["reason"].lower()
    row = check(100.0)
    assert row["verdict"] == CONSISTENT and "only mean precision" in row["reason"].lower()
    assert check(99.5)["verdict"] == AMBIGUOUS      # no reading fits, mean precision 0.4 points off
    assert check(97.0)["verdict"] == INCONSISTENT   # 2.5 points from either reading
    both = metric_checks.check_mean_accuracy("m", 95.0, r, pd.Series({"a": 0.9, "b": 1.0}),
                                     {"a": 90.0}, "s")  # precision 90/100 and recall 90/100
    assert both["verdict"] == AMBIGUOUS and "both reproduce" in both["reason"]


def test_implied_precision_and_predictions_invert_f1():
    p, r = 0.8, 0.9
    f1 = metric_checks.f1_from(p, r)
    assert abs(metric_checks.implied_precision(r, f1) - p) < 1e-12
    assert abs(metric_checks.implied_predicted(r, f1, 200) - 200 * r / p) < 1e-9
    assert metric_checks.implied_precision(0.4, 0.9) == float("inf")   # F1 above what R allows
