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


@pytest.fixture
def smoke_profile(write_profile, data_root, tmp_path):
    """The smoke profile pointed at the real data, with its cache in tmp_path."""
    content = yaml.safe_load((REPO / "params" / "smoke.yaml").read_text())
    content["data"]["root"] = str(data_root)
    content["cache_dir"] = str(tmp_path / "cache")
    return write_profile(content, "smoke")
