"""How a network is computed here: the execution (device, memory layout, precision), the input
transform from uint8 tiles to tensors, and evaluation over test-time views.

Training, probes, planning and `predict` all compute through these, so a tile enters every
network the same way.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.machine import cpu_bf16
from ..data.normalization import Standardizer, minmax_unit


@dataclass(frozen=True)
class Execution:
    """How the arithmetic runs on this machine, chosen by measurement (`nets.timing`). It is
    kept with the training state, and a resumed run uses the kept one, so it computes exactly
    as the interrupted run did even where a new measurement would choose otherwise."""
    device: str = "cpu"
    memory_format: str = "contiguous"   # or channels_last
    precision: str = "fp32"             # or bf16

    @property
    def dtype(self):
        return torch.bfloat16 if self.precision == "bf16" else None

    def autocast(self):
        dev = torch.device(self.device).type
        return torch.autocast(dev, dtype=self.dtype) if self.dtype else nullcontext()

    def batch(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device)
        if self.memory_format == "channels_last" and x.dim() == 4:
            return x.to(memory_format=torch.channels_last)
        return x

    def prepare(self, model: nn.Module) -> nn.Module:
        """The model on this device in this layout; a model that lays out its own inputs (a
        cached top, whose rows are flat) is told the layout."""
        model = model.to(self.device)
        if hasattr(model, "memory_format"):
            model.memory_format = self.memory_format
        fmt = torch.channels_last if self.memory_format == "channels_last" else torch.contiguous_format
        return model.to(memory_format=fmt)


def native_bf16(device: str = "cpu") -> bool:
    """bf16 pays only where the hardware computes it: AMX or AVX-512 BF16 CPUs, bf16 GPUs."""
    if device.startswith("cuda"):
        return torch.cuda.is_bf16_supported()
    return cpu_bf16()


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def inference_execution(memory_format: str = "channels_last", precision: str = "auto",
                        device: str | None = None) -> Execution:
    """How inference (probe features) runs here: bf16 where the hardware computes it natively
    (inference is where bf16 costs least accuracy and saves most time), fp32 elsewhere."""
    device = device or default_device()
    if precision == "auto":
        precision = "bf16" if native_bf16(device) else "fp32"
    return Execution(device, memory_format, precision)


@dataclass
class InputTransform:
    """uint8 tiles -> normalised float tensors of the network's input size (3 channels)."""
    size: int
    mean: tuple = (0.0, 0.0, 0.0)
    std: tuple = (1.0, 1.0, 1.0)
    kind: str = "paper"

    @classmethod
    def fit(cls, kind: str, train_tiles: np.ndarray, size: int,
            pretrained_stats: tuple[tuple, tuple] | None = None) -> "InputTransform":
        """paper: eq. 20 statistics of the training tiles; imagenet: the statistics the
        architecture's pretrained weights expect (`pretrained_stats`)."""
        if kind == "paper":
            s = Standardizer.fit(train_tiles)
            return cls(size, (s.mean,) * 3, (s.std,) * 3, kind)
        if kind == "imagenet":
            mean, std = pretrained_stats
            return cls(size, tuple(mean), tuple(std), kind)
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


def symmetry_views(x: torch.Tensor, tta: str) -> list[torch.Tensor]:
    """The views whose predictions are averaged: the tile, its flip, or all 8 symmetries."""
    if tta == "none":
        return [x]
    if tta == "flips":
        return [x, torch.flip(x, dims=(3,))]
    rots = [torch.rot90(x, k, dims=(2, 3)) for k in range(4)]
    return rots + [torch.flip(r, dims=(3,)) for r in rots]


def evaluate(model: nn.Module, tiles: np.ndarray, labels: np.ndarray | None,
             transform: InputTransform, execution: Execution = Execution(), tta: str = "none",
             batch_size: int = 64) -> tuple[float, float, np.ndarray]:
    """Mean loss, accuracy and class probabilities of `tiles` (averaged over the test views)."""
    model.eval()
    probs, loss_sum = [], 0.0
    with torch.no_grad():
        for s in range(0, len(tiles), batch_size):
            x = execution.batch(transform(tiles[s:s + batch_size]))
            p = 0
            views = symmetry_views(x, tta)
            for v in views:
                with execution.autocast():
                    p = p + torch.softmax(model(v).float(), 1) / len(views)
            if labels is not None:
                y = torch.as_tensor(labels[s:s + batch_size], device=p.device)
                loss_sum += F.nll_loss(torch.log(p.clamp_min(1e-12)), y, reduction="sum").item()
            probs.append(p.cpu().numpy())
    p = np.concatenate(probs) if probs else np.zeros((0, 0))
    if labels is None or len(labels) == 0:
        return float("nan"), float("nan"), p
    return loss_sum / len(labels), float((p.argmax(1) == labels).mean()), p
