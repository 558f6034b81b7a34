"""The rules that turn numbers into words, with tests, so notebook 05 and REPORT.md say the
same thing: which arms count as evaluated, the best arm (by inner score, never a test score),
when a difference is a difference, and the paper's claims with their verdicts.
"""
from __future__ import annotations

import pandas as pd

from ..core.architectures import ARM_KINDS
from ..core.arm_result import EVALUATED, ArmStatus, describe

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


# ---------------------------------------------------------------- the paper's claims

def _paper_gain(model: str) -> str:
    from ..core.paper_numbers import CLAIMS, T_GAIN_ASSIGNMENTS

    t = CLAIMS["t_precision"][2]
    parts = [f"{t - g[model]:.2f} % ({section}: {t} - {g[model]})"
             for section, g in T_GAIN_ASSIGNMENTS.items()]
    return f"T precision {t} % vs {' or '.join(parts)}"


def _claim_comparison(comp: pd.DataFrame, claim: int) -> pd.Series | None:
    """The comparison a claim is judged on: claim 1's first (its fair pair), else the one with
    the lowest Holm p; None where the run has none."""
    c = comp[comp["claim"] == claim]
    if c.empty:
        return None
    return c.iloc[0] if claim == 1 else c.sort_values("p_holm").iloc[0]


def claims_table(results: pd.DataFrame, comp: pd.DataFrame, arms: pd.DataFrame,
                 differences: dict[int, str]) -> pd.DataFrame:
    """The paper's four claims, each with the paper's number, this run's number and interval,
    and a verdict, all read from this run's tables (a changed table changes the verdict).
    `differences`: one sentence per claim on what differs from the paper's setting."""
    from ..core.paper_numbers import CLAIMS

    rows = []

    def from_pair(claim: int, text: str, paper: str, why_untestable: str):
        r = _claim_comparison(comp, claim)
        if r is None:
            return {"claim": text, "paper": paper, "this_study": "", "interval": "",
                    "verdict": "not testable here", "why": why_untestable}
        verdict = {"a better": "supported", "a worse": "not supported (the opposite)",
                   "no clear difference": "not supported (no clear difference)"}[r["verdict"]]
        return {"claim": text, "paper": paper,
                "this_study": f"{r['a']} minus {r['b']}: {r['difference']:+.3f} micrograph "
                              f"macro-F1 (Holm p {r['p_holm']:.3f})",
                "interval": f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]", "verdict": verdict,
                "why": ""}

    failed = arms[(arms["kind"] == "scratch")
                  & (arms["status"] == ArmStatus.DID_NOT_LEARN.value)]
    rows.append(from_pair(
        1, "1. Transfer learning beats training from scratch (SE-ResNeXt101-TL over SE-ResNeXt101)",
        _paper_gain("SE-ResNeXt101-scratch"),
        ("no scratch twin learned: " + "; ".join(f"{r.arm}: {describe(r.status, r.note)}"
                                                 for r in failed.itertuples()))
        if len(failed) else "no pretrained arm has an evaluated scratch twin"))
    rows.append(from_pair(
        2, "2. A deeper pretrained network beats a shallower one (SE-ResNeXt101 over 50)",
        _paper_gain("SE-ResNeXt50-TL"),
        "no two pretrained networks of different depth were evaluated (no offline SE-ResNeXt "
        "weights, and no EfficientNet-Lite pair)"))
    rows[0] = _weigh_the_scratch_twin(rows[0], comp, results)
    rows.append(from_pair(3, "3. CNNs beat GLCM+SVM", _paper_gain("GLCM+SVM"),
                          "GLCM+SVM or every network arm is missing from this run"))
    best = best_arm(arms)
    paper_acc = CLAIMS["mean_accuracy"][2]
    if best is None or best not in set(results["model"]):
        rows.append({"claim": "4. About 98 % on five classes", "paper": f"{paper_acc} %",
                     "this_study": "", "interval": "", "verdict": "not testable here",
                     "why": "no arm was evaluated"})
    else:
        r = results.set_index("model").loc[best]
        hi = float(r["balanced_accuracy_ci95"].strip("[]").split(",")[1])
        rows.append({"claim": "4. About 98 % on five classes",
                     "paper": f"{paper_acc} % 'average recognition accuracy' (see the audit: "
                              "mean precision or balanced accuracy)",
                     # the verdict rests on balanced accuracy: its interval follows it (see
                     # claims_markdown); macro-F1 after it, with its own
                     "this_study": f"best arm by inner score, {best}: balanced accuracy "
                                   f"{r['balanced_accuracy']:.3f}; its macro-F1 "
                                   f"{r['macro_f1']:.3f} {r['macro_f1_ci95']}",
                     "interval": r["balanced_accuracy_ci95"],
                     "verdict": "supported" if hi >= paper_acc / 100 else "not supported on open data",
                     "why": ""})
    out = pd.DataFrame(rows)
    out["what_differs"] = [differences.get(i + 1, "") for i in range(len(out))]
    return out


def _weigh_the_scratch_twin(row: dict, comp: pd.DataFrame, results: pd.DataFrame) -> dict:
    """Claim 1 names the scratch twin's own score: a pretrained network beating a scratch twin
    that stays below the pixel-size floor says little about a well-trained one."""
    pair = _claim_comparison(comp, 1)
    r = results.set_index("model")
    if pair is None or pair["b"] not in r.index:
        return row
    twin = pair["b"]
    t = r.loc[twin]
    row = {**row, "this_study": f"{row['this_study']}; {twin} itself: macro-F1 "
                                f"{t['macro_f1']:.3f} {t['macro_f1_ci95']}"}
    if FLOOR in r.index and t["macro_f1"] < r.loc[FLOOR, "macro_f1"]:
        row["this_study"] += f", below the pixel-size floor ({r.loc[FLOOR, 'macro_f1']:.3f})"
        if row["verdict"] == "supported":
            row["verdict"] = "supported against a weak scratch twin"
            row["why"] = ("the scratch twin learned little within this budget: pretraining beats "
                          "this scratch training, not a well-trained scratch network")
    return row


def picture_arms(cfg, arms: pd.DataFrame) -> tuple[str | None, str | None]:
    """(phase maps' arm, Grad-CAM's arm): the profile's choice, else the best network arm by
    inner score (None where no network was evaluated)."""
    maps = cfg.evaluation.map_arm or best_arm(arms, NETWORK_KINDS)
    return maps, cfg.evaluation.gradcam_arm or maps


def claims_markdown(claims: pd.DataFrame) -> str:
    """The claims section as a reader quotes it: one paragraph per claim. The interval is the
    comparison's, so it follows the comparison, the first clause of `this_study`, and not a
    clause after it (claim 1's scratch twin)."""
    lines = []
    for r in claims.itertuples():
        comparison, _, more = (r.this_study or "-").partition("; ")
        study = f"{comparison} {r.interval}" + (f"; {more}" if more else "")
        lines.append(f"- **{r.claim}** Paper: {r.paper}. This study: "
                     f"{study}. **Verdict: {r.verdict}**"
                     + (f" ({r.why})" if r.why else "") + f". {r.what_differs}")
    return "\n".join(lines)


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
                     f"{b['macro_f1_ci95']} under sample-grouped {int(b['folds'])}-fold "
                     f"(fold mean {b['macro_f1_fold_mean']:.3f} ± {b['macro_f1_fold_sd']:.3f}), "
                     f"balanced accuracy {b['balanced_accuracy']:.3f} {b['balanced_accuracy_ci95']}.")
    if FLOOR in r.index:
        f = r.loc[FLOOR]
        above = [m for m in r.index if m != FLOOR and r.loc[m, "macro_f1"] > f["macro_f1"]]
        lines.append(f"- Pixel size alone (log µm/px, no image) scores micrograph macro-F1 "
                     f"{f['macro_f1']:.3f} {f['macro_f1_ci95']}: this, not chance, is the floor "
                     "an image arm must clear before its number says anything about morphology. "
                     f"Arms above it: {', '.join(above) if above else 'none'} (the paired "
                     "comparison below says whether the margin is clear).")
    elif _no_scale(arms):
        lines.append("- No pixel-size floor: the micrographs have no scale, so no arm here is "
                     "checked against what magnification alone would tell (a folder of "
                     "micrographs gives its scales in scale.csv).")
    for c in comp.itertuples():
        lines.append(f"- {c.question}: {c.difference:+.3f} [{c.ci_low:+.3f}, {c.ci_high:+.3f}], "
                     f"Holm p {c.p_holm:.3f}: {c.verdict}.")
    if band is not None and len(band_scores):
        top = band_scores.iloc[0]
        lines.append(f"- In the band {band['um_per_px_low']:.3g}-{band['um_per_px_high']:.3g} µm/px, "
                     f"where {', '.join(band['classes'])} overlap ({band['micrographs']} "
                     f"micrographs), pixel size cannot separate them: the top arm there is "
                     f"{top['model']} at {top['macro_f1']:.3f} {top['macro_f1_ci95']} "
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


def what_differs(cfg, arms: pd.DataFrame) -> dict[int, str]:
    """One sentence per claim on how this run's setting differs from the paper's."""
    from ..core.paper_numbers import PROTOCOL

    data = ("UHCSDB ultrahigh-carbon steel micrographs, not 51CrMnV spring steel"
            if cfg.data.layout == "uhcsdb" else "this lab's micrographs, not 51CrMnV spring steel")
    split = (f"{cfg.evaluation.kfold}-fold grouped by {cfg.split.group_by}, where the paper's "
             "split is not stated")
    pair = arms[(arms["kind"] == "scratch") & arms["status"].isin(EVALUATED)]
    budget = ("; ".join(f"{r.arm} at {int(r.input_size)} px, at most {int(r.epochs)} epochs "
                        "with early stopping on a CPU" for r in pair.itertuples())
              or "no scratch twin was evaluated")
    return {
        1: f"{data}; {budget}, against {PROTOCOL.epochs} GPU epochs in the paper; {split}.",
        2: ("No SE-ResNeXt ImageNet weights offline: EfficientNet-Lite0/1/2, each at its native "
            "input size, stand in for SE-ResNeXt50 vs 101 where the hub is unreachable; "
            f"{data}; {split}."),
        3: (f"GLCM+SVM tuned by grouped CV inside every training fold, like every other arm; "
            f"{data}; {split}."),
        4: (f"{data}, five classes with heavy imbalance (scored by balanced accuracy and "
            f"macro-F1 of whole micrographs), against the paper's balanced TEST-1000 tile set; "
            f"{split}."),
    }
