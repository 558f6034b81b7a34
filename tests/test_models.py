import numpy as np
import pytest
import torch
from skimage import data
from skimage.transform import resize

from spring_lib.nets.models import PooledBackbone, bare_network, build_model, freeze, head_prefix
from spring_lib.nets.weights import (WeightsUnavailable, map_package_keys, package_state_dict,
                                     package_weights_file)
from spring_lib.core.architectures import ARCHITECTURES, Arm

LITES = [a for a in ARCHITECTURES.values() if a.weights_package]


def test_arm_names():
    assert Arm.parse("SE-ResNeXt101-TL") == Arm("SE-ResNeXt101-TL", "SE-ResNeXt101", "TL")
    assert Arm.parse("EfficientNet-Lite2-probe").pretrained
    assert not Arm.parse("AlexNet-scratch").pretrained
    assert Arm.parse("AlexNet-scratch").sibling("TL") == "AlexNet-TL"
    for bad in ("ResNet50-TL", "VGG19", "VGG19-finetuned"):
        with pytest.raises(ValueError, match="unknown arm"):
            Arm.parse(bad)


def _donor(arch_name: str, seed: int = 1) -> dict:
    """A 1000-class state dict as a hub or a local file would hold it."""
    arch = ARCHITECTURES[arch_name]
    torch.manual_seed(seed)
    net = bare_network(arch)
    state = dict(net.state_dict())
    state[f"{head_prefix(arch, net)}.weight"] = torch.randn(1000, 4)
    return state


@pytest.mark.parametrize("arch", ["AlexNet", "MobileNetV2", "SE-ResNeXt50"])
def test_local_checkpoint_loads_backbone_and_replaces_head(arch, tmp_path):
    state = _donor(arch)
    path = tmp_path / "weights.pth"
    torch.save({"state_dict": state}, path)
    torch.manual_seed(2)
    model, desc = build_model(Arm.parse(f"{arch}-TL"), 5, str(path))
    assert desc.endswith("/weights.pth")
    own = model.backbone.net.state_dict()
    assert all(torch.equal(own[k], v) for k, v in state.items() if k in own)
    assert len([k for k in state if k in own]) == len(own)
    assert model.head.weight.shape[0] == 5


def test_folder_of_weights(tmp_path):
    torch.save(_donor("MobileNetV2"), tmp_path / f"{ARCHITECTURES['MobileNetV2'].model_name}.pth")
    _, desc = build_model(Arm.parse("MobileNetV2-probe"), 3, str(tmp_path))
    assert "mobilenetv2_100.pth" in desc


def test_weights_of_another_architecture_are_refused(tmp_path):
    torch.save(_donor("AlexNet"), tmp_path / "alex.pth")
    with pytest.raises(WeightsUnavailable, match="does not fit"):
        build_model(Arm.parse("MobileNetV2-TL"), 5, str(tmp_path / "alex.pth"))


def test_missing_weights_and_offline_hub(tmp_path, monkeypatch):
    with pytest.raises(WeightsUnavailable, match="no weights file"):
        build_model(Arm.parse("AlexNet-TL"), 5, str(tmp_path / "none"))
    monkeypatch.setenv("SPRING_OFFLINE", "1")
    with pytest.raises(WeightsUnavailable, match="offline"):
        build_model(Arm.parse("SE-ResNeXt101-TL"), 5)


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


# ---------------------------------------------------------------- EfficientNet-Lite weights

def _imagenet_top(model, image):
    x = resize(image, (224, 224), anti_aliasing=True)
    x = (x - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    with torch.no_grad():
        return model(torch.tensor(x.transpose(2, 0, 1)[None], dtype=torch.float32)).argmax().item()


def _timm_with(arch, state):
    import timm

    model = timm.create_model(arch.model_name, pretrained=False).eval()
    model.load_state_dict(state)
    return model


@pytest.mark.parametrize("arch", LITES, ids=lambda a: a.name)
def test_package_weights_classify_imagenet_images(arch):
    """The mapping onto timm's model holds: a real cat and a real espresso are recognised."""
    model = _timm_with(arch, package_state_dict(arch))
    assert _imagenet_top(model, data.chelsea()) in (281, 282, 285)  # tabby/tiger/Egyptian cat
    assert _imagenet_top(model, data.coffee()) == 967               # espresso


@pytest.mark.parametrize("arch", LITES, ids=lambda a: a.name)
def test_shuffled_or_random_weights_fail_the_same_check(arch):
    """The check above must be able to fail: shape-compatible but wrongly mapped weights do."""
    src = torch.load(package_weights_file(arch), weights_only=True)
    mapped = map_package_keys(src, arch)
    by_shape = {}
    for k, v in mapped.items():
        by_shape.setdefault(tuple(v.shape), []).append(k)
    rng = np.random.default_rng(0)
    shuffled = dict(mapped)
    for group in by_shape.values():       # swap tensors among keys of equal shape
        if len(group) > 1:
            for a, b in zip(group, rng.permutation(group)):
                shuffled[a] = mapped[b]
    model = _timm_with(arch, shuffled)
    assert (_imagenet_top(model, data.chelsea()), _imagenet_top(model, data.coffee())) != (285, 967)
    torch.manual_seed(0)
    random_model = _timm_with(arch, {k: torch.randn_like(v) if v.is_floating_point() else v
                                     for k, v in mapped.items()})
    assert _imagenet_top(random_model, data.coffee()) != 967


def test_package_for_another_model_does_not_map():
    src = torch.load(package_weights_file(ARCHITECTURES["EfficientNet-Lite2"]), weights_only=True)
    with pytest.raises(WeightsUnavailable, match="not EfficientNet-Lite0's|does not map"):
        map_package_keys(src, ARCHITECTURES["EfficientNet-Lite0"])


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


def test_unreachable_hub_fails_at_once_naming_the_host(monkeypatch):
    import socket

    from spring_lib.nets import weights

    monkeypatch.delenv("SPRING_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    weights.hub_unreachable.cache_clear()

    def refuse(*a, **k):
        raise OSError("no route")
    monkeypatch.setattr(socket, "create_connection", refuse)
    with pytest.raises(WeightsUnavailable, match="huggingface.co:443 is not reachable.*cnn.weights.VGG19"):
        build_model(Arm.parse("VGG19-probe"), 5)
    weights.hub_unreachable.cache_clear()


def test_hub_address_follows_the_endpoints_scheme_and_port(monkeypatch):
    from spring_lib.nets.weights import hub_address

    for endpoint, address in [(None, ("huggingface.co", 443)),
                              ("http://mirror:8080", ("mirror", 8080)),
                              ("http://mirror", ("mirror", 80)),
                              ("https://mirror.lab/", ("mirror.lab", 443))]:
        if endpoint:
            monkeypatch.setenv("HF_ENDPOINT", endpoint)
        else:
            monkeypatch.delenv("HF_ENDPOINT", raising=False)
        assert hub_address("timm") == address
    assert hub_address("torchvision") == ("download.pytorch.org", 443)


def test_a_local_file_missing_one_backbone_tensor_is_refused(tmp_path):
    """timm loads a file non-strictly once its classifier is dropped; the gap must still show."""
    state = _donor("MobileNetV2")
    del state["blocks.6.0.conv_pwl.weight"]
    torch.save(state, tmp_path / "w.pth")
    with pytest.raises(WeightsUnavailable, match=r"does not fit.*missing \['blocks.6.0.conv_pwl"):
        build_model(Arm.parse("MobileNetV2-TL"), 5, str(tmp_path / "w.pth"))
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsUnavailable, match="junk.pth is not a readable weights file"):
        build_model(Arm.parse("MobileNetV2-TL"), 5, str(tmp_path / "junk.pth"))


def test_hf_hub_offline_without_cache_names_the_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants as hc

    monkeypatch.delenv("SPRING_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "torch"))
    with pytest.raises(WeightsUnavailable, match="HF_HUB_OFFLINE=1 and they are not in the Hugging "
                                                 "Face cache"):
        build_model(Arm.parse("MobileNetV2-TL"), 5)
    with pytest.raises(WeightsUnavailable, match="not in torchvision's cache"):
        build_model(Arm.parse("AlexNet-TL"), 5)
