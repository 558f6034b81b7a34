"""Notebooks in a real Jupyter kernel: a normal end is not taken for a death, and SIGTERM to the
runner's process group or to the kernel alone ends the run at once, recorded as interrupted."""
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
    stages.STEPS["01_sleep"] = stages.Step("01_sleep", writes=("x.txt",))
    from spring_lib.run import report   # the notebook makes none of what REPORT.md needs
    report.write_report = lambda folder, cfg, record: (Path(folder) / "REPORT.md").write_text("-")
    run_study = runner.run_study   # in a plain kernel: nothing of the study is imported there
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
    assert json.loads((results / profile_file.stem / "run.json").read_text())["status"] == "ok"


@pytest.mark.parametrize("target", ["group", "kernel"])
def test_sigterm_to_runner_and_kernel_ends_run_within_10s(target, profile_file, tmp_path,
                                                          wait_started):
    """A process-group SIGTERM (Slurm, `docker stop`) or one to the kernel alone: the run ends
    at once with one line, and run.json says interrupted, naming the notebook and the cell."""
    ipc_before = set(project_root().glob("kernel-ipc*"))
    proc, marker, results = _kernel_run(tmp_path, profile_file, sleep=120)
    try:
        wait_started(proc, marker, 120)
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
    record = json.loads((failed[0] / "run.json").read_text())
    assert record["status"] == "interrupted" and "SIGTERM" in record["reason"]
    [entry] = record["notebooks"]
    assert entry["notebook"] == "01_sleep.ipynb" and entry["status"] == "interrupted"
    assert entry["cell"] == 3, entry          # parameters, injected parameters, then the sleep
    assert set(project_root().glob("kernel-ipc*")) == ipc_before
