"""LP-FT on cached trunk maps (Kumar et al. 2022; Konuk et al. 2024): a fine-tuned arm's top
trained from a probe-initialised head, its learning rate and epoch chosen on the training's own
validation samples.

Each training tries every rate of the recipe's `lr_grid` from the same start (epoch 0: the
probe's head on the pretrained top, scored too) and keeps the rate and epoch whose validation
accuracy (one view of each map) is highest, the earliest and smallest of equals. Nothing else
is seen: the test tiles are predicted once, by the kept weights, in the recipe's test views.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import Recipe, StudyConfig
from ..core.architectures import Arm
from .cached_trunk import CachedTop, RowInput, cached_rows, map_cache_name, map_shape
from .feature_cache import state_digest
from .execution import Execution, InputTransform, evaluate, inference_execution
from .models import Classifier, boundary
from .training import TrainResult, train


def uses_cached_trunk(arm: Arm, recipe: Recipe) -> bool:
    """A fine-tuned arm whose trunk is frozen below a boundary trains on the trunk's cache."""
    return arm.kind == "TL" and boundary(arm, recipe.freeze) is not None


def kept_rate(history: pd.DataFrame) -> pd.DataFrame:
    """A training's epochs at the learning rate it kept (all of them where it tried one)."""
    if "lr_chosen" in history and history["lr_chosen"].notna().any():
        return history[history["lr_tried"] == history["lr_chosen"]]
    return history


def epochs_run(history: pd.DataFrame) -> int:
    """Training epochs the kept rate ran (epoch 0, the untouched start, is none)."""
    return int((kept_rate(history)["epoch"] > 0).sum())


def twin_boundary(probe: Arm, cfg: StudyConfig) -> str | None:
    """Where the probe's fine-tuned twin, if the profile lists it, trains from at the probe's
    own (native) input size: the probe's forward pass then caches the twin's maps."""
    twin = probe.sibling("TL")
    if probe.kind != "probe" or twin not in cfg.cnn.arms:
        return None
    recipe = cfg.recipe(twin)
    if recipe.input_size != "native" or not uses_cached_trunk(Arm.parse(twin), recipe):
        return None
    return boundary(Arm.parse(twin), recipe.freeze)


def top_network(arm: Arm, recipe: Recipe, model: Classifier) -> CachedTop:
    """The arm's top as it trains, built on its network."""
    start = boundary(arm, recipe.freeze)
    return CachedTop(model, start, map_shape(model, start, recipe.input_size))


def measure_top(arm: Arm, recipe: Recipe, model: Classifier, tile_size: int,
                transform: InputTransform, measure) -> dict:
    """What planning needs of a cached arm (`planning.ArmFacts`): its trunk's rate (at most the
    whole network's forward rate), its maps' cache name, and its top timed as it trains."""
    from . import timing

    return dict(trunk_img_s=timing.forward_rate(model, recipe, measure).eval_img_s,
                map_cache=map_cache_name(arm.architecture,
                                         state_digest(model.backbone.state_dict()), tile_size,
                                         transform, inference_execution().precision,
                                         boundary(arm, recipe.freeze)),
                measurement=measure(top_network(arm, recipe, model), recipe))


def fine_tune(model: Classifier, arm: Arm, recipe: Recipe, tiles: np.ndarray, labels,
              index: tuple, transform: InputTransform, execution: Execution, cache_dir,
              state_dir, seed: int, init: str, progress=None, windows: np.ndarray | None = None
              ) -> tuple[TrainResult, np.ndarray, np.ndarray | None]:
    """The arm's top trained on the cached trunk rows of `tiles[index]` (train, val, test),
    every rate of the grid tried; the kept result (its history holds every rate's epochs, by
    `lr_tried`) with the whole network's weights, the test tiles' probabilities, and those of
    `windows` (the test micrographs read whole, from their cached rows too) if given."""
    start = boundary(arm, recipe.freeze)
    rows, shape = cached_rows(model, arm.architecture, start, tiles, transform,
                              inference_execution(), cache_dir)
    tr, va, te = index
    once = recipe.model_copy(update={"augment": False})   # the top augments its maps itself
    tried, histories = [], []
    for lr in recipe.learning_rates:
        top = CachedTop(model, start, shape, recipe.augment)   # validated in one view
        res = train(top, (rows[tr], labels[tr]), (rows[va], labels[va]),
                    once.model_copy(update={"lr": lr}), RowInput(), seed, execution, state_dir,
                    init=f"{init}|cached {start}|{shape}", progress=progress,
                    score_start=recipe.head_init == "probe")
        tried.append((res.best_val_acc, -res.best_epoch, -lr, lr, res))
        histories.append(res.history.assign(lr_tried=lr))
    _, _, _, lr, best = max(tried, key=lambda t: t[:3])
    best.model.views = recipe.tta   # the test tiles read in the recipe's views
    _, _, proba = evaluate(best.model, rows[te], None, RowInput(), best.execution)
    whole = None
    if windows is not None:   # one view each: the windows' overlap stands in for the views
        read, _ = cached_rows(model, arm.architecture, start, windows, transform,
                              inference_execution(), cache_dir)
        best.model.views = "none"
        whole = evaluate(best.model, read, None, RowInput(), best.execution)[2]
    missing, unexpected = model.load_state_dict(best.model.whole_state(), strict=False)
    if unexpected or any(k.startswith("head.") for k in missing):
        raise RuntimeError(f"the top's weights do not fit the network: {unexpected or missing}")
    best.model, best.transform = model, transform
    best.history = pd.concat(histories, ignore_index=True).assign(lr_chosen=lr)
    return best, proba, whole
