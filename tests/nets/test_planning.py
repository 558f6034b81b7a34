"""Planning: every arm timed before it runs; the per-arm cap, missing weights and the run's total
budget each give their own not-run status, with the estimate in the note."""
import json

from spring_lib import load_config
from spring_lib.core.architectures import Arm
from spring_lib.core.arm_result import ArmStatus
from spring_lib.nets import planning as P


def test_arm_over_its_cap_is_not_run_with_its_estimate(tiny, fake_measure):
    cfg, ts = tiny
    plan = P.plan_arm(Arm.parse("MobileNetV2-scratch"), ts, cfg, measure=fake_measure(0.01))
    assert plan.status is ArmStatus.NOT_RUN_OVER_CAP and plan.estimate_s > 30 * 60
    assert plan.note.startswith("estimated") and "cap of 30 min" in plan.note
    row = P.plan_table([plan]).iloc[0]
    assert row["status"] == "not run: over the arm's cap" and row["note"] == plan.note
    ok = P.plan_arm(Arm.parse("MobileNetV2-scratch"), ts, cfg, measure=fake_measure(1000.0))
    assert ok.status is ArmStatus.PLANNED and ok.note == "" and ok.estimate_s < 60


def test_arm_without_weights_is_not_run(tiny, fake_measure):
    cfg, ts = tiny
    plan = P.plan_arm(Arm.parse("VGG19-TL"), ts, cfg, measure=fake_measure(1000.0))
    assert plan.status is ArmStatus.NOT_RUN_WEIGHTS and "offline" in plan.weights
    assert plan.describe() == "not run: weights unavailable"


def test_arms_over_the_runs_budget_are_not_run_with_their_estimates(tiny, fake_measure, tmp_path,
                                                                     monkeypatch):
    cfg, ts = tiny
    cfg = cfg.model_copy(update={"cnn": cfg.cnn.model_copy(update={"max_minutes_total": 1.0})})
    names = ["MobileNetV2-scratch", "AlexNet-scratch"]
    plans = P.plan_arms(names, ts, cfg, measure=fake_measure(1000.0))
    assert [p.status for p in plans] == [ArmStatus.PLANNED, ArmStatus.PLANNED]
    events = tmp_path / "progress.jsonl"
    monkeypatch.setenv("SPRING_PROGRESS_FILE", str(events))
    plans = P.plan_arms(names, ts, cfg, spent_s=60, measure=fake_measure(1000.0))
    assert all(p.status is ArmStatus.NOT_RUN_OVER_BUDGET and p.note == (
        f"estimated {p.estimate_s / 60:.1f} min; the run's budget of 1 min is spent")
        for p in plans)
    (plan_event,) = [json.loads(line) for line in events.read_text().splitlines()]
    assert [a["status"] for a in plan_event["arms"]] == [p.describe() for p in plans]


def test_recipe_table_shows_each_arms_resolved_recipe(tiny):
    cfg, _ = tiny
    table = P.recipe_table(cfg, ["MobileNetV2-probe", "MobileNetV2-TL"]).set_index("arm")
    assert table.loc["MobileNetV2-probe", "pooling"] == "tuned by CV"
    assert table.loc["MobileNetV2-TL", "input_size"] == 32 and "precision" not in table


def test_spent_seconds_add_the_earlier_arms_tables(tmp_path):
    import pandas as pd

    from spring_lib.core.results_dir import ResultsDir

    out = ResultsDir(tmp_path)
    out.table(pd.DataFrame({"arm": ["a", "b", "c"], "actual_minutes": [1.0, None, 0.5]}),
              "arms_baselines")
    out.table(pd.DataFrame({"arm": ["d"], "status": ["not run: weights unavailable"]}),
              "arms_transfer")
    assert P.spent_seconds(out, "arms_baselines", "arms_transfer", "arms_glcm") == 90.0


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
