"""The audit's checks of the classification metrics: F1 against precision and recall, the
predictions Tables 2-3 imply, and what 'average recognition accuracy' can mean."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from ..core import paper_numbers as paper
from .checks import AMBIGUOUS, CHECK_MEAN_ACCURACY, CONSISTENT, INCONSISTENT, audit_row, half_unit, within

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
    tol_f1 = half_unit(f1)
    cells = [("Table 2", cls, model), ("Table 3", cls, model)]
    if precision_pct is not None:
        p = precision_pct / 100
        f = f1_from(p, r)
        tol = tol_f1 + 1e-4  # P and R printed to 0.01 %
        verdict = within(f1, f, tol)
        reason = (f"harmonic mean of P={precision_pct}% and R={recall_pct}% is {f:.4f}"
                  + ("" if verdict == CONSISTENT else f", not {f1}"))
        return audit_row("F1 = 2PR/(P+R)", f"{model} F1 on {cls} = {f1}", source, f1, round(f, 4),
                    round(tol, 4), verdict, reason, cells)
    bound = 2 * r / (1 + r)
    ok = f1 <= bound + tol_f1
    reason = (f"with recall {recall_pct}% even perfect precision gives F1 <= {bound:.4f}"
              + ("" if ok else f"; {f1} would need precision {f1 * r / (2 * r - f1) * 100:.1f}%"
                 if 2 * r > f1 else "; impossible"))
    return audit_row("F1 <= 2R/(1+R)", f"{model} F1 on {cls} = {f1}", source, f1, round(bound, 4),
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
                   for dr, df in itertools.product((-5e-5, 5e-5), (-half_unit(f), half_unit(f)))]
        lo, hi = min(corners), max(corners)
        lows.append(lo), highs.append(hi)
        n = implied_predicted(r, f, per_class)
        if lo > total:
            rows.append(audit_row("implied predictions <= test set", f"{model} on {cls}: R={recall_pct[cls]}%, "
                             f"F1={f}", source, total, round(n, 1), None, INCONSISTENT,
                             f"recall and F1 imply {n:.0f} tiles predicted as {cls}, more than the "
                             f"{total} tiles of the whole test set",
                             [("Table 2", cls, model), ("Table 3", cls, model)]))
    lo, hi = sum(lows), sum(highs)
    verdict = CONSISTENT if lo <= total <= hi else INCONSISTENT
    n = sum(implied_predicted(recall_pct[c] / 100, f1[c], per_class) for c in recall_pct.index)
    rows.append(audit_row("implied predictions sum to test set", f"{model}: Table 2 recalls with Table 3 F1s",
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
                   for dr, df in itertools.product((-5e-5, 5e-5), (-half_unit(f), half_unit(f)))]
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
    tol = half_unit(accuracy_pct)
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
    return audit_row(CHECK_MEAN_ACCURACY, f"{model} average accuracy {accuracy_pct}%", source,
                accuracy_pct, recomputed, tol, verdict, reason, cells)
