"""Run the notebook series headlessly with papermill: one run, one coherent result set.

A run executes into a fresh staging folder, `results/.staging/<profile>-<run id>/`. Only when
every selected notebook succeeded does it replace `results/<profile>/`, whose previous complete
set moves whole to `results/.archive/<profile>-<its run id>/`. A failed or interrupted run
(exception, SIGINT, SIGTERM) leaves the current results untouched and its own partial output in
`results/.failed/<profile>-<run id>/`, its run.json saying why; a killed run's staging folder is
moved there by the next run. `run.json` lists every product with its sha256.
"""
from __future__ import annotations

import fcntl
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from ..config import load_config
from ..core.paths import project_root
from ..data.catalogue import catalog_checksum, file_sha256, load_catalog
from ..core.machine import cpu_info
from ..core.progress import PROGRESS_ENV
from ..core.products import check_products, snapshot, step

KERNEL_NAME = "spring-steel"
PACKAGES = ["spring-lib", "torch", "torchvision", "timm", "numpy", "pandas", "scikit-learn",
            "scikit-image", "papermill", "seaborn", "matplotlib", "pydantic"]


def _ipc_kernel_manager():
    """A kernel manager on local IPC sockets: nothing listens on TCP, and the kernel does not
    warn at every start that its TCP traffic is unencrypted."""
    from jupyter_client.manager import KernelManager
    from traitlets import default

    class IPCKernelManager(KernelManager):
        @default("transport")
        def _transport_default(self):
            return "ipc"

        @default("ip")
        def _ip_default(self):
            # the sockets live in a temporary folder: a killed run leaves none in the checkout
            return str(Path(tempfile.mkdtemp(prefix="spring-kernel-")) / "kernel-ipc")

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            _KERNELS.append(self)

    return IPCKernelManager


_KERNELS: list = []   # kernel managers of this process, stopped if a run is interrupted


def _stop_kernels() -> str | None:
    """Kill the kernels an interrupted notebook left (the executor's own cleanup never ran)
    and remove their socket folders. Returns the signal that ended a kernel, if one did."""
    stopped = None
    while _KERNELS:
        km = _KERNELS.pop()
        proc = getattr(getattr(km, "provisioner", None), "process", None)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        elif proc is not None and proc.returncode in (-signal.SIGTERM, -signal.SIGINT):
            stopped = signal.Signals(-proc.returncode).name
        ipc_dir = Path(km.ip).parent if km.transport == "ipc" else Path()
        if ipc_dir.name.startswith("spring-kernel-"):
            shutil.rmtree(ipc_dir, ignore_errors=True)
    return stopped


def _kernel_gone() -> BaseException | None:
    """What to raise if a kernel of this run has ended while its notebook runs: the executor
    would wait for its reply forever."""
    for km in _KERNELS:
        proc = getattr(getattr(km, "provisioner", None), "process", None)
        code = proc.poll() if proc is not None else None
        if code is not None:
            if code in (-signal.SIGTERM, -signal.SIGINT):
                return Interrupted(f"signal {signal.Signals(-code).name} to the kernel")
            return RuntimeError(f"the kernel died (exit code {code})")
    return None


def _in_worker_thread(fn, *args, watch=None, **kwargs):
    """Call `fn` in a thread while this (main) thread waits for it. A signal then reaches a
    thread that can act on it: raised inside papermill's event loop, an exception is swallowed
    or leaves it waiting forever for a kernel that is gone."""
    box: dict = {}

    def work():
        try:
            box["result"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = exc

    worker = threading.Thread(target=work, name="notebook", daemon=True)
    worker.start()
    gone_since = None
    while worker.is_alive():
        worker.join(0.2)
        problem = watch() if watch and worker.is_alive() else None
        if problem is None:
            gone_since = None
        elif gone_since is None:
            gone_since = time.time()
        elif time.time() - gone_since > 3:   # not the kernel's normal end at a notebook's end
            raise problem
    if "error" in box:
        raise box["error"]
    return box.get("result")


def _running_cell(executed: Path) -> int | None:
    """The execution count (else the 1-based position) of the cell papermill marks running."""
    try:
        cells = json.loads(executed.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return None
    code = [c for c in cells if c.get("cell_type") == "code"]
    for i, c in enumerate(code, 1):
        if c.get("metadata", {}).get("papermill", {}).get("status") == "running":
            return c.get("execution_count") or i
    return None


class RunError(RuntimeError):
    """A run that could not start or did not finish; the message says which and why."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM, turned into an exception so the run is recorded and set aside like SIGINT.
    A KeyboardInterrupt, because asyncio (papermill's executor) lets only that and SystemExit
    out of its tasks: any other exception raised there is swallowed and the run hangs."""


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


# ---------------------------------------------------------------- provenance

def git_commit() -> str | None:
    try:
        root = project_root()
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "spring_lib", "notebooks",
                                "params"], cwd=root, capture_output=True, text=True).stdout
        return head + ("+dirty" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def list_products(folder: Path, run_id: str, since: float = 0.0,
                  earlier: dict | None = None) -> list[dict]:
    """Every file of a result set except run.json itself, with its size, sha256 and the run
    that made it: this one, or (files carried into a subset run unchanged) the earlier one."""
    before = {p["path"]: p for p in (earlier or {}).get("products", [])}
    out = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.name == "run.json":
            continue
        rel, digest = p.relative_to(folder).as_posix(), file_sha256(p)
        old = before.get(rel)
        carried = p.stat().st_mtime < since and old and old["sha256"] == digest
        out.append({"path": rel, "bytes": p.stat().st_size, "sha256": digest,
                    "made_by": old.get("made_by", earlier["run_id"]) if carried else run_id})
    return out


def verify_products(folder: Path) -> list[str]:
    """Files in `folder` not listed in its run.json, or whose sha256 differs (empty: fine).
    Listed files that are absent (models/, kept out of git) are not problems."""
    record = json.loads((folder / "run.json").read_text())
    listed = {p["path"]: p["sha256"] for p in record.get("products", [])}
    problems = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.name == "run.json":
            continue
        rel = p.relative_to(folder).as_posix()
        if rel not in listed:
            problems.append(f"{rel}: not a product of run {record.get('run_id')}")
        elif file_sha256(p) != listed[rel]:
            problems.append(f"{rel}: sha256 differs from run {record.get('run_id')}'s record")
    return problems


# ---------------------------------------------------------------- one run at a time

@contextmanager
def run_lock(results_root: Path, profile: str):
    """Refuse a second run of a profile while one runs. The operating system holds the lock
    (flock) and frees it when its process ends, however it ends: a lock is never stale."""
    results_root.mkdir(parents=True, exist_ok=True)
    lock = results_root / f".{profile}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            other = json.loads(lock.read_text() or "{}")
        except (OSError, json.JSONDecodeError):
            other = {}
        os.close(fd)
        raise RunError(f"profile '{profile}' is already being run (pid {other.get('pid')} on "
                       f"{other.get('host')}, since {other.get('started')}); wait for it to "
                       "finish") from None
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                             "started": _now()}).encode())
    try:
        yield
    finally:
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def lock_held(results_root: Path, profile: str) -> bool:
    fd = os.open(results_root / f".{profile}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


@contextmanager
def _sigterm_raises():
    """A scheduler timeout or `docker stop` sends SIGTERM, which skips `finally` blocks;
    as an exception it is recorded and cleaned up like Ctrl-C."""
    fired = []

    def handler(signum, frame):
        if fired:   # a second one (a process group's, a scheduler's) must not cut the clean-up
            return
        fired.append(signum)
        raise Interrupted(f"signal {signal.Signals(signum).name}")
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _set_aside_killed(results_root: Path, profile: str, log) -> None:
    """Staging folders left by a killed run (no process to finish them) go to .failed/."""
    for left in sorted((results_root / ".staging").glob(f"{profile}-*")):
        if not RUN_FOLDER.fullmatch(left.name.removeprefix(f"{profile}-")):
            continue   # another profile whose name starts with this one's
        record_file = left / "run.json"
        record = json.loads(record_file.read_text()) if record_file.exists() else {}
        if record.get("status") == "ok":
            record.update(status="unpublished", reason="the run finished but ended before it "
                          "replaced the current results; found by the next run")
        else:
            record.update(status="killed", reason="the run ended without finishing or cleaning "
                          "up (SIGKILL, power loss); found by the next run")
        record_file.write_text(json.dumps(record, indent=2, default=str) + "\n")
        dest = results_root / ".failed" / left.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        left.replace(dest)
        log(f"a killed run's partial output was moved to {dest}")


# ---------------------------------------------------------------- live progress

class _Monitor(threading.Thread):
    """Prints the run's progress events as they come, and a heartbeat per notebook."""

    def __init__(self, path: Path, log, heartbeat_s: float = 60.0, poll_s: float = 1.0):
        super().__init__(daemon=True)
        self.path, self.log, self.heartbeat_s, self.poll_s = path, log, heartbeat_s, poll_s
        self.stop_event = threading.Event()
        self.notebook, self.nb_t0, self.last_beat = "", time.time(), time.time()
        self.pos, self.pending = 0, {}     # arm -> estimate_s still to come
        self.seed_estimate = {}            # arm -> estimate_s of the seed now training
        self.later_s = 0.0                 # known durations of the notebooks after this one

    def start_notebook(self, label: str, later_s: float) -> None:
        self.notebook, self.nb_t0, self.last_beat = label, time.time(), time.time()
        self.pending, self.later_s = {}, later_s

    def run(self):
        while not self.stop_event.wait(self.poll_s):
            self.poll()

    def poll(self):
        if self.path.exists():
            with open(self.path) as f:
                f.seek(self.pos)
                lines = f.readlines()
                self.pos = f.tell()
            for line in lines:
                try:
                    self.show(json.loads(line))
                except (json.JSONDecodeError, KeyError):
                    continue
        if self.notebook and time.time() - self.last_beat >= self.heartbeat_s:
            self.last_beat = time.time()
            self.log(f"    {self.notebook}: running for {_mmss(time.time() - self.nb_t0)}"
                     + self._eta())

    def _eta(self, running_left: float = 0.0) -> str:
        if not self.pending and not running_left:
            return ""
        left = running_left + sum(v for v in self.pending.values() if v)
        return f" | notebook ETA {_mmss(left)} | total ETA {_mmss(left + self.later_s)}"

    def show(self, e: dict):
        kind = e["kind"]
        if kind == "plan":
            self.pending = {a["arm"]: a["estimate_s"] for a in e["arms"] if a["status"] == "planned"}
            planned = ", ".join(f"{a['arm']} {a['estimate_s'] / 60:.1f} min" for a in e["arms"]
                                if a["status"] == "planned" and a["estimate_s"])
            self.log(f"    plan: {planned or 'no arm to train'}{self._eta()}")
        elif kind == "arm_start":
            est = e.get("estimate_s")
            self.seed_estimate[e["arm"]] = est or 0
            self.log(f"    {e['arm']} (seed {e['seed']}) started"
                     + (f", estimated {_mmss(est)}" if est else ""))
        elif kind == "step":
            self.last_beat = time.time()
            self.log(f"    {e['arm']} epoch {e['epoch']}/{e['epochs']}: {e['seen']}/{e['images']} "
                     f"tiles, {e['img_per_s']} img/s, arm ETA {_mmss(e['eta_s'])}"
                     + self._eta(e["eta_s"] - self.seed_estimate.get(e["arm"], 0)))
        elif kind == "epoch":
            self.log(f"    {e['arm']} epoch {e['epoch']}/{e['epochs']} done: train loss "
                     f"{e['train_loss']:.3f}, val acc {e['val_acc']:.3f}, {e['img_per_s']} img/s")
        elif kind == "arm_done":   # one seed of the arm: its share of the estimate is spent
            left = (self.pending.get(e["arm"]) or 0) - (e.get("estimate_s") or 0)
            if left > 1:
                self.pending[e["arm"]] = left
            else:
                self.pending.pop(e["arm"], None)
            est = e.get("estimate_s")
            self.log(f"    {e['arm']} done in {_mmss(e['seconds'])}"
                     + (f" (estimated {_mmss(est)})" if est else "") + self._eta())
        elif kind == "warning":   # e.g. a damaged cache moved aside inside a notebook
            self.log(f"    warning: {e['message']}")
        elif kind == "arm_skip":
            self.pending.pop(e["arm"], None)
            self.log(f"    {e['arm']}: {e['status']}")

    def close(self):
        self.stop_event.set()
        self.join(timeout=5)
        self.poll()


def _mmss(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


# ---------------------------------------------------------------- the run

RUN_FOLDER = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{4}")


def new_run_id() -> str:
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def _rel(path: Path, root: Path) -> str:
    """Paths inside the checkout are recorded relative to it, so records carry no machine path."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _write_record(folder: Path, record: dict) -> None:
    tmp = folder / ".run.json.tmp"
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n")
    tmp.replace(folder / "run.json")


def _complete(folder: Path) -> dict | None:
    f = folder / "run.json"
    if not f.exists():
        return None
    record = json.loads(f.read_text())
    # a record without a run id comes from before result sets were runs; it is archived, not built on
    return record if record.get("status") == "ok" and record.get("run_id") else None


def _arm_budgets(progress_file: Path) -> list[dict]:
    """Estimate against actual for every arm, from the run's own progress events."""
    rows = {}
    if not progress_file.exists():
        return []
    for line in progress_file.read_text().splitlines():
        try:
            e = json.loads(line)
        except json.JSONDecodeError:   # a line cut short by the end of the run
            continue
        if e["kind"] == "plan":
            for a in e["arms"]:
                rows[a["arm"]] = {"arm": a["arm"], "status": a["status"],
                                  "estimate_s": a["estimate_s"], "actual_s": 0.0}
        elif e["kind"] == "arm_done":
            r = rows.setdefault(e["arm"], {"arm": e["arm"], "status": "planned",
                                           "estimate_s": e.get("estimate_s"), "actual_s": 0.0})
            r["actual_s"] = round(r["actual_s"] + e["seconds"], 1)
            r["status"] = e.get("status", "done")
        elif e["kind"] == "arm_total":   # the whole arm, as its arms table records it
            r = rows.setdefault(e["arm"], {"arm": e["arm"], "estimate_s": None})
            r["actual_s"], r["status"] = e["seconds"], e["status"]
    return list(rows.values())


def run_study(profile: str, notebooks: list[str] | None = None,
              results_root: str | Path | None = None, kernel_name: str = KERNEL_NAME,
              log=print) -> Path:
    """Execute the selected notebooks into a staging folder; publish it only if all succeed."""
    cfg = load_config(profile)   # a bad profile fails here, before anything starts
    nbs = find_notebooks(notebooks)
    root = project_root()
    results_root = Path(results_root or root / "results")
    current = results_root / cfg.profile
    with run_lock(results_root, cfg.profile):
        _set_aside_killed(results_root, cfg.profile, log)
        run_id = new_run_id()
        previous = _complete(current)
        subset = bool(notebooks) and len(nbs) < len(find_notebooks())
        if subset and not previous:   # the set would be published, partial, as status ok
            raise RunError(f"--notebooks {' '.join(notebooks)}: {current} holds no complete "
                           "result set to start from; run every notebook first (no --notebooks)")
        record = {"run_id": run_id, "profile": cfg.profile,
                  "profile_file": _rel(Path(cfg.source), root), "status": "running",
                  "notebooks_selected": [nb.name for nb in nbs],
                  "started_from": previous["run_id"] if subset and previous else None,
                  "started": _now(), "git_commit": git_commit(), "cpu": cpu_info(),
                  "versions": versions(), "config": cfg.model_dump(), "notebooks": [],
                  "data_checksum": catalog_checksum(load_catalog(cfg))}   # once per run
        staging = results_root / ".staging" / f"{cfg.profile}-{run_id}"
        if subset and previous:
            _check_same_study(previous, record)
            shutil.copytree(current, staging, ignore=shutil.ignore_patterns("site", "run.json"))
            log(f"subset run: starting from the last complete result set of '{cfg.profile}' "
                f"(run {previous['run_id']}); its other products are carried over")
        staging.mkdir(parents=True, exist_ok=True)
        _write_record(staging, record)
        progress = staging / "logs" / f"progress-{run_id}.jsonl"
        progress.parent.mkdir(parents=True, exist_ok=True)
        progress.touch()
        monitor = _Monitor(progress, log)
        durations = {n["notebook"]: n.get("seconds", 0) for n in (previous or {}).get("notebooks", [])}
        env_before = os.environ.get(PROGRESS_ENV)
        os.environ[PROGRESS_ENV] = str(progress)
        monitor.start()
        t_run, sigterm = time.time(), _sigterm_raises()
        sigterm.__enter__()   # held through the clean-up below, which a second SIGTERM must not cut
        try:
            for i, nb in enumerate(nbs, 1):
                _run_notebook(nb, i, len(nbs), cfg, staging, record, monitor,
                              sum(durations.get(n.name, 0) for n in nbs[i:]), kernel_name, log)
            monitor.close()
            _finish(staging, cfg, record, progress, t_run, previous if subset else None, log)
        except (Exception, KeyboardInterrupt, Interrupted) as exc:
            monitor.close()
            interrupted = isinstance(exc, (KeyboardInterrupt, Interrupted))
            record.update(status="interrupted" if interrupted else "failed", finished=_now(),
                          wall_seconds=round(time.time() - t_run, 1),
                          reason=str(exc) or type(exc).__name__, arms=_arm_budgets(progress))
            _write_record(staging, record)
            dest = results_root / ".failed" / staging.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            staging.replace(dest)
            where = f"; the current results in {current} are untouched" if previous else ""
            msg = (f"run {run_id} {record['status']}: {record['reason']}. Its partial output is in "
                   f"{dest}{where}.")
            if interrupted:
                log(msg)
                raise
            raise RunError(msg) from None
        finally:
            if env_before is None:
                os.environ.pop(PROGRESS_ENV, None)
            else:
                os.environ[PROGRESS_ENV] = env_before
            sigterm.__exit__(None, None, None)
        return _publish(staging, current, previous, results_root, cfg.profile, run_id, log)


def _check_same_study(previous: dict, record: dict) -> None:
    """A subset run builds on the last complete set only if that set was made from the same
    profile values and the same data; otherwise its carried products would not match."""
    for key, what in (("config", "profile values"), ("data_checksum", "data")):
        if previous.get(key) != record[key]:
            raise RunError(f"the last complete result set (run {previous['run_id']}) was made with "
                           f"other {what} than this run's: run every notebook (no --notebooks), "
                           "so the result set stays one study")


def _publish(staging: Path, current: Path, previous: dict | None, results_root: Path,
             profile: str, run_id: str, log) -> Path:
    """Archive the current set and put the new one in its place, with SIGINT and SIGTERM
    held back meanwhile: a stop between the two moves would leave no current results."""
    held = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        if previous:
            archive = results_root / ".archive" / f"{profile}-{previous['run_id']}"
        elif current.exists():   # no complete record: an older layout, kept aside all the same
            archive = results_root / ".archive" / f"{profile}-before-{run_id}"
        else:
            archive = None
        if archive:
            archive.parent.mkdir(parents=True, exist_ok=True)
            current.replace(archive)
        staging.replace(current)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)
    if archive:
        log(f"previous result set (run {previous['run_id'] if previous else 'unrecorded'}) "
            f"moved to {archive}")
    return current


def _run_notebook(nb: Path, i: int, n: int, cfg, staging: Path, record: dict, monitor,
                  later_s: float, kernel_name: str, log) -> None:
    import papermill as pm

    st = step(nb.name)
    missing = [p for p in st.reads if not (staging / p).exists()]
    if missing:
        raise RunError(f"{nb.name} needs {missing}, which this run does not have: run the "
                       "notebooks that write them (see spring_lib/core/products.py) in the same "
                       "run, or after a complete run of the profile")
    root = project_root()
    dest = staging / "notebooks" / nb.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    entry = {"notebook": nb.name, "output": f"notebooks/{nb.name}", "status": "running"}
    record["notebooks"].append(entry)
    _write_record(staging, record)
    label = f"[{i}/{n}] {nb.stem}"
    log(f"{label} (profile {cfg.profile}) ...")
    monitor.start_notebook(label, later_s)
    before = snapshot(staging)
    t0 = time.time()
    try:
        _in_worker_thread(
            pm.execute_notebook, str(nb), str(dest), watch=_kernel_gone,
            kernel_name=kernel_name, cwd=str(root),
            parameters={"profile": _rel(Path(cfg.source), root),
                        "results_dir": _rel(staging, root)},
            progress_bar=False, log_output=False, kernel_manager_class=_ipc_kernel_manager())
    except pm.PapermillExecutionError as exc:
        entry.update(status="failed", seconds=round(time.time() - t0, 1), cell=exc.exec_count,
                     error=f"{exc.ename}: {exc.evalue}")
        raise RunError(f"{nb.name} failed in cell [{exc.exec_count}]: {exc.ename}: "
                       f"{exc.evalue} (the executed notebook with the traceback is kept)") from None
    except BaseException as exc:
        stopped = _stop_kernels()
        entry.update(status="interrupted", seconds=round(time.time() - t0, 1),
                     cell=_running_cell(dest))
        where = nb.name + (f", cell [{entry['cell']}]" if entry["cell"] else "")
        if type(exc).__name__ == "DeadKernelError" and stopped:   # SIGTERM reached the kernel
            raise Interrupted(f"signal {stopped} to the kernel of {where}") from None
        if isinstance(exc, KeyboardInterrupt):
            raise Interrupted(f"{exc or 'signal SIGINT'} in {where}") from None
        entry["status"] = "failed"
        if str(exc).startswith("the kernel died"):
            raise RunError(f"{where}: {exc}") from None
        raise
    finally:
        _stop_kernels()   # after a normal end only their socket folders are left to remove
    problem = check_products(st, staging, before).problem(nb.name)
    if problem:
        entry.update(status="failed", seconds=round(time.time() - t0, 1), error=problem)
        raise RunError(problem)
    entry.update(status="ok", seconds=round(time.time() - t0, 1))
    _write_record(staging, record)
    log(f"    done in {_mmss(entry['seconds'])} -> {dest.name}")


def _finish(staging: Path, cfg, record: dict, progress: Path, t_run: float,
            earlier: dict | None, log) -> None:
    """After the last notebook: REPORT.md from this run's own tables, the site, the products."""
    from .report import write_report
    from .site import check_site, render_site

    record.update(finished=_now(), wall_seconds=round(time.time() - t_run, 1),
                  arms=_arm_budgets(progress))
    write_report(staging, cfg, record)
    problems = check_site(render_site(staging))
    if problems:
        raise RunError(f"the rendered site has {len(problems)} broken reference(s): {problems[:3]}")
    record.update(status="ok", products=list_products(staging, record["run_id"], t_run, earlier))
    _write_record(staging, record)
    log(f"run {record['run_id']} complete in {_mmss(record['wall_seconds'])}: "
        f"{len(record['products'])} products")


def render_result_site(profile: str, results_root: str | Path | None = None) -> list[str]:
    """`make site`: re-render the site of the current result set. The site is derived from
    that run's products alone, so the re-rendered files are recorded under the same run."""
    from .site import check_site, render_site

    cfg = load_config(profile)
    folder = Path(results_root or project_root() / "results") / cfg.profile
    record = _complete(folder)
    if record is None:
        raise RunError(f"{folder} holds no complete run: run `make reproduce` first")
    problems = check_site(render_site(folder))
    record["products"] = [p for p in record["products"] if not p["path"].startswith("site/")] + \
        [p for p in list_products(folder, record["run_id"]) if p["path"].startswith("site/")]
    _write_record(folder, record)
    print(f"site of run {record['run_id']} in {folder / 'site' / 'index.html'}")
    return problems
