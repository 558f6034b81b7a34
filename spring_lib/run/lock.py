"""One run of a profile at a time, SIGTERM and Ctrl-C turned into a recorded interruption, and
the staging folders of killed runs set aside by the next run."""
from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import threading
from contextlib import contextmanager
from pathlib import Path

from .errors import Interrupted, RunError
from .record import RUN_FOLDER, now


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
                             "started": now()}).encode())
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
def signals_raise(first=None):
    """SIGTERM (a scheduler's timeout, `docker stop`) and SIGINT (Ctrl-C) as one exception,
    `Interrupted`, so the run is recorded and cleaned up either way: SIGTERM's default skips
    every `finally`. `first()` runs before the exception is raised (the runner ends its
    kernels there, before any clean-up waits on them); a second signal is ignored, so that
    a process group's or a scheduler's repeat cannot cut the clean-up short."""
    fired = []

    def handler(signum, frame):
        if fired:
            return
        fired.append(signum)
        try:
            if first is not None:
                first()
        finally:   # a clean-up that fails still ends the run as interrupted
            raise Interrupted(f"signal {signal.Signals(signum).name}")
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def set_aside_killed(results_root: Path, profile: str, log) -> None:
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
