"""How much a leaky, tile-level split inflates accuracy: the same model and budget trained and
tested on the grouped split and on a random tile split of the same tiles."""
from __future__ import annotations

import dataclasses

import pandas as pd
import torch

from ..nets.arms import settings_for, training_data
from ..config import StudyConfig
from ..nets.models import Arm, build_model
from ..glcm.svm import glcm_svm_pipeline
from ..data.tileset import TileSet
from ..nets.training import evaluate, train


def _shared_micrographs(tileset: TileSet, column: str) -> float:
    m = tileset.manifest
    train_ids = set(m.loc[m[column] == "train", "micrograph_id"])
    test = m[m[column] == "test"]
    return float(test["micrograph_id"].isin(train_ids).mean())


def leakage_contrast(tileset: TileSet, cfg: StudyConfig, feature_cache: str | None = None) -> pd.DataFrame:
    if "leaky_split" not in tileset.manifest:
        raise ValueError(f"the tile set has no leaky split: set split.leaky_tile_split: true in "
                         f"{cfg.source}")
    rows = []
    arm = Arm.parse(cfg.evaluation.leakage_arm)
    settings = dataclasses.replace(settings_for(arm, cfg), epochs=cfg.evaluation.leakage_epochs)
    for column, name in (("split", "grouped by " + cfg.split.group_by), ("leaky_split", "random tiles (LEAKY)")):
        (tr_x, tr_y), (va_x, va_y), (te_x, te_m) = training_data(tileset, cfg, column)
        te_y = tileset.labels(te_m)
        share = _shared_micrographs(tileset, column)
        svm = glcm_svm_pipeline(feature_cache, cfg.glcm.n_jobs, cfg.split.seed)
        # one fixed setting (the cpu run's tuned optimum), the same on both splits, no tuning
        svm.set_params(glcm__levels=32, glcm__distances=(1, 2, 4), svc__C=10.0)
        svm.fit(tr_x, tr_y)
        rows.append({"model": "GLCM+SVM", "split": name, "test_tiles": len(te_x),
                     "test_tiles_from_training_micrographs": round(share, 3),
                     "test_tile_accuracy": float((svm.predict(te_x) == te_y).mean())})
        torch.manual_seed(settings.seed)
        model, _ = build_model(arm, len(tileset.classes))
        res = train(model, tr_x, tr_y, va_x, va_y, settings, None, progress=False)
        _, acc, _ = evaluate(res.model, te_x, te_y, res.transform, precision=settings.precision,
                             channels_last=settings.channels_last)
        rows.append({"model": f"{arm.name} ({settings.epochs} epochs)", "split": name,
                     "test_tiles": len(te_x), "test_tiles_from_training_micrographs": round(share, 3),
                     "test_tile_accuracy": acc})
    out = pd.DataFrame(rows)
    out["test_tile_accuracy"] = out["test_tile_accuracy"].round(4)
    return out
