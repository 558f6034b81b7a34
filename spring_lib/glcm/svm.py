"""The GLCM+SVM baseline as one scikit-learn estimator, tuned by grouped cross-validation.

Tuning never sees test tiles, and its folds keep each micrograph (or sample) whole, exactly
like the train/test split; otherwise the CV score would reward memorising micrographs.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from ..config import GLCMConfig
from ..core.grouped_cv import grouped_search, kfold_predictions, tuned
from ..core.predictions import save_predictions
from ..core.progress import Progress, arm_finished
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


def run_glcm_arm(search: GridSearchCV, tileset, cfg, out, tune_seconds: float) -> pd.DataFrame:
    """The study's GLCM+SVM arm, evaluated by the run's sample-grouped k-fold over every
    micrograph, its parameters tuned again inside each training fold (`search`, tuned on the
    split's training micrographs, is what notebook 02 shows). Returns its arms-table row."""
    progress = Progress("GLCM+SVM", cfg.split.seed)
    t0 = time.perf_counter()
    g, seed = cfg.glcm, cfg.split.seed
    fit = tuned(glcm_svm_pipeline(search.estimator.named_steps["glcm"].cache_dir, g.n_jobs, seed),
                param_grid(g), g.cv_folds, seed, "glcm.cv_folds")
    preds, chosen = kfold_predictions(fit, tileset.tiles, tileset.manifest,
                                      tileset.folds(cfg.evaluation.kfold, seed), tileset.classes,
                                      "GLCM+SVM")
    save_predictions(preds, out.root, "kfold")
    out.table(chosen, "kfold_selection_GLCM+SVM")
    seconds = tune_seconds + time.perf_counter() - t0
    progress.done(seconds, status="fitted")
    arm_finished("GLCM+SVM", seconds, "fitted")
    return pd.DataFrame([{
        "arm": "GLCM+SVM", "kind": "classical", "status": "fitted", "weights": None,
        **{k.split("__")[1]: str(v) for k, v in search.best_params_.items()
           if k.split("__")[1] in ("levels", "distances", "rotation", "kernel", "C", "gamma")},
        "cv_accuracy": float(search.best_score_),
        "inner_score": float(chosen["inner_accuracy"].mean()),
        "actual_minutes": seconds / 60}])
