"""The evaluation's figures: the headline, confusion matrices and the leakage ladder."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .metrics import confusion


def confusion_grid(preds: pd.DataFrame, classes: list[str], models: list[str]):
    """Row-normalised confusion matrix of each arm (the paper's Fig. 6), in `models` order."""

    ncol = min(4, len(models))
    nrow = int(np.ceil(len(models) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.8 * nrow), squeeze=False)
    for ax, model in zip(axes.flat, models):
        cm = confusion(preds[preds["model"] == model], classes, normalize="true")
        sns.heatmap(cm, annot=True, fmt=".2f", cmap="Blues", vmin=0, vmax=1, cbar=False, ax=ax,
                    annot_kws={"size": 7})
        ax.set_title(model, fontsize=9)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(models):]:
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def headline(results: pd.DataFrame, best: str | None = None, floor: str = "pixel-size"):
    """Every arm's micrograph macro-F1 with its sample-bootstrap interval, the pixel-size floor
    marked: the study's answer in one picture."""
    t = results.sort_values("macro_f1")
    lo = t["macro_f1"] - t["macro_f1_ci95"].map(lambda s: float(s.strip("[]").split(",")[0]))
    hi = t["macro_f1_ci95"].map(lambda s: float(s.strip("[]").split(",")[1])) - t["macro_f1"]
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(t) + 1.4))
    y = np.arange(len(t))
    colors = ["tab:red" if m == best else "tab:grey" if m == floor else "tab:blue"
              for m in t["model"]]
    for yi, x, l, h, c in zip(y, t["macro_f1"], lo, hi, colors):
        ax.errorbar(x, yi, xerr=[[l], [h]], fmt="o", color=c, capsize=3)
    if floor in set(t["model"]):
        f = t.set_index("model").loc[floor, "macro_f1"]
        ax.axvline(f, color="tab:grey", ls="--", lw=1)
        ax.text(f, len(t) - 0.4, " pixel size alone", color="tab:grey", fontsize=8, va="bottom")
    ax.set_yticks(y, [f"{m}{' (best by inner score)' if m == best else ''}" for m in t["model"]],
                  fontsize=8)
    ax.set_xlabel("micrograph macro-F1, sample-grouped k-fold (95 % sample-bootstrap interval)")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.7, len(t) - 0.1)
    fig.tight_layout()
    return fig


def leakage_ladder(ladder: pd.DataFrame):
    """Micrograph macro-F1 of each model under each protocol, from leaky to sample-grouped."""
    fig, ax = plt.subplots(figsize=(7, 3.4))
    protocols = list(dict.fromkeys(ladder["protocol"]))
    for model, l in ladder.groupby("model", sort=False):
        l = l.set_index("protocol").reindex(protocols)
        ax.plot(protocols, l["micrograph_macro_f1"], "o-", label=model)
    ax.set_ylabel("micrograph macro-F1")
    ax.set_ylim(0, 1)
    ax.tick_params(axis="x", labelsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
