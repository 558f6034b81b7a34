"""What GLCM+SVM sees: co-occurrence matrices of example tiles and the feature distributions."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..data.figures import add_scale_bar
from .features import quantise

#: the GLCM setting notebook 02 draws per class (rotation-averaged, distance 1, 32 levels)
FEATURES_SHOWN = {"levels": 32, "distances": (1,)}


def cooccurrence_matrices(tiles: np.ndarray, manifest: pd.DataFrame, classes: list[str],
                          levels: int = 32, distance: int = 1, seed: int = 0):
    """One tile per class beside its rotation-averaged, normalised co-occurrence matrix."""
    from skimage.feature import graycomatrix


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
