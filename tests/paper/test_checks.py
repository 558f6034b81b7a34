"""The audit's checks of the paper's text and tables, on hand-made numbers that must pass and
numbers that must fail."""
import pandas as pd

from spring_lib.core import paper_numbers as paper
from spring_lib.paper import checks
from spring_lib.paper.checks import CONSISTENT, INCONSISTENT, UNCHECKABLE


def _t1(pse_q, pse_a, strength_a=1467.2):
    return pd.DataFrame([
        {"process": "quench and temper", "tensile_strength_mpa": 1385.6, "elongation_pct": 9.89,
         "impact_work_j": 23.5, "pse_reported_gpa_pct": pse_q},
        {"process": "austempering", "tensile_strength_mpa": strength_a, "elongation_pct": 14.02,
         "impact_work_j": 32.1, "pse_reported_gpa_pct": pse_a}])


def test_pse_passes_when_product_matches_and_fails_otherwise():
    ok = checks.check_pse(_t1(13.704, 20.570))
    assert [r["verdict"] for r in ok] == [CONSISTENT, CONSISTENT]
    bad = checks.check_pse(_t1(14.653, 20.211))
    assert [r["verdict"] for r in bad] == [INCONSISTENT, INCONSISTENT]
    assert "+6.9 %" in bad[0]["reason"]


def test_process_differences():
    rows = checks.check_process_differences(_t1(0, 0), 81.6, 4.13)
    assert [r["verdict"] for r in rows[:3]] == [CONSISTENT] * 3 and rows[3]["verdict"] == UNCHECKABLE
    rows = checks.check_process_differences(_t1(0, 0, strength_a=1500.0), 81.6, 4.0)
    assert rows[0]["verdict"] == rows[1]["verdict"] == INCONSISTENT


def test_mark_ocr_marks_only_rows_on_damaged_cells():
    damaged = {("T", "r", "c"): paper.OcrReading("1,5", 1.5, "comma for a point")}
    on = checks.audit_row("k", "claim", "s", 1.5, 1.5, 0, CONSISTENT, "why", [("T", "r", "c"), ("T", "r", "d")])
    off = checks.audit_row("k", "claim", "s", 1.5, 1.5, 0, CONSISTENT, "why", [("T", "r", "d")])
    marked = checks.mark_ocr(on, damaged)
    assert marked["ocr_damaged"] and marked["reading_used"] == "'1,5' read as 1.5 (comma for a point)"
    assert "OCR-damaged" in marked["reason"] and marked["verdict"] == CONSISTENT
    assert checks.mark_ocr(off, damaged) == off and not off["ocr_damaged"]


def test_gains_and_assignments():
    rows = checks.check_gains("ref", 97.82, {"x": 92.13, "y": 90.0}, {"x": 5.69, "y": 7.19}, "s")
    assert [r["verdict"] for r in rows] == [CONSISTENT, INCONSISTENT]
    same = {"A": {"p": 1.0, "q": 2.0}, "B": {"q": 2.0, "p": 1.0}}
    assert checks.check_gain_assignment(same)["verdict"] == CONSISTENT
    swapped = {"A": {"p": 1.0, "q": 2.0}, "B": {"p": 2.0, "q": 1.0}}
    assert checks.check_gain_assignment(swapped)["verdict"] == INCONSISTENT


def test_recall_floor_and_ranking():
    assert checks.check_recall_floor("m", pd.Series({"a": 94.0, "b": 99.0}), 93, "s")["verdict"] == CONSISTENT
    assert checks.check_recall_floor("m", pd.Series({"a": 92.5, "b": 99.0}), 93, "s")["verdict"] == INCONSISTENT
    table = pd.DataFrame({"low": [1.0, 2.0], "high": [5.0, 6.0]}, index=["a", "b"])
    assert checks.check_lowest_everywhere("low", table, "s")["verdict"] == CONSISTENT
    assert checks.check_lowest_everywhere("high", table, "s")["verdict"] == INCONSISTENT


def test_architecture_check_against_timm():
    facts = checks.architecture_facts()
    assert facts["SE-ResNeXt101"]["stages"] == (3, 4, 23, 3)
    rows = checks.check_architecture(facts, 16, ((3, 4, 6, 3), (3, 4, 23, 3)))
    assert [r["verdict"] for r in rows] == [CONSISTENT, CONSISTENT]
    rows = checks.check_architecture(facts, 4, ((3, 4, 6, 3), (3, 4, 6, 3)))
    assert [r["verdict"] for r in rows] == [INCONSISTENT, INCONSISTENT]


def test_tolerance_is_half_a_printed_unit():
    assert checks.half_unit(13.704) == 0.0005 and checks.half_unit(98.2) == 0.05
    assert checks.half_unit(500) == 0.5
    assert checks.within(1.0, 1.04, 0.05) == CONSISTENT
    assert checks.within(1.0, 1.06, 0.05) == INCONSISTENT


def test_same_number_and_dataset_sizes():
    assert checks.check_same_number("T recall", 99.04, 99.04, "s")["verdict"] == CONSISTENT
    row = checks.check_same_number("T recall", 99.04, 99.4, "s")
    assert row["verdict"] == INCONSISTENT and row["reason"] == "99.04 in one place, 99.4 in the other"
    assert checks.check_dataset_sizes(5, 600, 3000, 200, 1000, "s")["verdict"] == CONSISTENT
    assert checks.check_dataset_sizes(5, 600, 3000, 200, 1200, "s")["verdict"] == INCONSISTENT
