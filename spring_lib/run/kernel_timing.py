"""How long a notebook's kernel takes to start, import the library and draw: a real Jupyter kernel
of the study's kind started, given what the notebooks import, and stopped, timed here (a fresh
Python where that kernel is not installed)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

_STARTUP = r"""
import io, json, sys, tempfile, time
t0 = time.perf_counter()
import ipykernel.kernelapp, matplotlib
matplotlib.use("agg")
import matplotlib.pyplot as plt, numpy as np, pandas as pd, sklearn.svm
import spring_lib, spring_lib.config, spring_lib.data.tileset
px = int(sys.argv[2])
if sys.argv[1] == "torch":
    import torch, timm
t1 = time.perf_counter()

def figure(path):
    # a figure as the notebooks make one: a grid of tiles saved at 120 dpi, then drawn again
    # for the notebook's inline display
    rng = np.random.default_rng(0)
    fig, axes = plt.subplots(2, 5, figsize=(12, 5.5))
    for i, ax in enumerate(axes.flat):
        ax.imshow(rng.integers(0, 256, (px, px)), cmap="gray")
        ax.set_title(f"class {i % 5}"); ax.axis("off")
    fig.suptitle("example"); fig.savefig(path, dpi=120, bbox_inches="tight")
    fig.savefig(io.BytesIO(), format="png", bbox_inches="tight")
    plt.close(fig)

with tempfile.TemporaryDirectory() as d:
    t2 = time.perf_counter(); figure(f"{d}/a.png")
    t3 = time.perf_counter(); figure(f"{d}/b.png")
    t4 = time.perf_counter()
    df = pd.DataFrame(np.random.default_rng(0).random((200, 8)), columns=list("abcdefgh"))
    df.to_csv(f"{d}/t.csv", index=False); open(f"{d}/t.md", "w").write(df.to_markdown())
    t5 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "first figure": t3 - t2, "figure": t4 - t3,
                  "table": t5 - t4}))
"""


def kernel_startup(torch: bool, tile_px: int) -> dict[str, float]:
    """Seconds of a kernel's start, its imports of what the notebooks import (with torch and
    timm where `torch`) and its shutdown; and of its first figure of tiles of `tile_px` (the
    plotting library's set-up included), a further figure and a table (CSV and Markdown)."""
    from jupyter_client.kernelspec import NoSuchKernel

    from .kernel import KERNEL_NAME, ipc_kernel_manager

    args = ["torch" if torch else "plain", str(tile_px)]
    code = f"import sys\nsys.argv = ['', {args[0]!r}, {args[1]!r}]\n" + _STARTUP
    lines: list[str] = []
    t0 = time.perf_counter()
    try:
        km = ipc_kernel_manager()(kernel_name=KERNEL_NAME)
        km.start_kernel()
    except NoSuchKernel:   # no Jupyter kernel of the study's: a plain Python instead
        return _in_python(args)
    kc = km.client()
    try:
        kc.start_channels()
        kc.wait_for_ready(timeout=120)
        reply = kc.execute_interactive(code, timeout=300, output_hook=lambda m: lines.append(
            m["content"].get("text", "")) if m["msg_type"] == "stream" else None)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"timing a notebook kernel's start failed: {reply['content']}")
    return _parts("".join(lines), time.perf_counter() - t0)


def _in_python(args: list[str]) -> dict[str, float]:
    package = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [package, *filter(None, [os.environ.get("PYTHONPATH")])])}
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _STARTUP, *args], capture_output=True,
                          text=True, env=env, timeout=300)
    if done.returncode:
        raise RuntimeError(f"timing a notebook kernel's start failed: {done.stderr[-400:]}")
    return _parts(done.stdout, time.perf_counter() - t0)


def _parts(stdout: str, wall: float) -> dict[str, float]:
    parts = json.loads(stdout.strip().splitlines()[-1])
    after = parts["first figure"] + parts["figure"] + parts["table"]
    return {"kernel": wall - after, **{k: parts[k] for k in ("first figure", "figure", "table")}}
