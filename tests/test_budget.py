"""Budgets measured here: the execution follows the measurement, and an arm over its cap
is recorded as not run with its estimate."""
import pytest
import yaml

from spring_lib import build_tileset, load_config
from spring_lib.config import Recipe
from spring_lib.nets import arms as A
from spring_lib.nets import budget
from spring_lib.nets.registry import Arm
from spring_lib.nets.training import Execution


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
    avx2 = budget.measure(None, r, timer=_timer(RATES), bf16_native=False)
    assert avx2.execution == Execution("cpu", "contiguous", "fp32")   # faster here, no bf16
    assert avx2.train_img_s == 14.0 and avx2.eval_img_s == 45.0
    assert set(avx2.rates) == {"channels_last/fp32", "contiguous/fp32"}
    amx = budget.measure(None, r, timer=_timer(RATES), bf16_native=True)
    assert amx.execution == Execution("cpu", "channels_last", "bf16")
    flipped = {k: (1 / v if k[1] == "fp32" else v) for k, v in RATES.items()}
    assert budget.measure(None, r, timer=_timer(flipped), bf16_native=False).execution.memory_format \
        == "channels_last"
    fixed = Recipe(input_size=32, memory_format="channels_last", precision="fp32")
    assert budget.measure(None, fixed, timer=_timer(RATES), bf16_native=True).execution == \
        Execution("cpu", "channels_last", "fp32")


@pytest.mark.parametrize("flags, precision", [({"avx2"}, "fp32"), ({"avx2", "avx512f"}, "fp32"),
                                              ({"avx2", "amx_bf16"}, "bf16"),
                                              ({"avx512_bf16"}, "bf16")])
def test_probe_features_run_in_bf16_only_where_the_cpu_computes_it(flags, precision, monkeypatch):
    import torch

    from spring_lib import machine
    from spring_lib.nets.probe import FrozenFeatures

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(machine, "cpu_flags", lambda: set(flags))
    assert FrozenFeatures().execution() == Execution("cpu", "channels_last", precision)
    assert FrozenFeatures(precision="fp32").execution().precision == "fp32"


def test_estimate_counts_seeds_epochs_and_test_views():
    m = budget.Measurement(Execution(), 10.0, 100.0)
    r = Recipe(epochs=3, seeds=2, tta="flips", input_size=32)
    # per seed: 3 x (100/10 + 50/100) + 40*2/100 = 32.3 s
    assert budget.training_seconds(r, m, 100, 50, 40, n_probe=200) == pytest.approx(2 * 32.3 + 2)


def test_cap_names_estimate_and_cap():
    assert budget.over_cap(59, 1) is None
    assert budget.over_cap(600, None) is None
    assert budget.over_cap(600, 4) == ("not run: estimated 10.0 min on this machine exceeds the "
                                       "profile's cap of 4 min")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, data_root, standin_weights):
    d = tmp_path_factory.mktemp("budget")
    prof = d / "budget-test.yaml"
    prof.write_text(yaml.safe_dump({
        "cache_dir": str(d / "cache"),
        "data": {"root": str(data_root), "micrograph_limit_per_class": 6},
        "tiling": {"tile_size": 64, "stride": 64, "min_stride": 32},
        "split": {"val_fraction": 0.25, "train_tiles_per_class": 8, "val_tiles_per_class": 4,
                  "test_tiles_per_class": 4},
        "cnn": {"epochs": 1, "input_size": 32, "batch_size": 8, "arms_baselines": [],
                "arms_transfer": [], "weights": {"MobileNetV2": str(standin_weights)},
                "max_minutes_per_arm": 30}}))
    cfg = load_config(prof)
    return cfg, build_tileset(cfg)


def _fake_measure(rate):
    def measure(model, recipe, train=True):
        return budget.Measurement(Execution(), rate if train else None, rate * 3)
    return measure


def test_arm_over_its_cap_is_recorded_as_not_run_with_its_estimate(tiny, tmp_path):
    from spring_lib.results import ResultsDir

    cfg, ts = tiny
    plan = A.plan_arm(Arm.parse("MobileNetV2-scratch"), ts, cfg, measure=_fake_measure(0.01))
    assert plan.status.startswith("not run: estimated") and "cap of 30 min" in plan.status
    row = A.run_arm(plan, ts, cfg, ResultsDir(tmp_path))
    assert row["status"] == plan.status and row["estimate_minutes"] > 30
    assert not (tmp_path / "predictions").exists()
    ok = A.plan_arm(Arm.parse("MobileNetV2-scratch"), ts, cfg, measure=_fake_measure(1000.0))
    assert ok.status == "planned" and ok.estimate_s < 60


def test_arm_without_weights_is_not_run(tiny, tmp_path):
    cfg, ts = tiny
    plan = A.plan_arm(Arm.parse("VGG19-TL"), ts, cfg, measure=_fake_measure(1000.0))
    assert plan.status == A.NOT_RUN_WEIGHTS and "offline" in plan.weights


def test_frozen_tl_arm_trains_only_its_head(tiny, tmp_path, standin_weights):
    import torch

    from spring_lib.nets.checkpoint import Checkpoint
    from spring_lib.nets.models import pretrained_state_dict
    from spring_lib.results import ResultsDir

    cfg, ts = tiny
    cfg = cfg.model_copy(update={"cnn": cfg.cnn.model_copy(update={"freeze": "head"})})
    plan = A.plan_arm(Arm.parse("MobileNetV2-TL"), ts, cfg)
    assert plan.status == "planned"
    row = A.run_arm(plan, ts, cfg, ResultsDir(tmp_path))
    assert row["status"] == "trained" and row["trainable_params"] == 5 * 1280 + 5
    ck = Checkpoint.load(tmp_path / "models" / "MobileNetV2-TL.pt")
    start, _ = pretrained_state_dict(Arm.parse("MobileNetV2-TL").spec, str(standin_weights))
    trained = ck.state
    assert all(torch.equal(trained[f"backbone.net.{k}"], v.float()) for k, v in start.items()
               if f"backbone.net.{k}" in trained and v.is_floating_point())
