"""The `pixel-size` arm: the floor an image model must clear.

UHCSDB's classes were imaged at different magnifications (network at 49-246x, pearlite at
4910x and more), so a classifier could score well from the pixel size alone, without seeing any
morphology. This arm gets nothing but log10 µm/px, read from each micrograph's scale bar, and the
same classifier and grouped tuning as the probes; an image arm's number means something about
morphology only where it clears this one.
"""
from __future__ import annotations

import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ..core.arm_kinds import kfold_evaluation
from ..core.arm_result import ArmResult, ArmStatus
from ..core.grouped_cv import tuned
from ..core.progress import Progress
from ..data.reading import whole_reading

ARM = "pixel-size"
C_GRID = [0.01, 0.1, 1.0, 10.0, 100.0]


def pixel_size_features(tileset, rows=None) -> np.ndarray:
    """log10 µm/px of every tile's micrograph (or of every row of `rows`: windows read whole)
    as read from its scale bar (before any resampling to `tiling.um_per_px`), one column; NaN
    where a micrograph has no scale."""
    scale = dict(zip(tileset.micrographs["micrograph_id"].astype(str),
                     tileset.micrographs["um_per_px"].astype(float)))
    rows = tileset.manifest if rows is None else rows
    um = rows["micrograph_id"].astype(str).map(scale).to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(np.where(um > 0, um, np.nan))[:, None]


def pixel_size_pipeline(seed: int = 0) -> Pipeline:
    return Pipeline([("scale", StandardScaler()),
                     ("clf", LogisticRegression(max_iter=1000, random_state=seed))])


def run_pixel_size_arm(tileset, cfg, out) -> ArmResult:
    """The arm (registered in `core.arm_kinds`) evaluated by the run's k-fold, C chosen by
    grouped CV inside each training fold; without a scale for every micrograph it is not run."""
    X = pixel_size_features(tileset)
    missing = int(np.isnan(X).sum())
    if missing:
        return ArmResult(ARM, "classical", ArmStatus.NOT_RUN_NO_SCALE,
                         f"{missing} tiles come from micrographs with no known scale (µm/px)")
    t0 = time.perf_counter()
    progress = Progress(ARM, cfg.split.seed)
    fit = tuned(pixel_size_pipeline(cfg.split.seed), {"clf__C": C_GRID}, cfg.probe.cv_folds,
                cfg.split.seed, "probe.cv_folds")
    chosen, path = kfold_evaluation(fit, X, tileset, cfg, out, ARM, whole_reading(cfg, tileset),
                                    lambda windows, rows: pixel_size_features(tileset, rows))
    seconds = time.perf_counter() - t0
    progress.done(seconds, status=ArmStatus.FITTED.value)
    return ArmResult(ARM, "classical", ArmStatus.FITTED,
                     outcome={"inner_score": float(chosen["inner_accuracy"].mean())},
                     actual_s=seconds, paths=[path]).finished()
