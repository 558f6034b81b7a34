"""The leakage ladder: one classifier, the same tiles, four ways of cutting folds.

Most published numbers on UHCSDB (DeCost et al. 2017 and after) come from random tile folds,
where tiles of one micrograph, and micrographs of one sample, sit on both sides. The ladder
shows what each step of grouping takes away, so the literature's numbers and this study's can
be read side by side. Each classifier keeps one setting declared up front (nothing is tuned),
so the protocol is the only thing that changes.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from ..config import StudyConfig
from ..core.paths import cache_dir
from ..data.tileset import TileSet
from ..glcm.svm import glcm_svm_pipeline
from ..core.grouped_cv import fixed, kfold_predictions
from ..nets.probe import probe_pipeline
from ..core.architectures import Arm
from ..core.predictions import save_predictions
from . import intervals, metrics as ev

# one fixed GLCM+SVM setting and one probe setting, the same under every protocol
GLCM_SETTING = dict(glcm__levels=32, glcm__distances=(1, 2, 4), svc__C=10.0)
PROBE_SETTING = dict(features__pooling="texture", clf__C=0.1)

#: sample bootstraps `leakage_ladder` runs for each model and protocol (its micrographs' interval)
BOOTSTRAPS_PER_RUN = 1

PROTOCOLS = {   # key -> how the literature or this study names it
    "tiles": "random tiles",
    "micrographs": "grouped by micrograph",
    "samples": "grouped by sample (this study)",
}


def protocol_k(protocol: str, cfg: StudyConfig) -> int:
    """Folds of a protocol: evaluation.ladder_random_folds for random tiles, evaluation.kfold
    where micrographs or samples are kept whole."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {list(PROTOCOLS)}, got {protocol!r}")
    return cfg.evaluation.ladder_random_folds if protocol == "tiles" else cfg.evaluation.kfold


def protocol_folds(tileset: TileSet, protocol: str, cfg: StudyConfig) -> np.ndarray:
    """Fold of every tile under one protocol (`protocol_k` folds): random tiles, stratified,
    or micrographs / samples kept whole."""
    m, seed, k = tileset.manifest, cfg.split.seed, protocol_k(protocol, cfg)
    y = tileset.labels()
    if protocol == "tiles":
        splits = StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)
    else:
        groups = m["micrograph_id" if protocol == "micrographs" else "sample_key"].astype(str)
        cv = StratifiedGroupKFold(k, shuffle=True, random_state=seed)
        splits = cv.split(np.zeros(len(y)), y, groups)
    folds = np.empty(len(y), int)
    for f, (_, held) in enumerate(splits):
        folds[held] = f
    return folds


def shared_share(manifest: pd.DataFrame, folds: np.ndarray, column: str) -> float:
    """Share of tiles whose micrograph (or sample) also has tiles in that fold's training part."""
    values = manifest[column].astype(str).to_numpy()
    shared = 0
    for f in np.unique(folds):
        train = set(values[folds != f])
        shared += int(np.isin(values[folds == f], list(train)).sum())
    return shared / len(values)


def ladder_models(cfg: StudyConfig, probe_arm: str | None) -> dict:
    models = {"GLCM+SVM": glcm_svm_pipeline(str(cache_dir(cfg) / "glcm"), cfg.glcm.n_jobs,
                                            cfg.split.seed).set_params(**GLCM_SETTING)}
    if probe_arm:
        arm = Arm.parse(probe_arm)
        models[probe_arm] = probe_pipeline(arm, cfg.weights_for(arm.architecture),
                                           str(cache_dir(cfg) / "features"), cfg.probe.batch_size,
                                           cfg.split.seed).set_params(**PROBE_SETTING)
    return models


def leakage_ladder(tileset: TileSet, cfg: StudyConfig, out, probe_arm: str | None,
                   samples: dict, n_boot: int) -> pd.DataFrame:
    """GLCM+SVM and `probe_arm` (the best probe by inner score) under every protocol; each run's
    predictions saved as `ladder/<model>@<protocol>.csv`. One row per model and protocol."""
    rows = []
    folds = {p: protocol_folds(tileset, p, cfg) for p in PROTOCOLS}
    for model, estimator in ladder_models(cfg, probe_arm).items():
        for p, name in PROTOCOLS.items():
            preds, _ = kfold_predictions(fixed(estimator), tileset.tiles, tileset.manifest,
                                         folds[p], tileset.classes, model)
            save_predictions(preds, out.root, "ladder", protocol=p)
            micro = ev.micrograph_predictions(preds, tileset.classes)
            o = ev.sample_bootstrap(micro["true_label"], micro["pred_label"],
                                    micro["micrograph_id"].astype(str).map(samples),
                                    tileset.classes, n_boot, cfg.split.seed).set_index("metric")
            tile_f1 = ev.tile_metrics(preds, tileset.classes)[0]["macro_f1"]
            rows.append({"model": model, "protocol": name, "folds": len(np.unique(folds[p])),
                         "test_tiles_with_micrograph_in_training":
                             shared_share(tileset.manifest, folds[p], "micrograph_id"),
                         "test_tiles_with_sample_in_training":
                             shared_share(tileset.manifest, folds[p], "sample_key"),
                         "tile_macro_f1": tile_f1,
                         "micrograph_macro_f1": o.loc["macro_f1", "value"],
                         **intervals.columns(o, "macro_f1", "micrograph_macro_f1")})
    return pd.DataFrame(rows)
