"""Cross-validation that keeps micrographs whole, for every scikit-learn arm of the study.

Tiles of one micrograph are near copies; a fold that scatters them over its training and
validation parts rewards memorising micrographs. Tuning (GLCM+SVM, probes) and the k-fold
evaluation over all micrographs therefore use `StratifiedGroupKFold` on the split's groups.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold

from .predictions import prediction_frame


def tuning_pool(tileset, splits: tuple[str, ...] = ("train", "val")
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    """Tiles, labels, groups and manifest of the training and validation micrographs: grouped
    cross-validation replaces the validation split for the scikit-learn arms (`splits`:
    ("train",) where the validation split must stay unseen)."""
    pool = tileset.manifest["split"].isin(list(splits)).to_numpy()
    m = tileset.manifest[pool].reset_index(drop=True)
    return tileset.tiles[pool], tileset.labels(m), m["group"].to_numpy(), m


def grouped_folds(labels: np.ndarray, groups: np.ndarray, n_splits: int, seed: int,
                  key: str = "cv_folds") -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, held-out) index pairs; no group on both sides, classes stratified."""
    n_groups = len(set(groups))
    if n_groups < n_splits:
        raise ValueError(f"{n_groups} micrograph groups cannot fill {n_splits} folds; lower {key}")
    cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(cv.split(np.zeros(len(labels)), labels, groups))


def grouped_search(pipeline, grid: dict, X, labels: np.ndarray, groups: np.ndarray,
                   n_splits: int, seed: int, key: str = "cv_folds") -> GridSearchCV:
    """Grid search scored on grouped folds (accuracy and macro-F1; refit on accuracy)."""
    search = GridSearchCV(pipeline, grid, cv=grouped_folds(labels, groups, n_splits, seed, key),
                          scoring={"accuracy": "accuracy", "macro_f1": "f1_macro"},
                          refit="accuracy", n_jobs=1, error_score="raise")
    return search.fit(X, labels)


def cv_table(search: GridSearchCV) -> pd.DataFrame:
    """One row per candidate: the parameters that vary, CV accuracy and macro-F1 (mean ± std)."""
    r = pd.DataFrame(search.cv_results_)
    params = pd.json_normalize(r["params"]).rename(columns=lambda c: c.split("__", 1)[1])
    keep = [c for c in params if params[c].astype(str).nunique() > 1]
    out = params[keep].copy()
    for m in ("accuracy", "macro_f1"):
        out[f"cv_{m}_mean"] = r[f"mean_test_{m}"].round(4)
        out[f"cv_{m}_std"] = r[f"std_test_{m}"].round(4)
    out["rank"] = r["rank_test_accuracy"]
    out["fit_seconds"] = r["mean_fit_time"].round(2)
    return out.sort_values("rank").reset_index(drop=True)


def kfold_predictions(estimator, tiles: np.ndarray, manifest: pd.DataFrame, classes: list[str],
                      model: str, k: int, seed: int) -> pd.DataFrame:
    """Every tile predicted once, by a clone of `estimator` fitted on the other k-1 folds.

    Folds are grouped like the split, so every micrograph is a test micrograph exactly once.
    Returns the common prediction format plus a `fold` column.
    """
    labels = pd.Categorical(manifest["label"], categories=classes).codes.astype(np.int64)
    groups = manifest["group"].to_numpy()
    parts = []
    for fold, (train, test) in enumerate(grouped_folds(labels, groups, k, seed, "evaluation.kfold")):
        fitted = clone(estimator).fit(tiles[train], labels[train])
        scores, kind = _scores(fitted, tiles[test])
        part = prediction_frame(manifest.iloc[test], classes, fitted.predict(tiles[test]), scores,
                                model, kind)
        parts.append(part.assign(fold=fold))
    return pd.concat(parts, ignore_index=True)


def _scores(fitted, X) -> tuple[np.ndarray, str]:
    if hasattr(fitted, "predict_proba"):
        return fitted.predict_proba(X), "probability"
    return fitted.decision_function(X), "decision"
