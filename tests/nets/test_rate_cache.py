"""Rates and plans measured on this machine are kept per machine, not measured again, and not
kept when other processes loaded the CPU while they were timed."""
import pytest

from spring_lib.config import Recipe
from spring_lib.core.architectures import Arm
from spring_lib.nets import budget, rate_cache
from spring_lib.nets.execution import Execution
from spring_lib.nets.rate_cache import RateCache

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
    first = budget.measure(net, r, timer=timer, bf16_native=True,
                           cache=RateCache(tmp_path / "rates.json"))
    assert len(calls) == 5                      # 4 candidates training, the best one's eval
    again = budget.measure(net, r, timer=timer, bf16_native=True,
                           cache=RateCache(tmp_path / "rates.json"))
    assert len(calls) == 5 and again == first   # read back, nothing measured
    budget.measure(net, r.model_copy(update={"batch_size": 8}), timer=timer, bf16_native=True,
                   cache=RateCache(tmp_path / "rates.json"))
    assert len(calls) == 10                     # another batch size is another rate
    monkeypatch.setattr(rate_cache, "cpu_model", lambda: "another CPU")
    budget.measure(net, r, timer=timer, bf16_native=True, cache=RateCache(tmp_path / "rates.json"))
    assert len(calls) == 15                     # and so is another machine
    (tmp_path / "rates.json").write_text("{damaged")
    assert RateCache(tmp_path / "rates.json").rates == {}


def test_rate_keys_name_network_size_batch_precision_layout_and_mode():
    from spring_lib.nets.models import build_model

    model, _ = build_model(Arm.parse("MobileNetV2-scratch"), 5)
    key = RateCache(None).key(model, Execution("cpu", "channels_last", "bf16"), 16, 224, True)
    for part in ("MobileNetV2/head/", "224px", "batch 16", "bf16", "channels_last", "train"):
        assert part in key
    assert rate_cache.cpu_model() in key


@pytest.mark.parametrize("loads, kept, warned", [([0.0], True, False), ([0.5, 0.0], True, False),
                                                 ([0.5, 0.4], False, True)])
def test_a_rate_timed_under_load_is_timed_again_and_not_kept(tmp_path, monkeypatch, loads,
                                                              kept, warned):
    seen = iter(loads)
    monkeypatch.setattr(rate_cache, "others_load", lambda fn: (fn(), next(seen)))
    warnings = []
    monkeypatch.setattr(rate_cache, "warning", warnings.append)
    cache = RateCache(tmp_path / "rates.json", pause_s=0)
    timings = iter([7.0, 9.0])
    assert cache.measured("k", lambda: next(timings), "a rate") == (7.0 if len(loads) == 1 else 9.0)
    assert ("k" in RateCache(tmp_path / "rates.json").rates) is kept
    assert bool(warnings) is warned and (not warned or "40%" in warnings[0])
    assert cache.unkept == int(warned)   # so a plan built on it is not kept either


def test_others_load_sees_another_process_using_the_cpu():
    import subprocess
    import sys
    import time

    from spring_lib.core.machine import others_load

    _, quiet = others_load(lambda: time.sleep(0.5))
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        _, loaded = others_load(lambda: time.sleep(1.0))
    finally:
        busy.kill()
    if quiet is None:
        pytest.skip("no /proc/stat here")
    assert loaded > quiet and loaded > rate_cache.LOADED
