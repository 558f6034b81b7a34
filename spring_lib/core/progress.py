"""Progress a person can follow: bars in JupyterLab, live lines in the runner's terminal.

Under `python -m spring_lib run`, notebooks execute in a kernel whose output nobody watches,
so the library appends events (JSON lines) to the file named by $SPRING_PROGRESS_FILE and the
runner prints them as they come. In JupyterLab the same progress shows as tqdm widget bars.
The event format is written and read here only: the named writers below, `Progress` for a
network's training, and `read_events` with `arm_budgets` for the runner.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Iterable

from tqdm.auto import tqdm

PROGRESS_ENV = "SPRING_PROGRESS_FILE"
STEP_EVERY_S = 10.0   # how often a step event is written


def under_runner() -> bool:
    return bool(os.environ.get(PROGRESS_ENV))


def _emit(kind: str, **fields) -> None:
    path = os.environ.get(PROGRESS_ENV)
    if not path:
        return
    with open(path, "a") as f:
        f.write(json.dumps({"t": round(time.time(), 2), "kind": kind, **fields}, default=str) + "\n")


def bar(iterable=None, **kwargs):
    """A tqdm bar for notebooks; silent under the runner, which reports through events."""
    return tqdm(iterable, disable=under_runner() or kwargs.pop("disable", False), leave=False,
                **kwargs)


# ---------------------------------------------------------------- writers

def arms_planned(arms: Iterable[tuple[str, str, float | None]]) -> None:
    """A notebook's arms before any trains: (arm, status, estimate_s), status `planned` or why not;
    the monitor's ETAs start here."""
    _emit("arms planned", arms=[dict(arm=arm, status=status, estimate_s=estimate_s)
                        for arm, status, estimate_s in arms])


def arm_skipped(arm: str, status: str, estimate_s: float | None) -> None:
    """An arm that will not run (over budget, no weights): its estimate leaves the ETA."""
    _emit("arm_skip", arm=arm, status=status, estimate_s=estimate_s)


def warning(message: str) -> None:
    """Something the person running the study must see (a damaged cache moved aside): the
    runner's terminal shows it, not only the notebook nobody watches."""
    _emit("warning", message=message)


def arm_finished(arm: str, seconds: float, status: str) -> None:
    """An arm's whole time (tuning, a fine-tuned head's probe, every seed): the one actual time
    that run.json and the arm's row in its arms table both record."""
    _emit("arm_total", arm=arm, seconds=seconds, status=status)


class Progress:
    """One network arm's training: epoch, images per second, and the time it still needs."""

    def __init__(self, arm: str, seed: int = 0, estimate_s: float | None = None):
        self.arm, self.seed, self.estimate_s = arm, seed, estimate_s
        self._bar, self._t0, self._last = None, time.time(), 0.0
        _emit("arm_start", arm=arm, seed=seed, estimate_s=estimate_s)

    def epoch(self, epoch: int, epochs: int, n_images: int) -> None:
        self.epochs, self.n, self.current = epochs, n_images, epoch
        self._epoch_t0 = time.time()
        self._bar = bar(total=n_images, desc=f"{self.arm} epoch {epoch}/{epochs}", unit="img")

    def step(self, seen: int, loss: float) -> None:
        self._bar.update(seen - self._bar.n)
        self._bar.set_postfix(loss=f"{loss:.3f}")
        now = time.time()
        if now - self._last >= STEP_EVERY_S:
            self._last = now
            rate = seen / max(now - self._epoch_t0, 1e-9)
            left = (self.n - seen + (self.epochs - self.current) * self.n) / max(rate, 1e-9)
            _emit("step", arm=self.arm, seed=self.seed, epoch=self.current, epochs=self.epochs,
                 seen=seen, images=self.n, img_per_s=round(rate, 1), eta_s=round(left))

    def epoch_done(self, row: dict) -> None:
        self._bar.close()
        _emit("epoch", arm=self.arm, seed=self.seed, epochs=self.epochs,
             **{k: row[k] for k in ("epoch", "train_loss", "val_acc", "img_per_s")})

    def done(self, seconds: float | None = None, **fields) -> None:
        """`seconds`: the arm's whole time where it began before this tracker (tuning)."""
        seconds = time.time() - self._t0 if seconds is None else seconds
        _emit("arm_done", arm=self.arm, seed=self.seed, seconds=round(seconds, 1),
             estimate_s=self.estimate_s, **fields)


# ---------------------------------------------------------------- reader

def read_events(path: Path, offset: int = 0) -> tuple[list[dict], int]:
    """The events appended to `path` after byte `offset`, and the offset to read from next.
    A last line without its newline is still being written: it is left for the next read (at
    the end of a run, a line cut short is dropped)."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    whole = data.rfind(b"\n") + 1
    events = []
    for line in data[:whole].splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:   # not an event (a foreign or garbled line): skipped
            continue
    return events, offset + whole


def arm_budgets(events: Iterable[dict]) -> list[dict]:
    """Estimate against actual for every arm, from a run's events: what run.json records."""
    rows = {}
    for e in events:
        kind = e.get("kind")
        if kind == "arms planned":
            for a in e["arms"]:
                rows[a["arm"]] = {"arm": a["arm"], "status": a["status"],
                                  "estimate_s": a["estimate_s"], "actual_s": 0.0}
        elif kind == "arm_done":
            r = rows.setdefault(e["arm"], {"arm": e["arm"], "status": "planned",
                                           "estimate_s": e.get("estimate_s"), "actual_s": 0.0})
            r["actual_s"] = round(r["actual_s"] + e["seconds"], 1)
            r["status"] = e.get("status", "done")
        elif kind == "arm_total":   # the whole arm, as its arms table records it
            r = rows.setdefault(e["arm"], {"arm": e["arm"], "estimate_s": None})
            r["actual_s"], r["status"] = e["seconds"], e["status"]
    return list(rows.values())
