"""What an arm costs here, in the study's one cost mechanism (`core.costs`): its network's passes
at the rates measured for it (`nets.timing`), and units of the rest of its work, each timed on
a small sample: preparing its inputs, saving its training state, its classifier's fits and the
feature reads they make. Measured on a Lite0 TL arm at 96 px, the work besides the passes was a
fifth of its wall time.
"""
from __future__ import annotations

import copy
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..config import Recipe
from ..core.costs import Unit
from ..core.machine import one_blas_thread, seconds
from ..data.costs import digest_unit
from .execution import InputTransform


def tta_views(recipe: Recipe) -> int:
    return {"none": 1, "flips": 2, "dihedral": 8}[recipe.tta]


def input_seconds(tiles: np.ndarray, size: int, augment: bool = False) -> float:
    """Seconds per image of preparing real tiles for a network at `size` px (`InputTransform`:
    eq. 19 scaling, resampling, normalising; then the training augmentation where `augment`)."""
    from .training import augment_batch

    transform, gen = InputTransform(size), torch.Generator().manual_seed(0)

    def work():
        x = transform(tiles)
        if augment:
            augment_batch(x, gen)
    work()
    return seconds(work, 3) / len(tiles)


def input_unit(tiles: np.ndarray, size: int, augment: bool, count: float) -> Unit:
    what = "augmented" if augment else "plain"
    return Unit("inputs", f"input transform|{tiles.shape[1]}px tiles|{size}px|{what}",
                lambda: input_seconds(tiles, size, augment), count=count)


def state_save_seconds(model, directory: str | Path) -> float:
    """Seconds of saving one epoch's training state (`training.train`) into `directory` (where
    training keeps it): the weights twice (current, and a copy of the best) and Adam's two
    moments of the trainable ones."""
    from .training_state import save_atomic

    moments = [torch.zeros_like(p) for p in model.parameters() if p.requires_grad for _ in "mv"]
    state = {"model": model.state_dict(), "best": copy.deepcopy(model.state_dict()),
             "optimizer": moments}
    Path(directory).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory) as d:
        return seconds(lambda: save_atomic(state, Path(d) / "state.pt"), 2)


#: lbfgs iterations of one probe fit: 33-71 on UHCSDB's standardised texture features of
#: EfficientNet-Lite0/1/2 at C 0.1 and 1, 41 on average over a k-fold's 42 fits (measured
#: 2026-11-30). Synthetic features converge sooner, so a fit is timed at this count.
PROBE_FIT_ITERATIONS = 45


def linear_fit_seconds(n: int, dim: int, classes: int = 5,
                       iterations: int = PROBE_FIT_ITERATIONS, seed: int = 0) -> float:
    """Seconds of one standardised logistic-regression fit of a probe's shape (n tiles x dim
    features), timed here on synthetic features for exactly `iterations` lbfgs iterations."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    X = rng.normal(size=(n, dim)) + 0.5 * np.eye(classes, dim)[y]
    with warnings.catch_warnings(), one_blas_thread():   # as the study fits it
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        LogisticRegression(max_iter=iterations, tol=0).fit(StandardScaler().fit_transform(X), y)
        return time.perf_counter() - t0


def fit_unit(n: int, dim: int, count: float, part: str = "classifier fits") -> Unit:
    """Logistic-regression fits of a probe's shape, timed at n rounded to two digits (a fit's
    time grows in proportion to its tiles): a k-fold's folds, a few tiles apart, share one."""
    rows = max(1, int(float(f"{n:.2g}")))
    return Unit(part, f"logistic fit|{rows}x{dim}|{PROBE_FIT_ITERATIONS} iterations",
                lambda: linear_fit_seconds(rows, dim), items=rows, count=count * n)


def read_unit(tiles: np.ndarray, count: float, part: str = "classifier fits") -> Unit:
    """Handing `count` tiles to a cached feature transform (their digests, then the cache)."""
    return digest_unit(part, tiles.shape[1], lambda: np.array(tiles[:24]), count)


def search_units(n: float, grid: int, cv: int, dim: int, tiles: np.ndarray,
                 rounds: float = 1) -> list[Unit]:
    """`rounds` grouped grid searches on n tiles and their refits: grid x cv fits on
    (cv-1)/cv of them, each scored on the rest, and the refit (a fit's time grows with its
    tiles), every fit and score reading its tiles' features."""
    return [fit_unit(round(n * (cv - 1) / cv), dim, rounds * (grid * cv + cv / (cv - 1))),
            read_unit(tiles, rounds * (grid * cv * n + n))]


def probe_units(n: int, k: int, grid: int, cv: int, dim: int, tiles: np.ndarray) -> list[Unit]:
    """A probe arm's classifier: for the held-out split and each of the k folds, a grouped
    search on (k-1)/k of its n tiles (`search_units`), then the test tiles predicted."""
    return [*search_units(n * (k - 1) / k, grid, cv, dim, tiles, rounds=k + 1),
            read_unit(tiles, (k + 1) * n / k)]


def passes(recipe: Recipe, runs: list[tuple], train_img_s: float, eval_img_s: float,
           extra_eval: int = 0) -> dict[str, float]:
    """Seconds of a network's passes over `runs` (train, val, test indices), one seed each:
    every epoch's training and validation, the test over its views, and `extra_eval` images
    embedded besides (a probe-initialised head's features)."""
    trained = recipe.epochs * sum(len(tr) for tr, _, _ in runs)
    evaluated = (recipe.epochs * sum(len(va) for _, va, _ in runs)
                 + tta_views(recipe) * sum(len(te) for _, _, te in runs) + extra_eval)
    return {"training steps": trained / train_img_s, "evaluation passes": evaluated / eval_img_s}


def top_passes(recipe: Recipe, runs: list[tuple], grid: int, train_img_s: float,
               eval_img_s: float, trunk_img_s: float, unembedded: int) -> dict[str, float]:
    """Seconds of a cached top's passes: the trunk once over the `unembedded` tiles (at most a
    whole forward pass each), then for each of the `grid` learning rates every epoch's steps and
    validation (epoch 0 too, one view), and the test once in its views."""
    trained = grid * recipe.epochs * sum(len(tr) for tr, _, _ in runs)
    scored = recipe.epochs + (recipe.head_init == "probe")   # epoch 0: the probe's head
    evaluated = (grid * scored * sum(len(va) for _, va, _ in runs)
                 + tta_views(recipe) * sum(len(te) for _, _, te in runs))
    return {"trunk passes": unembedded / trunk_img_s, "training steps": trained / train_img_s,
            "evaluation passes": evaluated / eval_img_s}


def reading_passes(kind: str, recipe: Recipe, windows: int, new: int, eval_img_s: float,
                   trunk_img_s: float | None = None) -> dict[str, float]:
    """Seconds of reading every k-fold test micrograph whole (`data.reading`), `windows` in all,
    each in one view: a probe embeds the `new` ones no tile shared; a cached top reads every
    window's map (the trunk first runs on the `new` ones where its probe did not map them); any
    other network runs on every window."""
    if kind == "probe":
        return {"whole reading": new / eval_img_s}
    trunk = new / trunk_img_s if trunk_img_s else 0.0
    return {"whole reading": trunk + windows / eval_img_s}


def state_unit(key: str, model: Callable, count: float, state_dir: Path) -> Unit:
    """Saving a training's state `count` times (`model()` builds the network only where that
    is not timed)."""
    return Unit("state saves", f"training state save|{key}",
                lambda: state_save_seconds(model(), state_dir), count=count)


def network_units(recipe: Recipe, runs: list[tuple], tiles: np.ndarray, state_key: str,
                  model: Callable, state_dir: Path, extra_eval: int = 0) -> list[Unit]:
    """A network arm's work besides its passes: its inputs prepared (augmented for training),
    its state saved each epoch (`model()` builds the network only where that is not timed)."""
    epochs = recipe.epochs
    trained = epochs * sum(len(tr) for tr, _, _ in runs)
    evaluated = (epochs * sum(len(va) for _, va, _ in runs)
                 + sum(len(te) for _, _, te in runs) + extra_eval)
    return [input_unit(tiles, recipe.input_size, recipe.augment, trained),
            input_unit(tiles, recipe.input_size, False, evaluated),
            state_unit(state_key, model, epochs * len(runs), state_dir)]


def forward_floor(recipe: Recipe, runs: list[tuple], forward_img_s: float) -> float:
    """Seconds no run of `runs` can beat: every training step as fast as a forward pass (a
    training step costs at least its forward pass), every epoch run."""
    return sum(passes(recipe, runs, forward_img_s, forward_img_s).values())


def over_cap(estimate_s: float, cap_minutes: float | None) -> str | None:
    """Why an arm whose estimate exceeds the cap is not run (its note), else None."""
    if cap_minutes is None or estimate_s <= cap_minutes * 60:
        return None
    return (f"estimated {estimate_s / 60:.1f} min on this machine exceeds the profile's "
            f"cap of {cap_minutes:g} min")
