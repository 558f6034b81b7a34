"""What one network arm is made of: the tiles it trains, validates and tests on (held-out split
or a k-fold fold, capped per class), its seeds, its network and its input transform.

Planning and running an arm both build from here, so the arm that is timed is the arm that
trains.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..config import Recipe, StudyConfig
from ..core.architectures import Arm
from ..data.tileset import TileSet
from ..data.tiling import spread_sample
from .execution import InputTransform
from .models import build_model, freeze, input_statistics, native_input_size


def capped(manifest: pd.DataFrame, index: np.ndarray, cap: int | None, classes: list[str],
           seed: int) -> np.ndarray:
    """`index` limited to `cap` tiles per class, spread over micrographs (None: all of it)."""
    if not cap:
        return index
    m = manifest.iloc[index]
    keep = [index[np.flatnonzero(m["label"].to_numpy() == c)[spread_sample(
        m.loc[m["label"] == c, "micrograph_id"].to_numpy(), cap, np.random.default_rng(seed))]]
        for c in classes]
    return np.sort(np.concatenate(keep))


def split_indices(tileset: TileSet, recipe: Recipe, seed: int, split_column: str = "split"):
    """(train, val, test) tile indices of the held-out split for a network, training tiles
    capped per class by the recipe."""
    col = tileset.manifest[split_column].to_numpy()
    train = capped(tileset.manifest, np.flatnonzero(col == "train"),
                   recipe.max_train_tiles_per_class, tileset.classes, seed)
    return train, np.flatnonzero(col == "val"), np.flatnonzero(col == "test")


def fold_indices(tileset: TileSet, folds: np.ndarray, fold: int, recipe: Recipe,
                 cfg: StudyConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) tile indices of one k-fold fold for a network: the fold's tiles are
    the test; its own validation groups (samples) are held out of the other folds' micrographs,
    for the best epoch and early stopping. Training tiles capped by the recipe, validation
    tiles by split.val_tiles_per_class."""
    from ..data.splits import hold_out_groups

    m = tileset.manifest
    pool, test = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
    held = hold_out_groups(m["label"].astype(str).to_numpy()[pool], m["group"].to_numpy()[pool],
                           cfg.split.val_fraction or 0.15, cfg.split.seed + 1 + fold,
                           "val_fraction")
    seed = cfg.split.seed + fold
    train = capped(m, pool[~held], recipe.max_train_tiles_per_class, tileset.classes, seed)
    val = capped(m, pool[held], cfg.split.val_tiles_per_class, tileset.classes, seed)
    return train, val, test


def training_data(tileset: TileSet, recipe: Recipe, seed: int, split_column: str = "split"):
    """(train tiles, labels), (val tiles, labels), (test tiles, manifest) of the held-out split."""
    tr, va, te = split_indices(tileset, recipe, seed, split_column)
    return tile_data(tileset, tr, va, te)


def tile_data(tileset: TileSet, tr, va, te):
    """(train tiles, labels), (val tiles, labels), (test tiles, manifest) of three index sets."""
    m = tileset.manifest
    return ((tileset.tiles[tr], tileset.labels(m.iloc[tr])),
            (tileset.tiles[va], tileset.labels(m.iloc[va])),
            (tileset.tiles[te], m.iloc[te].reset_index(drop=True)))


def arm_recipe(arm: Arm, cfg: StudyConfig) -> Recipe:
    """The arm's recipe as it runs: `input_size: native` resolved to the weights' own size."""
    recipe = cfg.recipe(arm)
    if recipe.input_size == "native":
        recipe = recipe.model_copy(update={"input_size": native_input_size(arm.spec)})
    return recipe


def seeds(cfg: StudyConfig, recipe: Recipe) -> list[int]:
    """The training seeds the recipe asks for, from the split's seed on."""
    return [cfg.split.seed + i for i in range(recipe.seeds)]


def network(arm: Arm, cfg: StudyConfig, recipe: Recipe, n_classes: int, seed: int,
             pooling: str | None = None):
    """(network, description of its initial weights, trainable parameters) of the arm, seeded;
    a probe trains nothing."""
    torch.manual_seed(seed)
    model, weights = build_model(arm, n_classes, cfg.weights_for(arm.architecture),
                                 pooling or recipe.pooling)
    trainable = freeze(model, arm, recipe.freeze if arm.kind == "TL" else "full")
    if arm.kind == "probe":
        trainable = 0
    return model, weights, trainable


def input_transform(arm: Arm, recipe: Recipe, model, train_tiles) -> InputTransform:
    """eq. 19-20 on the training tiles, or the statistics the pretrained weights expect."""
    stats = input_statistics(arm.spec, model.backbone.net) if recipe.normalization == "imagenet" else None
    return InputTransform.fit(recipe.normalization, train_tiles, recipe.input_size, stats)


def trainings(arm: Arm, tileset: TileSet, cfg: StudyConfig) -> list[tuple]:
    """(train, val, test) indices of every training a network arm runs: each seed's on the
    held-out split, then one per k-fold fold; none for a probe (it trains no network)."""
    if arm.kind == "probe":
        return []
    recipe, k, seed = cfg.recipe(arm), cfg.evaluation.kfold, cfg.split.seed
    folds = tileset.folds(k, seed)
    return [split_indices(tileset, recipe, seed)] * recipe.seeds + [
        fold_indices(tileset, folds, f, recipe, cfg) for f in range(k)]
