"""The whole audit of the paper's numbers, and what a reader is told from it."""
from spring_lib.core import paper_numbers as paper
from spring_lib.paper import audit, checks
from spring_lib.paper.checks import AMBIGUOUS, CONSISTENT, INCONSISTENT, UNCHECKABLE


def test_paper_mean_accuracy_is_ambiguous_with_both_readings():
    se = "SE-ResNeXt101-TL"
    recall, f1 = paper.TABLE2_RECALL[se], paper.TABLE3_F1[se]
    balanced = recall.mean()                                          # 96.84 on TEST-1000
    implied = (f1 * recall / 100 / (2 * recall / 100 - f1)) * 100     # precision per class
    with_stated = implied.where(implied.index != "T", paper.T_PRECISION[se])
    a = audit.audit_paper(include_architecture=False)
    row = a[a["check"] == checks.CHECK_MEAN_ACCURACY].iloc[0]
    assert row["reported"] == 98.2 and row["verdict"] == AMBIGUOUS
    assert row["recomputed"] == (f"mean precision {with_stated.mean():.2f}-{implied.mean():.2f} / "
                                 f"balanced accuracy {balanced:.2f}")
    assert 98.4 < with_stated.mean() < implied.mean() < 98.7 and round(balanced, 2) == 96.84
    assert "calls per-class precision 'recognition accuracy' (97.82 % for T)" in row["reason"]
    assert "what the headline 98.2 % measures is ambiguous" in audit.reader_conclusions(a).lower()


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


def test_full_audit_names_the_known_disagreements():
    a = audit.audit_paper()
    assert set(a["verdict"]) <= {CONSISTENT, INCONSISTENT, UNCHECKABLE, AMBIGUOUS}
    bad = a[a["verdict"] == INCONSISTENT]["claim"].str.cat(sep=" | ")
    assert "average accuracy 98.2" not in bad
    for expected in ["PSE of quench and temper", "MobileNetV2-TL F1 on F+P",
                     "SE-ResNeXt101-TL F1 on T", "T-precision gains", "AlexNet-TL on M+B"]:
        assert expected in bad, expected
    assert (a["reason"].str.len() > 0).all()


def test_audit_summary_counts_each_checks_verdicts():
    a = audit.audit_paper(include_architecture=False)
    s = audit.audit_summary(a)
    assert list(s.index) == sorted(a["check"].unique()) and set(s.columns) == set(a["verdict"])
    assert s.to_numpy().sum() == len(a)
    pse = a[a["check"] == checks.CHECK_PSE]["verdict"].value_counts()
    assert s.loc[checks.CHECK_PSE][pse.index].tolist() == pse.tolist()
    assert (s.loc[checks.CHECK_PSE].drop(pse.index) == 0).all()     # none of the others: 0
