"""The papermill runner's guarantees, with a fake executor in place of papermill.

No notebook is executed: `papermill.execute_notebook` is replaced by a fake that copies the
notebook to its output path and writes the products its `spring_lib.core.products.Step` declares (or
fails, or writes nothing, as a test asks). What is tested is the runner around it: one coherent
result set per run, archives, set-aside failed/interrupted/killed runs, the lock, the declared
inputs and outputs, subset runs, and the product list in run.json.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import papermill
import pytest

from spring_lib.core import products as stages

from spring_lib.run import report, runner
from spring_lib.config import ConfigError, load_config
from spring_lib.core.paths import project_root
from spring_lib.core.predictions import load_predictions, prediction_frame, save_predictions
from spring_lib.run.runner import lock_held, run_lock, RunError, run_study, verify_products

PROFILE = "runnertest"
HEX64 = re.compile(r"^[0-9a-f]{64}$")


# ---------------------------------------------------------------- helpers

def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under `folder`, relative path -> bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _record(folder: Path) -> dict:
    return json.loads((folder / "run.json").read_text())


def _write_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook(metadata={"language_info": {"name": "python"}})
    params = nbformat.v4.new_code_cell("profile = 'cpu'\nresults_dir = None")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(f"print('{path.stem}')")]
    nbformat.write(nb, path)


def _results_dir(parameters: dict) -> Path:
    # the runner passes results_dir relative to the project root when inside it
    return project_root() / parameters["results_dir"]


def _write_products(name: str, out: Path) -> None:
    for rel in stages.STEPS[name].writes:
        f = out / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(f"{name} wrote {rel}\n")


def _fake_report(folder, cfg, record) -> Path:
    path = Path(folder) / "REPORT.md"
    path.write_text(f"# Report of run {record['run_id']}\n")
    return path


class Study:
    """A tiny notebook series, its stages, a profile on the real data, and a fake papermill."""

    def __init__(self, tmp_path: Path, monkeypatch, profile_file: Path):
        self.tmp_path, self.monkeypatch, self.profile_file = tmp_path, monkeypatch, profile_file
        self.nbdir = tmp_path / "nbs"
        self.nbdir.mkdir()
        self.results_root = tmp_path / "results"
        self.current = self.results_root / PROFILE
        self.behaviour: dict[str, str] = {}   # notebook stem -> ok | fail | nowrite
        self.calls: list[str] = []
        self.logs: list[str] = []
        monkeypatch.setattr(runner, "notebooks_dir", lambda: self.nbdir)
        monkeypatch.setattr(papermill, "execute_notebook", self._fake_execute)
        # the fake series makes none of the products REPORT.md needs (tests/run/test_report.py)
        monkeypatch.setattr(report, "write_report", _fake_report)

    def notebook(self, name: str, reads=(), writes=()) -> None:
        _write_notebook(self.nbdir / f"{name}.ipynb")
        self.stage(name, reads, writes)

    def stage(self, name: str, reads=(), writes=()) -> None:
        self.monkeypatch.setitem(stages.STEPS, name,
                                 stages.Step(name, reads=tuple(reads), writes=tuple(writes)))

    def _fake_execute(self, input_path, output_path, kernel_name=None, cwd=None, parameters=None,
                      **kwargs):
        name = Path(input_path).stem
        self.calls.append(name)
        assert parameters["profile"] and parameters["results_dir"]
        shutil.copyfile(input_path, output_path)
        out = _results_dir(parameters)
        behaviour = self.behaviour.get(name, "ok")
        if behaviour == "fail":
            (out / "tables").mkdir(parents=True, exist_ok=True)
            (out / "tables" / "partial.csv").write_text("half,done\n")
            raise papermill.PapermillExecutionError(
                cell_index=1, exec_count=7, source="raise ValueError('boom')", ename="ValueError",
                evalue="boom", traceback=[])
        if behaviour in ("ok", "stray"):
            _write_products(name, out)
        if behaviour == "stray":
            (out / "tables" / "stray.csv").write_text("not,catalogued\n")

    def run(self, notebooks=None) -> Path:
        return run_study(str(self.profile_file), notebooks, results_root=self.results_root,
                         log=self.logs.append)


@pytest.fixture
def profile_file(write_profile, data_root) -> Path:
    return write_profile({"data": {"root": str(Path(data_root).resolve()),
                                   "micrograph_limit_per_class": 2}}, name=PROFILE)


@pytest.fixture
def study(tmp_path, monkeypatch, profile_file) -> Study:
    s = Study(tmp_path, monkeypatch, profile_file)
    s.notebook("01_a", writes=("tables/a.csv",))
    s.notebook("02_b", writes=("tables/b.csv",))
    return s


# ---------------------------------------------------------------- 1. a complete run

def test_successful_run_publishes_verified_result_set(study):
    from spring_lib.data.catalogue import catalog_checksum, load_catalog

    out = study.run()
    assert out == study.current and out.is_dir()
    assert study.calls == ["01_a", "02_b"]
    record = _record(out)
    assert record["status"] == "ok" and record["profile"] == PROFILE
    assert re.match(r"^\d{8}T\d{6}Z-[0-9a-f]{4}$", record["run_id"])
    assert isinstance(record["git_commit"], str) and record["git_commit"]
    assert record["cpu"]["model"] and record["cpu"]["cores"] == os.cpu_count()
    assert HEX64.match(record["data_checksum"])
    assert record["data_checksum"] == catalog_checksum(load_catalog(load_config(study.profile_file)))
    assert [n["notebook"] for n in record["notebooks"]] == ["01_a.ipynb", "02_b.ipynb"]
    assert all(n["status"] == "ok" for n in record["notebooks"])
    # nothing left behind
    assert not list((study.results_root / ".staging").glob("*"))
    assert not (study.results_root / ".failed").exists()
    assert not lock_held(study.results_root, PROFILE)

    # the product list is exactly the files, with their sha256, all made by this run
    products = {p["path"]: p for p in record["products"]}
    on_disk = {rel for rel in _files(out) if rel != "run.json"}
    assert set(products) == on_disk
    for rel in ("tables/a.csv", "tables/b.csv", "notebooks/01_a.ipynb", "notebooks/02_b.ipynb",
                "REPORT.md", "site/index.html"):
        assert rel in products, rel
    for rel, p in products.items():
        assert p["sha256"] == _sha(out / rel), rel
        assert p["bytes"] == (out / rel).stat().st_size, rel
        assert p["made_by"] == record["run_id"], rel
    assert verify_products(out) == []

    # a stray file is reported
    (out / "tables" / "stray.csv").write_text("not from this run\n")
    problems = verify_products(out)
    assert len(problems) == 1 and problems[0].startswith("tables/stray.csv: not a product")
    (out / "tables" / "stray.csv").unlink()
    assert verify_products(out) == []

    # changed bytes are reported
    (out / "tables" / "a.csv").write_text("edited by hand\n")
    problems = verify_products(out)
    assert len(problems) == 1 and problems[0].startswith("tables/a.csv: sha256 differs")


# ---------------------------------------------------------------- 2. reruns archive

def test_reruns_archive_each_previous_complete_set(study):
    ids = []
    for _ in range(4):
        ids.append(_record(study.run())["run_id"])
    assert len(set(ids)) == 4
    archive_root = study.results_root / ".archive"
    assert sorted(p.name for p in archive_root.iterdir()) == sorted(f"{PROFILE}-{i}" for i in ids[:3])
    for run_id in ids[:3]:
        archive = archive_root / f"{PROFILE}-{run_id}"
        record = _record(archive)
        assert record["run_id"] == run_id and record["status"] == "ok"
        # complete: every listed product is there, and nothing else
        assert {p["path"] for p in record["products"]} == set(_files(archive)) - {"run.json"}
        assert verify_products(archive) == []
        assert (archive / "tables" / "a.csv").exists() and (archive / "tables" / "b.csv").exists()
        assert run_id in (archive / "REPORT.md").read_text()
    current = _record(study.current)
    assert current["run_id"] == ids[3] and current["status"] == "ok"
    assert verify_products(study.current) == []
    assert ids[3] in (study.current / "REPORT.md").read_text()
    assert any(f"previous result set (run {ids[2]}) moved to" in m for m in study.logs)


# ---------------------------------------------------------------- 3. a failing notebook

def test_failing_notebook_leaves_current_results_and_sets_output_aside(study):
    first = study.run()
    before = _files(first)
    first_id = _record(first)["run_id"]

    study.behaviour["02_b"] = "fail"
    with pytest.raises(RunError) as exc:
        study.run()
    msg = str(exc.value)
    assert "02_b.ipynb" in msg and "cell [7]" in msg and "ValueError: boom" in msg

    assert _files(study.current) == before            # byte for byte, run.json included
    assert _record(study.current)["run_id"] == first_id
    failed = list((study.results_root / ".failed").iterdir())
    assert len(failed) == 1 and failed[0].name.startswith(f"{PROFILE}-")
    record = _record(failed[0])
    assert failed[0].name == f"{PROFILE}-{record['run_id']}" and record["run_id"] != first_id
    assert record["status"] == "failed"
    assert "02_b.ipynb" in record["reason"] and "[7]" in record["reason"]
    entries = {n["notebook"]: n for n in record["notebooks"]}
    assert entries["01_a.ipynb"]["status"] == "ok"
    assert entries["02_b.ipynb"]["status"] == "failed" and entries["02_b.ipynb"]["cell"] == 7
    assert entries["02_b.ipynb"]["error"] == "ValueError: boom"
    # the partial output is kept where one can look at it
    assert (failed[0] / "tables" / "partial.csv").exists()
    assert (failed[0] / "tables" / "a.csv").exists()
    assert (failed[0] / "notebooks" / "02_b.ipynb").exists()
    assert not list((study.results_root / ".staging").glob("*"))
    assert not (study.results_root / ".archive").exists()
    assert not lock_held(study.results_root, PROFILE)


# ---------------------------------------------------------------- 4. SIGTERM

DRIVER = textwrap.dedent('''
    import json, shutil, sys, time
    from pathlib import Path

    import papermill
    from spring_lib.core import products as stages
    from spring_lib.run import runner
    from spring_lib.core.paths import project_root

    args = json.loads(sys.argv[1])
    nbdir, marker = Path(args["nbdir"]), Path(args["marker"])
    runner.notebooks_dir = lambda: nbdir
    for name, writes in args["stages"].items():
        stages.STEPS[name] = stages.Step(name, writes=tuple(writes))

    def fake(input_path, output_path, parameters=None, **kwargs):
        name = Path(input_path).stem
        shutil.copyfile(input_path, output_path)
        out = project_root() / parameters["results_dir"]
        if name == args["hang"]:
            (out / "partial.txt").write_text("half done\\n")
            marker.write_text("started\\n")
            time.sleep(60)
            raise SystemExit("the run was not interrupted")
        for rel in stages.STEPS[name].writes:
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_text(name + " wrote " + rel + "\\n")

    papermill.execute_notebook = fake
    runner.run_study(args["profile"], results_root=args["results_root"],
                     log=lambda *a: print(*a, flush=True))
''')


def test_sigterm_mid_run_sets_run_aside_and_keeps_results(study, tmp_path):
    first = study.run()
    before = _files(first)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    marker = tmp_path / "started.marker"
    args = {"nbdir": str(study.nbdir), "marker": str(marker), "hang": "02_b",
            "stages": {n: list(stages.STEPS[n].writes) for n in ("01_a", "02_b")},
            "profile": str(study.profile_file), "results_root": str(study.results_root)}
    proc = subprocess.Popen([sys.executable, str(driver), json.dumps(args)], cwd=project_root(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 60
        while not marker.exists():
            assert proc.poll() is None, f"driver ended early:\n{proc.stdout.read()}"
            assert time.time() < deadline, "the second notebook never started"
            time.sleep(0.1)
        assert lock_held(study.results_root, PROFILE)               # held while running
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0, output
    assert "the run was not interrupted" not in output
    assert "interrupted" in output

    assert _files(study.current) == before
    failed = list((study.results_root / ".failed").glob(f"{PROFILE}-*"))
    assert len(failed) == 1, output
    record = _record(failed[0])
    assert record["status"] == "interrupted" and "SIGTERM" in record["reason"]
    entries = {n["notebook"]: n["status"] for n in record["notebooks"]}
    assert entries == {"01_a.ipynb": "ok", "02_b.ipynb": "interrupted"}
    assert (failed[0] / "partial.txt").exists() and (failed[0] / "tables" / "a.csv").exists()
    assert not list((study.results_root / ".staging").glob("*"))
    assert not lock_held(study.results_root, PROFILE)


# ---------------------------------------------------------------- 5. a killed run

def test_killed_run_is_set_aside_by_the_next_run(study):
    name = f"{PROFILE}-20200101T000000Z-dead"
    left = study.results_root / ".staging" / name
    (left / "tables").mkdir(parents=True)
    (left / "tables" / "a.csv").write_text("half written\n")
    (left / "run.json").write_text(json.dumps({"run_id": "20200101T000000Z-dead",
                                               "profile": PROFILE, "status": "running"}))
    out = study.run()
    assert _record(out)["status"] == "ok"
    moved = study.results_root / ".failed" / name
    assert not left.exists() and moved.is_dir()
    record = _record(moved)
    assert record["status"] == "killed" and record["run_id"] == "20200101T000000Z-dead"
    assert "found by the next run" in record["reason"]
    assert (moved / "tables" / "a.csv").read_text() == "half written\n"
    assert any("killed run" in m and str(moved) in m for m in study.logs)
    assert not list((study.results_root / ".staging").glob("*"))


def test_killed_run_sweep_leaves_other_profiles_staging_alone(study):
    other = study.results_root / ".staging" / f"{PROFILE}-gpu-20200101T000000Z-beef"
    other.mkdir(parents=True)
    (other / "run.json").write_text(json.dumps({"run_id": "20200101T000000Z-beef",
                                                "profile": f"{PROFILE}-gpu", "status": "running"}))
    # that profile's run is alive: it holds its own lock
    with run_lock(study.results_root, f"{PROFILE}-gpu"):
        study.run()
    assert other.is_dir(), "another profile's live run was moved away"
    assert _record(other)["status"] == "running"


# ---------------------------------------------------------------- 6. the lock

def test_lock_refuses_second_run_and_a_dead_runs_lock_is_free(study):
    study.results_root.mkdir(parents=True)
    with run_lock(study.results_root, PROFILE):           # another run of the profile, alive
        with pytest.raises(RunError, match=f"profile '{PROFILE}' is already being run") as exc:
            study.run()
        assert f"pid {os.getpid()}" in str(exc.value)
        assert study.calls == [] and not study.current.exists()
        assert not (study.results_root / ".staging").exists()
        assert lock_held(study.results_root, PROFILE)     # the other run's lock is left alone

    # a run that died (SIGKILL) while holding the lock: the system freed it with the process
    code = ("import sys, os, signal; sys.path.insert(0, %r); from pathlib import Path; "
            "from spring_lib.run.runner import run_lock\n"
            "with run_lock(Path(%r), %r):\n    os.kill(os.getpid(), signal.SIGKILL)"
            % (str(project_root()), str(study.results_root), PROFILE))
    dead = subprocess.run([sys.executable, "-c", code])
    assert dead.returncode == -signal.SIGKILL
    assert not lock_held(study.results_root, PROFILE)
    out = study.run()
    assert _record(out)["status"] == "ok" and study.calls == ["01_a", "02_b"]
    assert not lock_held(study.results_root, PROFILE)


# ---------------------------------------------------------------- 7. declared inputs and outputs

def test_declared_reads_and_writes_are_enforced(study):
    # a complete set holding tables/x.csv, made while 01_a still wrote it
    study.stage("01_a", writes=("tables/a.csv", "tables/x.csv"))
    first = study.run()
    assert (first / "tables" / "x.csv").exists()
    before = _files(first)

    # now nothing in the run writes x.csv: the stale copy in the last complete set must not do
    study.stage("01_a", writes=("tables/a.csv",))
    study.stage("02_b", reads=("tables/x.csv",), writes=("tables/b.csv",))
    study.calls.clear()
    with pytest.raises(RunError) as exc:
        study.run()
    assert "02_b.ipynb needs ['tables/x.csv']" in str(exc.value)
    assert study.calls == ["01_a"]                       # refused before it executed
    assert _files(study.current) == before
    failed = sorted((study.results_root / ".failed").iterdir())
    assert len(failed) == 1 and _record(failed[0])["status"] == "failed"
    assert not (failed[0] / "notebooks" / "02_b.ipynb").exists()

    # a notebook that finishes without writing what it declares fails the run
    study.stage("02_b", writes=("tables/b.csv",))
    study.behaviour["02_b"] = "nowrite"
    study.calls.clear()
    with pytest.raises(RunError) as exc:
        study.run()
    assert "02_b.ipynb finished without writing ['tables/b.csv']" in str(exc.value)
    assert study.calls == ["01_a", "02_b"]
    assert _files(study.current) == before
    failed = sorted((study.results_root / ".failed").iterdir(), key=lambda p: _record(p)["started"])
    assert len(failed) == 2
    last = [f for f in failed if any(n["notebook"] == "02_b.ipynb" for n in _record(f)["notebooks"])]
    assert len(last) == 1
    entry = _record(last[0])["notebooks"][-1]
    assert entry["status"] == "failed" and "without writing" in entry["error"]

    # and one that writes a file the product catalogue does not list
    study.behaviour["02_b"] = "stray"
    with pytest.raises(RunError, match=r"02_b.ipynb wrote \['tables/stray.csv'\], which "
                                       r"spring_lib/core/products.py does not list"):
        study.run()
    assert _files(study.current) == before


# ---------------------------------------------------------------- 8. subset runs

def test_subset_run_starts_from_last_complete_set(study):
    first = study.run()
    first_record = _record(first)
    first_id = first_record["run_id"]
    a_bytes = (first / "tables" / "a.csv").read_bytes()
    study.calls.clear()
    study.logs.clear()

    out = study.run(["02"])
    assert study.calls == ["02_b"]
    assert any("starting from the last complete result set" in m and first_id in m
               for m in study.logs)
    record = _record(out)
    assert record["status"] == "ok" and record["run_id"] != first_id
    assert record["started_from"] == first_id
    assert record["notebooks_selected"] == ["02_b.ipynb"]
    assert (out / "tables" / "a.csv").read_bytes() == a_bytes
    assert (out / "notebooks" / "01_a.ipynb").exists()
    assert verify_products(out) == []
    made_by = {p["path"]: p["made_by"] for p in record["products"]}
    # carried unchanged from the first run
    for rel in ("tables/a.csv", "notebooks/01_a.ipynb", f"logs/progress-{first_id}.jsonl"):
        assert made_by[rel] == first_id, rel
    # made again by this run (b.csv has the same bytes as before: still this run's)
    for rel in ("tables/b.csv", "notebooks/02_b.ipynb", "REPORT.md", "site/index.html",
                f"logs/progress-{record['run_id']}.jsonl"):
        assert made_by[rel] == record["run_id"], rel
    assert set(made_by.values()) == {first_id, record["run_id"]}
    assert (study.results_root / ".archive" / f"{PROFILE}-{first_id}" / "run.json").exists()


# ---------------------------------------------------------------- 9. predictions

def test_only_the_named_arms_predictions_are_loaded(tmp_path):
    manifest = pd.DataFrame({"tile_id": [0, 1, 2, 3], "micrograph_id": ["007", "007", "12", "12"],
                             "label": ["x", "x", "y", "y"]})
    classes = ["x", "y"]
    scores = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.7, 0.3]])
    pred = scores.argmax(axis=1)
    for model in ("A", "B", "C"):
        save_predictions(prediction_frame(manifest, classes, pred, scores, model, "probability"),
                         tmp_path)
    assert (tmp_path / "predictions" / "C.csv").exists()   # a stray file of another arm

    df = load_predictions(tmp_path, ["A", "B"])
    assert sorted(df["model"].unique()) == ["A", "B"] and len(df) == 8
    assert list(df.loc[df["model"] == "A", "pred_label"]) == ["x", "y", "y", "x"]
    assert set(df["micrograph_id"]) == {"007", "12"}     # ids stay strings
    with pytest.raises(FileNotFoundError, match=r"\['Z'\]"):
        load_predictions(tmp_path, ["A", "Z"])


# ---------------------------------------------------------------- 10. profile names

def test_profile_file_may_not_take_a_shipped_profiles_name(tmp_path, monkeypatch):
    monkeypatch.delenv("SPRING_PARAMS_DIR", raising=False)
    assert (project_root() / "params" / "cpu.yaml").exists()

    mine = tmp_path / "mine.yaml"
    mine.write_text("profile: cpu\n")
    with pytest.raises(ConfigError, match=r"params/cpu\.yaml"):
        load_config(mine)

    elsewhere = tmp_path / "cpu.yaml"
    elsewhere.write_text("description: a copy outside params/\n")
    with pytest.raises(ConfigError, match=r"params/cpu\.yaml"):
        load_config(elsewhere)

    mine.write_text("profile: ../../x\n")
    with pytest.raises(ConfigError, match="must be a plain name"):
        load_config(mine)

    mine.write_text("description: fine\n")     # the control: its own name is accepted
    assert load_config(mine).profile == "mine"


def test_results_from_before_runs_are_archived_not_built_on(study):
    """A result folder whose run.json has no run id (an older layout) is set aside whole."""
    old = study.results_root / PROFILE
    (old / "tables").mkdir(parents=True)
    (old / "tables" / "a.csv").write_text("old\n")
    (old / "run.json").write_text(json.dumps({"status": "ok", "profile": PROFILE}))
    out = study.run()
    archived = list((study.results_root / ".archive").glob(f"{PROFILE}-before-*"))
    assert len(archived) == 1 and (archived[0] / "tables" / "a.csv").read_text() == "old\n"
    assert json.loads((out / "run.json").read_text())["started_from"] is None


def test_subset_run_refuses_a_result_set_of_other_profile_values(study):
    study.run()
    text = study.profile_file.read_text()
    study.profile_file.write_text(text.replace("seed: 0", "seed: 1") if "seed: 0" in text
                                  else text + "split: {seed: 1}\n")
    calls = len(study.calls)
    with pytest.raises(RunError, match="other profile values"):
        study.run(["02"])
    assert len(study.calls) == calls and not list((study.results_root / ".staging").glob("*"))


# ---------------------------------------------------------------- 10. signals with a real kernel

KERNEL_DRIVER = textwrap.dedent('''
    import json, sys
    from pathlib import Path

    import nbformat
    from spring_lib.core import products as stages
    from spring_lib.run import runner
    from spring_lib.cli import main

    args = json.loads(sys.argv[1])
    nbdir = Path(args["nbdir"])
    nbdir.mkdir()
    nb = nbformat.v4.new_notebook(metadata={"language_info": {"name": "python"}})
    params = nbformat.v4.new_code_cell("profile = 'cpu'\\nresults_dir = None")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "import pathlib, time\\npathlib.Path(%r).write_text('started')\\ntime.sleep(%d)\\n"
        "pathlib.Path(results_dir, 'x.txt').write_text('done')" % (args["marker"], args["sleep"]))]
    nbformat.write(nb, nbdir / "01_sleep.ipynb")
    runner.notebooks_dir = lambda: nbdir
    stages.STEPS["01_sleep"] = stages.Step("01_sleep", writes=("x.txt",))
    runner.KERNEL_NAME = "python3"   # a plain kernel: nothing of the study is imported there
    from spring_lib.run import report   # the notebook makes none of what REPORT.md needs
    report.write_report = lambda folder, cfg, record: (Path(folder) / "REPORT.md").write_text("-")
    run_study = runner.run_study
    runner.run_study = lambda *a, **k: run_study(*a, kernel_name="python3", **k)
    sys.exit(main(["run", "--profile", args["profile"], "--results", args["results_root"]]))
''')


def _kernel_run(tmp_path, profile_file, sleep: int) -> tuple[subprocess.Popen, Path, Path]:
    driver = tmp_path / "driver.py"
    driver.write_text(KERNEL_DRIVER)
    marker, results = tmp_path / "started", tmp_path / "results"
    args = {"nbdir": str(tmp_path / "nbs"), "marker": str(marker), "profile": str(profile_file),
            "results_root": str(results), "sleep": sleep}
    proc = subprocess.Popen([sys.executable, str(driver), json.dumps(args)], cwd=project_root(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    return proc, marker, results


def test_a_real_kernel_run_completes(profile_file, tmp_path):
    """The control for the test below: the kernel's normal end is not taken for a death."""
    proc, _, results = _kernel_run(tmp_path, profile_file, sleep=0)
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output
    assert _record(results / PROFILE)["status"] == "ok"


@pytest.mark.parametrize("target", ["group", "kernel"])
def test_sigterm_to_runner_and_kernel_ends_run_within_10s(target, profile_file, tmp_path):
    """A process-group SIGTERM (Slurm, `docker stop`) or one to the kernel alone: the run ends
    at once with one line, and run.json says interrupted, naming the notebook and the cell."""
    ipc_before = set(project_root().glob("kernel-ipc*"))
    proc, marker, results = _kernel_run(tmp_path, profile_file, sleep=120)
    try:
        deadline = time.time() + 120
        while not marker.exists():
            assert proc.poll() is None, f"driver ended early:\n{proc.stdout.read()}"
            assert time.time() < deadline, "the notebook never started"
            time.sleep(0.2)
        t0 = time.time()
        if target == "group":
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            kernels = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                     text=True).stdout.split()
            assert kernels, "no kernel process"
            for pid in kernels:
                os.kill(int(pid), signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
        took = time.time() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert took < 10, f"took {took:.1f} s:\n{output}"
    assert proc.returncode != 0 and "Traceback" not in output, output
    lines = [l for l in output.splitlines() if "interrupted" in l]
    assert len(lines) == 1 and "01_sleep.ipynb" in lines[0], output
    failed = list((results / ".failed").glob("*"))
    assert len(failed) == 1
    record = _record(failed[0])
    assert record["status"] == "interrupted" and "SIGTERM" in record["reason"]
    [entry] = record["notebooks"]
    assert entry["notebook"] == "01_sleep.ipynb" and entry["status"] == "interrupted"
    assert entry["cell"] == 3, entry          # parameters, injected parameters, then the sleep
    assert set(project_root().glob("kernel-ipc*")) == ipc_before


def test_subset_run_without_a_complete_set_is_refused(study):
    """`--notebooks 01` with nothing to start from would publish a partial set as ok."""
    with pytest.raises(RunError, match="no complete result set") as exc:
        study.run(["01"])
    assert "\n" not in str(exc.value)
    assert study.calls == [] and not study.current.exists()
    assert not (study.results_root / ".staging").exists() or not list(
        (study.results_root / ".staging").iterdir())
