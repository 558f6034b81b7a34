"""One mechanism for every estimate: a stage's cost is a list of units of its work, each a real
library call timed here on a small sample (through the machine's rate cache, with its load
check) and scaled to the count the profile will make.

Each stage declares its units beside its code (`data.costs`, `glcm.costs`, `evaluation.costs`,
`nets.costs`) and registers them for its notebook step (`register`), as arm kinds register
their runners; `run.series` adds them up. A unit's key names everything its sample's time
depends on, so a second estimate on this machine times nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from .rate_cache import RateCache


@dataclass(frozen=True)
class Unit:
    part: str                   # the part of the notebook's estimate it adds to
    key: str                    # what the sample's time depends on: "<what>|<setting>|..."
    time: Callable[[], float]   # seconds of the work on the sample
    items: float = 1            # items the sample holds
    count: float = 1            # items the profile will make

    def seconds(self, cache: RateCache) -> float:
        """The sample timed here (once per machine and key), scaled to the profile's count."""
        if not self.count:
            return 0.0
        return cache.here(self.key, self.time, self.key.split("|")[0]) / self.items * self.count


@dataclass(frozen=True)
class Derived:
    """A unit whose key depends on another unit's measurement (a probe's feature width, whether
    its features are all cached): its seconds are worked out as the estimate is summed."""
    part: str
    seconds: Callable[[RateCache], float]


def seconds(units: Iterable[Unit | Derived], cache: RateCache) -> dict[str, float]:
    """Seconds of each part of an estimate: its units timed and scaled, summed by part."""
    parts: dict[str, float] = {}
    for u in units:
        parts[u.part] = parts.get(u.part, 0.0) + u.seconds(cache)
    return parts


#: a step's units: (its work context) -> units; registered by the stage that does the work
StepCost = Callable[..., list[Unit]]
_STEP_COSTS: dict[str, StepCost] = {}


def register(step: str, cost: StepCost) -> None:
    """Called by the stage package whose notebook `step` runs, when it is imported."""
    _STEP_COSTS[step] = cost


def registered(step: str) -> bool:
    return step in _STEP_COSTS


def step_cost(step: str) -> StepCost:
    if step not in _STEP_COSTS:
        raise ValueError(f"no cost registered for step {step!r}: its stage registers one with "
                         f"core.costs.register (registered: {sorted(_STEP_COSTS)})")
    return _STEP_COSTS[step]
