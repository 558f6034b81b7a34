"""What machine this is: the CPU model and flags every timing is recorded with."""
from __future__ import annotations

import os
import platform
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_model() -> str:
    for line in _cpuinfo().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def cpu_flags() -> set[str]:
    for line in _cpuinfo().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


#: oneDNN's instruction-set levels (ONEDNN_MAX_CPU_ISA) below the first with bf16 arithmetic
_NO_BF16_ISAS = {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE",
                 "AVX512_CORE_VNNI"}


def isa_cap() -> str | None:
    """The instruction set oneDNN is capped at (ONEDNN_MAX_CPU_ISA, or its older name
    DNNL_MAX_CPU_ISA), if any: a capped AMX Xeon computes like an AVX2 CPU."""
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA")
    return cap.upper() if cap else None


def cpu_bf16() -> bool:
    """bf16 pays on a CPU only where it computes it natively: AMX or AVX-512 BF16, and oneDNN
    not capped below them (capped at AVX2, a bf16 convolution runs 7x slower than fp32)."""
    return bool(cpu_flags() & {"amx_bf16", "avx512_bf16"}) and isa_cap() not in _NO_BF16_ISAS


@contextmanager
def one_blas_thread():
    """NumPy's and SciPy's BLAS on one thread, for the study's scikit-learn fits. Their matrices
    are small (a few thousand tiles x a few thousand features, five classes): on a 2-core AMX
    Xeon one probe search ran in 2.3 s on one thread against 9.1 s on two (the same C chosen,
    the same score), the threads' hand-offs costing more than they share. Torch's own threads
    are not BLAS's and keep their number."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        yield


def cpu_info() -> dict:
    flags = cpu_flags()
    return {"model": cpu_model(), "cores": os.cpu_count(), "machine": platform.machine(),
            "avx2": "avx2" in flags, "amx": "amx_bf16" in flags, "native_bf16": cpu_bf16(),
            "isa_cap": isa_cap()}


def seconds(fn, repeat: int = 1) -> float:
    """Wall seconds of `fn()`, the fastest of `repeat` calls."""
    import time

    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _busy_jiffies() -> int | None:
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return user + nice + system + irq + softirq + steal


def own_cpu_seconds() -> float:
    """CPU seconds of this process and of the children it has waited for: a timing that starts
    a process of its own (a notebook kernel's start) is this machine's work, not another's."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def others_load(fn):
    """(fn(), share of this machine's CPU other processes used meanwhile): a rate timed while
    something else ran is that machine under load, not this machine. The share is None where
    the system's CPU counters cannot be read (not Linux) or `fn` took under ten of their
    ticks (0.1 s): one tick of another process would read as a load of 50 % or more."""
    import time

    busy0, own0, t0 = _busy_jiffies(), own_cpu_seconds(), time.perf_counter()
    result = fn()
    busy1, own1, wall = _busy_jiffies(), own_cpu_seconds(), time.perf_counter() - t0
    tick = 1 / os.sysconf("SC_CLK_TCK")
    if busy0 is None or busy1 is None or wall < 10 * tick:   # counters too coarse to tell
        return result, None
    others = (busy1 - busy0) * tick - (own1 - own0)
    return result, max(0.0, others) / (wall * (os.cpu_count() or 1))
