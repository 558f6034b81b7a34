"""The common prediction format every arm writes and the evaluation notebook reads.

One row per test tile: tile_id, micrograph_id, true_label, pred_label, model, score_kind
("probability" or "decision"), and one `score:<class>` column per class; k-fold files add
`fold`, extra training seeds add `seed`. A k-fold file also holds each micrograph read whole
(`whole_frame`): `reading` says which rows are the capped tiles ("tiles") and which the
micrographs ("whole", tile_id "whole", the mean of `n_windows` windows' scores).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .products import arm_file

BASE_COLUMNS = ["tile_id", "micrograph_id", "true_label", "pred_label", "model", "score_kind"]


def prediction_frame(manifest: pd.DataFrame, classes: list[str], pred: np.ndarray,
                     scores: np.ndarray, model: str, score_kind: str) -> pd.DataFrame:
    if score_kind not in ("probability", "decision"):
        raise ValueError(f"score_kind must be 'probability' or 'decision', got {score_kind!r}")
    scores = np.asarray(scores)
    if scores.shape != (len(manifest), len(classes)) or len(pred) != len(manifest):
        raise ValueError(f"predictions for {len(pred)} tiles and scores {scores.shape} do not "
                         f"match {len(manifest)} tiles x {len(classes)} classes")
    df = pd.DataFrame({
        "tile_id": manifest["tile_id"].to_numpy(),
        "micrograph_id": manifest["micrograph_id"].astype(str).to_numpy(),
        "true_label": manifest["label"].astype(str).to_numpy(),
        "pred_label": np.asarray(classes, dtype=object)[np.asarray(pred)],
        "model": model, "score_kind": score_kind})
    for i, c in enumerate(classes):
        df[f"score:{c}"] = scores[:, i]
    return df


def whole_frame(windows: pd.DataFrame, classes: list[str], scores: np.ndarray, model: str,
                score_kind: str) -> pd.DataFrame:
    """Micrographs read whole (`data.reading`): one row per micrograph, the mean of its windows'
    scores. `windows`: one row per window, with micrograph_id and label."""
    df = pd.DataFrame(np.asarray(scores), columns=list(classes)).assign(
        micrograph_id=windows["micrograph_id"].astype(str).to_numpy(),
        label=windows["label"].astype(str).to_numpy())
    g = df.groupby(["micrograph_id", "label"], sort=False)
    mean = g[list(classes)].mean()
    rows = mean.index.to_frame(index=False).assign(tile_id="whole")
    return prediction_frame(rows, classes, mean.to_numpy().argmax(1), mean.to_numpy(), model,
                            score_kind).assign(reading="whole", n_windows=g.size().to_numpy())


def prediction_path(results_root: str | Path, model: str, folder: str = "predictions",
                    seed: int | None = None, protocol: str | None = None) -> Path:
    """`folder`: predictions (the held-out split; `seed` for a further training seed), kfold
    or ladder (with `protocol`); the path itself is the product catalogue's."""
    return Path(results_root) / arm_file(folder, model, seed, protocol)


def save_predictions(df: pd.DataFrame, results_root: str | Path, folder: str = "predictions",
                     seed: int | None = None, protocol: str | None = None) -> Path:
    """One file per arm (and seed, or ladder protocol)."""
    path = prediction_path(results_root, df["model"].iloc[0], folder, seed, protocol)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path


def load_predictions(results_root: str | Path, models: list[str],
                     folder: str = "predictions") -> pd.DataFrame:
    """The prediction files of exactly `models` (the arms this run made): a file left in the
    folder by anything else cannot reach a table."""
    missing = [m for m in models if not prediction_path(results_root, m, folder).exists()]
    if missing:
        raise FileNotFoundError(f"no {folder} file for {missing} in {Path(results_root) / folder}: "
                                "run the notebooks that make them first")
    if not models:
        raise FileNotFoundError(f"no arms with {folder} in this run")
    return pd.concat([pd.read_csv(prediction_path(results_root, m, folder),
                                  dtype={"micrograph_id": str}) for m in models],
                     ignore_index=True)


def load_seed_predictions(results_root: str | Path, model: str, seeds: list[int]) -> pd.DataFrame:
    """Every training seed's predictions of one arm: the primary file and the extra seeds."""
    files = [prediction_path(results_root, model)] + [
        prediction_path(results_root, model, seed=s) for s in seeds[1:]]
    return pd.concat([pd.read_csv(f, dtype={"micrograph_id": str}) for f in files],
                     ignore_index=True)
