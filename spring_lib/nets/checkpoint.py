"""The checkpoint format: what training and probing write and what `predict` reads.

A checkpoint holds one trained network and everything needed to use it on new micrographs:
the arm, the class names, how tiles were cut (size, scale, data bar), the input transform and
the weights. It holds tensors and plain data only, so it is read with `weights_only=True` and
no code inside it ever runs.
"""
from __future__ import annotations

import math
import numbers
import pickle
import warnings
import zipfile
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path

import torch

from .models import Classifier, build_model
from ..core.architectures import Arm
from .execution import InputTransform
from .training_state import save_atomic

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
    members: list | None = None      # a fused arm's networks: [{architecture, transform}]

    def __post_init__(self):
        """What `predict` relies on, checked once: a tampered or damaged field is one line."""
        def whole(v):
            return isinstance(v, numbers.Integral) and not isinstance(v, bool)

        def bad(key, want):
            shown = repr(getattr(self, key))
            raise CheckpointError(f"metadata {key} is {shown[:60]}, expected {want}")
        if not isinstance(self.arm, str):
            bad("arm", "an arm name such as MobileNetV2-TL")
        if not (isinstance(self.classes, (list, tuple)) and len(self.classes) >= 2
                and all(isinstance(c, str) for c in self.classes)):
            bad("classes", "a list of two or more class names")
        if not whole(self.tile_size) or self.tile_size < 1:
            bad("tile_size", "a positive whole number of pixels")
        if self.um_per_px is not None and not (isinstance(self.um_per_px, numbers.Real)
                                               and math.isfinite(self.um_per_px)
                                               and self.um_per_px > 0):
            bad("um_per_px", "null or a positive scale in µm/px")
        if not (self.databar in ("none", "auto") or (whole(self.databar)
                                                     and self.databar >= 0)):
            bad("databar", "'none', 'auto' or a number of rows")
        if not isinstance(self.pooling, str):
            bad("pooling", "a pooling name")
        t = self.transform
        if not (isinstance(t, dict) and {"size", "mean", "std", "kind"} <= set(t)
                and whole(t["size"]) and t["size"] > 0
                and all(isinstance(t[k], (list, tuple)) and len(t[k]) in (1, 3)
                        and all(isinstance(v, numbers.Real) and math.isfinite(v) for v in t[k])
                        for k in ("mean", "std"))
                and all(v > 0 for v in t["std"])):
            bad("transform", "{size, mean, std, kind} as training writes it")
        if not isinstance(self.state, dict):
            bad("state", "the network's tensors")
        if self.members is not None and not (
                isinstance(self.members, list) and self.members
                and all(isinstance(m, dict) and {"architecture", "transform"} <= set(m)
                        for m in self.members)):
            bad("members", "null or a list of {architecture, transform}")

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
        required = [f.name for f in fields(cls) if f.default is MISSING]
        missing = [k for k in required if k not in obj]
        if missing:
            raise CheckpointError(f"{path}: checkpoint metadata lacks {', '.join(missing)}: the "
                                  "file was altered; use the checkpoint as training wrote it")
        names = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in obj.items() if k in names})
        except CheckpointError as exc:
            raise CheckpointError(f"{path}: {exc}: the file was altered; use the checkpoint as "
                                  "training wrote it") from None

    def model(self) -> Classifier:
        """The network, in eval mode, with the checkpoint's weights."""
        if self.members is not None:
            return self._fused()
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

    def _fused(self):
        from .fusion import FusedNetwork

        try:
            model = FusedNetwork([m["architecture"] for m in self.members],
                                 [m["transform"] for m in self.members], len(self.classes))
            model.load_state_dict(self.state)
        except (KeyError, TypeError, RuntimeError) as exc:
            first = (str(exc).splitlines() or [""])[-1].strip()
            raise CheckpointError(f"the weights do not fit the fused networks "
                                  f"{[m.get('architecture') for m in self.members]} "
                                  f"({first[:160]})") from None
        return model.eval()

    def input_transform(self) -> InputTransform:
        t = self.transform
        return InputTransform(t["size"], tuple(t["mean"]), tuple(t["std"]), t["kind"])


#: how the older torch.save format (before torch 1.6) begins: its magic number, pickled
LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


def _check_torch_format(path: Path) -> None:
    """Refuse, before anything reads it as a pickle, a file in neither of torch.save's formats
    (the zip, or the legacy one): a plain pickle renamed .pt, a damaged zip, other bytes."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(LEGACY_TORCH_MAGIC))
    except OSError as exc:   # unreadable: permissions, a device gone
        raise CheckpointError(f"{path} cannot be read ({exc.strerror or exc})") from None
    if zipfile.is_zipfile(path) or head == LEGACY_TORCH_MAGIC:
        return
    if head.startswith(b"PK\x03\x04"):
        what = "a damaged or truncated zip (an interrupted copy or save?)"
    elif head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        what = ("a plain pickle (pickle.dump, not torch.save); spring_lib does not unpickle "
                "it, because unpickling can run arbitrary code")
    else:
        what = "neither a zip nor a pickle"
    raise CheckpointError(f"{path} is not a torch checkpoint (torch.save's zip format): it is "
                          f"{what}; use a checkpoint written by spring_lib's training")


def _read(path: Path):
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.is_dir():
        raise CheckpointError(f"{path} is a directory, not a checkpoint file (give e.g. "
                              f"{path}/<arm>.pt)")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes): an interrupted copy or save?")
    _check_torch_format(path)
    try:
        with warnings.catch_warnings():   # torch's notes on a file's pickle: its error says it all
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "global" in str(exc).lower():   # torch names the GLOBAL it refused to import
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
