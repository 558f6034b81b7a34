"""Budgets measured here: the execution follows the measurement, and an arm over its cap
is recorded as not run with its estimate."""
import pytest
import yaml

from spring_lib import build_tileset, load_config
from spring_lib.config import Recipe
from spring_lib.nets import arms as A
from spring_lib.nets import budget
from spring_lib.nets import planning as P
from spring_lib.core.architectures import Arm
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

    from spring_lib.core import machine
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
    from spring_lib.core.results_dir import ResultsDir

    cfg, ts = tiny
    plan = P.plan_arm(Arm.parse("MobileNetV2-scratch"), ts, cfg, measure=_fake_measure(0.01))
    assert plan.status.startswith("not run: estimated") and "cap of 30 min" in plan.status
    row = A.run_arm(plan, ts, cfg, ResultsDir(tmp_path))
    assert row["status"] == plan.status and row["estimate_minutes"] > 30
    assert not (tmp_path / "predictions").exists()
    ok = P.plan_arm(Arm.parse("MobileNetV2-scratch"), ts, cfg, measure=_fake_measure(1000.0))
    assert ok.status == "planned" and ok.estimate_s < 60


def test_arm_without_weights_is_not_run(tiny, tmp_path):
    cfg, ts = tiny
    plan = P.plan_arm(Arm.parse("VGG19-TL"), ts, cfg, measure=_fake_measure(1000.0))
    assert plan.status == P.NOT_RUN_WEIGHTS and "offline" in plan.weights


def test_frozen_tl_arm_trains_only_its_head(tiny, tmp_path, standin_weights, monkeypatch):
    """(One epoch on random stand-in weights learns nothing; that rule has its own tests.)"""
    import torch

    monkeypatch.setattr(A, "did_not_learn", lambda *args, **kwargs: None)

    from spring_lib.nets.checkpoint import Checkpoint
    from spring_lib.nets.weights import pretrained_state_dict
    from spring_lib.core.results_dir import ResultsDir

    cfg, ts = tiny
    cfg = cfg.model_copy(update={"cnn": cfg.cnn.model_copy(update={"freeze": "head"})})
    plan = P.plan_arm(Arm.parse("MobileNetV2-TL"), ts, cfg)
    assert plan.status == "planned"
    row = A.run_arm(plan, ts, cfg, ResultsDir(tmp_path))
    assert row["status"] == "trained" and row["trainable_params"] == 5 * 1280 + 5
    ck = Checkpoint.load(tmp_path / "models" / "MobileNetV2-TL.pt")
    start, _ = pretrained_state_dict(Arm.parse("MobileNetV2-TL").spec, str(standin_weights))
    trained = ck.state
    assert all(torch.equal(trained[f"backbone.net.{k}"], v.float()) for k, v in start.items()
               if f"backbone.net.{k}" in trained and v.is_floating_point())


def test_measured_rates_are_kept_per_machine_and_not_measured_again(tmp_path, monkeypatch):
    calls = []

    def timer(model, ex, batch, size, train):
        calls.append((ex, batch, size, train))
        return RATES[(ex.memory_format, ex.precision, train)]

    import torch

    net = torch.nn.Linear(2, 2)
    r = Recipe(input_size=32, batch_size=4)
    first = budget.measure(net, r, timer=timer, bf16_native=True,
                           cache=budget.RateCache(tmp_path / "rates.json"))
    assert len(calls) == 5                      # 4 candidates training, the best one's eval
    again = budget.measure(net, r, timer=timer, bf16_native=True,
                           cache=budget.RateCache(tmp_path / "rates.json"))
    assert len(calls) == 5 and again == first   # read back, nothing measured
    budget.measure(net, r.model_copy(update={"batch_size": 8}), timer=timer, bf16_native=True,
                   cache=budget.RateCache(tmp_path / "rates.json"))
    assert len(calls) == 10                     # another batch size is another rate
    monkeypatch.setattr(budget, "cpu_model", lambda: "another CPU")
    budget.measure(net, r, timer=timer, bf16_native=True,
                   cache=budget.RateCache(tmp_path / "rates.json"))
    assert len(calls) == 15                     # and so is another machine
    (tmp_path / "rates.json").write_text("{damaged")
    assert budget.RateCache(tmp_path / "rates.json").rates == {}


def test_rate_keys_name_network_size_batch_precision_layout_and_mode():
    from spring_lib.nets.models import build_model

    model, _ = build_model(Arm.parse("MobileNetV2-scratch"), 5)
    key = budget.RateCache(None).key(model, Execution("cpu", "channels_last", "bf16"), 16, 224,
                                     True)
    for part in ("MobileNetV2/head/", "224px", "batch 16", "bf16", "channels_last", "train"):
        assert part in key
    assert budget.cpu_model() in key


def test_the_total_budget_takes_probes_then_pairs_then_the_rest():
    names = ["VGG19-TL", "VGG19-scratch", "AlexNet-TL", "MobileNetV2-probe", "AlexNet-probe",
             "MobileNetV2-scratch"]
    assert budget.priority(names) == [("MobileNetV2-probe",), ("AlexNet-probe",),
                                      ("VGG19-TL", "VGG19-scratch"), ("AlexNet-TL",),
                                      ("MobileNetV2-scratch",)]
    est = {"VGG19-TL": 600, "VGG19-scratch": 120, "AlexNet-TL": 300, "MobileNetV2-probe": 60,
           "AlexNet-probe": 30, "MobileNetV2-scratch": 60}
    assert budget.over_budget(est, None) == {}
    skipped = budget.over_budget(est, 10)       # 600 s: probes (90) + AlexNet-TL (300) + 60
    assert set(skipped) == {"VGG19-TL", "VGG19-scratch"}
    assert skipped["VGG19-TL"] == ("not run: the run's budget of 10 min is spent (estimated "
                                   "10.0 min)")
    assert skipped["VGG19-scratch"].endswith("(estimated 2.0 min)")
    # minutes already used by an earlier notebook count against the same budget
    assert set(budget.over_budget(est, 10, spent_s=500)) == set(est) - {"MobileNetV2-probe",
                                                                         "AlexNet-probe"}


def test_arms_over_the_runs_budget_are_recorded_with_their_estimates(tiny, tmp_path):
    from spring_lib.core.results_dir import ResultsDir

    cfg, ts = tiny
    cfg = cfg.model_copy(update={"cnn": cfg.cnn.model_copy(update={"max_minutes_total": 1.0})})
    names = ["MobileNetV2-scratch", "AlexNet-scratch"]
    plans = P.plan_arms(names, ts, cfg, measure=_fake_measure(1000.0))
    assert [p.status for p in plans] == ["planned", "planned"]
    plans = P.plan_arms(names, ts, cfg, spent_s=60, measure=_fake_measure(1000.0))
    assert all(p.status == "not run: the run's budget of 1 min is spent (estimated "
               f"{p.estimate_s / 60:.1f} min)" for p in plans)
    row = A.run_arm(plans[0], ts, cfg, ResultsDir(tmp_path))
    assert row["status"] == plans[0].status and row["estimate_minutes"] > 0
    assert not (tmp_path / "predictions").exists()


def test_estimate_with_weights_needs_a_file_for_every_paper_architecture(tmp_path, capsys):
    import torch

    from spring_lib.cli import main
    from spring_lib.core.architectures import ARCHITECTURES

    (tmp_path / "vgg19.pth").write_bytes(b"")
    assert main(["estimate", "--profile", "cpu", "--with-weights", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "seresnext101_32x4d.pth" in err and "vgg19.pth" not in err
    for a in ARCHITECTURES.values():
        if a.in_paper:
            torch.save({}, tmp_path / f"{a.model_name}.pth")
    cfg = P.with_paper_weights(load_config("cpu"), str(tmp_path))
    assert {a for a, w in cfg.cnn.weights.items() if w == str(tmp_path)} == {
        a.name for a in ARCHITECTURES.values() if a.in_paper}
