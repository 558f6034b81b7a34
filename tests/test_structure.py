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


# a module named in a string: "spring_lib.x.y:function", an importlib argument, an f-string's start
MODULE_STRING = re.compile(r"(spring_lib(?:\.\w+)+)(?::\w+)?")
MODULE_PREFIX = re.compile(r"(spring_lib(?:\.\w+)*)[.:]")


def _relative(package: str, level: int, name: str | None) -> str:
    base = package.split(".")[: len(package.split(".")) - level + 1]
    return ".".join(base + ([name] if name else []))


def _targets(node, package: str) -> tuple[list[str], str]:
    """The spring_lib modules `node` imports or names in a string, and how it reaches them."""
    import ast

    if isinstance(node, ast.ImportFrom) and node.level:
        if node.module:
            return [_relative(package, node.level, node.module)], "imports"
        return [_relative(package, node.level, a.name) for a in node.names], "imports"
    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("spring_lib"):
        return [node.module], "imports"
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.startswith("spring_lib")], "imports"
    called = isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", ""))
    if called in ("import_module", "__import__") and node.args and isinstance(node.args[0],
                                                                              ast.Constant):
        name = str(node.args[0].value)
        if name.startswith("."):
            level = len(name) - len(name.lstrip("."))
            return [_relative(package, level, name.lstrip(".") or None)], "imports by importlib"
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        m = MODULE_STRING.fullmatch(node.value)
        return ([m.group(1)], "names in a string") if m else ([], "")
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        m = MODULE_PREFIX.fullmatch(str(node.values[0].value))
        return ([m.group(1)], "names in a string") if m else ([], "")
    return [], ""


def upward_imports(files: dict[str, str]) -> list[str]:
    """`module imports target` for every import of a module in a higher layer, or in another
    package of the same layer (the stage packages do not lean on each other); `module names
    target in a string` where a string would reach it at run time ("spring_lib.x.y:fn",
    importlib), which an import check alone would not see."""
    import ast

    bad = []
    for module, text in files.items():
        is_pkg = module.endswith(".__init__")
        module = module.removesuffix(".__init__")
        package = module if is_pkg else module.rsplit(".", 1)[0]
        rank, home = _layer(module)
        for node in ast.walk(ast.parse(text)):
            targets, how = _targets(node, package)
            for target in targets:
                t_rank, t_home = _layer(target)
                if t_rank > rank or (t_rank == rank and t_home != home and rank < TOP):
                    bad.append(f"{module} {how} {target}")
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
    # through strings: a runner named "module:function", importlib, an f-string
    runner = 'K = Kind("GLCM+SVM", "spring_lib.glcm.svm:run_glcm_arm")'
    assert upward_imports({"spring_lib.core.arm_kinds": runner}) == [
        "spring_lib.core.arm_kinds names in a string spring_lib.glcm.svm"]
    assert upward_imports({"spring_lib.data.tileset": 'import_module("spring_lib.nets.x")',
                           "spring_lib.glcm.svm": 'importlib.import_module("..nets.probe", "p")',
                           "spring_lib.core.paths": 'import_module(f"spring_lib.run.{name}")',
                           "spring_lib.config.base": 'f"spring_lib.run.series:{fn}"'}) == [
        "spring_lib.data.tileset names in a string spring_lib.nets.x",
        "spring_lib.glcm.svm imports by importlib spring_lib.nets.probe",
        "spring_lib.core.paths names in a string spring_lib.run",
        "spring_lib.config.base names in a string spring_lib.run.series"]
    assert upward_imports({"spring_lib.nets.__init__": 'lazy("spring_lib.nets.arms:run")',
                           "spring_lib.study": '"spring_lib.glcm.svm:run_glcm_arm"',
                           "spring_lib.nets.checkpoint": 'F = "spring_lib.checkpoint/1"'}) == []


def test_core_is_torch_free():
    mods = [m for m in _library() if m.startswith("spring_lib.core")]
    code = ("import importlib, sys\n"
            f"for m in {mods!r}: importlib.import_module(m.removesuffix('.__init__'))\n"
            "assert 'torch' not in sys.modules, 'torch imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]


MAX_MODULE_LINES, MAX_FUNCTION_LINES = 300, 60


def oversized(files: dict[str, str]) -> list[str]:
    """Every module over MAX_MODULE_LINES lines and every function over MAX_FUNCTION_LINES: a
    module holds one concept, a function one step a person can read at once."""
    import ast

    bad = []
    for module, text in sorted(files.items()):
        if len(text.splitlines()) > MAX_MODULE_LINES:
            bad.append(f"{module}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    bad.append(f"{module}.{node.name} (line {node.lineno}): {n} lines")
    return bad


def test_no_module_or_function_is_too_long():
    too_long = oversized(_library())
    assert not too_long, "split into modules or well-named helpers:\n" + "\n".join(too_long)


def test_a_long_module_or_function_is_caught():
    body = "".join(f"    x{i} = {i}\n" for i in range(58))
    assert oversized({"m": f"def f():\n{body}    return 0\n"}) == []               # 60 lines
    assert oversized({"m": f"async def f():\n{body}    x = 0\n    return x\n"}) == [
        "m.f (line 1): 61 lines"]
    assert oversized({"m": "x = 1\n" * 300}) == []
    assert oversized({"m": "x = 1\n" * 301}) == ["m: 301 lines"]


README = REPO / "README.md"
PACKAGE_PATH = re.compile(r"(?<![\w/.])spring_lib/([\w/]+\.py)|(?<![\w/.])((?:%s)/[\w/]+\.py)"
                          % "|".join(LAYERS))
DOTTED = re.compile(r"(?<![\w.])spring_lib((?:\.\w+)+)")


def map_modules(readme: str) -> set[str]:
    """The modules the README's Library map names, as paths under spring_lib/ without .py:
    `core/` (`paths`, ...) gives core/paths; the entry points' row gives study, cli."""
    section = readme.split("## Library map", 1)[1].split("\n## ", 1)[0]
    named = set()
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[1].startswith("`"):
            continue   # the header and its rule, text around the table
        package = re.fullmatch(r"`(\w+)/` \((.*)\)", cells[1])
        prefix, names = (package.group(1) + "/", package.group(2)) if package else ("", cells[1])
        named |= {prefix + n for n in re.findall(r"`(\w+)`", names)}
    return named


def tree_modules() -> set[str]:
    return {p.relative_to(LIB).with_suffix("").as_posix() for p in LIB.rglob("*.py")
            if p.stem not in ("__init__", "__main__")}


def _defines(file: Path, name: str) -> bool:
    import ast

    for node in ast.parse(file.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found = {node.name}
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found = {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found = {(a.asname or a.name).split(".")[0] for a in node.names}
        else:
            continue
        if name in found:
            return True
    return False


def stale_references(text: str, lib: Path = LIB) -> list[str]:
    """Library files (`spring_lib/nets/x.py`, `nets/x.py`) and dotted names
    (`spring_lib.nets.x.fn`) the text names that the library does not have."""
    bad = [m.group(0) for m in PACKAGE_PATH.finditer(text)
           if not (lib / (m.group(1) or m.group(2))).is_file()]
    for m in DOTTED.finditer(text):
        parts = m.group(1).strip(".").split(".")
        for i in range(len(parts), 0, -1):
            base = lib.joinpath(*parts[:i])
            file = base.with_suffix(".py")
            file = file if file.is_file() else base / "__init__.py"
            if file.is_file():
                rest = parts[i:]
                if len(rest) > 1 or (rest and not _defines(file, rest[0])):
                    bad.append(m.group(0))
                break
        else:
            bad.append(m.group(0))
    return bad


def test_the_library_map_names_every_module_and_only_those():
    named, tree = map_modules(README.read_text()), tree_modules()
    assert {"not in the map": sorted(tree - named), "not in the tree": sorted(named - tree)} == {
        "not in the map": [], "not in the tree": []}


def test_every_library_path_the_readme_names_exists():
    assert stale_references(README.read_text()) == []


def test_the_readme_checks_can_fail():
    readme = ("## Library map\n\n| layer | package (modules) | step | holds |\n|---|---|---|---|\n"
              "| 0 | `core/` (`paths`, `gone`) | all | `run_arm` and more |\n"
              "| top | `study`, `cli` | all | the setup |\n\n## Next\n| x | `y` | z | w |\n")
    assert map_modules(readme) == {"core/paths", "core/gone", "study", "cli"}
    text = ("one record in `spring_lib/nets/registry.py`, see nets/registry.py and "
            "run/notebook_costs.py, `spring_lib.paper.numbers.PROTOCOL`, "
            "`spring_lib.nets.training.nope`; fine: `spring_lib/core/products.py`, "
            "`spring_lib.nets.training.train`, `spring_lib.core.paper_numbers.PROTOCOL`, "
            "benchmarks/glcm_speed.py, `spring_lib.nets`")
    assert stale_references(text) == ["spring_lib/nets/registry.py", "nets/registry.py",
                                      "spring_lib.paper.numbers.PROTOCOL",
                                      "spring_lib.nets.training.nope"]
