"""The live monitor: the run's progress events printed as they come, with notebook and run ETAs."""
from __future__ import annotations

import threading
import time
from pathlib import Path

from ..core.progress import read_events


class Monitor(threading.Thread):
    """Prints the run's progress events as they come, and a heartbeat per notebook."""

    def __init__(self, path: Path, log, heartbeat_s: float = 60.0, poll_s: float = 1.0):
        super().__init__(daemon=True)
        self.path, self.log, self.heartbeat_s, self.poll_s = path, log, heartbeat_s, poll_s
        self.stop_event = threading.Event()
        self.notebook, self.nb_t0, self.last_beat = "", time.time(), time.time()
        self.pos, self.pending = 0, {}     # arm -> estimate_s still to come
        self.seed_estimate = {}            # arm -> estimate_s of the seed now training
        self.later_s = 0.0                 # known durations of the notebooks after this one

    def start_notebook(self, label: str, later_s: float) -> None:
        self.notebook, self.nb_t0, self.last_beat = label, time.time(), time.time()
        self.pending, self.later_s = {}, later_s

    def run(self):
        while not self.stop_event.wait(self.poll_s):
            self.poll()

    def poll(self):
        events, self.pos = read_events(self.path, self.pos)
        for e in events:
            try:
                self.show(e)
            except KeyError:   # an event of another shape: not for the terminal
                continue
        if self.notebook and time.time() - self.last_beat >= self.heartbeat_s:
            self.last_beat = time.time()
            self.log(f"    {self.notebook}: running for {mmss(time.time() - self.nb_t0)}"
                     + self._eta())

    def _eta(self, running_left: float = 0.0) -> str:
        if not self.pending and not running_left:
            return ""
        left = running_left + sum(v for v in self.pending.values() if v)
        return f" | notebook ETA {mmss(left)} | total ETA {mmss(left + self.later_s)}"

    def show(self, e: dict):
        kind = e["kind"]
        if kind == "arms planned":
            self.pending = {a["arm"]: a["estimate_s"] for a in e["arms"] if a["status"] == "planned"}
            planned = ", ".join(f"{a['arm']} {a['estimate_s'] / 60:.1f} min" for a in e["arms"]
                                if a["status"] == "planned" and a["estimate_s"])
            self.log(f"    plan: {planned or 'no arm to train'}{self._eta()}")
        elif kind == "arm_start":
            est = e.get("estimate_s")
            self.seed_estimate[e["arm"]] = est or 0
            self.log(f"    {e['arm']} (seed {e['seed']}) started"
                     + (f", estimated {mmss(est)}" if est else ""))
        elif kind == "step":
            self.last_beat = time.time()
            self.log(f"    {e['arm']} epoch {e['epoch']}/{e['epochs']}: {e['seen']}/{e['images']} "
                     f"tiles, {e['img_per_s']} img/s, arm ETA {mmss(e['eta_s'])}"
                     + self._eta(e["eta_s"] - self.seed_estimate.get(e["arm"], 0)))
        elif kind == "epoch":
            self.log(f"    {e['arm']} epoch {e['epoch']}/{e['epochs']} done: train loss "
                     f"{e['train_loss']:.3f}, val acc {e['val_acc']:.3f}, {e['img_per_s']} img/s")
        elif kind == "arm_done":   # one seed of the arm: its share of the estimate is spent
            left = (self.pending.get(e["arm"]) or 0) - (e.get("estimate_s") or 0)
            if left > 1:
                self.pending[e["arm"]] = left
            else:
                self.pending.pop(e["arm"], None)
            est = e.get("estimate_s")
            self.log(f"    {e['arm']} done in {mmss(e['seconds'])}"
                     + (f" (estimated {mmss(est)})" if est else "") + self._eta())
        elif kind == "warning":   # e.g. a damaged cache moved aside inside a notebook
            self.log(f"    warning: {e['message']}")
        elif kind == "arm_skip":
            self.pending.pop(e["arm"], None)
            self.log(f"    {e['arm']}: {e['status']}")

    def close(self):
        self.stop_event.set()
        self.join(timeout=5)
        self.poll()


def mmss(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"
