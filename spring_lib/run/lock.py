"""One run of a profile at a time, SIGTERM turned into a recorded interruption, and the staging
folders of killed runs set aside by the next run."""
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
def sigterm_raises():
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
