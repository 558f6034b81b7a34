"""Table 1 of the paper: 51CrMnV after quench-and-temper versus austempering, recomputed."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

PROPERTIES = {"tensile_strength_mpa": "tensile strength (MPa)", "elongation_pct": "elongation (%)",
              "impact_work_j": "impact work (J)", "pse_recomputed_gpa_pct": "PSE = R_m x A (GPa·%)"}


def recompute_table1(table1: pd.DataFrame) -> pd.DataFrame:
    """Table 1 with the strength-ductility product recomputed beside the printed one."""
    t = table1.copy()
    t["pse_recomputed_gpa_pct"] = (t["tensile_strength_mpa"] * t["elongation_pct"] / 1000).round(3)
    t["pse_printed_minus_recomputed"] = (t["pse_reported_gpa_pct"] - t["pse_recomputed_gpa_pct"]).round(3)
    return t


def process_differences(table: pd.DataFrame) -> pd.DataFrame:
    """Austempering minus quench-and-temper, absolute and relative, per property."""
    q, a = table.iloc[0], table.iloc[1]
    rows = [{"property": label, "quench_and_temper": q[col], "austempering": a[col],
             "difference": round(a[col] - q[col], 3),
             "relative_pct": round((a[col] / q[col] - 1) * 100, 1)}
            for col, label in PROPERTIES.items()]
    return pd.DataFrame(rows)


def plot_processes(table: pd.DataFrame):
    fig, axes = plt.subplots(1, len(PROPERTIES), figsize=(3.1 * len(PROPERTIES), 3.2))
    colours = ["#7f7f7f", "#1f77b4"]
    for ax, (col, label) in zip(axes, PROPERTIES.items()):
        ax.bar(table["process"], table[col], color=colours)
        for x, v in enumerate(table[col]):
            ax.text(x, v, f"{v:g}", ha="center", va="bottom", fontsize=8)
        if col == "pse_recomputed_gpa_pct":
            ax.scatter(table["process"], table["pse_reported_gpa_pct"], marker="x", color="red",
                       zorder=3, label="as printed")
            ax.legend(fontsize=7, loc="lower right")
        ax.set_title(label, fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
        ax.margins(y=0.15)
    fig.suptitle("51CrMnV spring steel: quench-and-temper (tempered troostite) vs austempering "
                 "(lower bainite), Luo et al. Table 1", fontsize=10)
    fig.tight_layout()
    return fig
