"""The networks of the study, built by name, on pretrained weights had honestly (`weights`).

Every network is a `Classifier`: a `PooledBackbone` (the architecture without its classifier,
returning pooled features) and a linear head. Fine-tuned, probed and from-scratch arms therefore
share one structure, and a probe's fitted linear classifier becomes the head of a network that
`predict`, Grad-CAM and the phase maps use like any other.

A TL or probe arm whose weights cannot be had raises `WeightsUnavailable`; it is never trained
from scratch under its name. Greyscale micrographs enter as 3 identical channels: the pretrained
first convolution is used unchanged.
"""
from __future__ import annotations

import torch
from torch import nn

from ..core.architectures import ARCHITECTURES, Architecture, Arm
from .weights import load_backbone, pretrained_state_dict

POOLINGS = ("head", "texture")


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
    """The input edge the pretrained weights were made at, from the library's own metadata
    (timm's data config, torchvision's weights transforms). A deeper network fed below it is
    not a test of depth."""
    if arch.library != "timm":
        import torchvision

        weights = torchvision.models.get_model_weights(arch.model_name).DEFAULT
        return int(weights.transforms().crop_size[0])
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


def texture_stage_names(backbone: PooledBackbone) -> list[str]:
    """The modules whose outputs texture pooling summarises: timm's last two `feature_info`
    stages (those `forward_intermediates(indices=2)` returns), else the record's."""
    if hasattr(backbone.net, "forward_intermediates"):
        return [f["module"] for f in backbone.net.feature_info[-2:]]
    return list(ARCHITECTURES[backbone.architecture].texture_stages)


class Classifier(nn.Module):
    def __init__(self, arch: Architecture, num_classes: int, pooling: str = "head"):
        super().__init__()
        self.backbone = PooledBackbone(arch, pooling)
        with torch.no_grad():  # pooled features have the same width at every input size
            dim = self.backbone.eval()(torch.zeros(1, 3, 64, 64)).shape[1]
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        return self.head(self.backbone(x))


def build_model(arm: Arm, num_classes: int, weights: str | None = None,
                pooling: str = "head") -> tuple[Classifier, str]:
    """The arm's network with a `num_classes` head, and a description of its initial weights."""
    arch = arm.spec
    if not arm.pretrained:
        return Classifier(arch, num_classes, pooling), "random init"
    with torch.random.fork_rng(devices=[]):   # first, as unavailable weights fail fast; the
        state, desc = pretrained_state_dict(arch, weights)   # network's init sees the seed
    model = Classifier(arch, num_classes, pooling)
    load_backbone(model.backbone.net, state, desc, head_prefix(arch, model.backbone.net))
    return model, desc


def boundary(arm: Arm, mode: str) -> str | None:
    """The module where the trainable top starts: the last stage's first module, or the last
    block; None where everything trains (`full`) or only the head (`head`)."""
    return {"last_stage": arm.spec.last_stage[0], "last_block": arm.spec.last_block}.get(mode)


def freeze(model: Classifier, arm: Arm, mode: str) -> int:
    """full: train everything; last_stage / last_block: the top from that boundary on, and the
    head; head: head only. Returns the number of trainable parameters. Scratch arms always
    train everything."""
    if mode == "full" or not arm.pretrained:
        return sum(p.numel() for p in model.parameters())
    from .cached_trunk import split_at

    start = boundary(arm, mode)
    top = split_at(model.backbone.net, start)[1] if start else []
    keep = tuple(f"backbone.net.{p}." for p in top) + ("head.",)
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith(keep)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def gradcam_layer(model: Classifier) -> nn.Module:
    return model.backbone.net.get_submodule(ARCHITECTURES[model.backbone.architecture].gradcam_layer)
