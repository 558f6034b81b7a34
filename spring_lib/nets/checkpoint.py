"""The checkpoint format: what training and probing write and what `predict` reads.

A checkpoint holds one trained network and everything needed to use it on new micrographs:
the arm, the class names, how tiles were cut (size, scale, data bar), the input transform and
the weights. It holds tensors and plain data only, so it is read with `weights_only=True` and
no code inside it ever runs.
"""
from __future__ import annotations

import pickle
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch

from .models import Classifier, build_model
from .registry import Arm
from .training import InputTransform, save_atomic

FORMAT = "spring_lib.checkpoint/1"


class CheckpointError(ValueError):
    """A file that is not a usable checkpoint; the message names it and says what it is."""


@dataclass
class Checkpoint:
    arm: str
    classes: list
    tile_size: int
    um_per_px: float | None
    databar: str | int
    pooling: str
    transform: dict           # InputTransform fields
    weights: str              # where the initial weights came from
    state: dict               # the network's state dict
    seed: int = 0
    best_epoch: int | None = None    # None: a probe (no epochs)
    val_acc: float | None = None
    profile: str = ""

    def save(self, path: str | Path) -> Path:
        return save_atomic({"format": FORMAT, **asdict(self)}, path)

    @classmethod
    def load(cls, path: str | Path) -> "Checkpoint":
        path = Path(path)
        obj = _read(path)
        if not isinstance(obj, dict):
            raise CheckpointError(f"{path} holds a bare {type(obj).__name__}, not a spring_lib "
                                  "checkpoint (those are written by training, e.g. "
                                  "results/<profile>/models/<arm>.pt)")
        if obj.get("format") != FORMAT:
            keys = ", ".join(sorted(map(str, obj))[:6])
            raise CheckpointError(f"{path} is a PyTorch file but not a spring_lib checkpoint "
                                  f"(format {obj.get('format')!r}; keys: {keys})")
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in obj.items() if k in names})

    def model(self) -> Classifier:
        """The network, in eval mode, with the checkpoint's weights."""
        try:
            arm = Arm.parse(self.arm)
        except ValueError as exc:
            raise CheckpointError(f"checkpoint arm: {exc}") from None
        model, _ = build_model(Arm(arm.name, arm.architecture, "scratch"), len(self.classes),
                               pooling=self.pooling)
        try:
            model.load_state_dict(self.state)
        except RuntimeError as exc:
            first = str(exc).splitlines()[1].strip() if "\n" in str(exc) else str(exc)
            raise CheckpointError(f"the weights do not fit {arm.architecture} with pooling "
                                  f"'{self.pooling}' ({first[:160]})") from None
        return model.eval()

    def input_transform(self) -> InputTransform:
        t = self.transform
        return InputTransform(t["size"], tuple(t["mean"]), tuple(t["std"]), t["kind"])


def _read(path: Path):
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.is_dir():
        raise CheckpointError(f"{path} is a directory, not a checkpoint file (give e.g. "
                              f"{path}/<arm>.pt)")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes): an interrupted copy or save?")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "global" in str(exc):   # torch names the class it refused to import
            raise CheckpointError(
                f"{path} contains Python objects other than tensors and plain data. spring_lib "
                "does not unpickle such objects, because unpickling can run arbitrary code; use a "
                "checkpoint written by spring_lib's training") from None
        raise CheckpointError(f"{path} is not a PyTorch checkpoint (its contents do not "
                              "unpickle)") from None
    except Exception as exc:  # noqa: BLE001 - text, random bytes, truncated zips alike
        first = (str(exc).splitlines() or [""])[0][:120]
        raise CheckpointError(f"{path} is not a PyTorch checkpoint ({type(exc).__name__}: "
                              f"{first})") from None
