"""Each audit check on hand-made numbers that must pass and numbers that must fail."""
import pandas as pd

from spring_lib.paper import audit
from spring_lib.paper import numbers as paper
from spring_lib.paper.audit import CONSISTENT, INCONSISTENT, UNCHECKABLE


def _t1(pse_q, pse_a, strength_a=1467.2):
    return pd.DataFrame([
        {"process": "quench and temper", "tensile_strength_mpa": 1385.6, "elongation_pct": 9.89,
         "impact_work_j": 23.5, "pse_reported_gpa_pct": pse_q},
        {"process": "austempering", "tensile_strength_mpa": strength_a, "elongation_pct": 14.02,
         "impact_work_j": 32.1, "pse_reported_gpa_pct": pse_a}])


def test_pse_passes_when_product_matches_and_fails_otherwise():
    ok = audit.check_pse(_t1(13.704, 20.570))
    assert [r["verdict"] for r in ok] == [CONSISTENT, CONSISTENT]
    bad = audit.check_pse(_t1(14.653, 20.211))
    assert [r["verdict"] for r in bad] == [INCONSISTENT, INCONSISTENT]
    assert "+6.9 %" in bad[0]["reason"]


def test_process_differences():
    rows = audit.check_process_differences(_t1(0, 0), 81.6, 4.13)
    assert [r["verdict"] for r in rows[:3]] == [CONSISTENT] * 3 and rows[3]["verdict"] == UNCHECKABLE
    rows = audit.check_process_differences(_t1(0, 0, strength_a=1500.0), 81.6, 4.0)
    assert rows[0]["verdict"] == rows[1]["verdict"] == INCONSISTENT


def test_f1_with_precision_and_recall():
    assert audit.check_f1("m", "c", 90.0, 0.9, 90.0)["verdict"] == CONSISTENT
    assert audit.check_f1("m", "c", 99.04, 0.984, 97.82)["verdict"] == CONSISTENT
    assert audit.check_f1("m", "c", 99.04, 0.989, 97.82)["verdict"] == INCONSISTENT


def test_f1_bound_with_recall_only():
    assert audit.check_f1("m", "c", 90.0, 0.94)["verdict"] == CONSISTENT     # bound 0.947
    row = audit.check_f1("m", "c", 90.11, 0.992)
    assert row["verdict"] == INCONSISTENT and "110.3%" in row["reason"]


def test_predicted_total():
    recall = pd.Series({"a": 90.0, "b": 80.0})
    # a perfect 2-class confusion: a predicted 180 + 40 = 220 ... construct exactly:
    # a: TP 180, predicted 220 -> P = 180/220; b: TP 160, predicted 180 -> P = 160/180
    f1 = pd.Series({"a": round(audit.f1_from(180 / 220, 0.9), 3),
                    "b": round(audit.f1_from(160 / 180, 0.8), 3)})
    rows = audit.check_predicted_total("m", recall, f1, per_class=200)
    assert rows[-1]["verdict"] == CONSISTENT
    rows = audit.check_predicted_total("m", recall, pd.Series({"a": 0.95, "b": 0.2}), per_class=200)
    assert rows[-1]["verdict"] == INCONSISTENT
    assert any("more than the 400 tiles" in r["reason"] for r in rows)


def test_accuracy_vs_mean_recall():
    r = pd.Series([90.0, 100.0])
    assert audit.check_accuracy_vs_recall("m", 95.0, r, "s")["verdict"] == CONSISTENT
    assert audit.check_accuracy_vs_recall("m", 98.2, r, "s")["verdict"] == INCONSISTENT


def test_gains_and_assignments():
    rows = audit.check_gains("ref", 97.82, {"x": 92.13, "y": 90.0}, {"x": 5.69, "y": 7.19}, "s")
    assert [r["verdict"] for r in rows] == [CONSISTENT, INCONSISTENT]
    same = {"A": {"p": 1.0, "q": 2.0}, "B": {"q": 2.0, "p": 1.0}}
    assert audit.check_gain_assignment(same)["verdict"] == CONSISTENT
    swapped = {"A": {"p": 1.0, "q": 2.0}, "B": {"p": 2.0, "q": 1.0}}
    assert audit.check_gain_assignment(swapped)["verdict"] == INCONSISTENT


def test_recall_floor_and_ranking():
    assert audit.check_recall_floor("m", pd.Series({"a": 94.0, "b": 99.0}), 93, "s")["verdict"] == CONSISTENT
    assert audit.check_recall_floor("m", pd.Series({"a": 92.5, "b": 99.0}), 93, "s")["verdict"] == INCONSISTENT
    table = pd.DataFrame({"low": [1.0, 2.0], "high": [5.0, 6.0]}, index=["a", "b"])
    assert audit.check_lowest_everywhere("low", table, "s")["verdict"] == CONSISTENT
    assert audit.check_lowest_everywhere("high", table, "s")["verdict"] == INCONSISTENT


def test_architecture_check_against_timm():
    facts = audit.architecture_facts()
    assert facts["SE-ResNeXt101"]["stages"] == (3, 4, 23, 3)
    rows = audit.check_architecture(facts, 16, ((3, 4, 6, 3), (3, 4, 23, 3)))
    assert [r["verdict"] for r in rows] == [CONSISTENT, CONSISTENT]
    rows = audit.check_architecture(facts, 4, ((3, 4, 6, 3), (3, 4, 6, 3)))
    assert [r["verdict"] for r in rows] == [INCONSISTENT, INCONSISTENT]


def test_full_audit_names_the_known_disagreements():
    a = audit.audit_paper()
    assert set(a["verdict"]) <= {CONSISTENT, INCONSISTENT, UNCHECKABLE}
    bad = a[a["verdict"] == INCONSISTENT]["claim"].str.cat(sep=" | ")
    for expected in ["PSE of quench and temper", "average accuracy 98.2", "MobileNetV2-TL F1 on F+P",
                     "SE-ResNeXt101-TL F1 on T", "T-precision gains", "AlexNet-TL on M+B"]:
        assert expected in bad, expected
    assert (a["reason"].str.len() > 0).all()


def test_paper_tables_long_form():
    long = paper.reported_tables()
    assert len(long) == 20 and long["precision_pct"].notna().sum() == 4
