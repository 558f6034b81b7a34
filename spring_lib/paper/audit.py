"""The audit of the paper's numbers (notebook 06): every check of `checks` and `metric_checks`
on the numbers in `core.paper_numbers`, and what a reader should conclude from it."""
from __future__ import annotations

import pandas as pd

from ..core import paper_numbers as paper
from ..core.costs import Unit, register as register_cost
from ..core.machine import seconds
from ..core.products import HEAT
from .checks import (CHECK_MEAN_ACCURACY, CHECK_PSE, COLUMNS, INCONSISTENT, UNCHECKABLE,
                     architecture_facts, audit_row, check_architecture, check_dataset_sizes,
                     check_gain_assignment, check_gains, check_lowest_everywhere, check_pse,
                     check_process_differences, check_recall_floor, check_same_number, mark_ocr)
from .metric_checks import check_f1, check_mean_accuracy, check_predicted_total


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
    rows.append(audit_row("claim without data", "training and validation accuracy 'basically higher than "
                     "96%', loss stabilises near 0.1", "Section III.B.2, Figs. 4-5", None, None, None,
                     UNCHECKABLE, "the curves are figures without data; no numbers to recompute"))
    return pd.DataFrame([mark_ocr(r) for r in rows], columns=COLUMNS)


def audit_summary(report: pd.DataFrame) -> pd.DataFrame:
    """How many rows of each check reached each verdict: one row per check, one column per
    verdict found, so a reader sees at a glance which kinds of check the paper fails."""
    return report.groupby(["check", "verdict"]).size().unstack(fill_value=0)


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


def audit_cost(work) -> list[Unit]:
    """Notebook 06's own work: the audit (it builds SE-ResNeXt50 and 101 without weights to read
    their depths; timm's import counts in the kernel's start)."""
    def run() -> float:
        import timm  # noqa: F401
        return seconds(audit_paper)
    return [Unit("audit of the paper", "paper audit", run)]


register_cost(HEAT, audit_cost)
