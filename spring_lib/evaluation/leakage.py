"""How much a leaky, tile-level split inflates accuracy: the same model and budget trained and
tested on the grouped split and on a random tile split of the same tiles."""
from __future__ import annotations

import pandas as pd
from ..config import StudyConfig
from ..data.tileset import TileSet, cache_dir
from ..glcm.svm import glcm_svm_pipeline
from ..nets.arms import _input_transform, _network, training_data
from ..nets.probe import probe_pipeline
from ..nets.registry import Arm
from ..nets.budget import default_device
from ..nets.training import Execution, evaluate, train

# one fixed GLCM+SVM setting, the same on both splits, no tuning: the contrast is the split
GLCM_SETTING = dict(glcm__levels=32, glcm__distances=(1, 2, 4), svc__C=10.0)


def _shared_micrographs(tileset: TileSet, column: str) -> float:
    m = tileset.manifest
    train_ids = set(m.loc[m[column] == "train", "micrograph_id"])
    test = m[m[column] == "test"]
    return float(test["micrograph_id"].isin(train_ids).mean())


def _probe_accuracy(arm: Arm, cfg: StudyConfig, train_data, test_data) -> float:
    """A probe with one fixed setting (texture pooling, the middle C of the profile's grid),
    the same on both splits: its features are cached, so the contrast costs seconds."""
    pipe = probe_pipeline(arm, cfg.weights_for(arm.architecture), str(cache_dir(cfg) / "features"),
                          cfg.probe.batch_size, cfg.split.seed)
    pipe.set_params(features__pooling="texture", clf__C=sorted(cfg.probe.C)[len(cfg.probe.C) // 2])
    pipe.fit(*train_data)
    return float((pipe.predict(test_data[0]) == test_data[1]).mean())


def leakage_contrast(tileset: TileSet, cfg: StudyConfig, feature_cache: str | None = None) -> pd.DataFrame:
    if "leaky_split" not in tileset.manifest:
        raise ValueError(f"the tile set has no leaky split: set split.leaky_tile_split: true in "
                         f"{cfg.source}")
    rows = []
    arm = Arm.parse(cfg.evaluation.leakage_arm)
    recipe = cfg.recipe(arm).model_copy(update={"epochs": cfg.evaluation.leakage_epochs,
                                                "seeds": 1, "head_init": "random"})
    for column, name in (("split", "grouped by " + cfg.split.group_by), ("leaky_split", "random tiles (LEAKY)")):
        (tr_x, tr_y), (va_x, va_y), (te_x, te_m) = training_data(tileset, recipe, cfg.split.seed, column)
        te_y = tileset.labels(te_m)
        share = _shared_micrographs(tileset, column)
        svm = glcm_svm_pipeline(feature_cache, cfg.glcm.n_jobs, cfg.split.seed)
        svm.set_params(**GLCM_SETTING)
        svm.fit(tr_x, tr_y)
        rows.append({"model": "GLCM+SVM", "split": name, "test_tiles": len(te_x),
                     "test_tiles_from_training_micrographs": round(share, 3),
                     "test_tile_accuracy": float((svm.predict(te_x) == te_y).mean())})
        if arm.kind == "probe":
            acc, label = _probe_accuracy(arm, cfg, (tr_x, tr_y), (te_x, te_y)), arm.name
        else:
            model, _, _ = _network(arm, cfg, recipe, len(tileset.classes), cfg.split.seed)
            transform = _input_transform(arm, recipe, model, tr_x)
            ex = Execution(default_device(), "channels_last")
            res = train(model, (tr_x, tr_y), (va_x, va_y), recipe, transform, cfg.split.seed, ex)
            _, acc, _ = evaluate(res.model, te_x, te_y, res.transform, ex, recipe.tta)
            label = f"{arm.name} ({recipe.epochs} epochs)"
        rows.append({"model": label, "split": name,
                     "test_tiles": len(te_x), "test_tiles_from_training_micrographs": round(share, 3),
                     "test_tile_accuracy": acc})
    return pd.DataFrame(rows)
