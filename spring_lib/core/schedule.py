"""The series' budget filled in priority order: which arms run when not all of them fit.

Torch-free: the estimates come from planning (`nets.planning`), the budget from the profile
(`cnn.max_minutes_total`); this decides only the order and what is left out.
"""
from __future__ import annotations

from .architectures import Arm


def pair_twin(scratch: str, arms) -> str | None:
    """The pretrained twin of a scratch arm among `arms`: its `@twin` TL arm (same input and
    tiles), else its TL arm; None where neither is there."""
    tl = scratch.removesuffix("-scratch") + "-TL"
    for twin in (f"{tl}@twin", tl):
        if twin in arms:
            return twin
    return None


def priority(names: list[str], scores: dict[str, float] | None = None) -> list[tuple[str, ...]]:
    """Arms in the order the study needs them, as units that run together: every probe, each
    followed by its fine-tuned twin where one is listed (it trains on the maps the probe's own
    forward pass caches: fine-tuning costs little more than its probe), in the listed order;
    then each scratch arm with its pretrained twin (`pair_twin`: the fair comparison of
    pretrained weights against none); then the remaining fine-tuning and scratch arms, best
    first by their architecture's probe score in `scores` (inner CV; architectures without one
    after, in the listed order)."""
    arms = [Arm.parse(n) for n in names]
    listed = set(names)
    probes = []
    for a in arms:
        if a.kind == "probe":
            probes += [(a.name,)] + ([(a.sibling("TL"),)] if a.sibling("TL") in listed else [])
    after_probe = {n for (n,) in probes}
    pairs = [tuple(n for n in (twin, a.name) if n not in after_probe) for a in arms
             if a.kind == "scratch" for twin in [pair_twin(a.name, listed)] if twin]
    taken = after_probe | {n for unit in pairs for n in unit}
    rest = [a for a in arms if a.name not in taken]
    scores = scores or {}
    rest.sort(key=lambda a: -scores.get(a.architecture, float("-inf")))
    return probes + pairs + [(a.name,) for a in rest]


def over_budget(estimates: dict[str, float], budget_minutes: float | None,
                spent_s: float = 0.0, scores: dict[str, float] | None = None) -> dict[str, str]:
    """Why each arm that does not fit the run's total budget is not run (its note).

    `estimates`: estimated seconds of the arms that would run, in the order they are listed;
    `spent_s`: the budget's seconds that are not these arms' (what the run used before them,
    what follows them); `scores`: see `priority`. Units are
    taken in priority order while they fit; a unit that does not fit is skipped and a later,
    smaller one may still fit. None: no budget."""
    if budget_minutes is None:
        return {}
    left = budget_minutes * 60 - spent_s
    out = {}
    for unit in priority(list(estimates), scores):
        cost = sum(estimates[n] for n in unit)
        if cost <= left:
            left -= cost
            continue
        for n in unit:
            out[n] = (f"estimated {estimates[n] / 60:.1f} min; the run's budget of "
                      f"{budget_minutes:g} min is spent")
    return out
