"""Each audit check on hand-made numbers that must pass and numbers that must fail."""
import pandas as pd

from spring_lib.paper import audit
from spring_lib.core import paper_numbers as paper
from spring_lib.paper.audit import AMBIGUOUS, CONSISTENT, INCONSISTENT, UNCHECKABLE


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


def test_mean_accuracy_is_read_both_ways():
    # recalls 90 and 99 % (mean 94.5); both classes at precision 1.0 (mean ~100)
    r = pd.Series({"a": 90.0, "b": 99.0})
    f1 = pd.Series({"a": round(audit.f1_from(1.0, 0.9), 3), "b": round(audit.f1_from(1.0, 0.99), 3)})
    check = lambda acc: audit.check_mean_accuracy("m", acc, r, f1, {}, "s")  # noqa: E731
    row = check(94.5)
    assert row["verdict"] == CONSISTENT and "only balanced accuracy" in row["reason"].lower()
    row = check(100.0)
    assert row["verdict"] == CONSISTENT and "only mean precision" in row["reason"].lower()
    assert check(99.5)["verdict"] == AMBIGUOUS      # no reading fits, mean precision 0.4 points off
    assert check(97.0)["verdict"] == INCONSISTENT   # 2.5 points from either reading
    both = audit.check_mean_accuracy("m", 95.0, r, pd.Series({"a": 0.9, "b": 1.0}),
                                     {"a": 90.0}, "s")  # precision 90/100 and recall 90/100
    assert both["verdict"] == AMBIGUOUS and "both reproduce" in both["reason"]


def test_paper_mean_accuracy_is_ambiguous_with_both_readings():
    se = "SE-ResNeXt101-TL"
    recall, f1 = paper.TABLE2_RECALL[se], paper.TABLE3_F1[se]
    balanced = recall.mean()                                          # 96.84 on TEST-1000
    implied = (f1 * recall / 100 / (2 * recall / 100 - f1)) * 100     # precision per class
    with_stated = implied.where(implied.index != "T", paper.T_PRECISION[se])
    a = audit.audit_paper(include_architecture=False)
    row = a[a["check"] == audit.CHECK_MEAN_ACCURACY].iloc[0]
    assert row["reported"] == 98.2 and row["verdict"] == AMBIGUOUS
    assert row["recomputed"] == (f"mean precision {with_stated.mean():.2f}-{implied.mean():.2f} / "
                                 f"balanced accuracy {balanced:.2f}")
    assert 98.4 < with_stated.mean() < implied.mean() < 98.7 and round(balanced, 2) == 96.84
    assert "calls per-class precision 'recognition accuracy' (97.82 % for T)" in row["reason"]
    assert "what the headline 98.2 % measures is ambiguous" in audit.reader_conclusions(a).lower()


def test_ocr_readings_are_the_tables_values():
    for (table, row, col), reading in paper.OCR_DAMAGED.items():
        if table == "Table 1":
            value = paper.TABLE1.set_index("process").loc[row, col]
        else:
            value = {"Table 2": paper.TABLE2_RECALL, "Table 3": paper.TABLE3_F1}[table].loc[row, col]
        assert value == reading.value, (table, row, col)
    assert paper.TABLE1.set_index("process").loc["austempering", "pse_as_printed"] == "20 211"


def test_mark_ocr_marks_only_rows_on_damaged_cells():
    damaged = {("T", "r", "c"): paper.OcrReading("1,5", 1.5, "comma for a point")}
    on = audit._row("k", "claim", "s", 1.5, 1.5, 0, CONSISTENT, "why", [("T", "r", "c"), ("T", "r", "d")])
    off = audit._row("k", "claim", "s", 1.5, 1.5, 0, CONSISTENT, "why", [("T", "r", "d")])
    marked = audit.mark_ocr(on, damaged)
    assert marked["ocr_damaged"] and marked["reading_used"] == "'1,5' read as 1.5 (comma for a point)"
    assert "OCR-damaged" in marked["reason"] and marked["verdict"] == CONSISTENT
    assert audit.mark_ocr(off, damaged) == off and not off["ocr_damaged"]


def test_paper_audit_marks_the_ocr_damaged_checks():
    a = audit.audit_paper(include_architecture=False)
    marked = a[a["ocr_damaged"]]
    assert set(marked["claim"]) == {
        "PSE of austempering", "AlexNet-TL F1 on M+B = 0.25", "AlexNet-TL on M+B: R=84.25%, F1=0.25",
        "AlexNet-TL: Table 2 recalls with Table 3 F1s",
        "austempering tensile_strength_mpa higher by 81.6 MPa",
        "austempering improves strength, elongation and impact work"}
    pse = marked.set_index("claim").loc["PSE of austempering"]
    assert "'20 211' read as 20.211" in pse["reading_used"] and "'1/167.2' read as 1467.2" in pse["reading_used"]
    assert marked["reason"].str.contains("rests on OCR-damaged text").all()
    assert marked.set_index("claim").loc["AlexNet-TL on M+B: R=84.25%, F1=0.25", "reading_used"].startswith(
        "'0.25' read as 0.25")
    clean = a[~a["ocr_damaged"]]
    assert clean["reading_used"].isna().all() and "PSE of quench and temper" in set(clean["claim"])
    assert "OCR-damaged" in audit.reader_conclusions(a)


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
    assert set(a["verdict"]) <= {CONSISTENT, INCONSISTENT, UNCHECKABLE, AMBIGUOUS}
    bad = a[a["verdict"] == INCONSISTENT]["claim"].str.cat(sep=" | ")
    assert "average accuracy 98.2" not in bad
    for expected in ["PSE of quench and temper", "MobileNetV2-TL F1 on F+P",
                     "SE-ResNeXt101-TL F1 on T", "T-precision gains", "AlexNet-TL on M+B"]:
        assert expected in bad, expected
    assert (a["reason"].str.len() > 0).all()


def test_paper_tables_long_form():
    long = paper.reported_tables()
    assert len(long) == 20 and long["precision_pct"].notna().sum() == 4
