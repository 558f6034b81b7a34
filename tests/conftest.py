import os
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The real UHCSDB copy: $SPRING_DATA_ROOT, else ../shared/data/uhcsdb beside the checkout."""
    root = Path(os.environ.get("SPRING_DATA_ROOT") or REPO.parent / "shared" / "data" / "uhcsdb")
    if not (root / "microstructures.sqlite").exists():
        pytest.fail(f"UHCSDB not found at {root}: set SPRING_DATA_ROOT or run `make data`")
    return root


@pytest.fixture
def write_profile(tmp_path):
    """Write a profile YAML (dict) into tmp_path and return its path."""
    def _write(content: dict, name: str = "test") -> Path:
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(content))
        return path
    return _write


@pytest.fixture(scope="session")
def standin_weights(tmp_path_factory) -> Path:
    """Random-init 1000-class checkpoints for every TL architecture without a weights package.

    They stand in for ImageNet weights so that the TL code path runs end to end in tests; the
    folder name says what they are, and so does every result made with them.
    """
    import torch

    from spring_lib.nets.models import ARCHITECTURES, Arm, build_model

    folder = tmp_path_factory.mktemp("weights") / "standin-random-not-imagenet"
    folder.mkdir()
    for arch, (_, name) in ARCHITECTURES.items():
        if arch != "EfficientNet-Lite0":
            torch.manual_seed(0)
            model, _ = build_model(Arm.parse(f"{arch}-scratch"), 1000)
            torch.save({k: v.half() if v.is_floating_point() else v
                        for k, v in model.state_dict().items()}, folder / f"{name}.pth")
    return folder


@pytest.fixture
def smoke_profile(write_profile, data_root, tmp_path, standin_weights):
    """The smoke profile on the real data, cache in tmp_path, TL arms on stand-in weights."""
    content = yaml.safe_load((REPO / "params" / "smoke.yaml").read_text())
    content["data"]["root"] = str(data_root)
    content["cache_dir"] = str(tmp_path / "cache")
    content.setdefault("cnn", {})["weights"] = {
        a: str(standin_weights) for a in ("SE-ResNeXt101", "SE-ResNeXt50", "VGG19", "MobileNetV2", "AlexNet")}
    return write_profile(content, "smoke")
