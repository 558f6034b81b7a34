"""Budgets measured on the machine that runs them, not assumed.

Before an arm trains, a few steps are timed for each way the arithmetic can run here (memory
layout, and bf16 only where the CPU or GPU computes it natively); the fastest is kept, and its
rate gives the arm's estimated time. An arm whose estimate exceeds the profile's cap is not run,
and says so with the numbers.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..config import Recipe
from ..core.machine import cpu_bf16, one_blas_thread, seconds
from .execution import Execution, InputTransform
from .rate_cache import RateCache


def native_bf16(device: str = "cpu") -> bool:
    """bf16 pays only where the hardware computes it: AMX or AVX-512 BF16 CPUs, bf16 GPUs."""
    if device.startswith("cuda"):
        return torch.cuda.is_bf16_supported()
    return cpu_bf16()


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def inference_execution(memory_format: str = "channels_last", precision: str = "auto",
                        device: str | None = None) -> Execution:
    """How inference (probe features) runs here: bf16 where the hardware computes it natively
    (inference is where bf16 costs least accuracy and saves most time), fp32 elsewhere."""
    device = device or default_device()
    if precision == "auto":
        precision = "bf16" if native_bf16(device) else "fp32"
    return Execution(device, memory_format, precision)


def candidates(recipe: Recipe, device: str | None = None,
               bf16_native: bool | None = None) -> list[Execution]:
    device = device or default_device()
    native = native_bf16(device) if bf16_native is None else bf16_native
    formats = (["channels_last", "contiguous"] if recipe.memory_format == "auto"
               else [recipe.memory_format])
    precisions = {"auto": ["fp32"] + (["bf16"] if native else []), "fp32": ["fp32"],
                  "bf16": ["bf16"]}[recipe.precision]
    return [Execution(device, f, p) for p in precisions for f in formats]


#: steps run untimed first: oneDNN builds and caches its kernels for a shape over the first two
#: (EfficientNet-Lite2 at 260 px, bf16: 10 img/s in steps 1-2, 17-22 from step 3 on; measured
#: 2026-11-30 on an AMX Xeon), so a rate timed over step 2 reads 30-50 % slow
WARMUP_STEPS = 2


def time_steps(model, execution: Execution, batch: int, size: int, train: bool,
               steps: int = 3, min_seconds: float = 1.5, max_steps: int = 8) -> float:
    """Images per second of one step: the median of at least `steps` timed steps, more while
    they add up to less than `min_seconds` (at most `max_steps`), after `WARMUP_STEPS` untimed
    ones, on a copy of `model`. The median, because a step the machine stalled is no rate."""
    import statistics

    m = execution.prepare(copy.deepcopy(model))
    x = execution.batch(torch.randn(batch, 3, size, size))
    y = torch.zeros(batch, dtype=torch.long, device=x.device)
    params = [p for p in m.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-6) if train and params else None

    def step():
        if opt:
            m.train()
            with execution.autocast():
                loss = F.cross_entropy(m(x).float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        else:
            m.eval()
            with torch.no_grad(), execution.autocast():
                m(x)
        if x.device.type == "cuda":
            torch.cuda.synchronize(x.device)

    for _ in range(WARMUP_STEPS):
        step()
    times: list[float] = []
    while len(times) < steps or (sum(times) < min_seconds and len(times) < max_steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return batch / statistics.median(times)


@dataclass
class Measurement:
    execution: Execution
    train_img_s: float | None
    eval_img_s: float
    rates: dict = field(default_factory=dict)   # "layout/precision" -> img/s of every candidate

    def describe(self) -> str:
        return f"{self.execution.memory_format}, {self.execution.precision}"


def measure(model, recipe: Recipe, train: bool = True, device: str | None = None,
            timer: Callable = time_steps, bf16_native: bool | None = None,
            cache: RateCache | None = None) -> Measurement:
    """Time every candidate execution and keep the fastest (training rate where the arm
    trains, else the forward rate); rates already in `cache` are not measured again."""
    size = recipe.input_size

    def timed(ex: Execution, training: bool) -> float:
        args = (model, ex, recipe.batch_size, size, training)
        return cache.rate(timer, *args) if cache is not None else timer(*args)

    rates = {ex: timed(ex, train) for ex in candidates(recipe, device, bf16_native)}
    best = max(rates, key=rates.get)
    eval_rate = timed(best, False) if train else rates[best]
    return Measurement(best, rates[best] if train else None, eval_rate,
                       {f"{e.memory_format}/{e.precision}": round(r, 1) for e, r in rates.items()})


def forward_bound(forward_img_s: float) -> Measurement:
    """A measurement that trains as fast as it predicts: what no training step can beat, for a
    lower bound on an arm's time from its forward rate alone."""
    return Measurement(inference_execution(), forward_img_s, forward_img_s)


def tta_views(recipe: Recipe) -> int:
    return {"none": 1, "flips": 2, "dihedral": 8}[recipe.tta]


@dataclass(frozen=True)
class Feeding:
    """What a network's steps leave out, timed apart: seconds per image of preparing a tile
    for training (the input transform and the augmentation) and for evaluation (the
    transform), and seconds per epoch of saving the training state. Measured on a Lite0 TL
    arm at 96 px, these were a fifth of its wall time."""
    train_s: float = 0.0
    eval_s: float = 0.0
    epoch_s: float = 0.0


def embedding_seconds(n: int, m: Measurement, feeding: Feeding = Feeding()) -> float:
    """Seconds of embedding n tiles once (a probe's features, a probe-initialised head's):
    each prepared and passed forward."""
    return n * (1 / m.eval_img_s + feeding.eval_s)


def training_seconds(recipe: Recipe, m: Measurement, n_train: int, n_val: int, n_test: int,
                     n_probe: int = 0, feeding: Feeding = Feeding()) -> float:
    """Estimated wall time of an arm: every seed's epochs (training, validation, the state
    saved), its test predictions over the test-time views, and the tiles a probe-initialised
    head must embed."""
    per_seed = (recipe.epochs * (n_train * (1 / m.train_img_s + feeding.train_s)
                                 + n_val * (1 / m.eval_img_s + feeding.eval_s) + feeding.epoch_s)
                + n_test * (tta_views(recipe) / m.eval_img_s + feeding.eval_s))
    return recipe.seeds * per_seed + embedding_seconds(n_probe, m, feeding)


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


def state_save_seconds(model, directory: str | Path) -> float:
    """Seconds of saving one epoch's training state (`training.train`) into `directory` (where
    training keeps it): the weights twice (current, and a copy of the best) and Adam's two
    moments of the trainable ones."""
    import tempfile

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
    import warnings

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


def measured_linear_fit(n: int, dim: int, measured: Callable) -> float:
    """`linear_fit_seconds` of a probe's shape, through `measured(key, fn, what)` (the rate
    cache's `here`): timed once per machine and shape, the faster of two."""
    return measured(f"logistic fit|{n}x{dim}|{PROBE_FIT_ITERATIONS} iterations",
                    lambda: min(linear_fit_seconds(n, dim, seed=s) for s in range(2)),
                    "a logistic-regression fit")


def search_seconds(n: float, grid: int, cv: int, fit_s: float, read_s_per_tile: float) -> float:
    """A grouped grid search on n tiles and its refit: grid x cv fits on (cv-1)/cv of them,
    each scored on the rest, every fit and score reading its tiles' features (their digests,
    then the cache). `fit_s`: one fit on (cv-1)/cv of the n tiles; a fit's time grows with its
    tiles."""
    return (grid * cv * fit_s + fit_s * cv / (cv - 1)
            + (grid * cv * n + n) * read_s_per_tile)


def probe_fit_seconds(n: int, k: int, grid: int, cv: int, fit_s: float,
                      read_s_per_tile: float) -> float:
    """The classifier's share of a probe arm: for the held-out split and each of the k folds, a
    grouped search on (k-1)/k of n tiles (`search_seconds`), then the test tiles predicted.
    `fit_s`: one fit on (k-1)/k x (cv-1)/cv of n tiles."""
    train = n * (k - 1) / k
    return (k + 1) * (search_seconds(train, grid, cv, fit_s, read_s_per_tile)
                      + n / k * read_s_per_tile)


def over_cap(estimate_s: float, cap_minutes: float | None) -> str | None:
    """Why an arm whose estimate exceeds the cap is not run (its note), else None."""
    if cap_minutes is None or estimate_s <= cap_minutes * 60:
        return None
    return (f"estimated {estimate_s / 60:.1f} min on this machine exceeds the profile's "
            f"cap of {cap_minutes:g} min")
