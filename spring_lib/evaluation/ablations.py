"""What each lever added: reading micrographs whole, fusing the probes, weighting the training.

One table, one row per lever and arm, with the number it gives beside the number without it:
- whole reading: micrograph macro-F1 from windows over each test micrograph's whole area, against
  the same arm's labels from its capped tiles alone (the same models, read two ways);
- fusion: the fused arm against the best of its members' probes by inner score (what the study
  would have reported without it);
- weighting (each class or each sample counting the same, `core.weighting`): the split's grouped
  CV (the `probe_cv_<arm>` table) with the best setting of that weighting against the best
  unweighted one, and how many k-fold folds chose it.
Nothing here chooses anything: the levers were chosen inside each fold, these rows only measure.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.results_dir import ResultsDir
from .verdicts import best_arm

COLUMNS = ["lever", "arm", "with", "without", "difference", "measure", "note"]


def _row(lever: str, arm: str, with_: float, without: float, measure: str, note: str = "") -> dict:
    return dict(lever=lever, arm=arm, with_=with_, without=without,
                difference=with_ - without, measure=measure, note=note)


def whole_reading_rows(results: pd.DataFrame) -> list[dict]:
    if "read_whole" not in results:
        return []
    return [_row("whole reading", r.model, r.macro_f1, r.macro_f1_capped_tiles,
                 "micrograph macro-F1, k-fold", "windows over the whole micrograph vs its "
                 "capped tiles") for r in results.itertuples() if r.read_whole]


def fusion_rows(results: pd.DataFrame, arms: pd.DataFrame) -> list[dict]:
    fused = arms[(arms["kind"] == "fused") & arms["arm"].isin(results["model"])]
    if fused.empty:
        return []
    f = fused.iloc[0]
    probes = arms[arms["kind"] == "probe"]
    members = {m for s in str(f.get("fold_members", "")).split() for m in s.split("+")}
    best = best_arm(probes[probes["architecture"].isin(members)], ("probe",))
    if best is None:
        return []
    score = results.set_index("model")["macro_f1"]
    return [_row("fusion", f["arm"], score[f["arm"]], score[best], "micrograph macro-F1, k-fold",
                 f"against {best}, its best member's probe by inner score; members per fold: "
                 f"{f.get('fold_members')}; {int(f.get('configurations', 0))} configurations")]


def weighting_rows(out: ResultsDir, arms: pd.DataFrame) -> list[dict]:
    rows = []
    for a in arms.loc[arms["kind"].isin(["probe", "fused"]), "arm"]:
        if not out.has_table(f"probe_cv_{a}") or "weighting" not in out.read_table(f"probe_cv_{a}"):
            continue
        cv = out.read_table(f"probe_cv_{a}")
        kinds = cv["weighting"].astype(str)
        folds = (out.read_table(f"kfold_selection_{a}")["weighting"].astype(str)
                 if out.has_table(f"kfold_selection_{a}") else pd.Series(dtype=str))
        for w in sorted(set(kinds) - {"none"}):
            if "none" in set(kinds):
                rows.append(_row(f"{w} weighting", a, cv.loc[kinds == w, "cv_macro_f1_mean"].max(),
                                 cv.loc[kinds == "none", "cv_macro_f1_mean"].max(),
                                 "tile macro-F1, grouped CV on the split's training samples",
                                 f"chosen in {int((folds == w).sum())} of {len(folds)} k-fold "
                                 "folds"))
    return rows


def ablation_table(out: ResultsDir, results: pd.DataFrame, arms: pd.DataFrame) -> pd.DataFrame:
    rows = whole_reading_rows(results) + fusion_rows(results, arms) + weighting_rows(out, arms)
    t = pd.DataFrame(rows, columns=[c if c != "with" else "with_" for c in COLUMNS])
    return t.rename(columns={"with_": "with"}).round({"with": 4, "without": 4, "difference": 4})


def summary(ablations: pd.DataFrame) -> list[str]:
    """One sentence per lever: which helped, by how much (mean and range over arms)."""
    lines = []
    for lever, t in ablations.groupby("lever", sort=False):
        d = t["difference"].to_numpy(float)
        lines.append(f"- {lever}: {np.mean(d):+.3f} on average over {len(d)} arm(s) "
                     f"(from {d.min():+.3f} to {d.max():+.3f}; {t['measure'].iloc[0]})")
    return lines

