"""The common prediction format every arm writes and the evaluation notebook reads.

One row per test tile: tile_id, micrograph_id, true_label, pred_label, model, score_kind
("probability" or "decision"), and one `score:<class>` column per class.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

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


def save_predictions(df: pd.DataFrame, results_root: str | Path) -> Path:
    """results/<profile>/predictions/<model>.csv (one file per arm)."""
    model = df["model"].iloc[0]
    path = Path(results_root) / "predictions" / f"{model}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path


def load_predictions(results_root: str | Path) -> pd.DataFrame:
    files = sorted((Path(results_root) / "predictions").glob("*.csv"))
    if not files:
        raise FileNotFoundError(f"no prediction files in {Path(results_root) / 'predictions'}: "
                                "run the training notebooks first")
    return pd.concat([pd.read_csv(f, dtype={"micrograph_id": str}) for f in files],
                     ignore_index=True)
