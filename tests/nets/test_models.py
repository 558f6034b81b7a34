"""The networks: one structure for every arm, freezing, pooling, and what the pretrained weights
expect (input statistics and size)."""
import pytest
import torch

from spring_lib.core.architectures import ARCHITECTURES, Arm
from spring_lib.nets.models import (PooledBackbone, build_model, freeze, input_statistics,
                                    native_input_size)
from spring_lib.nets.weights import package_state_dict


def test_arm_names():
    assert Arm.parse("SE-ResNeXt101-TL") == Arm("SE-ResNeXt101-TL", "SE-ResNeXt101", "TL")
    assert Arm.parse("EfficientNet-Lite2-probe").pretrained
    assert not Arm.parse("AlexNet-scratch").pretrained
    assert Arm.parse("AlexNet-scratch").sibling("TL") == "AlexNet-TL"
    for bad in ("ResNet50-TL", "VGG19", "VGG19-finetuned"):
        with pytest.raises(ValueError, match="unknown arm"):
            Arm.parse(bad)


def test_freeze_modes():
    arm = Arm.parse("MobileNetV2-TL")
    model, _ = build_model(Arm.parse("MobileNetV2-scratch"), 5)
    total = freeze(model, arm, "full")
    last = freeze(model, arm, "last_stage")
    head = freeze(model, arm, "head")
    assert total > last > head > 0
    assert head == sum(p.numel() for n, p in model.named_parameters() if n.startswith("head."))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"head.weight", "head.bias"}


def test_pooling_head_is_the_architectures_own_and_texture_adds_stage_statistics():
    import timm

    arch = ARCHITECTURES["EfficientNet-Lite0"]
    torch.manual_seed(0)
    head = PooledBackbone(arch, "head").eval()
    texture = PooledBackbone(arch, "texture").eval()
    texture.load_state_dict(head.state_dict())
    ref = timm.create_model(arch.model_name, num_classes=0).eval()
    ref.load_state_dict(head.net.state_dict())
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        h, t = head(x), texture(x)
        assert torch.allclose(h, ref(x), atol=1e-5)
        assert torch.allclose(t[:, :h.shape[1]], h, atol=1e-5)
    stages = [f["num_chs"] for f in ref.feature_info][-2:]
    assert t.shape[1] == h.shape[1] + 2 * sum(stages)


def test_probe_and_tl_arms_keep_the_package_backbone():
    arch = ARCHITECTURES["EfficientNet-Lite0"]
    ref = package_state_dict(arch)
    for kind in ("TL", "probe"):
        model, desc = build_model(Arm.parse(f"EfficientNet-Lite0-{kind}"), 5)
        assert arch.weights_package in desc
        own = model.backbone.net.state_dict()
        assert all(torch.equal(v, ref[k]) for k, v in own.items() if k in ref)
        assert len([k for k in own if k in ref]) == len([k for k in ref if not k.startswith("classifier.")])
        assert model.head.weight.shape[0] == 5


def test_native_input_size_and_statistics_come_from_the_libraries():
    sizes = [native_input_size(ARCHITECTURES[f"EfficientNet-Lite{i}"]) for i in (0, 1, 2)]
    assert sizes == sorted(sizes) and sizes[0] < sizes[2]      # deeper Lites are made larger
    alex = ARCHITECTURES["AlexNet"]
    assert native_input_size(alex) > 100 and input_statistics(alex) == (alex.mean, alex.std)
    mean, std = input_statistics(ARCHITECTURES["MobileNetV2"])
    assert len(mean) == len(std) == 3 and all(0 < s < 1 for s in std)
