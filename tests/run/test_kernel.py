"""Notebooks in a real Jupyter kernel: a normal end is not taken for a death, and SIGTERM (to the
runner, its process group or the kernel) or Ctrl-C ends the run and its kernel at once, with one
line, recorded as interrupted."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from spring_lib.core.paths import project_root


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
    if args["in_estimate"]:   # the estimate times a kernel's start (notebook_costs), here a long one
        from spring_lib.run import kernel, notebook_costs, series
        kernel.KERNEL_NAME = "python3"
        notebook_costs._STARTUP = ("import pathlib, time\\npathlib.Path(%r).write_text('started')\\n"
                                   "time.sleep(%d)\\n" % (args["marker"], args["sleep"]))
        series.before_notebook = lambda step, cfg, folder: notebook_costs.kernel_startup(False, 64)
    stages.STEPS["01_sleep"] = stages.Step("01_sleep", writes=("x.txt",))
    from spring_lib.run import report   # the notebook makes none of what REPORT.md needs
    report.write_report = lambda folder, cfg, record: (Path(folder) / "REPORT.md").write_text("-")
    run_study = runner.run_study   # in a plain kernel: nothing of the study is imported there
    runner.run_study = lambda *a, **k: run_study(*a, kernel_name="python3", **k)
    sys.exit(main(["run", "--profile", args["profile"], "--results", args["results_root"]]))
''')


def _kernel_run(tmp_path, profile_file, sleep: int,
                in_estimate: bool = False) -> tuple[subprocess.Popen, Path, Path]:
    driver = tmp_path / "driver.py"
    driver.write_text(KERNEL_DRIVER)
    marker, results = tmp_path / "started", tmp_path / "results"
    args = {"nbdir": str(tmp_path / "nbs"), "marker": str(marker), "profile": str(profile_file),
            "results_root": str(results), "sleep": sleep, "in_estimate": in_estimate}
    proc = subprocess.Popen([sys.executable, str(driver), json.dumps(args)], cwd=project_root(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    return proc, marker, results


def test_a_real_kernel_run_completes(profile_file, tmp_path):
    """The control for the test below: the kernel's normal end is not taken for a death."""
    proc, _, results = _kernel_run(tmp_path, profile_file, sleep=0)
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output
    assert json.loads((results / profile_file.stem / "run.json").read_text())["status"] == "ok"


def _alive(pid: int) -> bool:
    """Whether a process still runs (a zombie waiting to be reaped does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _stop(target: str, runner: int, kernels: list[int]) -> None:
    if target == "group":          # Slurm, `docker stop`: the runner's process group
        os.killpg(runner, signal.SIGTERM)
    elif target == "runner":       # `kill <runner pid>`
        os.kill(runner, signal.SIGTERM)
    elif target == "ctrl-c":       # SIGINT, as the terminal sends it (the kernel is a session
        os.kill(runner, signal.SIGINT)   # of its own: the terminal's Ctrl-C misses it)
    else:                          # the kernel alone
        for pid in kernels:
            os.kill(pid, signal.SIGTERM)


@pytest.mark.parametrize("phase,target", [
    ("cell", "group"), ("cell", "kernel"), ("cell", "runner"), ("cell", "ctrl-c"),
    ("estimate", "runner"), ("estimate", "ctrl-c")])
def test_a_stop_ends_the_run_and_its_kernel_within_10s(phase, target, profile_file, tmp_path,
                                                      wait_started):
    """SIGTERM to the runner's process group, to the runner alone or to the kernel alone, or
    Ctrl-C, while a cell runs or while the estimate before it times a kernel: the run ends at
    once with one line and no kernel traceback, no kernel outlives it, and run.json says
    interrupted by which signal, naming the notebook and the cell."""
    ipc_before = set(project_root().glob("kernel-ipc*"))
    proc, marker, results = _kernel_run(tmp_path, profile_file, sleep=120,
                                        in_estimate=phase == "estimate")
    kernels: list[int] = []
    try:
        wait_started(proc, marker, 120)
        kernels = [int(p) for p in subprocess.run(["pgrep", "-P", str(proc.pid)],
                                                  capture_output=True, text=True).stdout.split()]
        assert kernels, "no kernel process"
        t0 = time.time()
        _stop(target, proc.pid, kernels)
        output, _ = proc.communicate(timeout=30)
        took = time.time() - t0
        left = [pid for pid in kernels if _alive(pid)]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pid in kernels:   # what this test started, should the runner have left it
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert took < 10, f"took {took:.1f} s:\n{output}"
    assert left == [], f"kernel(s) {left} outlived the run:\n{output}"
    assert proc.returncode != 0, output
    assert "Traceback" not in output and "ZMQError" not in output, output
    lines = [l for l in output.splitlines() if "interrupted" in l]
    assert len(lines) == 1 and "01_sleep.ipynb" in lines[0], output
    failed = list((results / ".failed").glob("*"))
    assert len(failed) == 1
    record = json.loads((failed[0] / "run.json").read_text())
    sent = "SIGINT" if target == "ctrl-c" else "SIGTERM"
    assert record["status"] == "interrupted" and sent in record["reason"], record["reason"]
    [entry] = record["notebooks"]
    assert entry["notebook"] == "01_sleep.ipynb" and entry["status"] == "interrupted"
    # parameters, injected parameters, then the sleep; none yet while it is being estimated
    assert entry["cell"] == (3 if phase == "cell" else None), entry
    assert set(project_root().glob("kernel-ipc*")) == ipc_before
