"""The fastest way to compute a network here, chosen by measurement, not assumed.

Before an arm trains, a few steps are timed for each way the arithmetic can run here (memory
layout, and bf16 only where the CPU or GPU computes it natively); the fastest is kept. Every
rate goes through the machine's rate cache, so a second estimate or run times nothing.
"""
from __future__ import annotations

import copy
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F

from ..config import Recipe
from ..core.rate_cache import RateCache
from .execution import Execution, default_device, native_bf16


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
    m = execution.prepare(copy.deepcopy(model))
    shape = getattr(model, "input_shape", (3, size, size))   # a cached top's: its rows
    x = execution.batch(torch.randn(batch, *shape))
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


def network_key(model, train: bool = True) -> str:
    """A network as a rate's key names it: architecture, pooling, its weights, and for a
    training rate how many of them train (a forward pass costs the same whatever trains: a
    probe's and its fine-tuned twin's forward rates are one timing)."""
    backbone = getattr(model, "backbone", None)
    name = (f"{backbone.architecture}/{backbone.pooling}" if backbone is not None
            else type(model).__name__)
    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    if not train:
        return f"{name}/{total} weights"
    return f"{name}/{sum(p.numel() for p in params if p.requires_grad)}of{total}"


def measure(model, recipe: Recipe, train: bool = True, device: str | None = None,
            timer: Callable = time_steps, bf16_native: bool | None = None,
            cache: RateCache | None = None) -> Measurement:
    """Time every candidate execution and keep the fastest (training rate where the arm
    trains, else the forward rate); rates already in `cache` are not measured again."""
    size, batch = recipe.input_size, recipe.batch_size

    def timed(ex: Execution, training: bool) -> float:
        run = lambda: timer(model, ex, batch, size, training)  # noqa: E731
        if cache is None:
            return run()
        what = network_key(model, training)
        return cache.here(f"{what}|{size}px|batch {batch}|{ex.precision}|{ex.memory_format}|"
                          f"{'train' if training else 'eval'}", run,
                          f"{what} at {size} px ({ex.precision})", device=ex.device)

    rates = {ex: timed(ex, train) for ex in candidates(recipe, device, bf16_native)}
    best = max(rates, key=rates.get)
    eval_rate = timed(best, False) if train else rates[best]
    return Measurement(best, rates[best] if train else None, eval_rate,
                       {f"{e.memory_format}/{e.precision}": round(r, 1) for e, r in rates.items()})


def forward_rate(model, recipe: Recipe, measure=measure) -> Measurement:
    """The forward pass in the fastest inference execution: what no training step can beat."""
    from .execution import inference_execution

    fastest = inference_execution()
    return measure(model, recipe.model_copy(update={
        "precision": fastest.precision, "memory_format": fastest.memory_format}),
        train=False, device=fastest.device)
