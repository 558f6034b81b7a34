"""How a run ends: its staging folder published whole as the current result set (the previous
set archived), or set aside whole in .failed/ with run.json saying why."""
from __future__ import annotations

import signal
import time
from pathlib import Path

from ..core.progress import arm_budgets, read_events
from .errors import RunError
from .record import now, write_record


def publish(staging: Path, current: Path, previous: dict | None, results_root: Path,
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


def set_aside(exc: BaseException, staging: Path, record: dict, progress: Path, t_run: float,
              results_root: Path, current: Path, previous: dict | None, log) -> None:
    """A failed or interrupted run: recorded as such and moved whole to .failed/; one line
    says why and where. Re-raises (an error as RunError)."""
    interrupted = isinstance(exc, KeyboardInterrupt)
    record.update(status="interrupted" if interrupted else "failed", finished=now(),
                  wall_seconds=round(time.time() - t_run, 1),
                  reason=str(exc) or ("signal SIGINT" if interrupted else type(exc).__name__),
                  arms=arm_budgets(read_events(progress)[0]) if progress.exists() else {})
    for entry in record["notebooks"]:   # a notebook cut off where nothing caught it
        if entry["status"] == "running":
            entry["status"] = record["status"]
    write_record(staging, record)
    dest = results_root / ".failed" / staging.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging.replace(dest)
    where = f"; the current results in {current} are untouched" if previous else ""
    msg = (f"run {record['run_id']} {record['status']}: {record['reason']}. Its partial output "
           f"is in {dest}{where}.")
    if interrupted:
        log(msg)
        raise exc
    raise RunError(msg) from None
