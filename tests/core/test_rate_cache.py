"""Rates and plans measured on this machine are kept per machine and not measured again; one
timed while other processes loaded the CPU is kept marked, until a quiet machine times it again."""
import pytest

from spring_lib.config import Recipe
from spring_lib.core.architectures import Arm
from spring_lib.core import rate_cache
from spring_lib.core.rate_cache import RateCache
from spring_lib.nets import timing

RATES = {("channels_last", "fp32", True): 10.0, ("contiguous", "fp32", True): 14.0,
         ("channels_last", "bf16", True): 30.0, ("contiguous", "bf16", True): 25.0,
         ("channels_last", "fp32", False): 40.0, ("contiguous", "fp32", False): 45.0,
         ("channels_last", "bf16", False): 90.0, ("contiguous", "bf16", False): 80.0}


def test_measured_rates_are_kept_per_machine_and_not_measured_again(tmp_path, monkeypatch):
    calls = []

    def timer(model, ex, batch, size, train):
        calls.append((ex, batch, size, train))
        return RATES[(ex.memory_format, ex.precision, train)]

    import torch

    net = torch.nn.Linear(2, 2)
    r = Recipe(input_size=32, batch_size=4)
    first = timing.measure(net, r, timer=timer, bf16_native=True,
                           cache=RateCache(tmp_path / "rates.json"))
    assert len(calls) == 5                      # 4 candidates training, the best one's eval
    again = timing.measure(net, r, timer=timer, bf16_native=True,
                           cache=RateCache(tmp_path / "rates.json"))
    assert len(calls) == 5 and again == first   # read back, nothing measured
    timing.measure(net, r.model_copy(update={"batch_size": 8}), timer=timer, bf16_native=True,
                   cache=RateCache(tmp_path / "rates.json"))
    assert len(calls) == 10                     # another batch size is another rate
    monkeypatch.setattr(rate_cache, "cpu_model", lambda: "another CPU")
    timing.measure(net, r, timer=timer, bf16_native=True, cache=RateCache(tmp_path / "rates.json"))
    assert len(calls) == 15                     # and so is another machine
    (tmp_path / "rates.json").write_text("{damaged")
    assert RateCache(tmp_path / "rates.json").rates == {}


def test_rate_keys_name_network_size_batch_precision_layout_and_mode():
    from spring_lib.nets.models import build_model

    model, _ = build_model(Arm.parse("MobileNetV2-scratch"), 5)
    cache = RateCache(None)
    timing.measure(model, Recipe(input_size=224, batch_size=16, precision="bf16",
                                 memory_format="channels_last"),
                   timer=lambda *a: 1.0, bf16_native=True, cache=cache)
    (key,) = [k for k in cache.rates if k.endswith("train")]
    for part in ("MobileNetV2/head/", "224px", "batch 16", "bf16", "channels_last", "train"):
        assert part in key
    assert rate_cache.cpu_model() in key


def test_a_rate_timed_under_load_is_kept_marked_and_replaced_on_a_quiet_machine(tmp_path,
                                                                                monkeypatch):
    loads = iter([0.5, 0.0])   # the first timing under load, the second on a quiet machine
    monkeypatch.setattr(rate_cache, "others_load", lambda fn: (fn(), next(loads)))
    warnings = []
    monkeypatch.setattr(rate_cache, "warning", warnings.append)
    timings = iter([7.0, 9.0])
    time_it = lambda: next(timings)   # noqa: E731
    busy = RateCache(tmp_path / "rates.json")
    assert busy.measured("k", time_it, "a rate") == 7.0
    assert busy.loaded_used == 1 and len(warnings) == 1 and "50%" in warnings[0]
    # the next run on a busy machine uses the kept timing and measures nothing
    still_busy = RateCache(tmp_path / "rates.json")
    monkeypatch.setattr(still_busy, "quiet", lambda: False)
    assert still_busy.measured("k", time_it, "a rate") == 7.0
    assert still_busy.loaded_used == 1   # used again: a plan built on it is marked too
    # a run on a quiet machine times it again, and the new timing is kept unmarked
    quiet = RateCache(tmp_path / "rates.json")
    monkeypatch.setattr(quiet, "quiet", lambda: True)
    assert quiet.measured("k", time_it, "a rate") == 9.0
    assert RateCache(tmp_path / "rates.json").loaded == set() and len(warnings) == 1


def test_a_plan_built_under_load_is_kept_marked_and_planned_again_when_quiet(tmp_path,
                                                                             monkeypatch):
    cache = RateCache(tmp_path / "rates.json")
    cache.keep_facts("p", {"facts": 1}, loaded=True)
    again = RateCache(tmp_path / "rates.json")
    monkeypatch.setattr(again, "quiet", lambda: False)
    assert again.facts("p") == {"facts": 1}
    monkeypatch.setattr(again, "quiet", lambda: True)
    assert again.facts("p") is None


def test_the_quiet_reading_is_taken_once_per_cache(tmp_path, monkeypatch):
    readings = []
    monkeypatch.setattr(rate_cache, "others_load",
                        lambda fn: (fn(), readings.append(1) or 0.9))
    cache = RateCache(tmp_path / "rates.json", quiet_window_s=0)
    assert cache.quiet() is False and cache.quiet() is False and readings == [1]


def test_others_load_sees_another_process_using_the_cpu():
    """Whatever else runs on the machine: a process spinning beside the timing uses a share
    of the CPU above the threshold (the others' share only grows with more load)."""
    import subprocess
    import sys
    import time

    from spring_lib.core.machine import others_load

    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        _, loaded = others_load(lambda: time.sleep(1.0))
    finally:
        busy.kill()
    if loaded is None:
        pytest.skip("no /proc/stat here")
    assert loaded > rate_cache.LOADED
