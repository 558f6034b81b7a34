"""The state a training keeps after every epoch, and the cache-file helpers around it.

A state is keyed by a fingerprint of everything that shapes the weights (recipe, seed, training
data, initial weights), so a run resumes only its own state; a damaged file is moved aside
under a name of its own, and files are written atomically.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import Recipe
from ..core.progress import warning

# Recipe keys that do not change the weights an epoch produces (epochs: a constant-rate run
# may be extended by raising it; a cosine schedule depends on it and keeps it).
_NOT_IN_FINGERPRINT = {"seeds", "tta", "precision", "memory_format"}


def fingerprint(recipe: Recipe, seed: int, train_tiles: np.ndarray, train_labels: np.ndarray,
                init: str) -> str:
    """What decides whether a saved state may be resumed: the recipe, seed, the training data
    and where the initial weights came from."""
    spec = recipe.model_dump(exclude=_NOT_IN_FINGERPRINT | (
        set() if recipe.schedule == "cosine" else {"epochs"}))
    sample = np.asarray(train_tiles).reshape(len(train_tiles), -1)[:, ::49]   # tiles or rows
    data = hashlib.sha256(np.ascontiguousarray(sample).tobytes()
                          + np.asarray(train_labels).tobytes()).hexdigest()[:12]
    blob = json.dumps(dict(recipe=spec, seed=seed, init=init), sort_keys=True)
    return f"{hashlib.sha256(blob.encode()).hexdigest()[:12]}-{data}"


@dataclass
class TrainingState:
    """Everything a resumed run needs; written after every epoch."""
    model: dict
    optimizer: dict
    scheduler: dict | None
    epoch: int
    history: list
    best: dict
    best_epoch: int
    best_acc: float
    fingerprint: str
    execution: dict


def move_damaged(path: Path, why: str, what: str) -> Path:
    """Move a damaged cache file aside under a name no earlier damaged copy has, and say so
    where the person running the study looks: stderr, and the runner's terminal."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    dest, n = path.with_name(f"{path.name}.damaged-{stamp}"), 1
    while dest.exists():   # never replace an earlier damaged copy
        dest, n = path.with_name(f"{path.name}.damaged-{stamp}-{n}"), n + 1
    path.replace(dest)
    message = f"{what} {path} is damaged ({why}): moved to {dest.name}, rebuilding it"
    print(message, file=sys.stderr)
    warning(message)
    return dest


def load_state(path: Path | None, fp: str, epochs: int) -> TrainingState | None:
    if path is None or not path.exists():
        return None
    try:
        state = TrainingState(**torch.load(path, map_location="cpu", weights_only=True))
    except Exception as exc:  # noqa: BLE001 - a truncated zip, garbage, a foreign dict alike
        first = (str(exc).splitlines() or [""])[0][:100]
        move_damaged(path, f"{type(exc).__name__}: {first}", "training state")
        return None
    if state.fingerprint != fp:
        raise RuntimeError(f"{path} holds another run's state (fingerprint {state.fingerprint}, "
                           f"expected {fp}); move it aside (it is not overwritten)")
    if state.epoch > epochs:
        raise RuntimeError(f"{path} has trained {state.epoch} epochs, more than the recipe's "
                           f"{epochs}: raise epochs to at least {state.epoch}, or move the state "
                           "aside to train afresh")
    return state


def resume(state: TrainingState, model, opt, sched) -> None:
    model.load_state_dict(state.model)
    opt.load_state_dict(state.optimizer)
    if sched and state.scheduler:
        sched.load_state_dict(state.scheduler)


def save_atomic(obj, path: Path) -> Path:
    """torch.save beside, then rename: a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    tmp.replace(path)
    return path
