"""Running one network arm end to end: weights, training, logs, curves, test predictions.

Notebooks 03 and 04 call `run_arm` per arm; both therefore train, log and predict the same way.
"""
from __future__ import annotations

import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ..config import StudyConfig
from .models import Arm, WeightsUnavailable, build_model, freeze
from ..predictions import prediction_frame, save_predictions
from ..results import ResultsDir
from ..data.tileset import TileSet
from ..data.tiling import spread_sample
from .training import TrainSettings, evaluate, train


def settings_for(arm: Arm, cfg: StudyConfig) -> TrainSettings:
    c = cfg.cnn
    return TrainSettings(
        epochs=c.epochs_by_architecture.get(arm.architecture, c.epochs), batch_size=c.batch_size,
        lr=c.lr, weight_decay=c.weight_decay, cosine=c.cosine, augment=c.augment,
        input_size=c.input_size, precision=c.precision, channels_last=c.channels_last,
        normalization=c.normalization_by_architecture.get(arm.architecture, c.normalization),
        seed=cfg.split.seed)


def training_data(tileset: TileSet, cfg: StudyConfig, split_column: str = "split"):
    """(train tiles, labels), (val tiles, labels), (test tiles, manifest) for the networks."""
    tr_x, tr_m = tileset.split("train", split_column)
    cap = cfg.cnn.max_train_tiles_per_class
    if cap:
        keep = np.concatenate([
            np.flatnonzero(tr_m["label"] == c)[spread_sample(
                tr_m.loc[tr_m["label"] == c, "micrograph_id"].to_numpy(), cap,
                np.random.default_rng(cfg.split.seed))] for c in tileset.classes])
        keep.sort()
        tr_x, tr_m = tr_x[keep], tr_m.iloc[keep].reset_index(drop=True)
    va_x, va_m = tileset.split("val", split_column)
    te_x, te_m = tileset.split("test", split_column)
    return (tr_x, tileset.labels(tr_m)), (va_x, tileset.labels(va_m)), (te_x, te_m)


def plot_curves(history: pd.DataFrame, title: str):
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    a.plot(history["epoch"], history["train_loss"], "o-", label="train")
    a.plot(history["epoch"], history["val_loss"], "o-", label="validation")
    b.plot(history["epoch"], history["train_acc"], "o-", label="train")
    b.plot(history["epoch"], history["val_acc"], "o-", label="validation")
    a.set_ylabel("cross-entropy"), b.set_ylabel("accuracy")
    for ax in (a, b):
        ax.set_xlabel("epoch"), ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def run_arm(name: str, tileset: TileSet, cfg: StudyConfig, out: ResultsDir,
            progress: bool = True) -> dict:
    """Train one arm (or record why it did not run); returns its summary row."""
    arm = Arm.parse(name)
    settings = settings_for(arm, cfg)
    row = dict(arm=name, architecture=arm.architecture, init="TL" if arm.pretrained else "scratch",
               epochs=settings.epochs, input_size=settings.input_size,
               normalization=settings.normalization)
    torch.manual_seed(settings.seed)
    try:
        model, weights = build_model(arm, len(tileset.classes), cfg.cnn.weights.get(arm.architecture))
    except WeightsUnavailable as exc:
        if not cfg.cnn.skip_unavailable:
            raise
        return {**row, "status": "not run: weights unavailable", "weights": str(exc)}
    row.update(weights=weights, trainable_params=freeze(model, arm, cfg.cnn.freeze),
               freeze=cfg.cnn.freeze if arm.pretrained else "full")
    (tr_x, tr_y), (va_x, va_y), (te_x, te_m) = training_data(tileset, cfg)
    meta = dict(arm=name, classes=tileset.classes, tile_size=cfg.tiling.tile_size,
                um_per_px=cfg.tiling.um_per_px, weights=weights, profile=cfg.profile,
                databar=str(cfg.data.databar))
    t0 = time.perf_counter()
    result = train(model, tr_x, tr_y, va_x, va_y, settings, out.root / "checkpoints" / name,
                   meta=meta, progress=progress)
    wall = time.perf_counter() - t0
    hist = result.history.assign(arm=name)
    out.table(hist, f"training_log_{name}")
    fig = plot_curves(hist, f"{name} ({weights})")
    out.figure(fig, f"curves_{name}")
    plt.close(fig)
    _, test_acc, proba = evaluate(result.model, te_x, tileset.labels(te_m), result.transform,
                                  precision=settings.precision,
                                  channels_last=settings.channels_last)
    save_predictions(prediction_frame(te_m, tileset.classes, proba.argmax(1), proba, name,
                                      "probability"), out.root)
    return {**row, "status": "trained" if result.resumed_from is None else
            f"trained (resumed after epoch {result.resumed_from})",
            "train_tiles": len(tr_x), "best_epoch": result.best_epoch,
            "best_val_acc": round(float(hist["val_acc"].max()), 4),
            "test_tile_acc": round(test_acc, 4),
            "train_seconds": round(float(hist["seconds"].sum()), 1),
            "wall_seconds_this_run": round(wall, 1),
            "train_img_per_s": round(float(hist["img_per_s"].mean()), 1)}


def run_arms(names: list[str], tileset: TileSet, cfg: StudyConfig, out: ResultsDir,
             table_name: str) -> pd.DataFrame:
    rows = []
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] {name} ...", flush=True)
        row = run_arm(name, tileset, cfg, out)
        print(f"    {row['status']}" + (f": test tile accuracy {row['test_tile_acc']:.3f}, "
                                        f"{row['train_seconds']:.0f} s training"
                                        if "test_tile_acc" in row else ""), flush=True)
        rows.append(row)
    table = pd.DataFrame(rows)
    return out.table(table, table_name)
