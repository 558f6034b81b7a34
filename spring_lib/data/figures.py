"""Pictures of micrographs and tiles, each with its physical scale: magnification differs ~80x
between UHCSDB classes, so no picture of steel goes without a scale bar."""
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
