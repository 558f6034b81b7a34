"""The GLCM+SVM baseline as one scikit-learn estimator, tuned by grouped cross-validation.

Tuning never sees test tiles, and its folds keep each micrograph (or sample) whole, exactly
like the train/test split; otherwise the CV score would reward memorising micrographs.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from ..config import GLCMConfig
from .features import GLCMFeatures


def glcm_svm_pipeline(cache_dir: str | None = None, n_jobs: int = 1, seed: int = 0) -> Pipeline:
    return Pipeline([("glcm", GLCMFeatures(n_jobs=n_jobs, cache_dir=cache_dir)),
                     ("scale", StandardScaler()),
                     ("svc", SVC(random_state=seed))])


def param_grid(g: GLCMConfig) -> dict:
    return {"glcm__levels": g.levels, "glcm__distances": [tuple(d) for d in g.distances],
            "glcm__angles_deg": [tuple(g.angles_deg)], "glcm__properties": [tuple(g.properties)],
            "glcm__rotation": g.rotation, "svc__kernel": g.svm_kernel, "svc__C": g.svm_C,
            "svc__gamma": g.svm_gamma}


def tune(tiles: np.ndarray, labels: np.ndarray, groups: np.ndarray, g: GLCMConfig,
         cache_dir: str | None = None, seed: int = 0) -> GridSearchCV:
    """Grid search over the profile's space, folds grouped like the split."""
    n_groups = len(set(groups))
    if n_groups < g.cv_folds:
        raise ValueError(f"{n_groups} micrograph groups cannot fill {g.cv_folds} CV folds; "
                         "lower glcm.cv_folds")
    cv = StratifiedGroupKFold(n_splits=g.cv_folds, shuffle=True, random_state=seed)
    search = GridSearchCV(glcm_svm_pipeline(cache_dir, g.n_jobs, seed), param_grid(g), cv=cv,
                          scoring={"accuracy": "accuracy", "macro_f1": "f1_macro"},
                          refit="accuracy", n_jobs=1, error_score="raise")
    search.fit(tiles, labels, groups=groups)
    return search


def with_probabilities(search: GridSearchCV, tiles: np.ndarray, labels: np.ndarray,
                       groups: np.ndarray, g: GLCMConfig, seed: int = 0) -> CalibratedClassifierCV:
    """The best pipeline with sigmoid-calibrated class probabilities.

    Calibration scores come from the same grouped folds as tuning, so no micrograph is
    scored by a model that saw it. Predictions are the argmax of these probabilities.
    """
    cv = StratifiedGroupKFold(n_splits=g.cv_folds, shuffle=True, random_state=seed)
    folds = list(cv.split(tiles, labels, groups))
    model = CalibratedClassifierCV(clone(search.best_estimator_), method="sigmoid", cv=folds,
                                   ensemble=False)
    return model.fit(tiles, labels)


def cv_table(search: GridSearchCV) -> pd.DataFrame:
    """One row per candidate: its parameters, CV accuracy and macro-F1 (mean ± std), rank."""
    r = pd.DataFrame(search.cv_results_)
    params = pd.json_normalize(r["params"]).rename(columns=lambda c: c.split("__", 1)[1])
    keep = [c for c in params if params[c].astype(str).nunique() > 1 or c in ("levels", "C")]
    out = params[keep].copy()
    for m in ("accuracy", "macro_f1"):
        out[f"cv_{m}_mean"] = r[f"mean_test_{m}"].round(4)
        out[f"cv_{m}_std"] = r[f"std_test_{m}"].round(4)
    out["rank"] = r["rank_test_accuracy"]
    out["fit_seconds"] = r["mean_fit_time"].round(2)
    return out.sort_values("rank").reset_index(drop=True)

