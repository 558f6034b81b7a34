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
