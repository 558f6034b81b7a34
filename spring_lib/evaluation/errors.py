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
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from ..data.catalogue import databar_setting
from ..data.images import read_micrograph

#: scale-bar lengths a reader takes in at a glance (µm): 1, 2 and 5 times a power of ten
BAR_LENGTHS_UM = tuple(m * 10.0 ** e for e in range(-1, 3) for m in (1, 2, 5))


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


def scale_bar_um(width_um: float) -> float:
    """The longest readable bar length that spans at most a fifth of the image."""
    fits = [b for b in BAR_LENGTHS_UM if b <= width_um / 5]
    return fits[-1] if fits else BAR_LENGTHS_UM[0]


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
            um = float(meta["um_per_px"])
            if um > 0:
                bar = scale_bar_um(img.shape[1] * um)
                ax.add_artist(AnchoredSizeBar(ax.transData, bar / um, f"{bar:g} µm",
                                              "lower right", color="white", frameon=False,
                                              size_vertical=max(2, img.shape[0] // 100)))
            ax.set_title(f"{r.true_label}\ncalled {r.pred_label} ({r.confidence:.2f})",
                         fontsize=8)
        for ax in ax_row:
            ax.set_xticks([]), ax.set_yticks([])
            if not ax.images:
                ax.set_axis_off()
    fig.suptitle(f"{arm}: mixed-class micrographs it called something else (k-fold)", fontsize=10)
    fig.tight_layout()
    return fig
