"""The audit's vocabulary and its checks of the paper's text and tables against each other.

Every check recomputes what can be derived from other reported numbers and returns rows of
(claim, source, reported, recomputed, tolerance, verdict, reason). Tolerances are the rounding
of the printed digits, propagated; a claim outside them is `inconsistent`, and a claim whose
metric the paper leaves undefined, with readings that disagree, is `ambiguous`. A row that rests
on a number the OCR damaged says so (`ocr_damaged`) and names the reading it used.
"""
from __future__ import annotations

import pandas as pd

from ..core import paper_numbers as paper

CONSISTENT, INCONSISTENT, UNCHECKABLE = "consistent", "inconsistent", "cannot be checked"
AMBIGUOUS = "ambiguous"
CHECK_PSE = "PSE = strength x elongation"
CHECK_MEAN_ACCURACY = "'average accuracy': which metric"
COLUMNS = ["check", "claim", "source", "reported", "recomputed", "tolerance", "verdict", "reason",
           "ocr_damaged", "reading_used"]


def audit_row(check, claim, source, reported, recomputed, tolerance, verdict, reason, inputs=()) -> dict:
    """One audit row. `inputs` are the (table, row, column) cells it rests on, matched against
    `numbers.OCR_DAMAGED` by `mark_ocr`; they are not a column."""
    return dict(check=check, claim=claim, source=source, reported=reported, recomputed=recomputed,
                tolerance=tolerance, verdict=verdict, reason=reason, ocr_damaged=False,
                reading_used=None, inputs=tuple(inputs))


def mark_ocr(row: dict, damaged: dict = paper.OCR_DAMAGED) -> dict:
    """Mark a row whose inputs include an OCR-damaged cell, with the reading used, in its columns
    and in its reason (the report shows the reason)."""
    hits = [damaged[cell] for cell in row.get("inputs", ()) if cell in damaged]
    if hits:
        used = "; ".join(h.describe() for h in hits)
        row = {**row, "ocr_damaged": True, "reading_used": used,
               "reason": f"{row['reason']} [rests on OCR-damaged text: {used}]"}
    return row


def within(reported, recomputed, tol) -> str:
    return CONSISTENT if abs(reported - recomputed) <= tol + 1e-12 else INCONSISTENT


def half_unit(x: float) -> float:
    """Half a unit in the last printed decimal of x (the rounding it may carry)."""
    s = f"{x}"
    decimals = len(s.split(".")[1]) if "." in s else 0
    return 0.5 * 10 ** -decimals


# ---------------------------------------------------------------- Table 1

def check_pse(table1: pd.DataFrame, source: str = paper.TABLE1_SOURCE) -> list[dict]:
    """PSE = tensile strength x elongation (MPa x % -> GPa x %), per process."""
    rows = []
    for r in table1.itertuples():
        pse = r.tensile_strength_mpa * r.elongation_pct / 1000
        tol = (half_unit(r.tensile_strength_mpa) * r.elongation_pct
               + r.tensile_strength_mpa * half_unit(r.elongation_pct)) / 1000 \
            + half_unit(r.pse_reported_gpa_pct)
        verdict = within(r.pse_reported_gpa_pct, pse, tol)
        printed = getattr(r, "pse_as_printed", str(r.pse_reported_gpa_pct))
        reason = (f"{r.tensile_strength_mpa} MPa x {r.elongation_pct} % = {pse:.3f} GPa·%; printed "
                  f"'{printed}'" + ("" if verdict == CONSISTENT else
                                    f", off by {r.pse_reported_gpa_pct - pse:+.3f} "
                                    f"({(r.pse_reported_gpa_pct / pse - 1) * 100:+.1f} %)"))
        rows.append(audit_row(CHECK_PSE, f"PSE of {r.process}", source,
                         r.pse_reported_gpa_pct, round(pse, 4), round(tol, 4), verdict, reason,
                         [("Table 1", r.process, c) for c in
                          ("tensile_strength_mpa", "elongation_pct", "pse_reported_gpa_pct")]))
    return rows


def check_process_differences(table1: pd.DataFrame, strength_gain: float, elongation_gain: float,
                              source: str = "Conclusion vs Table 1") -> list[dict]:
    q, a = table1.iloc[0], table1.iloc[1]
    rows = []
    for col, gain, unit in [("tensile_strength_mpa", strength_gain, "MPa"),
                            ("elongation_pct", elongation_gain, "percentage points")]:
        diff = a[col] - q[col]
        tol = half_unit(a[col]) + half_unit(q[col]) + half_unit(gain)
        verdict = within(gain, diff, tol)
        rows.append(audit_row("stated difference vs table", f"{a['process']} {col} higher by {gain} {unit}",
                         source, gain, round(diff, 4), round(tol, 4), verdict,
                         f"{a[col]} - {q[col]} = {diff:.2f} {unit}",
                         [("Table 1", p, col) for p in (q["process"], a["process"])]))
    better = [c for c in ("tensile_strength_mpa", "elongation_pct", "impact_work_j") if a[c] > q[c]]
    rows.append(audit_row("stated direction vs table",
                     "austempering improves strength, elongation and impact work",
                     "Section II.C, text after Table 1", "all three higher", ", ".join(better), None,
                     CONSISTENT if len(better) == 3 else INCONSISTENT,
                     "every property is higher in the austempering row" if len(better) == 3
                     else "not every property is higher",
                     [("Table 1", p, c) for p in (q["process"], a["process"])
                      for c in ("tensile_strength_mpa", "elongation_pct", "impact_work_j")]))
    rows.append(audit_row("claim without data", "austempered steel has higher hardness",
                     "Section II.C, text after Table 1", "higher hardness", None, None, UNCHECKABLE,
                     "no hardness is reported anywhere in the paper"))
    return rows


# ---------------------------------------------------------------- the text against the tables

def check_gains(reference: str, reference_value: float, others: dict[str, float],
                gains: dict[str, float], source: str) -> list[dict]:
    rows = []
    for model, gain in gains.items():
        diff = reference_value - others[model]
        tol = half_unit(reference_value) + half_unit(others[model]) + half_unit(gain)
        rows.append(audit_row("stated difference vs values", f"{reference} T precision {gain} points above "
                         f"{model}", source, gain, round(diff, 4), round(tol, 4),
                         within(gain, diff, tol),
                         f"{reference_value} - {others[model]} = {diff:.2f}"))
    return rows


def check_same_number(claim: str, stated: float, elsewhere: float, source: str) -> dict:
    verdict = CONSISTENT if stated == elsewhere else INCONSISTENT
    return audit_row("same number in two places", claim, source, stated, elsewhere, 0, verdict,
                "the same value in both places" if verdict == CONSISTENT
                else f"{stated} in one place, {elsewhere} in the other")


def check_gain_assignment(assignments: dict[str, dict[str, float]]) -> dict:
    """The same differences must belong to the same models wherever they are stated."""
    (sa, a), (sb, b) = list(assignments.items())[:2]
    clash = {m: (a[m], b.get(m)) for m in a if b.get(m) != a[m]}
    reason = "; ".join(f"{m}: {x} in {sa}, {y} in {sb}" for m, (x, y) in clash.items())
    return audit_row("same claim in two sections", "SE-ResNeXt101-TL T-precision gains over "
                "SE-ResNeXt101-scratch, SE-ResNeXt50-TL and GLCM+SVM", f"{sa} vs {sb}",
                str(a), str(b), None, INCONSISTENT if clash else CONSISTENT,
                reason or "both sections assign the same gains")


def check_recall_floor(model: str, recall_pct: pd.Series, floor: float, source: str) -> dict:
    below = recall_pct[recall_pct <= floor]
    return audit_row("stated bound vs table", f"{model} recall 'generally higher than {floor}%'", source,
                floor, float(recall_pct.min()), None,
                CONSISTENT if below.empty else INCONSISTENT,
                "every class above" if below.empty else
                f"{', '.join(f'{c} ({v}%)' for c, v in below.items())} at or below {floor}% "
                "('generally' may excuse it)")


def check_lowest_everywhere(model: str, recall: pd.DataFrame, source: str) -> dict:
    """'<model> has a low recall for all classes': is it the lowest in every class?"""
    not_lowest = [c for c in recall.index if recall.loc[c, model] > recall.loc[c].min()]
    return audit_row("stated ranking vs table", f"{model} has a low recall for all classes", source,
                "lowest in all classes", f"lowest in {len(recall) - len(not_lowest)} of {len(recall)}",
                None, CONSISTENT if not not_lowest else INCONSISTENT,
                "lowest in every class" if not not_lowest else
                f"not the lowest for {', '.join(not_lowest)}")


def check_dataset_sizes(n_classes: int, train_per_class: int, train_total: int, test_per_class: int,
                        test_total: int, source: str) -> dict:
    ok = n_classes * train_per_class == train_total and n_classes * test_per_class == test_total
    return audit_row("counts multiply", "SS-3000 and TEST-1000 sizes", source,
                f"{train_total} / {test_total}",
                f"{n_classes * train_per_class} / {n_classes * test_per_class}", None,
                CONSISTENT if ok else INCONSISTENT,
                f"{n_classes} classes x {train_per_class} and x {test_per_class}")


# ---------------------------------------------------------------- architecture claims

def architecture_facts() -> dict:
    """SE reduction ratio and stage depths of timm's SE-ResNeXt50/101 (32x4d), built without
    weights: the reference implementation whose ImageNet weights the paper's TL arms load."""
    import timm

    from ..core.architectures import ARCHITECTURES

    facts = {}
    for arch in ("SE-ResNeXt50", "SE-ResNeXt101"):
        model = timm.create_model(ARCHITECTURES[arch].model_name, pretrained=False, num_classes=5)
        se = model.layer1[0].se
        facts[arch] = {"stages": tuple(len(getattr(model, f"layer{i}")) for i in range(1, 5)),
                       "se_reduction": se.fc1.in_channels / se.fc1.out_channels,
                       "se_gate": getattr(se.gate, "__name__", type(se.gate).__name__)}
    return facts


def check_architecture(facts: dict, se_reduction: int, depths: tuple) -> list[dict]:
    s101 = facts["SE-ResNeXt101"]
    rows = [audit_row("method vs named architecture",
                 f"SE block reduces channels to 1/{se_reduction} and gates with a hard sigmoid",
                 paper.CLAIMS["se_reduction"][0], f"1/{se_reduction}, hard sigmoid",
                 f"1/{s101['se_reduction']:.0f}, {s101['se_gate']}", None,
                 CONSISTENT if s101["se_reduction"] == se_reduction else INCONSISTENT,
                 "SE-ResNeXt (Hu et al. 2018) and its ImageNet weights use reduction 16 and a "
                 "sigmoid; 1/4 with a hard sigmoid is MobileNetV3's SE block. Weights of the "
                 "named model cannot load into the block described")]
    got = (facts["SE-ResNeXt50"]["stages"], s101["stages"])
    rows.append(audit_row("method vs named architecture", "stage depths 3-4-6-3 (50) and 3-4-23-3 (101)",
                     paper.CLAIMS["resnext_depths"][0], str(depths), str(got), None,
                     CONSISTENT if tuple(depths) == got else INCONSISTENT,
                     "as in the reference implementation" if tuple(depths) == got
                     else "differs from the reference implementation"))
    return rows
