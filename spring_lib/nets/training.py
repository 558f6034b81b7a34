"""One training function for every network arm: Adam, per-epoch logs, exact resume, seeded
determinism, and DDP under torchrun.

`train` returns the weights of the epoch with the best validation accuracy (the earliest of
equal ones), whether or not it keeps a resume state on disk, so every caller scores the same
kind of model. Randomness is re-seeded from (seed, epoch) at the start of every epoch, so a run
resumed after epoch k replays epochs k+1... exactly as an uninterrupted run would.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..config import Recipe
from ..core.progress import Progress
from .execution import Execution, InputTransform, evaluate
from .training_state import TrainingState, fingerprint, load_state, resume, save_atomic


def augment_batch(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random flips and 90° rotations: a micrograph has no up, down, left or right."""
    k = torch.randint(0, 4, (len(x),), generator=gen)
    flip = torch.randint(0, 2, (len(x),), generator=gen).bool()
    out = torch.empty_like(x)
    for i in range(len(x)):
        xi = torch.rot90(x[i], int(k[i]), dims=(1, 2))
        out[i] = torch.flip(xi, dims=(2,)) if flip[i] else xi
    return out


def top_share(proba: np.ndarray) -> float:
    """Share of tiles given the most frequently predicted class (1.0: one class for all)."""
    if not len(proba):
        return float("nan")
    return float(np.bincount(proba.argmax(1)).max() / len(proba))


def plateaued(history: list[dict], patience: int | None) -> bool:
    """Early stopping: the validation loss has not improved for `patience` epochs."""
    if not patience or not history:
        return False
    losses = [r["val_loss"] for r in history]
    if any(math.isnan(v) for v in losses):
        return False
    return len(losses) - 1 - int(np.argmin(losses)) >= patience


def did_not_learn(history: pd.DataFrame, val_labels: np.ndarray, top_share_limit: float = 0.9
                  ) -> str | None:
    """Why a network counts as not having learned, or None. Judged on the weights `train`
    keeps, those of its best validation epoch: no better on the validation tiles than always
    answering their majority class, or one class for nearly every tile. Such a network gets no
    predictions, row or verdict."""
    if history.empty or not len(val_labels):
        return None
    kept = history.loc[history["val_acc"].idxmax()] if history["val_acc"].notna().any() \
        else history.iloc[-1]
    epoch = int(kept["epoch"]) if "epoch" in kept else len(history)
    majority = float(np.bincount(val_labels).max() / len(val_labels))
    if not kept["val_acc"] > majority:
        return (f"validation accuracy {kept['val_acc']:.3f} at its best epoch ({epoch}) is no "
                f"better than the majority class ({majority:.3f})")
    if kept["val_top_share"] >= top_share_limit:
        return (f"at its best epoch ({epoch}) it gives one class to "
                f"{kept['val_top_share']:.0%} of the validation tiles")
    return None


def _dist():
    d = torch.distributed
    if d.is_available() and d.is_initialized():
        return d.get_rank(), d.get_world_size()
    return 0, 1


@dataclass
class TrainResult:
    model: nn.Module              # with the weights of `best_epoch`
    history: pd.DataFrame
    transform: InputTransform
    best_epoch: int
    best_val_acc: float
    execution: Execution          # how it was computed (a resumed run keeps the first run's)
    resumed_from: int | None = None


def _train_mode(model: nn.Module, pretrained_statistics: bool = False) -> None:
    """Train mode, except batch norms whose weights are frozen (or, with
    `pretrained_statistics`, every batch norm): their running statistics stay those of the
    pretrained network."""
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and (pretrained_statistics or not any(
                p.requires_grad for p in m.parameters())):
            m.eval()


def train_one_epoch(net: nn.Module, opt, transform: InputTransform, tiles: np.ndarray,
                    labels: np.ndarray, recipe: Recipe, seed: int, epoch: int,
                    execution: Execution, on_step: Callable | None = None,
                    progress: Progress | None = None) -> dict:
    rank, world = _dist()
    torch.manual_seed(seed * 100_003 + epoch)   # dropout etc.: replayable per epoch
    gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
    perm = torch.randperm(len(tiles), generator=gen).numpy()
    steps = math.ceil(len(tiles) / recipe.batch_size)
    _train_mode(net, recipe.batch_norm == "pretrained")
    t0, seen, loss_sum, correct = time.perf_counter(), 0, 0.0, 0
    for step in range(steps):
        idx = perm[step * recipe.batch_size:(step + 1) * recipe.batch_size][rank::world]
        x = transform(tiles[idx])
        if recipe.augment:
            x = augment_batch(x, gen)
        x = execution.batch(x)
        y = torch.as_tensor(labels[idx], device=x.device)
        with execution.autocast():
            logits = net(x)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        seen += len(idx)
        loss_sum += loss.item() * len(idx)
        correct += int((logits.argmax(1) == y).sum())
        if progress and rank == 0:
            progress.step(seen * world, loss=loss.item())
        if on_step:
            on_step(epoch, step)
    seconds = time.perf_counter() - t0
    return dict(epoch=epoch, train_loss=loss_sum / max(seen, 1), train_acc=correct / max(seen, 1),
                seconds=round(seconds, 2), img_per_s=round(seen * world / seconds, 1))


HISTORY_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "val_top_share",
                   "seconds", "img_per_s", "lr"]


def _optimiser(model: nn.Module, recipe: Recipe):
    """Adam over the trainable parameters, and the recipe's schedule (cosine, or None)."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=recipe.epochs)
             if recipe.schedule == "cosine" else None)
    return opt, sched


def _distributed(model: nn.Module, execution: Execution, world: int) -> nn.Module:
    """What each process trains: the model itself, or under torchrun its DDP wrapper."""
    if world == 1:
        return model
    return nn.parallel.DistributedDataParallel(
        model, device_ids=[torch.device(execution.device).index]
        if execution.device.startswith("cuda") else None)


def _end_epoch(state: TrainingState, row: dict, model: nn.Module, val_data, transform,
               execution: Execution, opt, epochs: int) -> None:
    """The epoch's validation scores into its row, the row into the state's history, and the
    weights kept where they are the best so far (a run that never scores keeps its last)."""
    row["val_loss"], row["val_acc"], val_p = evaluate(model, *val_data, transform, execution)
    row["val_top_share"] = top_share(val_p)
    row["lr"] = opt.param_groups[0]["lr"]
    state.history.append(row)
    if row["val_acc"] > state.best_acc or (math.isnan(row["val_acc"]) and row["epoch"] == epochs):
        state.best, state.best_epoch, state.best_acc = (copy.deepcopy(model.state_dict()),
                                                        row["epoch"], row["val_acc"])
    state.epoch = row["epoch"]


def _save_state(state: TrainingState, model: nn.Module, opt, sched, path: Path) -> None:
    state.model, state.optimizer = model.state_dict(), opt.state_dict()
    state.scheduler = sched.state_dict() if sched else None
    save_atomic(asdict(state), path)


def train(model: nn.Module, train_data: tuple[np.ndarray, np.ndarray],
          val_data: tuple[np.ndarray, np.ndarray], recipe: Recipe, transform: InputTransform,
          seed: int = 0, execution: Execution = Execution(), state_dir: str | Path | None = None,
          init: str = "", on_step: Callable[[int, int], None] | None = None,
          progress: Progress | None = None, score_start: bool = False) -> TrainResult:
    """Train with Adam for `recipe.epochs` (fewer where `recipe.patience` stops it on a
    validation-loss plateau); return the best validation epoch's weights.

    With `state_dir`, the state after every epoch is kept in `<state_dir>/<fingerprint>.pt`, and
    an existing state of the same fingerprint is resumed (a finished one returns at once); a run
    with other settings writes its own file, so no earlier state is ever overwritten. `on_step(epoch,
    step)` is called after every optimiser step (tests use it to interrupt a run).
    `score_start`: the initial weights are scored as epoch 0 and kept unless an epoch beats
    them (a probe-initialised head that fine-tuning does not improve stays as it was).
    """
    rank, world = _dist()
    tr_x, tr_y = train_data
    fp = fingerprint(recipe, seed, tr_x, tr_y, init)
    path = Path(state_dir) / f"{fp}.pt" if state_dir else None
    state = load_state(path, fp, recipe.epochs)
    if state:   # resume as the interrupted run computed
        execution = Execution(**state.execution)
    torch.manual_seed(seed)
    model = execution.prepare(model)
    opt, sched = _optimiser(model, recipe)
    net = _distributed(model, execution, world)
    resumed = state.epoch if state else None
    if state:
        resume(state, model, opt, sched)
    else:
        state = TrainingState(model={}, optimizer={}, scheduler=None, epoch=0, history=[],
                       best=copy.deepcopy(model.state_dict()), best_epoch=0, best_acc=-1.0,
                       fingerprint=fp, execution=asdict(execution))
        if score_start:
            _end_epoch(state, dict(epoch=0, train_loss=float("nan"), train_acc=float("nan"),
                                   seconds=0.0, img_per_s=float("nan")),
                       model, val_data, transform, execution, opt, recipe.epochs)
    for epoch in range(state.epoch + 1, recipe.epochs + 1):
        if plateaued(state.history, recipe.patience):   # also a resumed run that had stopped
            break
        if progress:
            progress.epoch(epoch, recipe.epochs, len(tr_x))
        row = train_one_epoch(net, opt, transform, tr_x, tr_y, recipe, seed, epoch, execution,
                              on_step, progress)
        if sched:
            sched.step()
        _end_epoch(state, row, model, val_data, transform, execution, opt, recipe.epochs)
        if path and rank == 0:
            _save_state(state, model, opt, sched, path)
        if progress:
            progress.epoch_done(row)
    model.load_state_dict(state.best)
    history = pd.DataFrame(state.history, columns=HISTORY_COLUMNS)
    return TrainResult(model, history, transform, state.best_epoch, state.best_acc, execution,
                       resumed)
