"""A notebook's estimate besides its network and probe arms (`nets.planning` plans those): its
kernel's start, the tile cache read, the units its stage registers (`core.costs`), its figures
and tables. The kernel is timed as the runner starts it (papermill's client, the study's kernel;
a fresh Python where that kernel is not installed)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from functools import lru_cache
from pathlib import Path

from ..core import costs, products
from ..core.costs import Unit
from ..core.rate_cache import RateCache
from ..data.costs import Work, cache_read
from ..evaluation import costs as _evaluation  # noqa: F401 - importing them registers their units
from ..glcm import costs as _glcm  # noqa: F401
from .. import nets as _nets  # noqa: F401 - the fused arm's (notebook 04's planned arms aside)
from ..paper import audit as _paper  # noqa: F401

STARTUP = "kernel and imports"
#: notebooks whose kernel imports torch (networks, probe features, the audit's timm)
TORCH_STEPS = (products.BASELINES, products.TRANSFER, products.EVALUATION, products.HEAT)
_STARTUP = r"""
import io, json, sys, tempfile, time
import ipykernel.kernelapp, matplotlib
matplotlib.use("agg")
import matplotlib.pyplot as plt, numpy as np, pandas as pd, sklearn.svm
import spring_lib, spring_lib.config, spring_lib.data.tileset
if sys.argv[1] == "torch":
    import torch, timm

def figure(path):   # a grid of tiles saved at 120 dpi, then drawn again for inline display
    rng = np.random.default_rng(0)
    fig, axes = plt.subplots(2, 5, figsize=(12, 5.5))
    for i, ax in enumerate(axes.flat):
        ax.imshow(rng.integers(0, 256, (int(sys.argv[2]),) * 2), cmap="gray")
        ax.set_title(f"class {i % 5}"); ax.axis("off")
    fig.suptitle("example"); fig.savefig(path, dpi=120, bbox_inches="tight")
    fig.savefig(io.BytesIO(), format="png", bbox_inches="tight"); plt.close(fig)

with tempfile.TemporaryDirectory() as d:
    t = [time.perf_counter()]
    for name in "ab":
        figure(f"{d}/{name}.png"); t.append(time.perf_counter())
    df = pd.DataFrame(np.random.default_rng(0).random((200, 8)), columns=list("abcdefgh"))
    df.to_csv(f"{d}/t.csv", index=False); open(f"{d}/t.md", "w").write(df.to_markdown())
    t.append(time.perf_counter())
print(json.dumps(dict(zip(["first figure", "figure", "table"], np.diff(t).tolist()))))
"""


def kernel_startup(torch: bool, tile_px: int) -> dict[str, float]:
    """Seconds of a kernel's start, its imports (torch and timm where `torch`) and shutdown; of
    its first figure of `tile_px` tiles (the plotting set-up included), a further one, a table.
    Started as the runner starts one (`run.kernel`), so a stop meanwhile ends it with the run."""
    from jupyter_client.kernelspec import NoSuchKernel

    from .kernel import KERNEL_NAME, ipc_kernel_manager

    args, t0, lines = ["torch" if torch else "plain", str(tile_px)], time.perf_counter(), []
    try:
        km = ipc_kernel_manager()(kernel_name=KERNEL_NAME)
        km.start_kernel()
    except NoSuchKernel:   # no Jupyter kernel of the study's: a plain Python instead
        path = [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH")]
        done = subprocess.run([sys.executable, "-c", _STARTUP, *args], text=True, timeout=300,
                              capture_output=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                  filter(None, path))})
        if done.returncode:
            raise RuntimeError(f"timing a notebook kernel's start failed: {done.stderr[-400:]}")
        lines.append(done.stdout)
    else:
        kc = km.client()
        try:
            kc.start_channels()
            kc.wait_for_ready(timeout=120)
            reply = kc.execute_interactive(
                f"import sys\nsys.argv = ['', *{args!r}]\n{_STARTUP}", timeout=300,
                output_hook=lambda m: lines.append(m["content"].get("text", ""))
                if m["msg_type"] == "stream" else None)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=False)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"timing a notebook kernel's start failed: {reply['content']}")
    parts = json.loads("".join(lines).strip().splitlines()[-1])
    return {"kernel": time.perf_counter() - t0 - sum(parts.values()), **parts}


@lru_cache(None)
def _kernel_parts(torch: bool, tile_px: int) -> dict[str, float]:
    """One kernel timing per kind and process: every part a notebook needs comes from it."""
    return kernel_startup(torch, tile_px)


def notebook_estimate(step: str, work: Work, cache: RateCache) -> dict[str, float]:
    """Estimated seconds of notebook `step`'s work here besides its arms, by part: its kernel's
    start (STARTUP), {"reading the tile cache (260 tiles)": .., ...}, its figures and tables."""
    if step not in products.STEPS:
        raise ValueError(f"no estimate for notebook {step!r}: the notebooks are "
                         + ", ".join(products.STEPS))
    torch, px, timed = step in TORCH_STEPS, work.counts.tile_px, _kernel_parts
    kernel = lambda part, what, count=1: Unit(   # noqa: E731
        part, f"notebook kernel|{'torch' if torch else 'plain'}|{px}px|{what}",
        lambda: timed(torch, px)[what], count=count)
    made = [p for p in products.PRODUCTS if step in p.steps and p.form in ("table", "figure")]
    figures = sum(p.form == "figure" for p in made)
    tables = sum(p.form == "table" and not p.pattern for p in made) + len(products.step(step).arms)
    outputs = f"{figures} figures and {tables} tables"   # the arms': their k-fold selections
    return costs.seconds([
        kernel(STARTUP, "kernel"), *([] if step == products.TILING else [cache_read(work)]),
        *(costs.step_cost(step)(work) if costs.registered(step) else []),   # 03, 04: planned
        kernel(outputs, "table", tables), kernel(outputs, "first figure", min(figures, 1)),
        kernel(outputs, "figure", max(figures - 1, 0))], cache)
