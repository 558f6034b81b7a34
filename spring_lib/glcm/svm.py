"""The GLCM+SVM baseline as one scikit-learn estimator, tuned by grouped cross-validation.

Tuning never sees test tiles, and its folds keep each micrograph (or sample) whole, exactly
like the train/test split; otherwise the CV score would reward memorising micrographs.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from ..config import GLCMConfig
from ..grouped_cv import grouped_folds, grouped_search, kfold_predictions, tuning_pool
from ..predictions import prediction_frame, save_predictions
from ..progress import Progress, arm_finished
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
    return grouped_search(glcm_svm_pipeline(cache_dir, g.n_jobs, seed), param_grid(g), tiles,
                          labels, groups, g.cv_folds, seed, "glcm.cv_folds")


def with_probabilities(search: GridSearchCV, tiles: np.ndarray, labels: np.ndarray,
                       groups: np.ndarray, g: GLCMConfig, seed: int = 0) -> CalibratedClassifierCV:
    """The best pipeline with sigmoid-calibrated class probabilities.

    Calibration scores come from the same grouped folds as tuning, so no micrograph is
    scored by a model that saw it. Predictions are the argmax of these probabilities.
    """
    model = CalibratedClassifierCV(clone(search.best_estimator_), method="sigmoid",
                                   cv=grouped_folds(labels, groups, g.cv_folds, seed, "glcm.cv_folds"),
                                   ensemble=False)
    return model.fit(tiles, labels)


def run_glcm_arm(search: GridSearchCV, tileset, cfg, out, tune_seconds: float) -> pd.DataFrame:
    """The tuned pipeline as the study's GLCM+SVM arm: calibrated on the tuning micrographs,
    predicting the test split, and evaluated by grouped k-fold over every micrograph (with the
    tuned parameters fixed). Returns the arm's row of the arms table."""
    X, y, groups, _ = tuning_pool(tileset)
    progress = Progress("GLCM+SVM", cfg.split.seed)
    t0 = time.perf_counter()
    model = with_probabilities(search, X, y, groups, cfg.glcm, cfg.split.seed)
    te_x, te_m = tileset.split("test")
    proba = model.predict_proba(te_x)
    save_predictions(prediction_frame(te_m, tileset.classes, proba.argmax(1), proba, "GLCM+SVM",
                                      "probability"), out.root)
    save_predictions(kfold_predictions(search.best_estimator_, tileset.tiles, tileset.manifest,
                                       tileset.classes, "GLCM+SVM", cfg.evaluation.kfold,
                                       cfg.split.seed), out.root, "kfold")
    seconds = tune_seconds + time.perf_counter() - t0
    progress.done(seconds, status="fitted")
    arm_finished("GLCM+SVM", seconds, "fitted")
    return pd.DataFrame([{
        "arm": "GLCM+SVM", "kind": "classical", "status": "fitted", "weights": None,
        **{k.split("__")[1]: str(v) for k, v in search.best_params_.items()
           if k.split("__")[1] in ("levels", "distances", "rotation", "kernel", "C", "gamma")},
        "cv_accuracy": float(search.best_score_),
        "test_tile_acc": float((proba.argmax(1) == tileset.labels(te_m)).mean()),
        "actual_minutes": seconds / 60}])
