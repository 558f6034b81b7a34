"""The GLCM+SVM baseline as one scikit-learn estimator, tuned by grouped cross-validation.

Tuning never sees test tiles, and its folds keep each micrograph (or sample) whole, exactly
like the train/test split; otherwise the CV score would reward memorising micrographs.
"""
from __future__ import annotations

import time

import numpy as np
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from ..config import GLCMConfig
from ..data.reading import whole_reading
from ..core.arm_kinds import kfold_evaluation
from ..core.arm_result import ArmResult, ArmStatus
from ..core.grouped_cv import cv_table, grouped_search, tuned, tuning_pool
from ..core.paths import cache_dir
from ..core.progress import Progress
from .features import GLCMFeatures

ARM = "GLCM+SVM"


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


def run_glcm_arm(tileset, cfg, out) -> ArmResult:
    """The study's GLCM+SVM arm (registered in `core.arm_kinds`): tuned by grouped CV on the
    split's training and validation micrographs (the `glcm_svm_cv` table notebook 02 shows),
    then evaluated by the run's sample-grouped k-fold over every micrograph, its parameters tuned
    again inside each training fold. Its time counts both."""
    t0 = time.perf_counter()
    g, seed = cfg.glcm, cfg.split.seed
    progress = Progress(ARM, seed)
    features = str(cache_dir(cfg) / "glcm")
    X, y, groups, _ = tuning_pool(tileset)
    search = tune(X, y, groups, g, features, seed)
    out.table(cv_table(search), "glcm_svm_cv")
    fit = tuned(glcm_svm_pipeline(features, g.n_jobs, seed), param_grid(g), g.cv_folds, seed,
                "glcm.cv_folds")
    chosen, path = kfold_evaluation(fit, tileset.tiles, tileset, cfg, out, ARM,
                                    whole_reading(cfg, tileset))
    seconds = time.perf_counter() - t0
    progress.done(seconds, status=ArmStatus.FITTED.value)
    return ArmResult(ARM, "classical", ArmStatus.FITTED, outcome={
        **{k.split("__")[1]: str(v) for k, v in search.best_params_.items()
           if k.split("__")[1] in ("levels", "distances", "rotation", "kernel", "C", "gamma")},
        "cv_accuracy": float(search.best_score_),
        "inner_score": float(chosen["inner_accuracy"].mean())},
        actual_s=seconds, paths=[path]).finished()
