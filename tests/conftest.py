import os
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
# no model hub in tests: a TL arm of a paper architecture uses stand-in weights or is not run
os.environ.setdefault("SPRING_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


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
    """Random-init 1000-class checkpoints for every paper architecture (no weights package).

    They stand in for ImageNet weights so that the TL and probe code paths run end to end in
    tests; the folder name says what they are, and so does every result made with them.
    """
    import torch

    from spring_lib.nets.models import bare_network, head_prefix
    from spring_lib.core.architectures import ARCHITECTURES

    folder = tmp_path_factory.mktemp("weights") / "standin-random-not-imagenet"
    folder.mkdir()
    for arch in ARCHITECTURES.values():
        if arch.in_paper:
            torch.manual_seed(0)
            net = bare_network(arch)
            state = {k: v.half() if v.is_floating_point() else v for k, v in net.state_dict().items()}
            state[f"{head_prefix(arch, net)}.weight"] = torch.zeros(1000, 8)   # a head to drop
            torch.save(state, folder / f"{arch.model_name}.pth")
    return folder


@pytest.fixture(scope="session")
def smoke_profile_path(tmp_path_factory, data_root, standin_weights) -> Path:
    """The smoke profile on the real data, one cache for the session, paper architectures on
    stand-in weights. Named smoke-test: a file may not take a shipped profile's name."""
    d = tmp_path_factory.mktemp("smoke")
    content = yaml.safe_load((REPO / "params" / "smoke.yaml").read_text())
    content["data"]["root"] = str(data_root)
    content["cache_dir"] = str(d / "cache")
    from spring_lib.core.architectures import ARCHITECTURES
    content.setdefault("cnn", {})["weights"] = {
        a.name: str(standin_weights) for a in ARCHITECTURES.values() if a.in_paper}
    path = d / "smoke-test.yaml"
    path.write_text(yaml.safe_dump(content))
    return path


@pytest.fixture
def smoke_profile(smoke_profile_path):
    return smoke_profile_path


@pytest.fixture(scope="session")
def smoke_run(smoke_profile_path, tmp_path_factory) -> Path:
    """The whole notebook series, run once per session as `make reproduce` runs it (profile
    smoke, paper architectures on stand-in weights); many tests read its result set."""
    from spring_lib.run.runner import run_study

    logs = []
    out = run_study(str(smoke_profile_path), results_root=tmp_path_factory.mktemp("run") / "results",
                    log=logs.append)
    (out.parent / "run.log").write_text("\n".join(logs))
    return out


@pytest.fixture(scope="session")
def smoke(smoke_profile_path):
    """(config, tile set) of the smoke profile on the real data."""
    from spring_lib import build_tileset, load_config

    cfg = load_config(smoke_profile_path)
    return cfg, build_tileset(cfg)

