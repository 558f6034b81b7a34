"""Run the notebook series headlessly with papermill: one run, one coherent result set.

A run executes into a fresh staging folder, `results/.staging/<profile>-<run id>/`. Only when
every selected notebook succeeded does it replace `results/<profile>/`, whose previous complete
set moves whole to `results/.archive/<profile>-<its run id>/`. A failed or interrupted run
(exception, SIGINT, SIGTERM) leaves the current results untouched and its own partial output in
`results/.failed/<profile>-<run id>/`, its run.json saying why; a killed run's staging folder is
moved there by the next run. `run.json` lists every product with its sha256. The profile is read
once, here: the notebooks read the run's `config.json` (`config.snapshot`).
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from ..config import load_config, snapshot, write_snapshot
from ..core.machine import cpu_info
from ..core.paths import project_root
from ..core.products import check_products, file_times, step
from ..core.progress import PROGRESS_ENV, arm_budgets, read_events
from ..data.catalogue import catalog_checksum
from .errors import Interrupted, RunError
from .kernel import (KERNEL_NAME, in_worker_thread, ipc_kernel_manager, kernel_gone, kill_kernels,
                     running_cell, stop_kernels)
from .lock import run_lock, set_aside_killed, signals_raise
from .monitor import Monitor, mmss
from .preflight import preflight
from .publish import publish, set_aside
from .record import (check_same_study, complete_record, git_commit, list_products, new_run_id,
                     now, rel_path, versions, write_record)


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def find_notebooks(selection: list[str] | None = None) -> list[Path]:
    """Notebooks in series order; `selection` holds numbers ("01") or names."""
    all_nbs = sorted(notebooks_dir().glob("[0-9][0-9]_*.ipynb"))
    if not selection:
        return all_nbs
    chosen = []
    for s in selection:
        match = [nb for nb in all_nbs if nb.name.startswith(f"{s}_") or nb.stem == s
                 or nb.name == s]
        if not match:
            raise RunError(f"no notebook '{s}' in {notebooks_dir()} "
                           f"(have: {', '.join(nb.name for nb in all_nbs)})")
        chosen.extend(match)
    return sorted(set(chosen))


def run_study(profile: str | Path, notebooks: list[str] | None = None,
              results_root: str | Path | None = None, kernel_name: str = KERNEL_NAME,
              log=print) -> Path:
    """Execute the selected notebooks into a staging folder; publish it only if all succeed.
    `profile`: a name or a YAML path, read and validated here once for the whole run."""
    cfg = load_config(profile)   # a bad profile fails here, before anything starts
    catalog = preflight(cfg)     # and one its data cannot run, before any kernel or folder
    nbs = find_notebooks(notebooks)
    root = project_root()
    results_root = Path(results_root or root / "results")
    current = results_root / cfg.profile
    # SIGTERM and Ctrl-C end the kernels, then raise: held through the clean-up below
    with run_lock(results_root, cfg.profile), signals_raise(first=kill_kernels):
        set_aside_killed(results_root, cfg.profile, log)
        run_id = new_run_id()
        previous = complete_record(current)
        subset = bool(notebooks) and len(nbs) < len(find_notebooks())
        if subset and not previous:   # the set would be published, partial, as status ok
            raise RunError(f"--notebooks {' '.join(notebooks)}: {current} holds no complete "
                           "result set to start from; run every notebook first (no --notebooks)")
        config = snapshot(cfg, rel_path(Path(cfg.source), root))   # what every notebook reads
        staging = results_root / ".staging" / f"{cfg.profile}-{run_id}"
        t_run, monitor = time.time(), None
        progress = staging / "logs" / f"progress-{run_id}.jsonl"
        env_before = os.environ.get(PROGRESS_ENV)
        try:
            record = _new_record(cfg, run_id, nbs, config, previous if subset else None,
                                 catalog_checksum(catalog))   # the checksum: once per run
            if subset and previous:
                _carry_over(current, staging, previous, record, log)
            monitor = _open_staging(staging, config, record, progress, log)
            durations = {n["notebook"]: n.get("seconds", 0)
                         for n in (previous or {}).get("notebooks", [])}
            os.environ[PROGRESS_ENV] = str(progress)
            for i, nb in enumerate(nbs, 1):
                _run_notebook(nb, i, len(nbs), cfg, staging, record, monitor,
                              sum(durations.get(n.name, 0) for n in nbs[i:]), kernel_name, log)
            monitor.close()
            _finish(staging, cfg, record, progress, t_run, previous if subset else None, log)
        except (Exception, KeyboardInterrupt) as exc:
            if not staging.exists():   # refused, or stopped, before it made anything
                if isinstance(exc, KeyboardInterrupt):
                    log(f"run {run_id} interrupted ({str(exc) or 'signal SIGINT'}) before its "
                        "first notebook: nothing was written")
                raise
            if monitor is not None:
                monitor.close()
            set_aside(exc, staging, record, progress, t_run, results_root, current, previous,
                      log)
        finally:
            if env_before is None:
                os.environ.pop(PROGRESS_ENV, None)
            else:
                os.environ[PROGRESS_ENV] = env_before
        return publish(staging, current, previous, results_root, cfg.profile, run_id, log)


def _new_record(cfg, run_id: str, nbs: list[Path], config: dict, earlier: dict | None,
                data_checksum: str) -> dict:
    """run.json as a run starts (`earlier`: the complete set a subset run starts from)."""
    return {"run_id": run_id, "profile": cfg.profile, "profile_file": config["profile_file"],
            "status": "running", "notebooks_selected": [nb.name for nb in nbs],
            "started_from": earlier["run_id"] if earlier else None, "started": now(),
            "git_commit": git_commit(), "cpu": cpu_info(), "versions": versions(),
            "config": config["config"], "notebooks": [], "data_checksum": data_checksum}


def _carry_over(current: Path, staging: Path, previous: dict, record: dict, log) -> None:
    """A subset run starts from a copy of the last complete set, if it is the same study."""
    check_same_study(previous, record)
    shutil.copytree(current, staging, ignore=shutil.ignore_patterns("site", "run.json"))
    log(f"subset run: starting from the last complete result set of '{record['profile']}' "
        f"(run {previous['run_id']}); its other products are carried over")


def _open_staging(staging: Path, config: dict, record: dict, progress: Path, log) -> Monitor:
    """The run's folder with its config snapshot, its record and an empty progress log, and
    the monitor of that log, started."""
    staging.mkdir(parents=True, exist_ok=True)
    write_snapshot(staging, config)
    write_record(staging, record)
    progress.parent.mkdir(parents=True, exist_ok=True)
    progress.touch()
    monitor = Monitor(progress, log)
    monitor.start()
    return monitor


def _run_notebook(nb: Path, i: int, n: int, cfg, staging: Path, record: dict, monitor,
                  later_s: float, kernel_name: str, log) -> None:
    import papermill as pm

    from .series import with_arms   # torch: only once a run starts

    st = step(nb.name)
    _check_inputs(st, nb.name, staging)
    root = project_root()
    dest = staging / "notebooks" / nb.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    entry = {"notebook": nb.name, "output": f"notebooks/{nb.name}", "status": "running"}
    record["notebooks"].append(entry)
    write_record(staging, record)
    label = f"[{i}/{n}] {nb.stem}"
    log(f"{label} (profile {cfg.profile}) ...")
    parts = _estimate(st.notebook, nb.name, cfg, staging, entry, log)
    monitor.start_notebook(label, later_s)
    before = file_times(staging)
    t0 = time.time()
    try:
        in_worker_thread(
            pm.execute_notebook, str(nb), str(dest), watch=kernel_gone,
            kernel_name=kernel_name, cwd=str(root),
            # the profile's name; its values come from the run's snapshot in results_dir
            parameters={"profile": cfg.profile, "results_dir": rel_path(staging, root)},
            progress_bar=False, log_output=False, kernel_manager_class=ipc_kernel_manager())
    except pm.PapermillExecutionError as exc:
        entry.update(status="failed", seconds=round(time.time() - t0, 1), cell=exc.exec_count,
                     error=f"{exc.ename}: {exc.evalue}")
        raise RunError(f"{nb.name} failed in cell [{exc.exec_count}]: {exc.ename}: "
                       f"{exc.evalue} (the executed notebook with the traceback is kept)") from None
    except BaseException as exc:
        stopped = stop_kernels()
        entry.update(status="interrupted", seconds=round(time.time() - t0, 1),
                     cell=running_cell(dest))
        where = nb.name + (f", cell [{entry['cell']}]" if entry["cell"] else "")
        if type(exc).__name__ == "DeadKernelError" and stopped:   # SIGTERM reached the kernel
            raise Interrupted(f"signal {stopped} to the kernel of {where}") from None
        if isinstance(exc, KeyboardInterrupt):
            raise Interrupted(f"{str(exc) or 'signal SIGINT'} in {where}") from None
        entry["status"] = "failed"
        if str(exc).startswith("the kernel died"):
            raise RunError(f"{where}: {exc}") from None
        raise
    finally:
        stop_kernels()   # after a normal end only their socket folders are left to remove
    problem = check_products(st, staging, before).problem(nb.name)
    if problem:
        entry.update(status="failed", seconds=round(time.time() - t0, 1), error=problem)
        raise RunError(problem)
    entry.update(status="ok", seconds=round(time.time() - t0, 1))
    if parts is not None:
        parts = with_arms(parts, read_events(monitor.path)[0], t0)
        entry.update(estimate_seconds=round(sum(parts.values()), 1),
                     estimate_parts={k: round(v, 1) for k, v in parts.items()})
    write_record(staging, record)
    log(f"    done in {mmss(entry['seconds'])} -> {dest.name}")


def _check_inputs(st, name: str, staging: Path) -> None:
    """Refused before it starts: a notebook without its inputs fails midway, or reads stale ones."""
    missing = [p for p in st.reads if not (staging / p).exists()]
    if missing:
        raise RunError(f"{name} needs {missing}, which this run does not have: run the "
                       "notebooks that write them (see spring_lib/core/products.py) in the same "
                       "run, or after a complete run of the profile")


def _estimate(notebook: str, name: str, cfg, staging: Path, entry: dict, log) -> dict | None:
    """The notebook's estimate by part; None, the reason recorded, where it cannot be made (an
    estimate is advice: the notebook says what is wrong itself). A stop meanwhile (the estimate
    may time a kernel) interrupts this notebook before its first cell."""
    from .series import before_notebook   # torch: only once a run starts

    t_est = time.time()
    try:
        return before_notebook(notebook, cfg, staging)
    except KeyboardInterrupt as exc:
        stop_kernels()
        entry.update(status="interrupted", cell=None)
        raise Interrupted(f"{str(exc) or 'signal SIGINT'} in {name}, while estimating it, before "
                          "its first cell") from None
    except Exception as exc:
        entry["estimate_error"] = f"{type(exc).__name__}: {exc}"
        log(f"    no estimate for {name}: {entry['estimate_error']}")
        return None
    finally:
        entry["estimating_seconds"] = round(time.time() - t_est, 1)


def _finish(staging: Path, cfg, record: dict, progress: Path, t_run: float,
            earlier: dict | None, log) -> None:
    """After the last notebook: REPORT.md from this run's own tables, the site, the products."""
    from .report import write_report
    from .site import check_site, render_site

    record.update(finished=now(), wall_seconds=round(time.time() - t_run, 1),
                  arms=arm_budgets(read_events(progress)[0]))
    write_report(staging, cfg, record)
    problems = check_site(render_site(staging))
    if problems:
        raise RunError(f"the rendered site has {len(problems)} broken reference(s): {problems[:3]}")
    record.update(status="ok", products=list_products(staging, record["run_id"], t_run, earlier))
    write_record(staging, record)
    log(f"run {record['run_id']} complete in {mmss(record['wall_seconds'])}: "
        f"{len(record['products'])} products")


def render_result_site(profile: str | Path,
                       results_root: str | Path | None = None) -> list[str]:
    """`make site`: re-render the site of the current result set. The site is derived from
    that run's products alone, so the re-rendered files are recorded under the same run."""
    from .site import check_site, render_site

    cfg = load_config(profile)
    folder = Path(results_root or project_root() / "results") / cfg.profile
    record = complete_record(folder)
    if record is None:
        raise RunError(f"{folder} holds no complete run: run `make reproduce` first")
    problems = check_site(render_site(folder))
    record["products"] = [p for p in record["products"] if not p["path"].startswith("site/")] + \
        [p for p in list_products(folder, record["run_id"]) if p["path"].startswith("site/")]
    write_record(folder, record)
    print(f"site of run {record['run_id']} in {folder / 'site' / 'index.html'}")
    return problems
