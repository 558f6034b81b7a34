"""One run of a profile at a time, SIGTERM recorded as an interruption, killed runs set aside."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from spring_lib.core import products as stages
from spring_lib.core.paths import project_root
from spring_lib.run.errors import RunError
from spring_lib.run.lock import lock_held, run_lock


# the toy series in a process of its own, hanging in one notebook until a signal comes
DRIVER = textwrap.dedent('''
    import json, shutil, sys, time
    from pathlib import Path

    import papermill
    from spring_lib.core import products as stages
    from spring_lib.run import runner

    args = json.loads(sys.argv[1])
    nbdir, marker = Path(args["nbdir"]), Path(args["marker"])
    runner.notebooks_dir = lambda: nbdir
    for name, writes in args["stages"].items():
        stages.STEPS[name] = stages.Step(name, writes=tuple(writes))

    def fake(input_path, output_path, cwd=None, parameters=None, **kwargs):
        name = Path(input_path).stem
        shutil.copyfile(input_path, output_path)
        out = Path(cwd) / parameters["results_dir"]
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


def test_sigterm_mid_run_sets_run_aside_and_keeps_results(study, tmp_path, wait_started):
    first = study.run()
    before = study.files(first)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    marker = tmp_path / "started.marker"
    args = {"nbdir": str(study.nbdir), "marker": str(marker), "hang": "02_b",
            "stages": {n: list(stages.STEPS[n].writes) for n in ("01_a", "02_b")},
            "profile": str(study.profile_file), "results_root": str(study.results_root)}
    proc = subprocess.Popen([sys.executable, str(driver), json.dumps(args)], cwd=project_root(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_started(proc, marker, 60)
        assert lock_held(study.results_root, study.name)               # held while running
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0, output
    assert "the run was not interrupted" not in output
    assert "interrupted" in output

    assert study.files(study.current) == before
    failed = list((study.results_root / ".failed").glob(f"{study.name}-*"))
    assert len(failed) == 1, output
    record = study.record(failed[0])
    assert record["status"] == "interrupted" and "SIGTERM" in record["reason"]
    entries = {n["notebook"]: n["status"] for n in record["notebooks"]}
    assert entries == {"01_a.ipynb": "ok", "02_b.ipynb": "interrupted"}
    assert (failed[0] / "partial.txt").exists() and (failed[0] / "tables" / "a.csv").exists()
    assert not list((study.results_root / ".staging").glob("*"))
    assert not lock_held(study.results_root, study.name)


def test_killed_run_is_set_aside_by_the_next_run(study):
    name = f"{study.name}-20200101T000000Z-dead"
    left = study.results_root / ".staging" / name
    (left / "tables").mkdir(parents=True)
    (left / "tables" / "a.csv").write_text("half written\n")
    (left / "run.json").write_text(json.dumps({"run_id": "20200101T000000Z-dead",
                                               "profile": study.name, "status": "running"}))
    out = study.run()
    assert study.record(out)["status"] == "ok"
    moved = study.results_root / ".failed" / name
    assert not left.exists() and moved.is_dir()
    record = study.record(moved)
    assert record["status"] == "killed" and record["run_id"] == "20200101T000000Z-dead"
    assert "found by the next run" in record["reason"]
    assert (moved / "tables" / "a.csv").read_text() == "half written\n"
    assert any("killed run" in m and str(moved) in m for m in study.logs)
    assert not list((study.results_root / ".staging").glob("*"))


def test_killed_run_sweep_leaves_other_profiles_staging_alone(study):
    other = study.results_root / ".staging" / f"{study.name}-gpu-20200101T000000Z-beef"
    other.mkdir(parents=True)
    (other / "run.json").write_text(json.dumps({"run_id": "20200101T000000Z-beef",
                                                "profile": f"{study.name}-gpu", "status": "running"}))
    # that profile's run is alive: it holds its own lock
    with run_lock(study.results_root, f"{study.name}-gpu"):
        study.run()
    assert other.is_dir(), "another profile's live run was moved away"
    assert study.record(other)["status"] == "running"


def test_lock_refuses_second_run_and_a_dead_runs_lock_is_free(study):
    study.results_root.mkdir(parents=True)
    with run_lock(study.results_root, study.name):           # another run of the profile, alive
        with pytest.raises(RunError, match=f"profile '{study.name}' is already being run") as exc:
            study.run()
        assert f"pid {os.getpid()}" in str(exc.value)
        assert study.calls == [] and not study.current.exists()
        assert not (study.results_root / ".staging").exists()
        assert lock_held(study.results_root, study.name)     # the other run's lock is left alone

    # a run that died (SIGKILL) while holding the lock: the system freed it with the process
    code = ("import sys, os, signal; sys.path.insert(0, %r); from pathlib import Path; "
            "from spring_lib.run.lock import run_lock\n"
            "with run_lock(Path(%r), %r):\n    os.kill(os.getpid(), signal.SIGKILL)"
            % (str(project_root()), str(study.results_root), study.name))
    dead = subprocess.run([sys.executable, "-c", code])
    assert dead.returncode == -signal.SIGKILL
    assert not lock_held(study.results_root, study.name)
    out = study.run()
    assert study.record(out)["status"] == "ok" and study.calls == ["01_a", "02_b"]
    assert not lock_held(study.results_root, study.name)
