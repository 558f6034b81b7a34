"""Budgets measured on the machine that runs them, not assumed.

Before an arm trains, a few steps are timed for each way the arithmetic can run here (memory
layout, and bf16 only where the CPU or GPU computes it natively); the fastest is kept, and its
rate gives the arm's estimated time. An arm whose estimate exceeds the profile's cap is not run,
and says so with the numbers.
"""
from __future__ import annotations

import copy
import json
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from ..config import Recipe
from ..core.machine import cpu_bf16, cpu_model
from ..core.architectures import Arm
from .execution import Execution


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


def time_steps(model, execution: Execution, batch: int, size: int, train: bool,
               steps: int = 2) -> float:
    """Images per second of `steps` timed steps after one warm-up step, on a copy of `model`."""
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

    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - t0)


@dataclass
class Measurement:
    execution: Execution
    train_img_s: float | None
    eval_img_s: float
    rates: dict = field(default_factory=dict)   # "layout/precision" -> img/s of every candidate

    def describe(self) -> str:
        return f"{self.execution.memory_format}, {self.execution.precision}"


class RateCache:
    """Measured images per second, kept per machine in one JSON file (`<cache dir>/rates.json`),
    so a second estimate or run measures nothing it already knows. A rate's key names the
    machine (CPU model, architecture, threads, device, torch), the network (architecture,
    pooling, trainable and total parameters), input size, batch, precision, memory format and
    whether it trains."""

    VERSION = 1

    def __init__(self, path: Path | str | None):
        self.path = Path(path) if path else None
        self.rates: dict[str, float] = {}
        if self.path and self.path.exists():
            try:
                data = json.loads(self.path.read_text())
                if data.get("version") == self.VERSION:
                    self.rates = {k: float(v) for k, v in data["rates"].items()}
            except (ValueError, KeyError, TypeError, AttributeError):
                self.rates = {}   # a damaged file is measured again, not fatal

    @staticmethod
    def machine(device: str) -> str:
        dev = (torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda")
               else "cpu")
        return (f"{cpu_model()}|{platform.machine()}|{torch.get_num_threads()} threads|{dev}|"
                f"torch {torch.__version__}")

    @staticmethod
    def network(model) -> str:
        backbone = getattr(model, "backbone", None)
        name = (f"{backbone.architecture}/{backbone.pooling}" if backbone is not None
                else type(model).__name__)
        params = list(model.parameters())
        trainable = sum(p.numel() for p in params if p.requires_grad)
        return f"{name}/{trainable}of{sum(p.numel() for p in params)}"

    def key(self, model, ex: Execution, batch: int, size: int, train: bool) -> str:
        return (f"{self.machine(ex.device)}|{self.network(model)}|{size}px|batch {batch}|"
                f"{ex.precision}|{ex.memory_format}|{'train' if train else 'eval'}")

    def rate(self, timer: Callable, model, ex: Execution, batch: int, size: int,
             train: bool) -> float:
        key = self.key(model, ex, batch, size, train)
        if key not in self.rates:
            self.rates[key] = timer(model, ex, batch, size, train)
            self.save()
        return self.rates[key]

    def save(self) -> None:
        if not self.path:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"version": self.VERSION, "rates": self.rates}, indent=1,
                                  sort_keys=True))
        tmp.replace(self.path)


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


def tta_views(recipe: Recipe) -> int:
    return {"none": 1, "flips": 2, "dihedral": 8}[recipe.tta]


def training_seconds(recipe: Recipe, m: Measurement, n_train: int, n_val: int, n_test: int,
                     n_probe: int = 0) -> float:
    """Estimated wall time of an arm: every seed's epochs (training and validation), its test
    predictions over the test-time views, and the tiles a probe-initialised head must embed."""
    per_seed = (recipe.epochs * (n_train / m.train_img_s + n_val / m.eval_img_s)
                + n_test * tta_views(recipe) / m.eval_img_s)
    return recipe.seeds * per_seed + n_probe / m.eval_img_s


def linear_fit_seconds(n: int, dim: int, classes: int = 5, seed: int = 0) -> float:
    """Seconds of one logistic-regression fit of a probe's shape (n tiles x dim features),
    timed here on synthetic features: the part of a probe's cost that is not the network."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    X = rng.normal(size=(n, dim)) + 0.5 * np.eye(classes, dim)[y]
    t0 = time.perf_counter()
    LogisticRegression(max_iter=3000).fit(X, y)
    return time.perf_counter() - t0


def over_cap(estimate_s: float, cap_minutes: float | None) -> str | None:
    """Why an arm whose estimate exceeds the cap is not run (its note), else None."""
    if cap_minutes is None or estimate_s <= cap_minutes * 60:
        return None
    return (f"estimated {estimate_s / 60:.1f} min on this machine exceeds the profile's "
            f"cap of {cap_minutes:g} min")


# ---------------------------------------------------------------- the run's total budget

def priority(names: list[str]) -> list[tuple[str, ...]]:
    """Arms in the order the study needs them, as units that run together: every probe first,
    then each TL arm with its scratch twin (the fair comparison of pretrained weights against
    none), then the remaining fine-tuning and scratch arms, each group in the listed order."""
    arms = [Arm.parse(n) for n in names]
    listed = set(names)
    probes = [(a.name,) for a in arms if a.kind == "probe"]
    pairs = [(a.name, a.sibling("scratch")) for a in arms
             if a.kind == "TL" and a.sibling("scratch") in listed]
    paired = {n for pair in pairs for n in pair}
    rest = [(a.name,) for a in arms if a.kind != "probe" and a.name not in paired]
    return probes + pairs + rest


def over_budget(estimates: dict[str, float], budget_minutes: float | None,
                spent_s: float = 0.0) -> dict[str, str]:
    """Why each arm that does not fit the run's total budget is not run (its note).

    `estimates`: estimated seconds of the arms that would run, in the order they are listed;
    `spent_s`: what arms of earlier notebooks already used. Units (see `priority`) are taken
    in priority order while they fit; a unit that does not fit is skipped and a later, smaller
    one may still fit. None: no budget."""
    if budget_minutes is None:
        return {}
    left = budget_minutes * 60 - spent_s
    out = {}
    for unit in priority(list(estimates)):
        cost = sum(estimates[n] for n in unit)
        if cost <= left:
            left -= cost
            continue
        for n in unit:
            out[n] = (f"estimated {estimates[n] / 60:.1f} min; the run's budget of "
                      f"{budget_minutes:g} min is spent")
    return out
