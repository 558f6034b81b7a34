"""Inference over many micrographs with the network kept busy: batch norm folded into the
convolutions, the tiles of several micrographs in one batch, and the next micrographs read on a
background thread while the network computes (torch and the image decoders release the GIL).

An eval-mode batch norm right after a convolution is an affine map of that convolution's output;
folded into its weights it costs nothing, where on its own it is a pass over every feature map
(EfficientNet-Lite0 at its native input on a 2-core EPYC: 20-45 % more tiles per second, bf16
and fp32). On 2 CPU cores the network takes most of the time either way; reading ahead pays
most where the network runs elsewhere (a GPU) or leaves a core idle.
"""
from __future__ import annotations

import copy
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
from torch import nn

from ..data.tiling import cut_tiles


def _conv_bn_pairs(model: nn.Module, x: torch.Tensor) -> list[tuple[nn.Conv2d, nn.BatchNorm2d]]:
    """(convolution, batch norm) pairs where the norm reads the convolution's output directly,
    seen on one forward pass of `x`, each module called once."""
    calls, hooks = [], []
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.BatchNorm2d)):
            hooks.append(m.register_forward_hook(lambda m, i, o: calls.append((m, i[0], o))))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    once = {id(m) for m, _, _ in calls if sum(c[0] is m for c in calls) == 1}
    return [(a, b) for (a, _, out), (b, inp, _) in zip(calls, calls[1:])
            if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d) and inp is out
            and b.track_running_stats and id(a) in once and id(b) in once]


def fold_batchnorm(model: nn.Module, size: int) -> nn.Module:
    """A copy of the eval-mode `model` with each batch norm that follows a convolution folded
    into it; `model` itself if the copy computes anything else on a random input."""
    folded = copy.deepcopy(model).eval()
    device = next(model.parameters()).device
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0)).to(device)
    parents = {id(c): (p, n) for p in folded.modules() for n, c in p.named_children()}
    pairs = [(c, b) for c, b in _conv_bn_pairs(folded, x[:1]) if id(b) in parents
             and (type(b) is nn.BatchNorm2d or hasattr(b, "act"))]   # norm, dropout, activation
    for conv, bn in pairs:
        with torch.no_grad():
            scale = (bn.weight if bn.affine else 1) / torch.sqrt(bn.running_var + bn.eps)
            bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
            conv.weight = nn.Parameter(conv.weight * scale.reshape(-1, 1, 1, 1))
            conv.bias = nn.Parameter((bias - bn.running_mean) * scale
                                     + (bn.bias if bn.affine else 0))
        rest = [getattr(bn, k) for k in ("drop", "act") if isinstance(getattr(bn, k, None),
                                                                        nn.Module)]
        parent, name = parents[id(bn)]
        setattr(parent, name, nn.Sequential(*rest) if rest else nn.Identity())
    with torch.no_grad():
        want, got = model.eval()(x), folded(x)
    same = got.shape == want.shape and torch.allclose(got, want, rtol=1e-3,
                                                      atol=1e-3 * float(want.abs().max()) + 1e-5)
    return folded if pairs and same else model


@dataclass
class Job:
    """One image's work: the image, the window origins to classify, what the caller keeps with
    them (`meta`), or the error that stopped it. `proba` fills as its batches run."""
    path: Path
    img: np.ndarray | None = None
    origins: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    error: Exception | None = None
    proba: np.ndarray | None = None
    done: int = 0


def prefetched(prepare: Callable[[Path], Job], paths: Iterable[Path], depth: int = 4,
               max_pixels: float = 64e6) -> Iterator[Job]:
    """prepare(path) for each path, in order, on a background thread a few paths ahead: at most
    `depth`, and none more while those read and waiting hold over `max_pixels` pixels."""
    paths, ahead = iter(paths), deque()
    pool = ThreadPoolExecutor(1, thread_name_prefix="read")
    try:
        while True:
            waiting = sum(f.result().img.size for f in ahead
                          if f.done() and f.result().img is not None)
            while len(ahead) < depth and (not ahead or waiting < max_pixels):
                nxt = next(paths, None)
                if nxt is None:
                    break
                ahead.append(pool.submit(prepare, nxt))
            if not ahead:
                return
            yield ahead.popleft().result()
    finally:   # stopped early (an error, Ctrl-C): the reads not started are not waited for
        pool.shutdown(wait=False, cancel_futures=True)


def batched(probabilities: Callable[[np.ndarray], np.ndarray], jobs: Iterable[Job],
            tile_size: int, n_classes: int, batch: int,
            on_batch: Callable[[Job, int], None] | None = None) -> Iterator[Job]:
    """The jobs in order, each once all its windows have probabilities. The network is fed
    batches of `batch` tiles cut from as many jobs as it takes to fill them, one batch at a
    time (a large image's windows never sit in memory together). on_batch(job, n): n more of
    the job's windows are done."""
    waiting: deque[Job] = deque()
    parts: list[tuple[Job, int, int]] = []

    def run():
        tiles = np.concatenate([cut_tiles(j.img, j.origins[a:b], tile_size) for j, a, b in parts])
        proba, at = probabilities(tiles), 0
        for j, a, b in parts:
            j.proba[a:b] = proba[at:at + b - a]
            j.done, at = j.done + b - a, at + b - a
            if on_batch:
                on_batch(j, b - a)
        parts.clear()

    def finished():
        while waiting and waiting[0].done == len(waiting[0].origins):
            yield waiting.popleft()

    filled = 0
    for job in jobs:
        waiting.append(job)
        if job.error is None:
            job.proba = np.empty((len(job.origins), n_classes), np.float32)
        start = 0
        while job.error is None and start < len(job.origins):
            take = min(len(job.origins) - start, batch - filled)
            parts.append((job, start, start + take))
            filled, start = filled + take, start + take
            if filled == batch:
                run()
                filled = 0
                yield from finished()
        yield from finished()
    if parts:
        run()
    yield from finished()
