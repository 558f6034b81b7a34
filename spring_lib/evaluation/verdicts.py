"""The rules that turn numbers into words, with tests, so notebook 05 and REPORT.md say the
same thing: which arms count as evaluated, the best arm (by inner score, never a test score),
when a difference is a difference, and the reading of the results (the paper's claims and
their verdicts are `claims`).
"""
from __future__ import annotations

import pandas as pd

from ..core.architectures import ARM_KINDS
from ..core.arm_result import EVALUATED, ArmStatus
from . import intervals

NETWORK_KINDS = ARM_KINDS
FLOOR = "pixel-size"


def evaluated(arms: pd.DataFrame) -> list[str]:
    return arms.loc[arms["status"].isin(EVALUATED), "arm"].tolist()


def not_run(arms: pd.DataFrame) -> pd.DataFrame:
    """Arms without predictions and why: no weights, over budget, or did not learn."""
    columns = [c for c in ("arm", "status", "note", "weights") if c in arms]   # note: since issue 22
    return arms.loc[~arms["status"].isin(EVALUATED), columns]


def best_arm(arms: pd.DataFrame, kinds: tuple[str, ...] | None = None) -> str | None:
    """The evaluated arm with the highest inner score (mean over folds of its inner-CV or own
    validation accuracy), among `kinds` if given: the one meaning of "best" in this study. Test
    predictions play no part, so permuting them cannot change the choice."""
    t = arms[arms["arm"].isin(evaluated(arms)) & (arms["arm"] != FLOOR)]
    if kinds is not None:
        t = t[t["kind"].isin(kinds)]
    t = t.dropna(subset=["inner_score"]) if "inner_score" in t else t.iloc[:0]
    if t.empty:
        return None
    return t.sort_values(["inner_score", "arm"], ascending=[False, True])["arm"].iloc[0]


def difference_verdict(ci_low: float, ci_high: float, p_holm: float, alpha: float = 0.05) -> str:
    """a is better (worse) only when the interval excludes zero and the family-corrected
    p-value is below alpha."""
    if ci_low > 0 and p_holm < alpha:
        return "a better"
    if ci_high < 0 and p_holm < alpha:
        return "a worse"
    return "no clear difference"


def picture_arms(cfg, arms: pd.DataFrame) -> tuple[str | None, str | None]:
    """(phase maps' arm, Grad-CAM's arm): the profile's choice, else the best network arm by
    inner score (None where no network was evaluated)."""
    maps = cfg.evaluation.map_arm or best_arm(arms, NETWORK_KINDS)
    return maps, cfg.evaluation.gradcam_arm or maps


def _no_scale(arms: pd.DataFrame) -> bool:
    """The pixel-size arm was not run for want of a scale."""
    floor = arms[arms["arm"] == FLOOR]
    return bool((floor["status"] == ArmStatus.NOT_RUN_NO_SCALE.value).any())


def reading(results: pd.DataFrame, comp: pd.DataFrame, arms: pd.DataFrame, band: dict | None,
            band_scores: pd.DataFrame, ladder: pd.DataFrame) -> str:
    """The results in sentences, each computed from a table above."""
    best = best_arm(arms)
    r = results.set_index("model")
    lines = []
    if best:
        b = r.loc[best]
        lines.append(f"- Best arm, chosen by its inner score ({arms.set_index('arm').loc[best, 'inner_score']:.3f}, "
                     f"never by test data): **{best}**, micrograph macro-F1 {b['macro_f1']:.3f} "
                     f"{intervals.of(b, 'macro_f1')} under sample-grouped {int(b['folds'])}-fold "
                     f"(fold mean {b['macro_f1_fold_mean']:.3f} ± {b['macro_f1_fold_sd']:.3f}), "
                     f"balanced accuracy {b['balanced_accuracy']:.3f} "
                     f"{intervals.of(b, 'balanced_accuracy')}.")
    if FLOOR in r.index:
        f = r.loc[FLOOR]
        above = [m for m in r.index if m != FLOOR and r.loc[m, "macro_f1"] > f["macro_f1"]]
        lines.append(f"- Pixel size alone (log µm/px, no image) scores micrograph macro-F1 "
                     f"{f['macro_f1']:.3f} {intervals.of(f, 'macro_f1')}: this, not chance, is the "
                     "floor an image arm must clear before its number says anything about "
                     "morphology. "
                     f"Arms above it: {', '.join(above) if above else 'none'} (the paired "
                     "comparison below says whether the margin is clear).")
    elif _no_scale(arms):
        lines.append("- No pixel-size floor: the micrographs have no scale, so no arm here is "
                     "checked against what magnification alone would tell (a folder of "
                     "micrographs gives its scales in scale.csv).")
    for c in comp.itertuples():
        lines.append(f"- {c.question}: {c.difference:+.3f} "
                     f"{intervals.text(c.ci_low, c.ci_high, signed=True)}, "
                     f"Holm p {c.p_holm:.3f}: {c.verdict}.")
    if band is not None and len(band_scores):
        top = band_scores.iloc[0]
        lines.append(f"- In the band {band['um_per_px_low']:.3g}-{band['um_per_px_high']:.3g} µm/px, "
                     f"where {', '.join(band['classes'])} overlap ({band['micrographs']} "
                     f"micrographs), pixel size cannot separate them: the top arm there is "
                     f"{top['model']} at {top['macro_f1']:.3f} {intervals.of(top, 'macro_f1')} "
                     f"(chance {top['chance']:.2f}).")
    elif band is None:
        lines.append("- No magnification band: " + (
            "the micrographs have no scale." if _no_scale(arms) else
            "no µm/px interval holds the central ranges of three classes."))
    if len(ladder):
        for model, l in ladder.groupby("model", sort=False):
            steps = ", ".join(f"{p}: {v:.3f}" for p, v in zip(l["protocol"], l["micrograph_macro_f1"]))
            lines.append(f"- Leakage ladder, {model} (micrograph macro-F1): {steps}.")
    absent = not_run(arms)
    if len(absent):
        lines.append(f"- Without predictions: {', '.join(absent['arm'])} (reasons in the arms "
                     "tables).")
    return "\n".join(lines)
