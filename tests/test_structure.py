"""One home per fact, notebooks that read like a methods section, and a torch-free profile."""
import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIB = REPO / "spring_lib"
REGISTRY = LIB / "core" / "architectures.py"
PROTOCOL_HOME = LIB / "core" / "paper_numbers.py"


def _code_cells(nb: Path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]


def _sources() -> dict[Path, str]:
    """Library modules, notebook cells (code and text) and profiles."""
    out = {p: p.read_text() for p in LIB.rglob("*.py")}
    for nb in (REPO / "notebooks").glob("*.ipynb"):
        out[nb] = "\n".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"])
    out.update({p: p.read_text() for p in (REPO / "params").glob("*.yaml")})
    return out


# what only the registry may say about an architecture: library model names, stage modules
ARCHITECTURE_FACT = re.compile(r"seresnext\d|mobilenetv2_\d|efficientnet_lite|\bvgg19\b|\balexnet\b|"
                               r"layer4|blocks\.\d|features\.\d+|classifier\.\d|conv_head")
# what only the protocol's home may say: its learning rate, epochs, batch, tile size, tile counts
PROTOCOL_FACT = re.compile(r"0\.0005|5\.?0?e-4|(?<![\d.])500\b|(?<![\d.])224\b|(?<![\d.])600\b|"
                           r"batch(?:_size)?\D{0,3}32\b")


def _offenders(pattern: re.Pattern, home: Path, sources: dict) -> list[str]:
    return [f"{p.relative_to(REPO) if p.is_absolute() else p}: {m.group(0)!r}" for p, text in sources.items() if p != home
            for m in pattern.finditer(text)]


def test_architecture_facts_live_only_in_the_registry():
    assert _offenders(ARCHITECTURE_FACT, REGISTRY, _sources()) == []


def test_the_papers_protocol_lives_only_in_its_home():
    sources = {p: t for p, t in _sources().items()
               if p.name not in ("cpu.yaml", "smoke.yaml", "lesson.yaml")}   # profiles choose values
    assert _offenders(PROTOCOL_FACT, PROTOCOL_HOME, sources) == []


def test_the_checks_above_can_fail():
    assert _offenders(ARCHITECTURE_FACT, REGISTRY, {Path("x.py"): 'timm.create_model("vgg19")'})
    assert _offenders(PROTOCOL_FACT, PROTOCOL_HOME, {Path("x.py"): "lr: float = 0.0005"})
    assert _offenders(PROTOCOL_FACT, PROTOCOL_HOME, {Path("x.py"): "epochs: 500"})
    assert not _offenders(PROTOCOL_FACT, PROTOCOL_HOME, {Path("x.py"): "std=(0.229, 0.224)"})


def test_notebooks_define_no_functions_and_05_stays_short():
    for nb in sorted((REPO / "notebooks").glob("*.ipynb")):
        code = "\n".join(_code_cells(nb))
        assert not re.search(r"^\s*(def|class)\s|lambda\b", code, re.M), f"{nb.name} defines a function"
        setup = [c for c in _code_cells(nb) if "open_study" in c]
        assert len(setup) == 1, f"{nb.name}: the setup is one call to sl.open_study"
    lines = [ln for c in _code_cells(REPO / "notebooks" / "05_evaluation.ipynb")
             for ln in c.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert len(lines) <= 60, len(lines)


def test_every_notebook_is_declared_for_the_runner():
    from spring_lib.core.products import STEPS

    assert {nb.stem for nb in (REPO / "notebooks").glob("*.ipynb")} == set(STEPS)


def test_a_profile_validates_without_torch():
    code = ("import sys; from spring_lib.config import load_config; load_config('cpu'); "
            "load_config('paper'); assert 'torch' not in sys.modules, 'torch imported'; "
            "assert 'timm' not in sys.modules, 'timm imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]


# the layers, bottom to top; a module may import from its own package and from lower layers only
LAYERS = {"core": 0, "config": 1, "data": 2, "glcm": 3, "nets": 3, "paper": 3, "evaluation": 4,
          "run": 5}
TOP = 6   # spring_lib/{__init__,__main__,cli,study}.py: the entry points


def _layer(module: str) -> tuple[int, str]:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return LAYERS[parts[1]], parts[1]
    return TOP, module


def upward_imports(files: dict[str, str]) -> list[str]:
    """`module imports target` for every import of a module in a higher layer, or in another
    package of the same layer (the stage packages do not lean on each other)."""
    import ast

    bad = []
    for module, text in files.items():
        is_pkg = module.endswith(".__init__")
        module = module.removesuffix(".__init__")
        package = module if is_pkg else module.rsplit(".", 1)[0]
        rank, home = _layer(module)
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                targets = [".".join(base + ([node.module] if node.module else []))]
                if not node.module:
                    targets = [f"{targets[0]}.{a.name}" for a in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("spring_lib"):
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("spring_lib")]
            else:
                continue
            for target in targets:
                t_rank, t_home = _layer(target)
                if t_rank > rank or (t_rank == rank and t_home != home and rank < TOP):
                    bad.append(f"{module} imports {target}")
    return bad


def _library() -> dict[str, str]:
    return {".".join(p.relative_to(REPO).with_suffix("").parts): p.read_text()
            for p in LIB.rglob("*.py")}


def test_no_import_points_up_a_layer():
    assert upward_imports(_library()) == []


def test_an_upward_import_is_caught():
    assert upward_imports({"spring_lib.core.paths": "from ..nets import models"}) == [
        "spring_lib.core.paths imports spring_lib.nets"]
    assert upward_imports({"spring_lib.glcm.svm": "from ..nets.probe import x"}) == [
        "spring_lib.glcm.svm imports spring_lib.nets.probe"]
    assert upward_imports({"spring_lib.config.schema": "import spring_lib.run.runner"}) == [
        "spring_lib.config.schema imports spring_lib.run.runner"]
    assert upward_imports({"spring_lib.run.report": "from ..evaluation import verdicts"}) == []


def test_core_is_torch_free():
    mods = [m for m in _library() if m.startswith("spring_lib.core")]
    code = ("import importlib, sys\n"
            f"for m in {mods!r}: importlib.import_module(m.removesuffix('.__init__'))\n"
            "assert 'torch' not in sys.modules, 'torch imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
