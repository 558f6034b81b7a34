"""Planning: every arm timed before it runs; the per-arm cap, missing weights and the run's total
budget each give their own not-run status, with the estimate in the note."""
import json

from spring_lib import load_config
from spring_lib.core.architectures import Arm
from spring_lib.core.arm_result import ArmStatus
from spring_lib.nets import planning as P
from spring_lib.run import series


def test_arm_over_its_cap_is_not_run_with_its_estimate(tiny, fake_measure):
    cfg, ts = tiny
    plan = P.plan_arm(Arm.parse("MobileNetV2-scratch"), ts, cfg, measure=fake_measure(0.01))
    assert plan.status is ArmStatus.NOT_RUN_OVER_CAP and plan.estimate_s > 30 * 60
    assert plan.note.startswith("estimated") and "cap of 30 min" in plan.note
    row = series.plan_table([plan]).iloc[0]
    assert row["status"] == "not run: over the arm's cap" and row["note"] == plan.note
    ok = P.plan_arm(Arm.parse("MobileNetV2-scratch"), ts, cfg, measure=fake_measure(1000.0))
    assert ok.status is ArmStatus.PLANNED and ok.note == "" and ok.estimate_s < 60


def test_training_is_timed_only_where_the_forward_pass_leaves_the_arm_under_its_cap(
        tiny, monkeypatch):
    """A training step costs at least its forward pass: an arm whose forward passes alone
    exceed the cap is not timed training (a minute or more for each execution of a big
    network); one they leave under it is timed in full, and its cap judged on that."""
    from spring_lib.nets import costs
    from spring_lib.nets.execution import Execution
    from spring_lib.nets.timing import Measurement

    cfg, ts = tiny
    cfg = cfg.model_copy(update={"evaluation": cfg.evaluation.model_copy(   # training alone
        update={"read_whole": False})})
    monkeypatch.setattr(costs, "input_seconds", lambda *a, **k: 0.0)   # the steps alone
    monkeypatch.setattr(costs, "state_save_seconds", lambda *a, **k: 0.0)
    arm = Arm.parse("MobileNetV2-scratch")
    images = P.plan_arm(arm, ts, cfg, measure=lambda m, r, train=True, **k: Measurement(
        Execution(), 1e6 if train else None, 1e6)).estimate_s * 1e6   # images each seen once

    def measuring(forward_rate, train_rate):
        calls = []

        def measure(model, recipe, train=True, **kwargs):
            calls.append(train)
            return Measurement(Execution(), train_rate if train else None, forward_rate)
        return calls, measure

    slow = images / (40 * 60)   # forward passes alone take 40 min, over the 30-min cap
    calls, measure = measuring(slow, slow / 3)
    plan = P.plan_arm(arm, ts, cfg, measure=measure)
    assert calls == [False] and plan.status is ArmStatus.NOT_RUN_OVER_CAP
    assert "at least 40.0 min" in plan.note and "forward passes alone" in plan.note
    assert plan.estimate_s == __import__("pytest").approx(40 * 60, rel=0.01)
    calls, measure = measuring(images / (20 * 60), images / (60 * 60))   # 20 min; training more
    plan = P.plan_arm(arm, ts, cfg, measure=measure)
    assert calls == [False, True] and plan.status is ArmStatus.NOT_RUN_OVER_CAP
    assert "at least" not in plan.note and plan.estimate_s > 30 * 60


def test_arm_without_weights_is_not_run(tiny, fake_measure):
    cfg, ts = tiny
    plan = P.plan_arm(Arm.parse("VGG19-TL"), ts, cfg, measure=fake_measure(1000.0))
    assert plan.status is ArmStatus.NOT_RUN_WEIGHTS and "offline" in plan.weights
    assert plan.describe() == "not run: weights unavailable"


def test_arms_over_the_runs_budget_are_not_run_with_their_estimates(tiny, fake_measure, tmp_path,
                                                                     monkeypatch, steady):
    cfg, ts = tiny
    cfg = cfg.model_copy(update={"cnn": cfg.cnn.model_copy(update={"max_minutes_total": 1.0})})
    names = ["MobileNetV2-scratch", "AlexNet-scratch"]
    plans = P.plan_arms(names, ts, cfg, measure=fake_measure(1000.0), clock=steady)
    assert [p.status for p in plans] == [ArmStatus.PLANNED, ArmStatus.PLANNED]
    events = tmp_path / "progress.jsonl"
    monkeypatch.setenv("SPRING_PROGRESS_FILE", str(events))
    plans = P.plan_arms(names, ts, cfg, after_s=60, measure=fake_measure(1000.0), clock=steady)
    assert all(p.status is ArmStatus.NOT_RUN_OVER_BUDGET and p.note == (
        f"estimated {p.estimate_s / 60:.1f} min; the run's budget of 1 min is spent")
        for p in plans)
    (plan_event,) = [json.loads(line) for line in events.read_text().splitlines()]
    assert [a["status"] for a in plan_event["arms"]] == [p.describe() for p in plans]


def test_recipe_table_shows_each_arms_resolved_recipe(tiny):
    cfg, _ = tiny
    table = series.recipe_table(cfg, ["MobileNetV2-probe", "MobileNetV2-TL"]).set_index("arm")
    assert table.loc["MobileNetV2-probe", "pooling"] == "tuned by CV"
    assert table.loc["MobileNetV2-TL", "input_size"] == 32 and "precision" not in table


def test_the_budget_is_the_series_what_the_run_used_and_what_follows_are_set_aside(
        tiny, fake_measure, steady):
    cfg, ts = tiny
    cfg = cfg.model_copy(update={"cnn": cfg.cnn.model_copy(update={"max_minutes_total": 10.0})})
    names = ["MobileNetV2-scratch"]
    cost = P.plan_arms(names, ts, cfg, measure=fake_measure(1000.0), clock=steady)[0].estimate_s
    fits = dict(measure=fake_measure(1000.0), after_s=4 * 60, clock=steady)
    started = steady() - (6 * 60 - cost - 5)   # 5 s to spare
    assert P.plan_arms(names, ts, cfg, run_started=started, **fits)[0].status is \
        ArmStatus.PLANNED
    started = steady() - (6 * 60 - cost + 5)   # 5 s short
    assert P.plan_arms(names, ts, cfg, run_started=started, **fits)[0].status is \
        ArmStatus.NOT_RUN_OVER_BUDGET


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
    from spring_lib.run.series import with_paper_weights

    cfg = with_paper_weights(load_config("cpu"), str(tmp_path))
    assert {a for a, w in cfg.cnn.weights.items() if w == str(tmp_path)} == {
        a.name for a in ARCHITECTURES.values() if a.in_paper}


def test_a_second_plan_on_this_machine_builds_and_measures_nothing(tiny, fake_measure, tmp_path,
                                                                   monkeypatch, steady):
    from spring_lib.core.rate_cache import RateCache

    cfg, ts = tiny
    calls = []

    def measure(*a, **k):
        calls.append(a)
        return fake_measure(1000.0)(*a, **k)

    arm = Arm.parse("EfficientNet-Lite0-probe")
    first = P.plan_arm(arm, ts, cfg, measure, RateCache(tmp_path / "rates.json"))
    assert len(calls) == 1
    monkeypatch.setattr(P, "network", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    again = P.plan_arm(arm, ts, cfg, measure, RateCache(tmp_path / "rates.json"))
    assert len(calls) == 1 and again.row() == first.row()
    # other weights (another file, or the same file changed) are planned anew
    other = cfg.model_copy(update={"cnn": cfg.cnn.model_copy(update={"epochs": 2})})
    with __import__("pytest").raises(AssertionError):
        P.plan_arm(Arm.parse("EfficientNet-Lite0-TL"), ts, other, measure,
                   RateCache(tmp_path / "rates.json"))


def test_the_budget_is_shared_with_later_notebooks_and_set_per_kind_of_cpu(tiny, fake_measure,
                                                                           monkeypatch, steady):
    from spring_lib.config import recipe

    cfg, ts = tiny
    cnn = cfg.cnn.model_copy(update={"max_minutes_total": {"native_bf16": 0.001, "other": 30.0},
                                     "max_minutes_per_arm": None})
    cfg = cfg.model_copy(update={"cnn": cnn})
    for bf16, planned in ((False, True), (True, False)):
        monkeypatch.setattr(recipe, "cpu_bf16", lambda: bf16)
        (plan,) = P.plan_arms(["MobileNetV2-scratch"], ts, cfg, measure=fake_measure(1000.0), clock=steady)
        assert (plan.status is ArmStatus.PLANNED) is planned
    # notebook 04's arms come before notebook 03's when they share a budget too small for both
    monkeypatch.setattr(recipe, "cpu_bf16", lambda: False)
    solo = P.plan_arms(["AlexNet-scratch"], ts, cfg, measure=fake_measure(1.0), clock=steady)[0]
    cnn = cnn.model_copy(update={"max_minutes_total": 1.5 * solo.estimate_s / 60,
                                 "arms_baselines": ["AlexNet-scratch"],
                                 "arms_transfer": ["MobileNetV2-scratch"]})
    cfg = cfg.model_copy(update={"cnn": cnn})
    (alone,) = P.plan_arms(["AlexNet-scratch"], ts, cfg, measure=fake_measure(1.0), clock=steady)
    (shared,) = P.plan_arms(["AlexNet-scratch"], ts, cfg, measure=fake_measure(1.0),
                            later=cnn.arms_transfer, clock=steady)
    assert alone.status is ArmStatus.PLANNED
    assert shared.status is ArmStatus.NOT_RUN_OVER_BUDGET


def test_a_probe_initialised_head_counts_its_search_in_every_run(tiny, fake_measure):
    cfg, ts = tiny
    arm = Arm.parse("EfficientNet-Lite0-TL")

    def estimate(head_init):
        over = {**cfg.cnn.overrides, "EfficientNet-Lite0-TL": {"head_init": head_init}}
        c = cfg.model_copy(update={"cnn": cfg.cnn.model_copy(update={"overrides": over})})
        return P.plan_arm(arm, ts, c, measure=fake_measure(1e6)).estimate_s

    assert estimate("probe") > estimate("random")   # every run searches C for its head


def test_reading_every_test_micrograph_whole_is_planned_with_its_windows(tiny, fake_measure):
    """A network arm reads each k-fold test micrograph's windows once, in one view each: the
    plan says so, at the measured forward rate; a profile that reads the capped tiles alone
    plans no such part."""
    from spring_lib.data.reading import window_count

    cfg, ts = tiny
    arm = Arm.parse("MobileNetV2-scratch")
    plan = P.plan_arm(arm, ts, cfg, measure=fake_measure(1000.0))
    windows = window_count(ts.micrographs, ts.tiles.shape[1], cfg.evaluation.map_stride_fraction)
    assert windows > len(ts.tiles)
    assert plan.parts["whole reading"] == __import__("pytest").approx(windows / 3000.0)
    capped = cfg.model_copy(update={"evaluation": cfg.evaluation.model_copy(
        update={"read_whole": False})})
    assert "whole reading" not in P.plan_arm(arm, ts, capped, measure=fake_measure(1000.0)).parts
