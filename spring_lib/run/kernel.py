"""Executing one notebook in a Jupyter kernel: a kernel on local sockets, stopped when a run is
interrupted, and a notebook run in a worker thread so that signals reach the runner."""
from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

from .errors import Interrupted

KERNEL_NAME = "spring-steel"


def ipc_kernel_manager():
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


def kill_kernels() -> list[int]:
    """SIGKILL the live kernels of this process, each with its process group (a kernel is a
    session of its own: its workers go with it), and wait for them. Done first on SIGTERM or
    Ctrl-C: a kernel asked to shut down in the middle of a cell prints a ZMQError traceback
    and holds the run for seconds, and one left alone outlives the run. Returns their pids."""
    killed = []
    for km in list(_KERNELS):
        provisioner = getattr(km, "provisioner", None)
        proc = getattr(provisioner, "process", None)
        if proc is None or proc.poll() is not None:
            continue
        pgid = getattr(provisioner, "pgid", None)
        try:
            if pgid and pgid != os.getpgrp():   # never the runner's own group
                os.killpg(pgid, signal.SIGKILL)
            else:
                proc.kill()
        except ProcessLookupError:   # it ended meanwhile
            pass
        killed.append(proc)
    for proc in killed:
        proc.wait(timeout=5)
    return [proc.pid for proc in killed]


def stop_kernels() -> str | None:
    """Kill the kernels an interrupted notebook left (the executor's own cleanup never ran)
    and remove their socket folders. Returns the signal that ended a kernel, if one did."""
    stopped = None
    for km in _KERNELS:
        proc = getattr(getattr(km, "provisioner", None), "process", None)
        if proc is not None and proc.poll() in (-signal.SIGTERM, -signal.SIGINT):
            stopped = signal.Signals(-proc.returncode).name
    kill_kernels()
    while _KERNELS:
        km = _KERNELS.pop()
        ipc_dir = Path(km.ip).parent if km.transport == "ipc" else Path()
        if ipc_dir.name.startswith("spring-kernel-"):
            shutil.rmtree(ipc_dir, ignore_errors=True)
    return stopped


def kernel_gone() -> BaseException | None:
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


def in_worker_thread(fn, *args, watch=None, **kwargs):
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


def running_cell(executed: Path) -> int | None:
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
