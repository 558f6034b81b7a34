"""What this machine was measured to do, kept so that a second estimate or run measures nothing
it already knows: images per second of each network and execution, seconds of the probes'
classifier fits, and each arm's plan as far as it depends on the machine and the profile.

One JSON file per cache folder (`<cache dir>/rates.json`). Every key names the machine (CPU
model, architecture, the instruction sets oneDNN and ATen use, threads, device, torch). A
measurement taken while other processes used a noticeable share of the CPU is that machine
under load: it is used and kept, marked as taken under load, so a busy machine does not time
it again on every run; the first run that finds the machine quiet times it again and replaces
it. A plan built on such a measurement is marked the same way.
"""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Callable

import torch

from ..core.machine import cpu_model, isa_cap, others_load
from ..core.progress import warning
from .execution import Execution

#: share of the machine's CPU that other processes may use while a rate is timed
LOADED = 0.15


class RateCache:
    #: 2: scikit-learn fits timed on one BLAS thread, as the study now runs them
    VERSION = 2

    def __init__(self, path: Path | str | None, quiet_window_s: float = 0.3):
        self.path = Path(path) if path else None
        self.quiet_window_s = quiet_window_s
        self.rates: dict[str, float] = {}
        self.plans: dict[str, dict] = {}
        self.loaded: set[str] = set()   # keys (rates and plans) measured under load
        self.loaded_used = 0   # ... that this cache used: a plan built on one is marked too
        self._quiet: bool | None = None
        if self.path and self.path.exists():
            try:
                data = json.loads(self.path.read_text())
                if data.get("version") == self.VERSION:
                    self.rates = {k: float(v) for k, v in data["rates"].items()}
                    self.plans = {k: dict(v) for k, v in data.get("plans", {}).items()}
                    self.loaded = {str(k) for k in data.get("loaded", [])}
            except (ValueError, KeyError, TypeError, AttributeError):
                self.rates, self.plans = {}, {}   # a damaged file is measured again, not fatal

    @staticmethod
    def machine(device: str = "cpu") -> str:
        dev = (torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda")
               else "cpu")
        isa = f"{isa_cap() or 'native'} oneDNN, {torch.backends.cpu.get_cpu_capability()} ATen"
        return (f"{cpu_model()}|{platform.machine()}|{isa}|{torch.get_num_threads()} threads|"
                f"{dev}|torch {torch.__version__}")

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

    def quiet(self) -> bool:
        """Whether other processes leave the CPU alone now: read once per cache, and only when
        a measurement taken under load could be replaced."""
        if self._quiet is None:
            _, load = others_load(lambda: time.sleep(self.quiet_window_s))
            self._quiet = load is None or load <= LOADED
        return self._quiet

    def _stale(self, key: str) -> bool:
        """A kept measurement to take again: one taken under load, now that the CPU is quiet."""
        return key in self.loaded and self.quiet()

    def measured(self, key: str, fn: Callable[[], float], what: str) -> float:
        """`fn()`'s measurement under `key`, from the file if it holds it (unless it was taken
        under load and the CPU is quiet now); one taken under load is kept, marked so."""
        if key in self.rates and not self._stale(key):
            self.loaded_used += key in self.loaded   # still marked: so is a plan built on it
            return self.rates[key]
        value, load = others_load(fn)
        if load is not None and load > LOADED:
            warning(f"{what} was timed while other processes used {load:.0%} of the CPU: kept "
                    "as taken under load, until a run on a quiet machine times it again")
            self.loaded.add(key)
            self.loaded_used += 1
        else:
            self.loaded.discard(key)
        self.rates[key] = value
        self.save()
        return value

    def here(self, key: str, fn: Callable[[], float], what: str) -> float:
        """`measured` under this machine's key (`machine()`): the form planning and the
        notebook estimates time their work in."""
        return self.measured(f"{self.machine()}|{key}", fn, what)

    def rate(self, timer: Callable, model, ex: Execution, batch: int, size: int,
             train: bool) -> float:
        return self.measured(self.key(model, ex, batch, size, train),
                             lambda: timer(model, ex, batch, size, train),
                             f"{self.network(model)} at {size} px ({ex.precision})")

    def plan(self, key: str) -> dict | None:
        return None if self._stale(key) else self.plans.get(key)

    def keep_plan(self, key: str, facts: dict, loaded: bool = False) -> None:
        """Keep an arm's plan; `loaded`: built on a measurement taken under load."""
        self.plans[key] = facts
        (self.loaded.add if loaded else self.loaded.discard)(key)
        self.save()

    def save(self) -> None:
        if not self.path:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"version": self.VERSION, "rates": self.rates,
                                   "plans": self.plans, "loaded": sorted(self.loaded)},
                                  indent=1, sort_keys=True))
        tmp.replace(self.path)
