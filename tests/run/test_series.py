"""The series' time: a notebook's estimate gains its arms when it plans them, the arms' budget
sets aside what the run used and what follows them, and a run's start is read from its record."""
import json

import pytest

from spring_lib.run import series


def test_run_started_is_read_from_a_running_record_only(tmp_path):
    assert series.run_started(tmp_path) is None
    record = {"status": "running", "started": "2026-11-30T21:11:30+00:00"}
    (tmp_path / "run.json").write_text(json.dumps(record))
    assert series.run_started(tmp_path) == 1796073090.0
    (tmp_path / "run.json").write_text(json.dumps({**record, "status": "ok"}))
    assert series.run_started(tmp_path) is None   # a finished set: nothing is running there


def test_a_notebooks_plan_replaces_its_start_up_part_with_the_time_to_the_plan_and_its_arms():
    parts = {series.STARTUP: 5.0, "figures (2)": 3.0}
    events = [{"kind": "arms planned", "t": 90.0, "arms": [{"arm": "a", "status": "planned", "estimate_s": 60.0}]},
              {"kind": "arms planned", "t": 110.0, "arms": [
                  {"arm": "b", "status": "planned", "estimate_s": 100.0},
                  {"arm": "c", "status": "not run: over the run's budget", "estimate_s": 900.0},
                  {"arm": "d", "status": "not run: weights unavailable", "estimate_s": None}]}]
    got = series.with_arms(parts, events, started=100.0)   # the first plan is an earlier notebook's
    assert got == {"until its plan (start, measuring)": 10.0, "planned arms": 100.0,
                   "figures (2)": 3.0}
    assert series.with_arms(parts, events[:1], started=100.0) == parts   # no plan of its own


def test_after_the_arms_come_the_rest_of_their_notebook_and_every_later_one(monkeypatch, tmp_path):
    from spring_lib import load_config

    parts = {"01": 1, "02": 2, "03": 4, "04": 8, "05": 16, "06": 32}
    monkeypatch.setattr(series, "notebook_estimate", lambda step, *a, **k: {
        series.STARTUP: 1000.0, "work": float(parts[step[:2]])})
    cfg = load_config("smoke").model_copy(update={"cache_dir": str(tmp_path)})
    estimates = series.rest(cfg, None)
    assert series._after("03_cnn_baselines", estimates) == pytest.approx(
        4 + 8 + 16 + 32 + 3 * 1000)
    assert series._after("04_seresnext_transfer", estimates) == pytest.approx(
        8 + 16 + 32 + 2 * 1000)


def test_a_profile_far_beyond_the_machine_is_told_from_its_first_forward_rate(
        monkeypatch, tmp_path, data_root, standin_weights):
    """Without caps, the forward passes of the first network arms bound the series from below:
    past FAR_BEYOND_HOURS, `estimate` says so rather than timing everything; with a cap, the
    plan's own forward-only shortcut bounds what it times, and nothing is said."""
    from spring_lib import build_tileset, load_config
    from spring_lib.nets.timing import Measurement
    from spring_lib.nets.execution import Execution

    rates = []

    def measure(model, recipe, train=True, **k):
        rates.append(recipe.input_size)
        return Measurement(Execution(), None, rate)

    cfg = load_config("smoke")
    cnn = cfg.cnn.model_copy(update={
        "arms_baselines": [], "max_minutes_per_arm": None, "max_minutes_total": None,
        "arms_transfer": ["EfficientNet-Lite0-probe", "AlexNet-scratch", "MobileNetV2-scratch"]})
    cfg = cfg.model_copy(update={"cnn": cnn, "cache_dir": str(tmp_path),
                                 "data": cfg.data.model_copy(update={"root": str(data_root)})})
    ts = build_tileset(cfg)
    rate = 1e-4   # every training image a few hours: the first arm alone is far beyond
    said = series.far_beyond(cfg, ts, measure)
    assert said.startswith("profile smoke is far beyond this machine: the forward passes of "
                           "AlexNet-scratch at 0.0 img/s alone take at least") and len(rates) == 1
    rate = 1e6
    assert series.far_beyond(cfg, ts, measure) is None and len(rates) == 3   # both timed
    capped = cfg.model_copy(update={"cnn": cnn.model_copy(update={"max_minutes_per_arm": 30})})
    rate = 1e-4
    assert series.far_beyond(capped, ts, measure) is None and len(rates) == 3


def test_a_notebook_plans_its_arms_in_one_call_with_the_series_budget(monkeypatch, tmp_path):
    """Notebook 03 shares the budget with notebook 04's arms; notebook 04 orders its remaining
    fine-tuning by notebook 03's probe scores; both get what the run has not used."""
    import pandas as pd

    from spring_lib import load_config
    from spring_lib.core.results_dir import ResultsDir

    calls = {}
    monkeypatch.setattr(series, "plan_arms", lambda names, ts, cfg, **k: calls.update(
        {tuple(names): k}) or [])
    monkeypatch.setattr(series, "rest", lambda cfg, ts, results, steps: {
        s: {series.STARTUP: 1.0, "work": 100.0} for s in steps})   # 03: its own and 3 after
    cfg = load_config("smoke")
    out = ResultsDir(tmp_path)
    (tmp_path / "run.json").write_text(json.dumps(
        {"status": "running", "started": "2026-11-30T21:11:30+00:00"}))
    out.table(pd.DataFrame({"arm": ["MobileNetV2-probe"], "architecture": ["MobileNetV2"],
                            "kind": ["probe"], "inner_score": [0.7]}), "arms_baselines")
    series.plan_notebook_arms("03_cnn_baselines", cfg, None, out)
    series.plan_notebook_arms("04_seresnext_transfer", cfg, None, out)
    b, t = calls[tuple(cfg.cnn.arms_baselines)], calls[tuple(cfg.cnn.arms_transfer)]
    assert b["later"] == cfg.cnn.arms_transfer and b["scores"] is None and b["after_s"] == 100 + 3 * 101
    assert t["later"] == () and t["scores"] == {"MobileNetV2": 0.7} and t["after_s"] == 100 + 2 * 101
    assert b["run_started"] == t["run_started"] == 1796073090.0
