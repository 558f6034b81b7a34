"""What machine this is: bf16 counts as native only where the CPU computes it and oneDNN may use
those instructions."""
import pytest

from spring_lib.core import machine


@pytest.mark.parametrize("flags, cap, native", [
    ({"avx2", "amx_bf16"}, None, True),
    ({"avx2", "avx512_bf16"}, "avx512_core_bf16", True),
    ({"avx2", "amx_bf16"}, "AVX2", False),            # an AMX Xeon capped to compute like AVX2
    ({"avx2", "amx_bf16"}, "avx512_core", False),
    ({"avx2"}, None, False),
])
def test_bf16_is_native_only_where_the_cpu_and_onednn_compute_it(monkeypatch, flags, cap, native):
    monkeypatch.setattr(machine, "cpu_flags", lambda: flags)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    if cap:
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
    else:
        monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert machine.cpu_bf16() is native
    assert machine.cpu_info()["isa_cap"] == (cap.upper() if cap else None)


def test_a_load_is_not_read_from_a_window_too_short_for_the_cpu_counters():
    """One clock tick of another process in a 5-ms window would read as 100 % load."""
    import time

    assert machine.others_load(lambda: 7)[0] == 7
    assert machine.others_load(lambda: time.sleep(0.005))[1] is None
    assert machine.others_load(lambda: time.sleep(0.3))[1] is not None


def test_a_child_the_timing_waits_for_is_its_own_work_not_anothers():
    """A kernel's start timed in a process of its own read as a load of 50 % on 2 cores, so it
    was timed again on every run. A fixed amount of a child's work counts as this process's,
    however busy the machine is."""
    import subprocess
    import sys

    before = machine.own_cpu_seconds()
    subprocess.run([sys.executable, "-c", "sum(i * i for i in range(6_000_000))"], check=True)
    assert machine.own_cpu_seconds() - before > 0.2
