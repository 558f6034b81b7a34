"""What machine this is: the CPU model and flags every timing is recorded with."""
from __future__ import annotations

import os
import platform
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


def cpu_bf16() -> bool:
    """bf16 pays on a CPU only where it computes it natively: AMX or AVX-512 BF16."""
    return bool(cpu_flags() & {"amx_bf16", "avx512_bf16"})


def cpu_info() -> dict:
    flags = cpu_flags()
    return {"model": cpu_model(), "cores": os.cpu_count(), "machine": platform.machine(),
            "avx2": "avx2" in flags, "amx": "amx_bf16" in flags, "native_bf16": cpu_bf16()}
