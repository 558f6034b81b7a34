"""The conda environment and the pip project must install the same packages."""
import json
import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = {r.replace(" ", "") for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert {r.replace(" ", "") for r in pip} == wanted
    python = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python=")]
    assert python == ["python=3.11"]


def test_notebooks_are_committed_stripped():
    nbs = sorted((REPO / "notebooks").glob("*.ipynb"))
    assert nbs, "no notebooks found"
    for nb in nbs:
        cells = json.loads(nb.read_text())["cells"]
        dirty = [i for i, c in enumerate(cells) if c["cell_type"] == "code"
                 and (c.get("outputs") or c.get("execution_count"))]
        assert not dirty, f"{nb.name}: cells {dirty} carry outputs; run `make strip`"


def test_every_notebook_has_a_parameters_cell():
    for nb in sorted((REPO / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{nb.name} needs exactly one cell tagged 'parameters'"
        assert "profile" in "".join(tagged[0]["source"])
