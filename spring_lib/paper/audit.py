"""Checking a paper's numbers against each other before trusting them.

Every check recomputes what can be derived from other reported numbers and returns rows of
(claim, source, reported, recomputed, tolerance, verdict, reason). Tolerances are the rounding
of the printed digits, propagated; a claim outside them is `inconsistent`, and a claim whose
metric the paper leaves undefined, with readings that disagree, is `ambiguous`. A row that rests
on a number the OCR damaged says so (`ocr_damaged`) and names the reading it used.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from ..core import paper_numbers as paper

CONSISTENT, INCONSISTENT, UNCHECKABLE = "consistent", "inconsistent", "cannot be checked"
AMBIGUOUS = "ambiguous"
CHECK_PSE = "PSE = strength x elongation"
CHECK_MEAN_ACCURACY = "'average accuracy': which metric"
COLUMNS = ["check", "claim", "source", "reported", "recomputed", "tolerance", "verdict", "reason",
           "ocr_damaged", "reading_used"]


def _row(check, claim, source, reported, recomputed, tolerance, verdict, reason, inputs=()) -> dict:
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


def _within(reported, recomputed, tol) -> str:
    return CONSISTENT if abs(reported - recomputed) <= tol + 1e-12 else INCONSISTENT


def _half_unit(x: float) -> float:
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
        tol = (_half_unit(r.tensile_strength_mpa) * r.elongation_pct
               + r.tensile_strength_mpa * _half_unit(r.elongation_pct)) / 1000 \
            + _half_unit(r.pse_reported_gpa_pct)
        verdict = _within(r.pse_reported_gpa_pct, pse, tol)
        printed = getattr(r, "pse_as_printed", str(r.pse_reported_gpa_pct))
        reason = (f"{r.tensile_strength_mpa} MPa x {r.elongation_pct} % = {pse:.3f} GPa·%; printed "
                  f"'{printed}'" + ("" if verdict == CONSISTENT else
                                    f", off by {r.pse_reported_gpa_pct - pse:+.3f} "
                                    f"({(r.pse_reported_gpa_pct / pse - 1) * 100:+.1f} %)"))
        rows.append(_row(CHECK_PSE, f"PSE of {r.process}", source,
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
        tol = _half_unit(a[col]) + _half_unit(q[col]) + _half_unit(gain)
        verdict = _within(gain, diff, tol)
        rows.append(_row("stated difference vs table", f"{a['process']} {col} higher by {gain} {unit}",
                         source, gain, round(diff, 4), round(tol, 4), verdict,
                         f"{a[col]} - {q[col]} = {diff:.2f} {unit}",
                         [("Table 1", p, col) for p in (q["process"], a["process"])]))
    better = [c for c in ("tensile_strength_mpa", "elongation_pct", "impact_work_j") if a[c] > q[c]]
    rows.append(_row("stated direction vs table",
                     "austempering improves strength, elongation and impact work",
                     "Section II.C, text after Table 1", "all three higher", ", ".join(better), None,
                     CONSISTENT if len(better) == 3 else INCONSISTENT,
                     "every property is higher in the austempering row" if len(better) == 3
                     else "not every property is higher",
                     [("Table 1", p, c) for p in (q["process"], a["process"])
                      for c in ("tensile_strength_mpa", "elongation_pct", "impact_work_j")]))
    rows.append(_row("claim without data", "austempered steel has higher hardness",
                     "Section II.C, text after Table 1", "higher hardness", None, None, UNCHECKABLE,
                     "no hardness is reported anywhere in the paper"))
    return rows


# ---------------------------------------------------------------- classification metrics

def f1_from(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall)


def check_f1(model: str, cls: str, recall_pct: float, f1: float,
             precision_pct: float | None = None, source: str = "Tables 2-3") -> dict:
    """F1 against the precision and recall it must come from.

    With both known, F1 is their harmonic mean. With only recall known, precision <= 1 bounds
    F1 <= 2R/(1+R).
    """
    r = recall_pct / 100
    tol_f1 = _half_unit(f1)
    cells = [("Table 2", cls, model), ("Table 3", cls, model)]
    if precision_pct is not None:
        p = precision_pct / 100
        f = f1_from(p, r)
        tol = tol_f1 + 1e-4  # P and R printed to 0.01 %
        verdict = _within(f1, f, tol)
        reason = (f"harmonic mean of P={precision_pct}% and R={recall_pct}% is {f:.4f}"
                  + ("" if verdict == CONSISTENT else f", not {f1}"))
        return _row("F1 = 2PR/(P+R)", f"{model} F1 on {cls} = {f1}", source, f1, round(f, 4),
                    round(tol, 4), verdict, reason, cells)
    bound = 2 * r / (1 + r)
    ok = f1 <= bound + tol_f1
    reason = (f"with recall {recall_pct}% even perfect precision gives F1 <= {bound:.4f}"
              + ("" if ok else f"; {f1} would need precision {f1 * r / (2 * r - f1) * 100:.1f}%"
                 if 2 * r > f1 else "; impossible"))
    return _row("F1 <= 2R/(1+R)", f"{model} F1 on {cls} = {f1}", source, f1, round(bound, 4),
                tol_f1, CONSISTENT if ok else INCONSISTENT, reason, cells)


def implied_precision(recall: float, f1: float) -> float:
    """Precision from recall and F1 (fractions): F1 = 2PR/(P+R) solved for P = F1·R/(2R − F1);
    infinite where F1 exceeds what the recall allows."""
    return f1 * recall / (2 * recall - f1) if 2 * recall > f1 else np.inf


def implied_predicted(recall: float, f1: float, per_class: int) -> float:
    """Tiles predicted as a class, from its recall and F1 on a balanced test set:
    predicted = TP / precision = per_class · R / precision."""
    return per_class * recall / implied_precision(recall, f1)


def check_predicted_total(model: str, recall_pct: pd.Series, f1: pd.Series,
                          per_class: int = paper.PROTOCOL.test_tiles_per_class,
                          source: str = "Tables 2-3, TEST-1000") -> list[dict]:
    """Each test tile is predicted as exactly one class, so the tiles implied as predicted per
    class (from recall and F1) must sum to the test set size, and none may exceed it."""
    total = per_class * len(recall_pct)
    rows, lows, highs = [], [], []
    for cls in recall_pct.index:
        r, f = recall_pct[cls] / 100, f1[cls]
        corners = [implied_predicted(r + dr, f + df, per_class)
                   for dr, df in itertools.product((-5e-5, 5e-5), (-_half_unit(f), _half_unit(f)))]
        lo, hi = min(corners), max(corners)
        lows.append(lo), highs.append(hi)
        n = implied_predicted(r, f, per_class)
        if lo > total:
            rows.append(_row("implied predictions <= test set", f"{model} on {cls}: R={recall_pct[cls]}%, "
                             f"F1={f}", source, total, round(n, 1), None, INCONSISTENT,
                             f"recall and F1 imply {n:.0f} tiles predicted as {cls}, more than the "
                             f"{total} tiles of the whole test set",
                             [("Table 2", cls, model), ("Table 3", cls, model)]))
    lo, hi = sum(lows), sum(highs)
    verdict = CONSISTENT if lo <= total <= hi else INCONSISTENT
    n = sum(implied_predicted(recall_pct[c] / 100, f1[c], per_class) for c in recall_pct.index)
    rows.append(_row("implied predictions sum to test set", f"{model}: Table 2 recalls with Table 3 F1s",
                     source, total, round(n, 1) if np.isfinite(n) else "impossible",
                     f"[{lo:.0f}, {hi:.0f}]" if np.isfinite(hi) else None, verdict,
                     f"recall and F1 per class imply {n:.0f} predictions in all (range from rounding "
                     f"{lo:.0f}-{hi:.0f}); a {total}-tile test set has exactly {total}"
                     if np.isfinite(n) else "some class's F1 exceeds what its recall allows",
                     [(t, c, model) for c in recall_pct.index for t in ("Table 2", "Table 3")]))
    return rows


def mean_precision_readings(recall_pct: pd.Series, f1: pd.Series,
                            stated_precision_pct: dict[str, float]) -> dict[str, tuple[float, float, float]]:
    """Mean per-class precision (%) that recall and F1 imply, as (value, low, high) with the range
    the printed digits allow: every class implied, and the stated precisions put in where given
    (they disagree with what their F1 implies, so both are readings)."""
    def implied(cls) -> tuple[float, float, float]:
        r, f = recall_pct[cls] / 100, f1[cls]
        corners = [implied_precision(r + dr, f + df)
                   for dr, df in itertools.product((-5e-5, 5e-5), (-_half_unit(f), _half_unit(f)))]
        return implied_precision(r, f) * 100, min(corners) * 100, min(max(corners), 1.0) * 100

    every = {c: implied(c) for c in recall_pct.index}
    stated = {c: (p, p - 5e-3, p + 5e-3) for c, p in stated_precision_pct.items() if c in every}

    def mean(d: dict) -> tuple[float, float, float]:
        return tuple(float(np.mean([v[i] for v in d.values()])) for i in range(3))

    out = {"every class implied by recall and F1": mean(every)}
    if stated:
        out[f"stated precision for {', '.join(stated)}, the rest implied"] = mean({**every, **stated})
    return out


def check_mean_accuracy(model: str, accuracy_pct: float, recall_pct: pd.Series, f1: pd.Series,
                        stated_precision_pct: dict[str, float], source: str,
                        near: float = 0.5) -> dict:
    """'Average recognition accuracy' read both ways the paper allows.

    The paper calls per-class precision "recognition accuracy", so its average may be the mean
    precision that Tables 2-3 imply; on a class-balanced test set, accuracy in the usual sense is
    the mean recall. A value one reading reproduces within the printed digits is `consistent`
    (that reading named); one that no reading reproduces but that lies within `near` points of one
    is `ambiguous`; farther from every reading, `inconsistent`.
    """
    tol = _half_unit(accuracy_pct)
    bal = float(recall_pct.mean())
    readings = {"balanced accuracy (mean recall)": (bal, bal - 5e-3, bal + 5e-3)}
    readings.update({f"mean precision ({k})": v for k, v in
                     mean_precision_readings(recall_pct, f1, stated_precision_pct).items()})
    gap = {k: max(lo - accuracy_pct, accuracy_pct - hi, 0.0) for k, (_, lo, hi) in readings.items()}
    fits = [k for k, g in gap.items() if g <= tol + 1e-12]
    verdict = (CONSISTENT if len(fits) == 1 else AMBIGUOUS if fits or min(gap.values()) <= near
               else INCONSISTENT)
    precision = [v for k, (v, _, _) in readings.items() if k.startswith("mean precision")]
    recomputed = (f"mean precision {min(precision):.2f}-{max(precision):.2f} / "
                  f"balanced accuracy {bal:.2f}")
    listed = "; ".join(f"{k}: {v:.2f} % (printed digits allow {lo:.2f}-{hi:.2f}), "
                       f"{accuracy_pct - v:+.2f} points" for k, (v, lo, hi) in readings.items())
    stated = ", ".join(f"{p} % for {c}" for c, p in stated_precision_pct.items())
    if verdict == CONSISTENT:
        ending = f"only {fits[0]} reproduces {accuracy_pct} %"
    elif fits:
        ending = f"{' and '.join(fits)} both reproduce {accuracy_pct} %, so the metric stays open"
    else:
        nearest = min(gap, key=gap.get)
        ending = (f"no reading reproduces {accuracy_pct} % within the printed digits; the nearest is "
                  f"{nearest}, {gap[nearest]:.2f} points outside its range"
                  + (", so the metric stays open" if verdict == AMBIGUOUS else ""))
    reason = (f"the paper does not define 'average recognition accuracy' and calls per-class "
              f"precision 'recognition accuracy' ({stated}); on a test set of "
              f"{paper.PROTOCOL.test_tiles_per_class} tiles per class accuracy is the mean recall. "
              f"Readings: {listed}. {ending[0].upper()}{ending[1:]}")
    cells = [(t, c, model) for c in recall_pct.index for t in ("Table 2", "Table 3")]
    return _row(CHECK_MEAN_ACCURACY, f"{model} average accuracy {accuracy_pct}%", source,
                accuracy_pct, recomputed, tol, verdict, reason, cells)


def check_gains(reference: str, reference_value: float, others: dict[str, float],
                gains: dict[str, float], source: str) -> list[dict]:
    rows = []
    for model, gain in gains.items():
        diff = reference_value - others[model]
        tol = _half_unit(reference_value) + _half_unit(others[model]) + _half_unit(gain)
        rows.append(_row("stated difference vs values", f"{reference} T precision {gain} points above "
                         f"{model}", source, gain, round(diff, 4), round(tol, 4),
                         _within(gain, diff, tol),
                         f"{reference_value} - {others[model]} = {diff:.2f}"))
    return rows


def check_same_number(claim: str, stated: float, elsewhere: float, source: str) -> dict:
    verdict = CONSISTENT if stated == elsewhere else INCONSISTENT
    return _row("same number in two places", claim, source, stated, elsewhere, 0, verdict,
                "the same value in both places" if verdict == CONSISTENT
                else f"{stated} in one place, {elsewhere} in the other")


def check_gain_assignment(assignments: dict[str, dict[str, float]]) -> dict:
    """The same differences must belong to the same models wherever they are stated."""
    (sa, a), (sb, b) = list(assignments.items())[:2]
    clash = {m: (a[m], b.get(m)) for m in a if b.get(m) != a[m]}
    reason = "; ".join(f"{m}: {x} in {sa}, {y} in {sb}" for m, (x, y) in clash.items())
    return _row("same claim in two sections", "SE-ResNeXt101-TL T-precision gains over "
                "SE-ResNeXt101-scratch, SE-ResNeXt50-TL and GLCM+SVM", f"{sa} vs {sb}",
                str(a), str(b), None, INCONSISTENT if clash else CONSISTENT,
                reason or "both sections assign the same gains")


def check_recall_floor(model: str, recall_pct: pd.Series, floor: float, source: str) -> dict:
    below = recall_pct[recall_pct <= floor]
    return _row("stated bound vs table", f"{model} recall 'generally higher than {floor}%'", source,
                floor, float(recall_pct.min()), None,
                CONSISTENT if below.empty else INCONSISTENT,
                "every class above" if below.empty else
                f"{', '.join(f'{c} ({v}%)' for c, v in below.items())} at or below {floor}% "
                "('generally' may excuse it)")


def check_lowest_everywhere(model: str, recall: pd.DataFrame, source: str) -> dict:
    """'<model> has a low recall for all classes': is it the lowest in every class?"""
    not_lowest = [c for c in recall.index if recall.loc[c, model] > recall.loc[c].min()]
    return _row("stated ranking vs table", f"{model} has a low recall for all classes", source,
                "lowest in all classes", f"lowest in {len(recall) - len(not_lowest)} of {len(recall)}",
                None, CONSISTENT if not not_lowest else INCONSISTENT,
                "lowest in every class" if not not_lowest else
                f"not the lowest for {', '.join(not_lowest)}")


def check_dataset_sizes(n_classes: int, train_per_class: int, train_total: int, test_per_class: int,
                        test_total: int, source: str) -> dict:
    ok = n_classes * train_per_class == train_total and n_classes * test_per_class == test_total
    return _row("counts multiply", "SS-3000 and TEST-1000 sizes", source,
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
    rows = [_row("method vs named architecture",
                 f"SE block reduces channels to 1/{se_reduction} and gates with a hard sigmoid",
                 paper.CLAIMS["se_reduction"][0], f"1/{se_reduction}, hard sigmoid",
                 f"1/{s101['se_reduction']:.0f}, {s101['se_gate']}", None,
                 CONSISTENT if s101["se_reduction"] == se_reduction else INCONSISTENT,
                 "SE-ResNeXt (Hu et al. 2018) and its ImageNet weights use reduction 16 and a "
                 "sigmoid; 1/4 with a hard sigmoid is MobileNetV3's SE block. Weights of the "
                 "named model cannot load into the block described")]
    got = (facts["SE-ResNeXt50"]["stages"], s101["stages"])
    rows.append(_row("method vs named architecture", "stage depths 3-4-6-3 (50) and 3-4-23-3 (101)",
                     paper.CLAIMS["resnext_depths"][0], str(depths), str(got), None,
                     CONSISTENT if tuple(depths) == got else INCONSISTENT,
                     "as in the reference implementation" if tuple(depths) == got
                     else "differs from the reference implementation"))
    return rows


# ---------------------------------------------------------------- the whole audit

def audit_paper(include_architecture: bool = True) -> pd.DataFrame:
    """Every check on the numbers in `spring_lib.paper`."""
    P, C = paper, paper.CLAIMS
    rows = check_pse(P.TABLE1)
    rows += check_process_differences(P.TABLE1, C["strength_gain"][2], C["elongation_gain"][2])
    for model in P.TABLE_MODELS:
        for cls in P.CLASSES:
            prec = P.T_PRECISION[model] if cls == "T" else None
            rows.append(check_f1(model, cls, P.TABLE2_RECALL.loc[cls, model],
                                 P.TABLE3_F1.loc[cls, model], prec,
                                 "Tables 2-3" + ("; Section III.B.2 (T precision)" if prec else "")))
        rows += check_predicted_total(model, P.TABLE2_RECALL[model], P.TABLE3_F1[model])
    se = "SE-ResNeXt101-TL"
    rows.append(check_mean_accuracy(se, C["mean_accuracy"][2], P.TABLE2_RECALL[se], P.TABLE3_F1[se],
                                    {"T": P.T_PRECISION[se]},
                                    f"{C['mean_accuracy'][0]} vs Tables 2-3; Section III.B.2"))
    for key, value, where in (("t_recall", P.TABLE2_RECALL.loc["T", se], "Table 2"),
                              ("t_f1", P.TABLE3_F1.loc["T", se], "Table 3"),
                              ("t_precision", P.T_PRECISION[se], "Section III.B.2")):
        rows.append(check_same_number(C[key][1], C[key][2], value, f"{C[key][0]} vs {where}"))
    rows += check_gains(se, P.T_PRECISION[se], P.T_PRECISION,
                        dict(zip(["VGG19", "AlexNet-TL", "MobileNetV2-TL"], C["t_gain_vs_cnns"][2])),
                        C["t_gain_vs_cnns"][0] + " vs Section III.B.2")
    rows.append(check_gain_assignment(P.T_GAIN_ASSIGNMENTS))
    rows.append(check_recall_floor(se, P.TABLE2_RECALL[se], C["recall_floor"][2],
                                   C["recall_floor"][0]))
    rows.append(check_lowest_everywhere("AlexNet-TL", P.TABLE2_RECALL, "Section III.B.2 vs Table 2"))
    rows.append(check_dataset_sizes(*C["tiles_per_class"][2], source=C["tiles_per_class"][0]))
    if include_architecture:
        rows += check_architecture(architecture_facts(), C["se_reduction"][2],
                                   C["resnext_depths"][2])
    rows.append(_row("claim without data", "training and validation accuracy 'basically higher than "
                     "96%', loss stabilises near 0.1", "Section III.B.2, Figs. 4-5", None, None, None,
                     UNCHECKABLE, "the curves are figures without data; no numbers to recompute"))
    return pd.DataFrame([mark_ocr(r) for r in rows], columns=COLUMNS)


def reader_conclusions(report: pd.DataFrame) -> str:
    """What a reader should and should not conclude, every number taken from the audit rows."""
    def row(check: str, contains: str) -> pd.Series:
        hit = report[(report["check"] == check) & report["claim"].str.contains(contains, regex=False)]
        return hit.iloc[0]

    qt, at = row(CHECK_PSE, "quench"), row(CHECK_PSE, "austemper")
    acc = row(CHECK_MEAN_ACCURACY, "SE-ResNeXt101-TL")
    t_f1 = row("F1 = 2PR/(P+R)", "SE-ResNeXt101-TL F1 on T")
    over = report[(report["check"] == "F1 <= 2R/(1+R)") & (report["verdict"] == INCONSISTENT)]
    alex = row("implied predictions <= test set", "AlexNet-TL")
    sums = report[report["check"] == "implied predictions sum to test set"]
    n_bad = int((report["verdict"] == INCONSISTENT).sum())

    def ocr(r: pd.Series) -> str:
        return f" (this rests on OCR-damaged text: {r['reading_used']})" if r["ocr_damaged"] else ""

    return "\n".join([
        f"- **Table 1 holds in direction and in its stated differences**, but not in its PSE "
        f"column: quench-and-temper's printed {qt['reported']} GPa·% is "
        f"{(float(qt['reported']) / float(qt['recomputed']) - 1) * 100:+.1f} % off "
        f"strength x elongation = {float(qt['recomputed']):.2f}, and austempering's printed "
        f"{at['reported']} is not {float(at['recomputed']):.2f} either{ocr(at)}.",
        f"- **What the headline {acc['reported']} % measures is {acc['verdict']}**: "
        f"{acc['recomputed'].replace(' / ', ' % or ')} %. The paper calls per-class precision "
        "'recognition accuracy'; the accuracy of its class-balanced test set is the mean recall. "
        f"{acc['reason'].rsplit('. ', 1)[-1]}.",
        f"- **Table 3 cannot be the F1 of Table 2's recalls in {len(over)} cells** "
        f"({'; '.join(over['claim'])}): they would need precision above 100 %. "
        f"{alex['claim']} implies {float(alex['recomputed']):.0f} predictions on a "
        f"{alex['reported']}-tile test set{ocr(alex)}, and for no model do the recalls and F1s add up to "
        f"the test set ({', '.join(f'{float(v):.0f}' for v in sums['recomputed'])}).",
        f"- The tempered-troostite F1 of {t_f1['reported']} disagrees with the stated precision "
        f"and recall, which give {float(t_f1['recomputed']):.3f}.",
        f"- In all, {n_bad} of {len(report)} checks find the paper inconsistent with itself; the "
        "rest of this study measures its comparisons on open data with confidence intervals "
        "rather than taking them from the paper."])
