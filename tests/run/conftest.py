"""A toy notebook series for the runner's tests, with a fake executor in place of papermill.

No notebook is executed: `papermill.execute_notebook` is replaced by a fake that copies the
notebook to its output path and writes the products its `spring_lib.core.products.Step` declares
(or fails, or writes nothing, as a test asks); asked to, it opens the study as a notebook's first
cell does. What is tested is the runner around it.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import nbformat
import papermill
import pytest

from spring_lib.core import products as stages
from spring_lib.run import report, runner, series
from spring_lib.run.runner import run_study

PROFILE = "runnertest"


def write_notebook(path: Path, *cells: str) -> None:
    """A notebook with a papermill parameters cell, as the series' notebooks have."""
    nb = nbformat.v4.new_notebook(metadata={"language_info": {"name": "python"}})
    params = nbformat.v4.new_code_cell("profile = 'cpu'\nresults_dir = None")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(c) for c in cells or [f"print('{path.stem}')"]]
    nbformat.write(nb, path)


def _fake_report(folder, cfg, record) -> Path:
    path = Path(folder) / "REPORT.md"
    path.write_text(f"# Report of run {record['run_id']}\n")
    return path


class Study:
    """A tiny notebook series, its stages, a profile on the real data, and a fake papermill."""

    name = PROFILE

    def __init__(self, tmp_path: Path, monkeypatch, profile_file: Path):
        self.tmp_path, self.monkeypatch, self.profile_file = tmp_path, monkeypatch, profile_file
        self.nbdir = tmp_path / "nbs"
        self.nbdir.mkdir()
        self.results_root = tmp_path / "results"
        self.current = self.results_root / PROFILE
        self.behaviour: dict[str, str] = {}   # notebook stem -> ok | fail | nowrite
        self.after: dict = {}                 # notebook stem -> called once it has run
        self.open_study = False               # each notebook opens the study, as its first cell does
        self.seen: dict = {}                  # notebook stem -> (profile parameter, its StudyConfig)
        self.calls: list[str] = []
        self.logs: list[str] = []
        monkeypatch.setattr(runner, "notebooks_dir", lambda: self.nbdir)
        monkeypatch.setattr(papermill, "execute_notebook", self._fake_execute)
        # the fake series makes none of the products REPORT.md needs (tests/run/test_report.py)
        monkeypatch.setattr(report, "write_report", _fake_report)
        # nor is there real work to estimate (tests/run/test_notebook_costs.py): each
        # notebook's estimate is `self.estimates`' or one second
        self.estimates: dict[str, dict[str, float]] = {}
        monkeypatch.setattr(series, "before_notebook",
                            lambda step, cfg, folder: dict(self.estimates.get(step, {"work": 1.0})))

    def notebook(self, name: str, reads=(), writes=()) -> None:
        write_notebook(self.nbdir / f"{name}.ipynb")
        self.stage(name, reads, writes)

    def stage(self, name: str, reads=(), writes=()) -> None:
        self.monkeypatch.setitem(stages.STEPS, name,
                                 stages.Step(name, reads=tuple(reads), writes=tuple(writes)))

    def _fake_execute(self, input_path, output_path, kernel_name=None, cwd=None, parameters=None,
                      **kwargs):
        from spring_lib.study import open_study

        name = Path(input_path).stem
        self.calls.append(name)
        shutil.copyfile(input_path, output_path)
        out = Path(cwd) / parameters["results_dir"]   # relative to the kernel's working folder
        if self.open_study:
            self.seen[name] = (parameters["profile"], open_study(parameters["profile"], out).cfg)
        behaviour = self.behaviour.get(name, "ok")
        if behaviour == "fail":
            (out / "tables").mkdir(parents=True, exist_ok=True)
            (out / "tables" / "partial.csv").write_text("half,done\n")
            raise papermill.PapermillExecutionError(
                cell_index=1, exec_count=7, source="raise ValueError('boom')", ename="ValueError",
                evalue="boom", traceback=[])
        if behaviour in ("ok", "stray"):
            for rel in stages.STEPS[name].writes:
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                (out / rel).write_text(f"{name} wrote {rel}\n")
        if behaviour == "stray":
            (out / "tables" / "stray.csv").write_text("not,catalogued\n")
        if name in self.after:
            self.after[name]()

    def run(self, notebooks=None) -> Path:
        return run_study(str(self.profile_file), notebooks, results_root=self.results_root,
                         log=self.logs.append)

    @staticmethod
    def files(folder: Path) -> dict[str, bytes]:
        """Every file under `folder`, relative path -> bytes."""
        return {p.relative_to(folder).as_posix(): p.read_bytes()
                for p in sorted(folder.rglob("*")) if p.is_file()}

    @staticmethod
    def record(folder: Path) -> dict:
        return json.loads((folder / "run.json").read_text())


@pytest.fixture
def profile_file(write_profile, data_root) -> Path:
    """A toy profile on smoke's 12 micrographs a class (with fewer, a class of one sample is
    refused by the runner's preflight: no split can put it in both train and test)."""
    return write_profile({"data": {"root": str(Path(data_root).resolve()),
                                   "micrograph_limit_per_class": 12}}, name=PROFILE)


@pytest.fixture
def study(tmp_path, monkeypatch, profile_file) -> Study:
    s = Study(tmp_path, monkeypatch, profile_file)
    s.notebook("01_a", writes=("tables/a.csv",))
    s.notebook("02_b", writes=("tables/b.csv",))
    return s


@pytest.fixture
def wait_started():
    """Wait until a driver process has written its marker: its notebook is running."""
    def wait(proc, marker: Path, seconds: float) -> None:
        deadline = time.time() + seconds
        while not marker.exists():
            assert proc.poll() is None, f"driver ended early:\n{proc.stdout.read()}"
            assert time.time() < deadline, "the notebook never started"
            time.sleep(0.1)
    return wait
