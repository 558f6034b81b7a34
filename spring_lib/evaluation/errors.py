"""Where the best arm goes wrong: the mixed classes' confusions, with the micrographs themselves.

A mixed class (pearlite+spheroidite, spheroidite+widmanstatten) holds two constituents in
proportions that vary from field to field; a micrograph of it in which one constituent dominates
looks, to a metallographer too, like that constituent's own class. The table counts what the
best arm called each mixed-class micrograph (and how many samples those came from); the gallery
shows the micrographs it called something else, at their own scale, with what it called them.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from ..data.catalogue import databar_setting
from ..data.figures import add_scale_bar
from ..data.images import read_micrograph


def mixed_class_confusions(micro: pd.DataFrame, arm: str, focus: list[str],
                           samples: dict) -> pd.DataFrame:
    """For each class of `focus`: what `arm` called its micrographs (k-fold, read as
    evaluated), how many micrographs and samples each call covers."""
    m = micro[(micro["model"] == arm) & micro["true_label"].isin(focus)]
    m = m.assign(sample=m["micrograph_id"].astype(str).map(samples))
    out = m.groupby(["true_label", "pred_label"]).agg(
        micrographs=("micrograph_id", "nunique"), samples=("sample", "nunique")).reset_index()
    out["share"] = out["micrographs"] / out.groupby("true_label")["micrographs"].transform("sum")
    return out.rename(columns={"true_label": "class", "pred_label": "called"}).sort_values(
        ["class", "micrographs"], ascending=[True, False]).reset_index(drop=True)


def mixed_class_gallery(micro: pd.DataFrame, arm: str, focus: list[str], tileset, cfg,
                        per_class: int = 4):
    """The micrographs of each `focus` class that `arm` called something else (up to
    `per_class`, the most confident first), each with a scale bar and what it was called;
    None where it called every one of them right."""
    m = micro[(micro["model"] == arm) & micro["true_label"].isin(focus)
              & (micro["true_label"] != micro["pred_label"])]
    if m.empty:
        return None
    info = tileset.micrographs.assign(
        micrograph_id=tileset.micrographs["micrograph_id"].astype(str)).set_index("micrograph_id")
    confidence = m.apply(lambda r: r[f"score:{r['pred_label']}"], axis=1)
    m = m.assign(confidence=confidence).sort_values("confidence", ascending=False)
    rows = [g.head(per_class) for _, g in m.groupby("true_label", sort=True)]
    ncol = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), ncol, figsize=(3.4 * ncol, 3.0 * len(rows)),
                             squeeze=False)
    for ax_row, chosen in zip(axes, rows):
        for ax, r in zip(ax_row, chosen.itertuples()):
            meta = info.loc[str(r.micrograph_id)]
            img = read_micrograph(meta["path"], databar_setting(cfg, meta["has_databar"]))
            ax.imshow(img, cmap="gray")
            add_scale_bar(ax, meta["um_per_px"])
            ax.set_title(f"{r.true_label}\ncalled {r.pred_label} ({r.confidence:.2f})",
                         fontsize=8)
        for ax in ax_row:
            ax.set_xticks([]), ax.set_yticks([])
            if not ax.images:
                ax.set_axis_off()
    fig.suptitle(f"{arm}: mixed-class micrographs it called something else (k-fold)", fontsize=10)
    fig.tight_layout()
    return fig
