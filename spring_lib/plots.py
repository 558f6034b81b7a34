"""Figures the notebooks show; each returns its matplotlib Figure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.patches import Rectangle


def add_scale_bar(ax, um_per_px: float | None, fontsize: float = 7, location: str = "lower right"):
    """A scale bar on an image axes, `um_per_px` µm per image pixel: magnification differs ~80x
    between UHCSDB classes, so no picture of steel goes without its physical scale. An unknown
    scale (None, NaN, not positive) is written as "scale unknown" instead of guessed.
    Returns the ScaleBar, or the Text that says the scale is unknown."""
    from matplotlib_scalebar.scalebar import ScaleBar

    if um_per_px is None or pd.isna(um_per_px) or not float(um_per_px) > 0:
        return ax.text(0.97, 0.03, "scale unknown", transform=ax.transAxes, ha="right",
                       va="bottom", fontsize=fontsize,
                       bbox=dict(facecolor="white", alpha=0.8, edgecolor="none", pad=1.5))
    bar = ScaleBar(float(um_per_px), "um", dimension="si-length", location=location,
                   length_fraction=0.3, width_fraction=0.025, pad=0.15, border_pad=0.3, sep=1.5,
                   box_alpha=0.8, font_properties={"size": fontsize})
    ax.add_artist(bar)
    return bar


def example_tiles(tiles: np.ndarray, manifest: pd.DataFrame, classes: list[str],
                  per_class: int = 6, seed: int = 0):
    """A row of training tiles per class, each from a different micrograph where possible,
    each with its scale bar (manifest column `um_per_px`)."""
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(len(classes), per_class, figsize=(1.6 * per_class, 1.7 * len(classes)),
                             squeeze=False)
    for r, label in enumerate(classes):
        rows = manifest.index[manifest["label"] == label].to_numpy()
        first = manifest.loc[rows].drop_duplicates("micrograph_id").index.to_numpy()
        pool = first if len(first) >= per_class else rows
        pick = rng.choice(pool, size=min(per_class, len(pool)), replace=False) if len(pool) else []
        for c in range(per_class):
            ax = axes[r, c]
            ax.set_xticks([]), ax.set_yticks([])
            if c < len(pick):
                ax.imshow(tiles[pick[c]], cmap="gray", vmin=0, vmax=255)
                ax.set_title(f"#{manifest.loc[pick[c], 'micrograph_id']}", fontsize=7)
                add_scale_bar(ax, manifest.loc[pick[c]].get("um_per_px"), fontsize=6)
        axes[r, 0].set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    fig.suptitle("Example tiles per class (micrograph id above each)", fontsize=10)
    fig.tight_layout()
    return fig


def tile_grid_overlay(image: np.ndarray, tiles: pd.DataFrame, title: str = ""):
    """One micrograph with the tiles taken from it outlined (x, y, size in image pixels), and
    its scale bar: a tile of `tile_px` pixels at `um_per_px` spans `size` pixels of this image."""
    fig, ax = plt.subplots(figsize=(7, 7 * image.shape[0] / image.shape[1]))
    ax.imshow(image, cmap="gray", vmin=0, vmax=255)
    colours = plt.cm.tab10(np.linspace(0, 1, 10))
    for i, t in enumerate(tiles.itertuples()):
        ax.add_patch(Rectangle((t.x, t.y), t.size, t.size, fill=False, lw=1.2,
                               edgecolor=colours[i % 10]))
    if len(tiles) and {"um_per_px", "tile_px", "size"} <= set(tiles.columns):
        t = tiles.iloc[0]
        add_scale_bar(ax, t["um_per_px"] * t["tile_px"] / t["size"], fontsize=9)
    else:
        add_scale_bar(ax, None, fontsize=9)
    ax.set_title(title, fontsize=10)
    ax.set_axis_off()
    fig.tight_layout()
    return fig


def um_per_px_by_class(micrographs: pd.DataFrame, classes: list[str]):
    """Pixel size (µm/px, log scale) of every micrograph, one dot each, per class: classes imaged
    at different magnifications can be told apart by scale alone, which a reader must see."""
    micro = micrographs[micrographs["label"].isin(classes)].assign(
        label=lambda d: d["label"].astype(str))
    known = micro[micro["um_per_px"] > 0]
    n = (micro.groupby("label")
         .agg(micrographs=("micrograph_id", "nunique"), samples=("sample_key", "nunique"),
              scaled=("um_per_px", lambda v: int((v > 0).sum())))
         .reindex(classes, fill_value=0))
    names = [f"{c}\n{r.micrographs} micrographs\n{r.samples} samples"
             + (f"\n{r.micrographs - r.scaled} without scale" if r.scaled < r.micrographs else "")
             for c, r in n.iterrows()]
    fig, ax = plt.subplots(figsize=(1.6 * len(classes) + 1.5, 4.2))
    if known.empty:
        ax.text(0.5, 0.5, "no micrograph has a known scale (µm/px)", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_xlim(-0.5, len(classes) - 0.5)
    else:
        sns.stripplot(data=known, x="label", y="um_per_px", order=classes, hue="label",
                      hue_order=classes, legend=False, jitter=0.3, size=3.5, alpha=0.6, ax=ax)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xticks(range(len(classes)), names, fontsize=7)
    ax.set_xlabel(""), ax.set_ylabel("µm per pixel (from the scale bar)")
    ax.set_title("Pixel size of each micrograph, per class", fontsize=10)
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    return fig


def split_counts(manifest: pd.DataFrame, classes: list[str], column: str = "split"):
    """Tiles per class and split as grouped bars."""
    fig, ax = plt.subplots(figsize=(8, 3.5))
    sns.countplot(data=manifest, y="label", hue=column, order=classes,
                  hue_order=["train", "val", "test"], ax=ax)
    ax.set_xlabel("tiles"), ax.set_ylabel("")
    fig.tight_layout()
    return fig


def cooccurrence_matrices(tiles: np.ndarray, manifest: pd.DataFrame, classes: list[str],
                          levels: int = 32, distance: int = 1, seed: int = 0):
    """One tile per class beside its rotation-averaged, normalised co-occurrence matrix."""
    from skimage.feature import graycomatrix

    from .glcm.features import quantise

    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(2, len(classes), figsize=(2.3 * len(classes), 4.8), squeeze=False)
    for c, label in enumerate(classes):
        i = rng.choice(manifest.index[manifest["label"] == label].to_numpy())
        P = graycomatrix(quantise(tiles[i], levels), [distance],
                         [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4], levels=levels,
                         symmetric=True, normed=True)[:, :, 0, :].mean(axis=2)
        axes[0, c].imshow(tiles[i], cmap="gray", vmin=0, vmax=255)
        axes[0, c].set_title(label, fontsize=8)
        add_scale_bar(axes[0, c], manifest.loc[i].get("um_per_px"), fontsize=6)
        axes[1, c].imshow(np.log10(P + 1e-5), cmap="magma")
        axes[1, c].set_xlabel("grey level j", fontsize=7)
        for ax in axes[:, c]:
            ax.set_xticks([]), ax.set_yticks([])
    axes[1, 0].set_ylabel("grey level i", fontsize=7)
    fig.suptitle(f"Tiles and their co-occurrence matrices (log10 P, {levels} levels, d={distance})",
                 fontsize=10)
    fig.tight_layout()
    return fig


def feature_distributions(features: pd.DataFrame, classes: list[str]):
    """Box plots of each feature per class (features: one column per feature plus `label`)."""
    long = features.melt(id_vars="label", var_name="feature", value_name="value")
    g = sns.catplot(data=long, x="value", y="label", col="feature", kind="box", order=classes,
                    col_wrap=3, sharex=False, height=2.4, aspect=1.4, fliersize=1)
    g.set_titles("{col_name}"), g.set_ylabels("")
    return g.figure


def _first_seed(logs: pd.DataFrame) -> pd.DataFrame:
    """The held-out split's first seed of every arm (k-fold trainings carry a fold number)."""
    if "fold" in logs:
        logs = logs[logs["fold"].astype(str) == "split"]
    return logs[logs["seed"] == logs.groupby("arm")["seed"].transform("min")]


def training_curves(logs: pd.DataFrame):
    """Validation accuracy and loss per epoch of every trained arm (first seed), one line each."""
    fig, ax = plt.subplots(1, 2, figsize=(11, 3.6))
    for name, h in _first_seed(logs).groupby("arm"):
        ax[0].plot(h["epoch"], h["val_acc"], "o-", label=name, ms=3)
        ax[1].plot(h["epoch"], h["val_loss"], "o-", label=name, ms=3)
    ax[0].set_ylabel("validation accuracy"), ax[1].set_ylabel("validation loss")
    for a in ax:
        a.set_xlabel("epoch")
    ax[1].legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.tight_layout()
    return fig


def confusion_grid(preds: pd.DataFrame, classes: list[str], models: list[str]):
    """Row-normalised confusion matrix of each arm (the paper's Fig. 6), in `models` order."""
    from .evaluation.metrics import confusion

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


def twin_curves(logs: pd.DataFrame):
    """Validation accuracy of the pretrained (TL) and scratch twins of each architecture."""
    first = _first_seed(logs)
    arms = set(first["arm"])
    archs = sorted({a.rsplit("-", 1)[0] for a in arms
                    if {f"{a.rsplit('-', 1)[0]}-TL", f"{a.rsplit('-', 1)[0]}-scratch"} <= arms})
    if not archs:
        return None
    fig, axes = plt.subplots(2, len(archs), figsize=(4.5 * len(archs), 6), squeeze=False)
    for col, arch in enumerate(archs):
        acc, loss = axes[0, col], axes[1, col]
        for kind, style in (("TL", "o-"), ("scratch", "s--")):
            h = first[first["arm"] == f"{arch}-{kind}"]
            acc.plot(h["epoch"], h["val_acc"], style, label=f"{kind} (validation)")
            acc.plot(h["epoch"], h["train_acc"], style, alpha=0.35, label=f"{kind} (train)")
            loss.plot(h["epoch"], h["val_loss"], style, label=f"{kind} (validation)")
        acc.set_title(arch, fontsize=10), acc.set_ylabel("accuracy")
        loss.set_xlabel("epoch"), loss.set_ylabel("loss (early stopping watches this)")
        acc.legend(fontsize=7), loss.legend(fontsize=7)
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
