"""Training curves of the networks, and the TL-versus-scratch twins side by side."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd


def _first_seed(logs: pd.DataFrame) -> pd.DataFrame:
    """The held-out split's first seed of every arm (k-fold trainings carry a fold number)."""
    if "fold" in logs:
        logs = logs[logs["fold"].astype(str) == "split"]
    return logs[logs["seed"] == logs.groupby("arm")["seed"].transform("min")]


def training_curves(logs: pd.DataFrame):
    """Validation accuracy and loss per epoch of every trained arm (first seed, the learning
    rate it kept), one line each."""
    from .cached_tuning import kept_rate

    fig, ax = plt.subplots(1, 2, figsize=(11, 3.6))
    for name, h in _first_seed(logs).groupby("arm"):
        h = kept_rate(h)
        ax[0].plot(h["epoch"], h["val_acc"], "o-", label=name, ms=3)
        ax[1].plot(h["epoch"], h["val_loss"], "o-", label=name, ms=3)
    ax[0].set_ylabel("validation accuracy"), ax[1].set_ylabel("validation loss")
    for a in ax:
        a.set_xlabel("epoch")
    ax[1].legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.tight_layout()
    return fig


def twin_curves(logs: pd.DataFrame):
    """Claim 1 at equal compute (He, Girshick & Dollár 2019): validation accuracy against
    training minutes of each scratch arm and its pretrained twin (its `@twin` arm: same input
    and tiles), every training of the k-fold, the kept learning rate's epochs (the other rates,
    the trunk pass and the head's probe are in the arms table's minutes, not here). Minute 0 of
    a probe-initialised twin is its probe's head."""
    from ..core.schedule import pair_twin
    from .cached_tuning import kept_rate

    arms = set(logs["arm"])
    pairs = [(pair_twin(s, arms), s) for s in sorted(a for a in arms if a.endswith("-scratch"))]
    pairs = [p for p in pairs if p[0]]
    if not pairs:
        return None
    fig, axes = plt.subplots(1, len(pairs), figsize=(6 * len(pairs), 3.8), squeeze=False)
    for ax, (twin, scratch) in zip(axes[0], pairs):
        for colour, (arm, style) in enumerate(((twin, "o-"), (scratch, "s--"))):
            h = kept_rate(logs[(logs["arm"] == arm) & (logs["fold"].astype(str) != "split")])
            for i, (_, f) in enumerate(h.groupby("fold")):
                minutes = f["seconds"].fillna(0).cumsum() / 60
                ax.plot(minutes, f["val_acc"], style, ms=3, color=f"C{colour}", alpha=0.7,
                        label=arm if i == 0 else None)
        ax.set_xlabel("training minutes of the kept rate (each fold)")
        ax.set_ylabel("validation accuracy")
        ax.set_title(f"{twin} vs {scratch}", fontsize=9), ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
