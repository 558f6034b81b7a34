"""What this machine was measured to do, kept so that a second estimate or run measures nothing
it already knows: images per second of each network and execution, seconds of every unit of
work an estimate scales (`core.costs`), and each arm's facts as far as they depend on the
machine and the profile (`nets.planning`).

One JSON file per cache folder (`<cache dir>/rates.json`). Every key names the machine (CPU
model, architecture, the instruction sets oneDNN and ATen use, threads, device, torch). A
measurement taken while other processes used a noticeable share of the CPU is that machine
under load: it is used and kept, marked as taken under load, so a busy machine does not time
it again on every run; the first run that finds the machine quiet times it again and replaces
it. An arm's facts built on such a measurement are marked the same way.
"""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Callable

from .machine import cpu_model, isa_cap, others_load
from .progress import warning

#: share of the machine's CPU that other processes may use while a rate is timed
LOADED = 0.15


class RateCache:
    #: 3: every estimate's units (`core.costs`) timed here; arms' facts kept as "arm_facts"
    VERSION = 3

    def __init__(self, path: Path | str | None, quiet_window_s: float = 0.3):
        self.path = Path(path) if path else None
        self.quiet_window_s = quiet_window_s
        self.rates: dict[str, float] = {}
        self.arm_facts: dict[str, dict] = {}
        self.loaded: set[str] = set()   # keys (rates and facts) measured under load
        self.loaded_used = 0   # ... that this cache used: facts built on one are marked too
        self._quiet: bool | None = None
        if self.path and self.path.exists():
            try:
                data = json.loads(self.path.read_text())
                if data.get("version") == self.VERSION:
                    self.rates = {k: float(v) for k, v in data["rates"].items()}
                    self.arm_facts = {k: dict(v) for k, v in data.get("arm_facts", {}).items()}
                    self.loaded = {str(k) for k in data.get("loaded", [])}
            except (ValueError, KeyError, TypeError, AttributeError):
                self.rates, self.arm_facts = {}, {}   # a damaged file is measured again, not fatal

    @staticmethod
    def machine(device: str = "cpu") -> str:
        """This machine as every key names it: what a rate depends on besides the work."""
        import torch

        dev = (torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda")
               else "cpu")
        isa = f"{isa_cap() or 'native'} oneDNN, {torch.backends.cpu.get_cpu_capability()} ATen"
        return (f"{cpu_model()}|{platform.machine()}|{isa}|{torch.get_num_threads()} threads|"
                f"{dev}|torch {torch.__version__}")

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
            self.loaded_used += key in self.loaded   # still marked: so are facts built on it
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

    def here(self, key: str, fn: Callable[[], float], what: str, device: str = "cpu") -> float:
        """`measured` under this machine's key (`machine()`): the form every estimate's unit
        (`core.costs`) and every network rate is timed in."""
        return self.measured(f"{self.machine(device)}|{key}", fn, what)

    def facts(self, key: str) -> dict | None:
        return None if self._stale(key) else self.arm_facts.get(key)

    def keep_facts(self, key: str, facts: dict, loaded: bool = False) -> None:
        """Keep an arm's measured facts; `loaded`: built on a measurement taken under load."""
        self.arm_facts[key] = facts
        (self.loaded.add if loaded else self.loaded.discard)(key)
        self.save()

    def save(self) -> None:
        if not self.path:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"version": self.VERSION, "rates": self.rates,
                                   "arm_facts": self.arm_facts, "loaded": sorted(self.loaded)},
                                  indent=1, sort_keys=True))
        tmp.replace(self.path)
