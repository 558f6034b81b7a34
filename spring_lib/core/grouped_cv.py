"""Cross-validation that keeps samples whole, for every scikit-learn arm of the study.

Tiles of one micrograph are near copies, and micrographs of one sample near-relatives; a fold
that scatters them over its training and validation parts rewards memorising them. Tuning
(GLCM+SVM, probes, pixel size) and the k-fold evaluation over all micrographs therefore use
`StratifiedGroupKFold` on the split's groups (samples by default), tuning nested inside each
training fold.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold

from .machine import one_blas_thread
from .predictions import prediction_frame, whole_frame
from .weighting import BalancedLogisticRegression


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
        raise ValueError(f"{n_groups} groups (samples or micrographs) cannot fill {n_splits} "
                         f"folds; lower {key}")
    cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(cv.split(np.zeros(len(labels)), labels, groups))


def grouped_search(pipeline, grid: dict, X, labels: np.ndarray, groups: np.ndarray,
                   n_splits: int, seed: int, key: str = "cv_folds") -> GridSearchCV:
    """Grid search scored on grouped folds (accuracy and macro-F1; refit on accuracy). A
    pipeline step that weights its rows by sample (`weighting.BalancedLogisticRegression`) is
    handed each fit's groups."""
    search = GridSearchCV(pipeline, grid, cv=grouped_folds(labels, groups, n_splits, seed, key),
                          scoring={"accuracy": "accuracy", "macro_f1": "f1_macro"},
                          refit="accuracy", n_jobs=1, error_score="raise")
    weighted = [name for name, step in getattr(pipeline, "steps", [])
                if isinstance(step, BalancedLogisticRegression)]
    with one_blas_thread():
        return search.fit(X, labels, **{f"{name}__groups": np.asarray(groups)
                                         for name in weighted})


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


def kfold_predictions(fit: Callable, X: np.ndarray, manifest: pd.DataFrame, folds: np.ndarray,
                      classes: list[str], model: str, reading=None,
                      inputs: Callable | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every tile (and micrograph, read whole) predicted once, by a model fitted on the other
    folds' micrographs alone.

    `fit(X, y, groups)` returns a fitted estimator; a tuned arm passes a grid search whose
    inner folds are grouped within the training part, so each fold's hyperparameters are chosen
    without its test samples. `folds` (one per row of X): the run's fold assignment, the same
    for every arm. Returns the common prediction format plus `fold`, and one row per fold with
    what the inner search chose and its inner score (the only scores used to choose anything).
    """
    labels = pd.Categorical(manifest["label"], categories=classes).codes.astype(np.int64)
    groups = manifest["group"].to_numpy()
    parts, chosen = [], []
    for fold in np.unique(folds):
        train, test = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
        with one_blas_thread():
            fitted = fit(X[train], labels[train], groups[train])
            best = getattr(fitted, "best_estimator_", fitted)
            scores, kind = _scores(best, X[test])
            predicted = best.predict(X[test])
            whole = None
            if reading is not None:
                windows, rows = reading.windows(manifest["micrograph_id"].iloc[test].unique())
                whole = whole_frame(rows, classes, _scores(best, windows if inputs is None
                                                           else inputs(windows, rows))[0],
                                    model, kind).assign(fold=int(fold))
        parts.append(prediction_frame(manifest.iloc[test], classes, predicted, scores,
                                      model, kind).assign(fold=int(fold), reading="tiles"))
        if whole is not None:
            parts.append(whole)
        chosen.append({"fold": int(fold), "train_tiles": len(train), "test_tiles": len(test),
                       "inner_accuracy": float(getattr(fitted, "best_score_", np.nan)),
                       **{k.split("__")[-1]: str(v)
                          for k, v in getattr(fitted, "best_params_", {}).items()}})
    return pd.concat(parts, ignore_index=True), pd.DataFrame(chosen).assign(model=model)


def tuned(pipeline, grid: dict, n_splits: int, seed: int, key: str) -> Callable:
    """`fit` for `kfold_predictions`: the arm's grid search, inner folds grouped."""
    return lambda X, y, groups: grouped_search(clone(pipeline), grid, X, y, groups, n_splits,
                                               seed, key)


def fixed(estimator) -> Callable:
    """`fit` for `kfold_predictions`: one setting declared up front, nothing tuned."""
    return lambda X, y, groups: clone(estimator).fit(X, y)


def _scores(fitted, X) -> tuple[np.ndarray, str]:
    if hasattr(fitted, "predict_proba"):
        return fitted.predict_proba(X), "probability"
    return fitted.decision_function(X), "decision"
