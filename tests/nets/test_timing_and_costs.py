"""Timed here: the execution follows the measurement; an arm's cost counts its passes and the
units of the rest of its work; the per-arm cap says why an arm will not run."""
import numpy as np
import pytest

from spring_lib.config import Recipe
from spring_lib.core.costs import seconds
from spring_lib.core.rate_cache import RateCache
from spring_lib.nets import costs, timing
from spring_lib.nets.execution import Execution


def _timer(rates):
    def timer(model, ex: Execution, batch, size, train):
        return rates[(ex.memory_format, ex.precision, train)]
    return timer


RATES = {("channels_last", "fp32", True): 10.0, ("contiguous", "fp32", True): 14.0,
         ("channels_last", "bf16", True): 30.0, ("contiguous", "bf16", True): 25.0,
         ("channels_last", "fp32", False): 40.0, ("contiguous", "fp32", False): 45.0,
         ("channels_last", "bf16", False): 90.0, ("contiguous", "bf16", False): 80.0}


def test_layout_and_precision_follow_the_measurement():
    r = Recipe(input_size=32)
    avx2 = timing.measure(None, r, timer=_timer(RATES), bf16_native=False)
    assert avx2.execution == Execution("cpu", "contiguous", "fp32")   # faster here, no bf16
    assert avx2.train_img_s == 14.0 and avx2.eval_img_s == 45.0
    assert set(avx2.rates) == {"channels_last/fp32", "contiguous/fp32"}
    amx = timing.measure(None, r, timer=_timer(RATES), bf16_native=True)
    assert amx.execution == Execution("cpu", "channels_last", "bf16")
    flipped = {k: (1 / v if k[1] == "fp32" else v) for k, v in RATES.items()}
    assert timing.measure(None, r, timer=_timer(flipped), bf16_native=False).execution.memory_format \
        == "channels_last"
    fixed = Recipe(input_size=32, memory_format="channels_last", precision="fp32")
    assert timing.measure(None, fixed, timer=_timer(RATES), bf16_native=True).execution == \
        Execution("cpu", "channels_last", "fp32")


@pytest.mark.parametrize("flags, precision", [({"avx2"}, "fp32"), ({"avx2", "avx512f"}, "fp32"),
                                              ({"avx2", "amx_bf16"}, "bf16"),
                                              ({"avx512_bf16"}, "bf16")])
def test_probe_features_run_in_bf16_only_where_the_cpu_computes_it(flags, precision, monkeypatch):
    import torch

    from spring_lib.core import machine
    from spring_lib.nets.probe import FrozenFeatures

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(machine, "cpu_flags", lambda: set(flags))
    for cap in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"):   # the flags alone decide here
        monkeypatch.delenv(cap, raising=False)
    assert FrozenFeatures().execution() == Execution("cpu", "channels_last", precision)
    assert FrozenFeatures(precision="fp32").execution().precision == "fp32"


def _runs(n_train, n_val, n_test, times=1):
    idx = lambda n: np.arange(n)  # noqa: E731
    return [(idx(n_train), idx(n_val), idx(n_test))] * times


def test_passes_count_epochs_and_test_views():
    r = Recipe(epochs=3, tta="flips", input_size=32)
    # per run: 3 x 100 training images at 10 img/s; 3 x 50 + 40 x 2 views + 200 embedded at 100
    got = costs.passes(r, _runs(100, 50, 40, times=2), 10.0, 100.0, extra_eval=200)
    assert got == {"training steps": pytest.approx(60.0),
                   "evaluation passes": pytest.approx((2 * (150 + 80) + 200) / 100)}


def test_the_rest_of_a_network_arms_work_is_units_scaled_by_their_counts(monkeypatch):
    """0.01 s per training image, 0.001 per evaluated one, 1 s an epoch's state."""
    monkeypatch.setattr(costs, "input_seconds", lambda t, s, augment: 0.01 if augment else 0.001)
    monkeypatch.setattr(costs, "state_save_seconds", lambda *a: 1.0)
    r = Recipe(epochs=3, tta="flips", input_size=32)
    units = costs.network_units(r, _runs(100, 50, 40, times=2), np.zeros((4, 8, 8), np.uint8),
                                "net", lambda: None, ".", extra_eval=200)
    got = seconds(units, RateCache(None))
    assert got == {"inputs": pytest.approx(2 * 3 * 100 * 0.01 + (2 * (150 + 40) + 200) * 0.001),
                   "state saves": pytest.approx(2 * 3 * 1.0)}


def test_forward_floor_is_every_image_at_the_forward_rate():
    r = Recipe(epochs=2, tta="none", input_size=32)
    assert costs.forward_floor(r, _runs(100, 50, 50), 10.0) == pytest.approx((300 + 50) / 10)


def test_feeding_is_timed_on_real_tiles_and_grows_with_the_input(smoke, tmp_path):
    from torch import nn

    _, ts = smoke
    tiles = np.array(ts.tiles[:16])
    small = min(costs.input_seconds(tiles, 32) for _ in range(3))
    large = min(costs.input_seconds(tiles, 448) for _ in range(3))
    assert 0 < small < large
    assert costs.input_seconds(tiles, 224, augment=True) > 0
    tiny, big = nn.Linear(8, 8), nn.Linear(2048, 2048)
    assert 0 < costs.state_save_seconds(tiny, tmp_path) < costs.state_save_seconds(big, tmp_path)


def test_the_timed_state_holds_what_training_saves(monkeypatch, tmp_path):
    """The weights twice (current and a copy of the best: torch.save writes shared storage
    once) and Adam's two moments of the trainable weights."""
    import io

    import torch
    from torch import nn

    from spring_lib.nets import training_state

    saved = []
    monkeypatch.setattr(training_state, "save_atomic", lambda obj, path: saved.append(obj))
    net = nn.Sequential(nn.Linear(256, 256), nn.Linear(256, 256))
    net[0].requires_grad_(False)
    costs.state_save_seconds(net, tmp_path)
    buf = io.BytesIO()
    torch.save(saved[0], buf)
    weights = sum(p.numel() * 4 for p in net.parameters())
    trainable = sum(p.numel() * 4 for p in net.parameters() if p.requires_grad)
    assert buf.tell() >= 2 * weights + 2 * trainable


def test_cap_names_estimate_and_cap():
    assert costs.over_cap(59, 1) is None
    assert costs.over_cap(600, None) is None
    assert costs.over_cap(600, 4) == ("estimated 10.0 min on this machine exceeds the profile's "
                                       "cap of 4 min")


def _fits_and_reads(monkeypatch, fit_rows: float, read_s=0.001):
    """A fit takes 1 s on `fit_rows` tiles, in proportion to its tiles; a read 1 ms a tile."""
    from spring_lib.data import costs as data_costs

    monkeypatch.setattr(costs, "linear_fit_seconds", lambda rows, dim, **k: rows / fit_rows)
    monkeypatch.setattr(data_costs, "digest_seconds", lambda tiles: read_s)
    return np.zeros((24, 8, 8), np.uint8)


def test_a_probe_estimate_counts_every_fit_score_and_read(monkeypatch):
    # 6 rounds (5 folds + the split), each: 2 x 3 CV fits (1 s) and a refit on 1.5x the tiles
    # (1.5 s); reads: 6 x 800 + 800 + 200 = 5800 tiles at 1 ms
    tiles = _fits_and_reads(monkeypatch, fit_rows=533)   # round(800 * 2 / 3)
    got = seconds(costs.probe_units(1000, 5, 2, 3, 64, tiles), RateCache(None))
    assert got == {"classifier fits": pytest.approx(6 * (7.5 + 5.8))}


def test_a_logistic_fit_is_timed_at_the_iterations_real_features_take():
    costs.linear_fit_seconds(100, 64, iterations=2)   # imports and first calls
    fast = min(costs.linear_fit_seconds(1000, 1024, iterations=2) for _ in range(3))
    slow = min(costs.linear_fit_seconds(1000, 1024, iterations=80) for _ in range(3))
    assert slow > 3 * fast


def test_a_grouped_search_counts_its_fits_refit_and_reads(monkeypatch):
    # 2 x 3 fits (1 s), a refit on 1.5x their tiles (1.5 s); reads 6 x 300 + 300 tiles at 1 ms
    tiles = _fits_and_reads(monkeypatch, fit_rows=200)
    got = seconds(costs.search_units(300, 2, 3, 64, tiles), RateCache(None))
    assert got == {"classifier fits": pytest.approx(7.5 + 2.1)}
