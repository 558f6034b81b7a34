"""One training function for every network arm: Adam, the paper's normalisation, per-epoch
logs, best/last checkpoints, exact resume, seeded determinism, and DDP under torchrun.

Randomness is re-seeded from (seed, epoch) at the start of every epoch, so a run resumed from
the checkpoint of epoch k replays epochs k+1... exactly as an uninterrupted run would.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..data.normalization import Standardizer, minmax_unit

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class TrainSettings:
    epochs: int = 500
    batch_size: int = 32
    lr: float = 0.0005
    weight_decay: float = 0.0
    cosine: bool = False
    augment: bool = True
    input_size: int = 224
    precision: str = "auto"       # auto: bf16 where the CPU/GPU supports it, else fp32
    channels_last: bool = True
    normalization: str = "paper"  # paper: eq. 19-20 on training tiles; imagenet: eq. 19 + ImageNet mean/std
    seed: int = 0

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


@dataclass
class InputTransform:
    """uint8 tiles -> normalised float tensors of the network's input size (3 channels)."""
    size: int
    mean: tuple = (0.0, 0.0, 0.0)
    std: tuple = (1.0, 1.0, 1.0)
    kind: str = "paper"

    @classmethod
    def fit(cls, kind: str, train_tiles: np.ndarray, size: int) -> "InputTransform":
        if kind == "paper":
            s = Standardizer.fit(train_tiles)
            return cls(size, (s.mean,) * 3, (s.std,) * 3, kind)
        if kind == "imagenet":
            return cls(size, IMAGENET_MEAN, IMAGENET_STD, kind)
        raise ValueError(f"normalization must be 'paper' or 'imagenet', got {kind!r}")

    def __call__(self, tiles: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(minmax_unit(tiles)).unsqueeze(1)            # eq. 19, [n,1,h,w]
        if x.shape[-1] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True,
                              align_corners=False)
        x = x.expand(-1, 3, -1, -1)
        mean = torch.tensor(self.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        return ((x - mean) / std).contiguous()

    def to_dict(self) -> dict:
        return asdict(self)


def augment_batch(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random flips and 90° rotations: a micrograph has no up, down, left or right."""
    k = torch.randint(0, 4, (len(x),), generator=gen)
    flip = torch.randint(0, 2, (len(x),), generator=gen).bool()
    out = torch.empty_like(x)
    for i in range(len(x)):
        xi = torch.rot90(x[i], int(k[i]), dims=(1, 2))
        out[i] = torch.flip(xi, dims=(2,)) if flip[i] else xi
    return out


def autocast_dtype(precision: str, device: torch.device):
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    try:  # AMX / AVX-512 BF16 CPUs train 2-3x faster in bf16
        flags = Path("/proc/cpuinfo").read_text()
        return torch.bfloat16 if ("amx_bf16" in flags or "avx512_bf16" in flags) else None
    except OSError:
        return None


def _dist():
    d = torch.distributed
    if d.is_available() and d.is_initialized():
        return d.get_rank(), d.get_world_size()
    return 0, 1


def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


@dataclass
class TrainResult:
    model: nn.Module
    history: pd.DataFrame
    transform: InputTransform
    best_epoch: int
    resumed_from: int | None = None
    extra: dict = field(default_factory=dict)


def evaluate(model: nn.Module, tiles: np.ndarray, labels: np.ndarray | None,
             transform: InputTransform, batch_size: int = 64, device=None, precision="auto",
             channels_last: bool = True) -> tuple[float, float, np.ndarray]:
    """Mean loss, accuracy and class probabilities of `tiles`."""
    device = device or next(model.parameters()).device
    dtype = autocast_dtype(precision, device)
    model.eval()
    probs, loss_sum = [], 0.0
    with torch.no_grad():
        for s in range(0, len(tiles), batch_size):
            x = transform(tiles[s:s + batch_size]).to(device)
            if channels_last:
                x = x.to(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=dtype) if dtype else nullcontext():
                logits = model(x).float()
            if labels is not None:
                y = torch.as_tensor(labels[s:s + batch_size], device=device)
                loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
            probs.append(torch.softmax(logits, 1).cpu().numpy())
    p = np.concatenate(probs) if probs else np.zeros((0, 0))
    if labels is None or len(labels) == 0:
        return float("nan"), float("nan"), p
    return loss_sum / len(labels), float((p.argmax(1) == labels).mean()), p


def train(model: nn.Module, train_tiles: np.ndarray, train_labels: np.ndarray,
          val_tiles: np.ndarray, val_labels: np.ndarray, settings: TrainSettings,
          checkpoint_dir: str | Path | None = None, meta: dict | None = None,
          on_step: Callable[[int, int], None] | None = None, progress: bool = True,
          device: str | torch.device | None = None) -> TrainResult:
    """Train with Adam; keep `last.pt` each epoch and `best.pt` at the best validation accuracy.

    An existing `last.pt` made with the same settings is resumed. `on_step(epoch, step)` is
    called after every optimiser step (progress hooks; tests use it to interrupt a run).
    """
    rank, world = _dist()
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    torch.manual_seed(settings.seed)
    transform = InputTransform.fit(settings.normalization, train_tiles, settings.input_size)
    model = model.to(device)
    if settings.channels_last:
        model = model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=settings.lr, weight_decay=settings.weight_decay)
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=settings.epochs)
             if settings.cosine else None)
    dtype = autocast_dtype(settings.precision, device)
    net = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)

    ckdir = Path(checkpoint_dir) if checkpoint_dir else None
    history, start, best_acc, best_epoch, resumed = [], 0, -1.0, 0, None
    # settings and training data together decide whether a checkpoint may be resumed
    data_id = hashlib.sha256(np.ascontiguousarray(train_tiles[:, ::7, ::7]).tobytes()
                             + np.asarray(train_labels).tobytes()).hexdigest()[:12]
    fingerprint = f"{settings.fingerprint()}-{data_id}"
    if ckdir and (ckdir / "last.pt").exists():
        state = torch.load(ckdir / "last.pt", map_location=device, weights_only=True)
        if state["fingerprint"] != fingerprint:
            raise RuntimeError(f"{ckdir / 'last.pt'} was made with other settings or data; move "
                               "it aside to start afresh (it is not overwritten)")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        if sched and state.get("scheduler"):
            sched.load_state_dict(state["scheduler"])
        history, start = state["history"], state["epoch"]
        best_acc, best_epoch, resumed = state["best_acc"], state["best_epoch"], state["epoch"]

    n = len(train_tiles)
    for epoch in range(start + 1, settings.epochs + 1):
        torch.manual_seed(settings.seed * 100_003 + epoch)   # dropout etc.: replayable per epoch
        gen = torch.Generator().manual_seed(settings.seed * 100_003 + epoch)
        perm = torch.randperm(n, generator=gen).numpy()
        steps = math.ceil(n / settings.batch_size)
        net.train()
        t0, seen, loss_sum, correct = time.perf_counter(), 0, 0.0, 0
        bar = tqdm(range(steps), desc=f"epoch {epoch}/{settings.epochs}", leave=False,
                   disable=not progress or rank != 0)
        for step in bar:
            idx = perm[step * settings.batch_size:(step + 1) * settings.batch_size][rank::world]
            x = transform(train_tiles[idx])
            if settings.augment:
                x = augment_batch(x, gen)
            y = torch.as_tensor(train_labels[idx], device=device)
            x = x.to(device)
            if settings.channels_last:
                x = x.to(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=dtype) if dtype else nullcontext():
                logits = net(x)
            loss = F.cross_entropy(logits.float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            seen += len(idx)
            loss_sum += loss.item() * len(idx)
            correct += int((logits.argmax(1) == y).sum())
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if on_step:
                on_step(epoch, step)
        if sched:
            sched.step()
        seconds = time.perf_counter() - t0
        val_loss, val_acc, _ = evaluate(model, val_tiles, val_labels, transform,
                                        device=device, precision=settings.precision,
                                        channels_last=settings.channels_last)
        row = dict(epoch=epoch, train_loss=loss_sum / max(seen, 1), train_acc=correct / max(seen, 1),
                   val_loss=val_loss, val_acc=val_acc, seconds=round(seconds, 2),
                   img_per_s=round(seen * world / seconds, 1), lr=opt.param_groups[0]["lr"])
        history.append(row)
        improved = val_acc > best_acc or math.isnan(val_acc)
        if improved:
            best_acc, best_epoch = val_acc, epoch
        if ckdir and rank == 0:
            ckdir.mkdir(parents=True, exist_ok=True)
            state = dict(model=model.state_dict(), optimizer=opt.state_dict(),
                         scheduler=sched.state_dict() if sched else None, epoch=epoch,
                         history=history, best_acc=best_acc, best_epoch=best_epoch,
                         fingerprint=fingerprint, settings=asdict(settings),
                         transform=transform.to_dict(), meta=meta or {})
            if improved:
                _atomic_save({k: state[k] for k in ("model", "epoch", "settings", "transform",
                                                    "meta", "best_acc")}, ckdir / "best.pt")
            _atomic_save(state, ckdir / "last.pt")
    if ckdir and (ckdir / "best.pt").exists():
        model.load_state_dict(torch.load(ckdir / "best.pt", map_location=device,
                                         weights_only=True)["model"])
    return TrainResult(model, pd.DataFrame(history), transform, best_epoch, resumed)
