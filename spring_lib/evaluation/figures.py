"""The evaluation's figures: the headline, confusion matrices, the leakage ladder, and the
pictures of one arm's model (Grad-CAM, phase maps)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..core.predictions import load_predictions
from ..core.results_dir import ResultsDir
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
    lo, hi = t["macro_f1"] - t["macro_f1_ci_low"], t["macro_f1_ci_high"] - t["macro_f1"]
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


# ---------------------------------------------------------------- pictures of one arm

def gradcam_figure(out: ResultsDir, tileset, arm: str, per_class: int, seed: int):
    """Grad-CAM of a few test tiles per class (drawn at random, seeded) for the arm's model."""
    from ..nets.gradcam import gradcam_panel
    from ..nets.predict import Predictor

    if arm is None:   # no network arm was evaluated in this run
        return None
    predictor = Predictor.from_checkpoint(out.arm_file("model", arm))
    te_x, te_m = tileset.split("test")
    pred = load_predictions(out.root, [arm]).set_index("tile_id").loc[te_m["tile_id"], "pred_label"]
    rng = np.random.default_rng(seed)
    pick = np.concatenate([rng.choice(np.flatnonzero(te_m["label"] == c),
                                      min(per_class, int((te_m["label"] == c).sum())), replace=False)
                           for c in tileset.classes])
    return gradcam_panel(predictor.model, arm, te_x[pick], te_m["label"].iloc[pick].astype(str).tolist(),
                         pred.iloc[pick].tolist(), tileset.classes, predictor.transform,
                         te_m["um_per_px"].iloc[pick].tolist())


#: test micrographs mapped per mixed class (notebook 05)
MAPS_PER_CLASS = 2


def phase_maps(out: ResultsDir, tileset, arm: str, map_classes: list[str],
               per_class: int = MAPS_PER_CLASS, stride_fraction: float = 0.5):
    """Phase maps of the first test micrographs of each mixed class, with the arm's model."""
    from ..nets.predict import Predictor
    from ..data.figures import add_scale_bar

    if arm is None:
        return None
    predictor = Predictor.from_checkpoint(out.arm_file("model", arm))
    micro = tileset.micrographs
    chosen = [r for c in map_classes if c in tileset.classes
              for r in micro[(micro["label"] == c) & (micro["split"] == "test")]
              .head(per_class).itertuples()]
    if not chosen:
        return None
    ncol = 2
    nrow = int(np.ceil(len(chosen) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(6 * ncol, 5 * nrow), squeeze=False)
    for ax, r in zip(axes.flat, chosen):
        predictor.phase_map(r.path, r.um_per_px, stride_fraction, ax=ax,
                            title=f"micrograph {r.micrograph_id}, labelled {r.label}")
        # the map shows the micrograph as the model saw it: resampled to the checkpoint's scale
        add_scale_bar(ax, predictor.um_per_px or r.um_per_px, fontsize=8)
    for ax in list(axes.flat)[len(chosen):]:
        ax.set_axis_off()
    fig.suptitle(f"Phase maps by {arm}: window {predictor.tile_size} px, stride "
                 f"{int(predictor.tile_size * stride_fraction)} px", fontsize=10)
    fig.tight_layout()
    return fig
