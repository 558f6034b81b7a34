"""The paper's four claims as this run tested them: one record per claim, keyed by its number,
each built whole from the run's tables (a changed table changes the verdict), the claims table
made from the records, and the paragraph a reader quotes. Every statement about the run, such
as which networks had no weights, is read from its arms tables.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import pandas as pd

from ..core.arm_result import EVALUATED, ArmStatus, describe
from ..core.paper_numbers import CLAIMS, PROTOCOL, T_GAIN_ASSIGNMENTS
from . import intervals
from ..core.schedule import pair_twin
from .tables import DEPTH_LADDER, comparison_pairs
from .verdicts import FLOOR, best_arm

CLAIM_TEXT = {
    1: "1. Transfer learning beats training from scratch (SE-ResNeXt101-TL over SE-ResNeXt101)",
    2: "2. A deeper pretrained network beats a shallower one (SE-ResNeXt101 over 50)",
    3: "3. CNNs beat GLCM+SVM",
    4: "4. About 98 % on five classes"}
# the paper's rival of SE-ResNeXt101-TL in claims 1-3: its T-precision gain over it
RIVAL = {1: "SE-ResNeXt101-scratch", 2: "SE-ResNeXt50-TL", 3: "GLCM+SVM"}
DIFFERENCE = "micrograph macro-F1, a minus b"
BALANCED = "micrograph balanced accuracy"
UNTESTABLE = "not testable here"
PAIR_VERDICT = {"a better": "supported", "a worse": "not supported (the opposite)",
                "no clear difference": "not supported (no clear difference)"}
WEAK_TWIN = ("the scratch twin learned little within this budget: pretraining beats this "
             "scratch training, not a well-trained scratch network")
COLUMNS = ["number", "claim", "paper", "this_study", "measure", "value", "ci_low", "ci_high",
           "verdict", "why", "what_differs"]
SHOWN = ["claim", "paper", "this_study", "interval", "verdict", "why", "what_differs"]


@dataclass(frozen=True)
class Claim:
    """One claim as tested here: `value` and its interval (`ci_low`, `ci_high`) are numbers of
    `measure`, NaN where the run cannot test the claim."""
    number: int
    claim: str
    paper: str
    measure: str
    this_study: str = ""
    value: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    verdict: str = UNTESTABLE
    why: str = ""
    what_differs: str = ""


def _paper_gain(model: str) -> str:
    t = CLAIMS["t_precision"][2]
    parts = [f"{t - g[model]:.2f} % ({section}: {t} - {g[model]})"
             for section, g in T_GAIN_ASSIGNMENTS.items()]
    return f"T precision {t} % vs {' or '.join(parts)}"


def _claim_comparison(comp: pd.DataFrame, claim: int) -> pd.Series | None:
    """The comparison a claim is judged on: claim 1's first (its fair pair), else the one with
    the lowest Holm p (claim 2: among fine-tuned pairs where there are any); None where the
    run has none."""
    c = comp[comp["claim"] == claim]
    if c.empty:
        return None
    if claim == 2 and c["a"].str.endswith("-TL").any():   # fine-tuned, as the paper's are
        c = c[c["a"].str.endswith("-TL")]
    return c.iloc[0] if claim == 1 else c.sort_values("p_holm").iloc[0]


def _untestable(number: int, why: str, differs: str) -> Claim:
    return Claim(number, CLAIM_TEXT[number], _paper_gain(RIVAL[number]), DIFFERENCE,
                 why=why, what_differs=differs)


def _from_pair(number: int, r: pd.Series, differs: str, more: str = "",
               verdict: str | None = None, why: str = "") -> Claim:
    """A claim judged on the comparison `r` (a row of the comparisons table)."""
    return Claim(number, CLAIM_TEXT[number], _paper_gain(RIVAL[number]), DIFFERENCE,
                 this_study=f"{r['a']} minus {r['b']}: {r['difference']:+.3f} micrograph "
                            f"macro-F1 (Holm p {r['p_holm']:.3f}){more}",
                 value=float(r["difference"]), ci_low=float(r["ci_low"]),
                 ci_high=float(r["ci_high"]), verdict=verdict or PAIR_VERDICT[r["verdict"]],
                 why=why, what_differs=differs)


def _scratch_twin(twin: str, results: pd.DataFrame) -> tuple[str, bool]:
    """The scratch twin's own score as a clause, and whether it stays below the pixel-size
    floor: a pretrained network beating such a twin says little about a well-trained one."""
    r = results.set_index("model")
    if twin not in r.index:
        return "", False
    t = r.loc[twin]
    clause = f"; {twin} itself: macro-F1 {t['macro_f1']:.3f} {intervals.of(t, 'macro_f1')}"
    below = FLOOR in r.index and t["macro_f1"] < r.loc[FLOOR, "macro_f1"]
    if below:
        clause += f", below the pixel-size floor ({r.loc[FLOOR, 'macro_f1']:.3f})"
    return clause, bool(below)


def claim_1(results: pd.DataFrame, comp: pd.DataFrame, arms: pd.DataFrame, differs: str) -> Claim:
    """Transfer learning against training from scratch, weighed by the scratch twin's own score."""
    r = _claim_comparison(comp, 1)
    if r is None:
        failed = arms[(arms["kind"] == "scratch")
                      & (arms["status"] == ArmStatus.DID_NOT_LEARN.value)]
        return _untestable(1, ("no scratch twin learned: " + "; ".join(
            f"{a.arm}: {describe(a.status, a.note)}" for a in failed.itertuples()))
            if len(failed) else "no pretrained arm has an evaluated scratch twin", differs)
    clause, weak = _scratch_twin(r["b"], results)
    if weak and PAIR_VERDICT[r["verdict"]] == "supported":
        return _from_pair(1, r, differs, clause, "supported against a weak scratch twin", WEAK_TWIN)
    return _from_pair(1, r, differs, clause)


def claim_2(comp: pd.DataFrame, arms: pd.DataFrame, differs: str) -> Claim:
    """A deeper pretrained network against a shallower one."""
    r = _claim_comparison(comp, 2)
    if r is not None:
        return _from_pair(2, r, differs)
    missing = weights_unavailable(arms)
    return _untestable(2, "no two pretrained networks of different depth were evaluated"
                       + (f" ({missing})" if missing else ""), differs)


def claim_3(comp: pd.DataFrame, differs: str) -> Claim:
    """The best network against GLCM+SVM."""
    r = _claim_comparison(comp, 3)
    if r is None:
        return _untestable(3, "GLCM+SVM or every network arm is missing from this run", differs)
    return _from_pair(3, r, differs)


def claim_4(results: pd.DataFrame, arms: pd.DataFrame, differs: str) -> Claim:
    """About 98 %: judged on the best arm's balanced accuracy, whose interval must reach it."""
    best, paper_acc = best_arm(arms), CLAIMS["mean_accuracy"][2]
    if best is None or best not in set(results["model"]):
        return Claim(4, CLAIM_TEXT[4], f"{paper_acc} %", BALANCED, why="no arm was evaluated",
                     what_differs=differs)
    r = results.set_index("model").loc[best]
    return Claim(4, CLAIM_TEXT[4],
                 f"{paper_acc} % 'average recognition accuracy' (see the audit: mean precision "
                 "or balanced accuracy)", BALANCED,
                 # the interval follows balanced accuracy (see claims_markdown); macro-F1 after
                 this_study=f"best arm by inner score, {best}: balanced accuracy "
                            f"{r['balanced_accuracy']:.3f}; its macro-F1 {r['macro_f1']:.3f} "
                            f"{intervals.of(r, 'macro_f1')}",
                 value=float(r["balanced_accuracy"]), ci_low=float(r["balanced_accuracy_ci_low"]),
                 ci_high=float(r["balanced_accuracy_ci_high"]),
                 verdict="supported" if r["balanced_accuracy_ci_high"] >= paper_acc / 100
                 else "not supported on open data", what_differs=differs)


def claims(results: pd.DataFrame, comp: pd.DataFrame, arms: pd.DataFrame,
           differences: dict[int, str]) -> dict[int, Claim]:
    """The four claims by number, read from this run's results, comparisons and arms tables.
    `differences`: one sentence per claim on what differs from the paper's setting."""
    d = {n: differences.get(n, "") for n in CLAIM_TEXT}
    return {1: claim_1(results, comp, arms, d[1]), 2: claim_2(comp, arms, d[2]),
            3: claim_3(comp, d[3]), 4: claim_4(results, arms, d[4])}


def claims_table(results: pd.DataFrame, comp: pd.DataFrame, arms: pd.DataFrame,
                 differences: dict[int, str]) -> pd.DataFrame:
    """One row per claim, from its record: the paper's number, this run's number with its
    interval as two floats, and the verdict."""
    records = claims(results, comp, arms, differences)
    return pd.DataFrame([asdict(c) for c in records.values()], columns=COLUMNS)


def for_people(claims: pd.DataFrame) -> pd.DataFrame:
    """The claims table as a reader sees it: the interval as text ('[+a, +b]' for a difference),
    empty cells empty."""
    interval = ["" if pd.isna(lo) or pd.isna(hi) else intervals.text(lo, hi, m == DIFFERENCE)
                for lo, hi, m in zip(claims["ci_low"], claims["ci_high"], claims["measure"])]
    t = claims.assign(interval=interval)[SHOWN]
    return t.astype(object).where(t.notna(), "")


def claims_markdown(claims: pd.DataFrame) -> str:
    """The claims section as a reader quotes it: one paragraph per claim. The interval is the
    comparison's, so it follows the comparison, the first clause of `this_study`, and not a
    clause after it (claim 1's scratch twin)."""
    lines = []
    for r in for_people(claims).itertuples():
        comparison, _, more = (r.this_study or "-").partition("; ")
        study = f"{comparison} {r.interval}" + (f"; {more}" if more else "")
        lines.append(f"- **{r.claim}** Paper: {r.paper}. This study: "
                     f"{study}. **Verdict: {r.verdict}**"
                     + (f" ({r.why})" if r.why else "") + f". {r.what_differs}")
    return "\n".join(lines)


# ---------------------------------------------------------------- how the setting differs

def weights_unavailable(arms: pd.DataFrame) -> str:
    """The arms of the depth question's networks that the arms tables record as not run for
    want of weights, named; "" where there are none."""
    nets = {a for pair in DEPTH_LADDER for a in pair}
    arch = arms["architecture"] if "architecture" in arms else pd.Series(None, index=arms.index)
    t = arms[(arms["status"] == ArmStatus.NOT_RUN_WEIGHTS.value) & arch.isin(nets)]
    if t.empty:
        return ""
    return f"{', '.join(t['arm'])}: {ArmStatus.NOT_RUN_WEIGHTS.value}"


def depth_stand_ins(arms: pd.DataFrame) -> str:
    """The evaluated pairs that stand in for the paper's SE-ResNeXt101 vs 50 (or, where that
    pair ran too, are compared besides it), each network at the input size the arms table
    records; "" where none is."""
    if "architecture" not in arms:
        return ""
    deep, shallow = DEPTH_LADDER[0]
    size = dict(zip(arms["arm"], arms["input_size"])) if "input_size" in arms else {}

    def named(arm: str) -> str:
        px = size.get(arm)
        return arm if px is None or pd.isna(px) else f"{arm} ({int(px)} px)"

    depth = [p for p in comparison_pairs(arms) if p["claim"] == 2]
    pairs = [f"{named(p['a'])} vs {named(p['b'])}" for p in depth
             if not p["a"].startswith(f"{deep}-")]
    if not pairs:
        return ""
    if any(p["a"].startswith(f"{deep}-") for p in depth):   # the paper's own pair ran
        return f"{deep} vs {shallow} compared as in the paper; besides it {', '.join(pairs)}"
    return f"{', '.join(pairs)} stand in for {deep} vs {shallow}"


def equal_compute(arms: pd.DataFrame) -> str:
    """Claim 1's pair at equal compute (He, Girshick & Dollár 2019): each evaluated scratch arm
    and its pretrained twin, their input and minutes, and whether the scratch curve had
    flattened (its best validation epoch before its last, fold by fold)."""
    done = arms[arms["status"].isin(EVALUATED)].set_index("arm")
    out = []
    for scratch in (a for a in done.index if done.loc[a, "kind"] == "scratch"):
        s, twin = done.loc[scratch], pair_twin(scratch, set(done.index))
        text = (f"{scratch} at {int(s['input_size'])} px, at most {int(s['epochs'])} epochs with "
                f"early stopping on a CPU")
        if twin is not None:
            t = done.loc[twin]
            same = "the same" if t["input_size"] == s["input_size"] else "not the same"
            text = (f"{twin} ({int(t['input_size'])} px) and {text}: {same} input; compared "
                    f"within an equal compute of {s['actual_minutes']:.1f} min (the scratch "
                    f"twin's whole arm; the pretrained twin's took {t['actual_minutes']:.1f}, "
                    f"every learning rate tried included)")
        best = [int(e) for e in str(s.get("fold_best_epochs", "")).split() if e.isdigit()]
        if best:
            early = sum(e < int(s["epochs"]) for e in best)
            text += (f"; the scratch twin's validation accuracy peaked before its last epoch in "
                     f"{early} of {len(best)} folds ("
                     + ("its curve had flattened)" if early == len(best) else
                        "still rising in some: it had not flattened)"))
        out.append(text)
    return "; ".join(out)


def what_differs(cfg, arms: pd.DataFrame) -> dict[int, str]:
    """One sentence per claim on how this run's setting differs from the paper's."""
    data = ("UHCSDB ultrahigh-carbon steel micrographs, not 51CrMnV spring steel"
            if cfg.data.layout == "uhcsdb" else "this lab's micrographs, not 51CrMnV spring steel")
    split = (f"{cfg.evaluation.kfold}-fold grouped by {cfg.split.group_by}, where the paper's "
             "split is not stated")
    budget = equal_compute(arms) or "no scratch twin was evaluated"
    depth = [s for s in (weights_unavailable(arms), depth_stand_ins(arms)) if s]
    return {
        1: f"{data}; {budget}, against {PROTOCOL.epochs} GPU epochs in the paper; {split}.",
        2: "; ".join(depth + [data, split]) + ".",
        3: (f"GLCM+SVM tuned by grouped CV inside every training fold, like every other arm; "
            f"{data}; {split}."),
        4: (f"{data}, five classes with heavy imbalance (scored by balanced accuracy and "
            f"macro-F1 of whole micrographs), against the paper's balanced TEST-1000 tile set; "
            f"{split}."),
    }
