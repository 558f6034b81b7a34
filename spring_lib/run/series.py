"""The whole series on this machine: each notebook's estimated time, the run's budget, and
`python -m spring_lib estimate`.

A notebook's estimate is its arms' (`nets.planning`, from measured rates) and the rest of its
work (`run.notebook_estimates`, from timed samples of it). The profile's
`cnn.max_minutes_total` is the whole series' budget: the network and probe arms of notebooks
03 and 04 get what the run has not used yet and the notebooks after them will not need.
"""
from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pandas as pd

from ..config import StudyConfig
from ..core.architectures import Arm
from ..core.arm_result import ArmStatus
from ..core.paths import cache_dir
from ..core.products import NETS, STEPS
from ..data.tileset import TileSet
from ..nets import budget
from ..nets.arm_inputs import network
from ..nets.planning import (ArmPlan, forward_floor, forward_rate, plan_arms, run_order,
                             trainings)
from ..nets.rate_cache import RateCache
from ..nets.weights import WeightsUnavailable
from .notebook_estimates import notebook_estimate

#: the part of a notebook's estimate already spent when a notebook with arms plans them
STARTUP = "kernel and imports"
#: a profile without caps whose network arms' forward passes alone take longer than this here
#: is far beyond the machine (the paper's protocol on a CPU: its epochs of SE-ResNeXt101):
#: `estimate` says so with that bound rather than timing everything
FAR_BEYOND_HOURS = 24.0


def measured_here(cfg: StudyConfig):
    """`measured(key, fn, what)` for the notebook estimators: timed once per machine, kept in
    the same cache as the networks' rates."""
    return RateCache(cache_dir(cfg) / "rates.json").here


def run_started(results_dir: str | Path) -> float | None:
    """When the run writing into `results_dir` started (epoch seconds), from its run.json;
    None outside a run (a notebook opened by hand)."""
    f = Path(results_dir) / "run.json"
    if not f.exists():
        return None
    record = json.loads(f.read_text())
    if record.get("status") != "running":
        return None
    return datetime.fromisoformat(record["started"]).timestamp()


def _ladder_probe(cfg: StudyConfig) -> str | None:
    """The probe notebook 05's ladder will use, as far as planning can know it: the first
    probe the run would run (the best by inner score is known only after the arms)."""
    return next((a for a in run_order(cfg) if Arm.parse(a).kind == "probe"), None)


def rest_estimate(step: str, cfg: StudyConfig, tileset: TileSet | None, measured,
                  probe_arm: str | None = None, n_arms: int | None = None,
                  pictures: tuple | None = None) -> dict[str, float]:
    """A notebook's estimated seconds by part, its network and probe arms aside."""
    n = len(cfg.cnn.arms) + 2 if n_arms is None else n_arms   # + GLCM+SVM and pixel size
    return notebook_estimate(f"{step}.ipynb", cfg, measured, tileset,
                             probe_arm if probe_arm is not None else _ladder_probe(cfg), n,
                             pictures)


def after_arms_seconds(step: str, cfg: StudyConfig, tileset: TileSet) -> float:
    """Estimated seconds of the series after the arms of `step` (03 or 04) are planned: the
    rest of that notebook and every later one whole (their arms aside: they are planned
    together with these)."""
    measured = measured_here(cfg)
    steps = list(STEPS)
    return _after(step, {s: rest_estimate(s, cfg, tileset, measured)
                         for s in steps[steps.index(step):]})


def plan_notebook_arms(step: str, cfg: StudyConfig, tileset: TileSet, out) -> list:
    """The arms of notebook `step` (03 or 04) planned against the series' budget: they get what
    the run (`out`'s record) has not used and the notebooks after them will not need; notebook
    03 shares it with notebook 04's arms (which come first where it is short), and notebook 04
    orders the fine-tuning it can still hold by notebook 03's probe scores."""
    from ..core.products import BASELINES

    baselines = step == BASELINES
    return plan_arms(cfg.cnn.arms_baselines if baselines else cfg.cnn.arms_transfer, tileset,
                     cfg, run_started=run_started(out.root),
                     after_s=after_arms_seconds(step, cfg, tileset),
                     later=cfg.cnn.arms_transfer if baselines else (),
                     scores=None if baselines else probe_scores(out, "arms_baselines"))


def _after(step: str, rest: dict[str, dict[str, float]]) -> float:
    """`after_arms_seconds` from the notebooks' estimates by part (`rest`, by step)."""
    steps = list(STEPS)
    return (sum(v for k, v in rest[step].items() if k != STARTUP)
            + sum(sum(rest[s].values()) for s in steps[steps.index(step) + 1:]))


def series_plan(cfg: StudyConfig, tileset: TileSet, spent_s: float = 0.0) -> tuple[
        pd.DataFrame, pd.DataFrame]:
    """(notebooks, arms): every notebook's estimate and every arm's plan on this machine, as if
    a run had spent `spent_s` before its first notebook with arms."""
    measured = measured_here(cfg)
    rest = {s: rest_estimate(s, cfg, tileset, measured) for s in STEPS}
    steps = list(STEPS)
    first = steps.index(NETS[0])
    before = sum(sum(rest[s].values()) for s in steps[:first]) + rest[NETS[0]].get(STARTUP, 0)
    after = _after(NETS[0], rest)
    t0 = time.time()
    plans = plan_arms(run_order(cfg), tileset, cfg, run_started=t0 - spent_s - before,
                      after_s=after)
    measuring_s = time.time() - t0
    arms = pd.DataFrame([p.row() for p in plans])
    by_step = {NETS[0]: cfg.cnn.arms_baselines, NETS[1]: cfg.cnn.arms_transfer}
    rows = []
    for s in steps:
        planned = arms[arms["arm"].isin(by_step.get(s, [])) & (arms["status"]
                                                              == ArmStatus.PLANNED.value)]
        measure = measuring_s if s == NETS[0] else 0.0
        arm_s = 60 * planned["estimate_minutes"].sum()
        rows.append(dict(notebook=s, arms=len(planned), arms_minutes=arm_s / 60,
                         measuring_minutes=measure / 60, rest_minutes=sum(rest[s].values()) / 60,
                         estimate_minutes=(arm_s + measure + sum(rest[s].values())) / 60,
                         parts="; ".join(f"{k} {v:.0f} s" for k, v in rest[s].items())))
    return pd.DataFrame(rows), arms


def before_notebook(step: str, cfg: StudyConfig, results_dir: str | Path) -> dict[str, float]:
    """What the runner records before a notebook starts: its estimate by part, its arms aside
    (`with_arms` adds them once the notebook has planned them). Notebook 05's depends on the
    arms the run has, read from their tables."""
    from ..core.products import EVALUATION, TILING
    from ..core.results_dir import ResultsDir
    from ..data.tileset import build_tileset
    from ..evaluation import tables, verdicts

    tileset = None if step == TILING else build_tileset(cfg)   # tiled by then: the cache
    probe = n_arms = pictures = None
    if step == EVALUATION:   # the arms notebook 05 will pick, as it picks them
        arms = tables.arms_of_run(ResultsDir(results_dir))
        probe, n_arms = verdicts.best_arm(arms, ("probe",)), len(arms)
        pictures = (results_dir, *verdicts.picture_arms(cfg, arms))
    return rest_estimate(step, cfg, tileset, measured_here(cfg), probe, n_arms, pictures)


def with_arms(parts: dict[str, float], events: list[dict], started: float) -> dict[str, float]:
    """A notebook's estimate once it has planned its arms (its `plan` event among `events`):
    the time it took to get there (starting, measuring this machine) and its planned arms'
    estimates replace its start-up part. Unchanged for a notebook without a plan."""
    # an event's time is rounded to 0.01 s: a plan made at once may read just before `started`
    plans = [e for e in events if e.get("kind") == "plan" and e["t"] >= started - 0.01]
    if not plans:
        return parts
    plan = plans[-1]
    return {"until its plan (start, measuring)": plan["t"] - started,
            "planned arms": sum(a["estimate_s"] or 0.0 for a in plan["arms"]
                                if a["status"] == ArmStatus.PLANNED.value),
            **{k: v for k, v in parts.items() if k != STARTUP}}


def with_paper_weights(cfg: StudyConfig, folder: str) -> StudyConfig:
    """The profile with `cnn.weights.<architecture>` set to `folder` for every paper
    architecture: the plan of a machine that has every pretrained arm."""
    from ..core.architectures import ARCHITECTURES

    paper = [a for a in ARCHITECTURES.values() if a.in_paper]
    missing = [f"{a.model_name}.pth" for a in paper
               if not any((Path(folder) / f"{a.model_name}{ext}").exists()
                          for ext in (".pth", ".safetensors"))]
    if missing:
        raise FileNotFoundError(f"--with-weights {folder}: no {', '.join(missing)} there (write "
                                "them with benchmarks/write_paper_weights.py)")
    weights = {**cfg.cnn.weights, **{a.name: str(folder) for a in paper}}
    return cfg.model_copy(update={"cnn": cfg.cnn.model_copy(update={"weights": weights})})


def far_beyond(cfg: StudyConfig, tileset: TileSet, measure=None) -> str | None:
    """Why a profile without caps is far beyond this machine, from the fewest timings that
    show it: the forward rates of its network arms in run order, until their forward passes
    alone pass FAR_BEYOND_HOURS; None where they do not (then everything is timed)."""
    if cfg.cnn.max_minutes_per_arm is not None or cfg.cnn.budget_minutes() is not None:
        return None   # the caps bound what planning times (an arm over its cap: forward only)
    cache = RateCache(cache_dir(cfg) / "rates.json")
    measure = measure or (lambda *a, **k: budget.measure(*a, cache=cache, **k))
    total, named = 0.0, []
    for name in run_order(cfg):
        arm = Arm.parse(name)
        if arm.kind == "probe":
            continue
        recipe = cfg.recipe(arm)
        try:
            model, _, _ = network(arm, cfg, recipe, len(tileset.classes), cfg.split.seed, None)
        except WeightsUnavailable:
            continue   # preflight has refused a profile that needs them
        rate = forward_rate(model, recipe, measure).eval_img_s
        total += forward_floor(recipe.model_copy(update={"seeds": 1}),
                               trainings(arm, tileset, cfg), rate)
        named.append(f"{name} at {rate:.1f} img/s")
        if total > FAR_BEYOND_HOURS * 3600:
            return (f"profile {cfg.profile} is far beyond this machine: the forward passes of "
                    f"{', '.join(named)} alone take at least {total / 3600:,.0f} h here, before "
                    "any training step or the rest of the series; run it on a GPU")
    return None


def print_plan(cfg: StudyConfig) -> pd.DataFrame | None:
    """`python -m spring_lib estimate`: every notebook and arm of the profile, timed here, not
    run; for a profile far beyond this machine, that bound alone (`far_beyond`)."""
    import platform

    import torch

    from ..core.machine import cpu_model
    from ..data.tileset import build_tileset

    print(f"profile {cfg.profile} on {cpu_model()} ({platform.machine()}, "
          f"{torch.get_num_threads()} threads):", flush=True)
    tileset = build_tileset(cfg)
    beyond = far_beyond(cfg, tileset)
    if beyond:
        print(beyond)
        return None
    notebooks, arms = series_plan(cfg, tileset)
    fmt = "{:.2f}".format
    print(arms.drop(columns=["measured_rates"]).to_string(index=False, float_format=fmt))
    print()
    print(notebooks.drop(columns=["parts"]).to_string(index=False, float_format=fmt))
    total, budget = notebooks["estimate_minutes"].sum(), cfg.cnn.budget_minutes()
    print(f"estimated series: {total:.1f} min"
          + (f" (the run's budget here: {budget:g} min)" if budget else "")
          + "; measuring this machine took "
          f"{notebooks['measuring_minutes'].sum() * 60:.0f} s of it (a second estimate or run "
          "reads what was measured)")
    return arms


# ---------------------------------------------------------------- what notebooks 03 and 04 show

def plan_table(plans: list[ArmPlan]) -> pd.DataFrame:
    """One row per planned arm: status, input size, execution, measured rate, estimate."""
    return pd.DataFrame([p.row() for p in plans])


def recipe_table(cfg: StudyConfig, names: list[str]) -> pd.DataFrame:
    """Each arm's recipe as the profile resolves it (base, then kind, architecture and arm)."""
    rows = []
    for name in names:
        arm, r = Arm.parse(name), cfg.recipe(name)
        rows.append({"arm": name, **({"input_size": "native", "pooling": "tuned by CV",
                                      "classifier": "logistic regression"} if arm.kind == "probe"
                                     else r.model_dump(exclude={"precision", "memory_format"}))})
    return pd.DataFrame(rows)


def probe_scores(out, *tables: str) -> dict[str, float]:
    """Inner-CV scores of the probes earlier notebooks ran, by architecture: they order the
    fine-tuning the budget can still hold (`core.schedule.priority`)."""
    frames = [out.read_table(t) for t in tables if out.has_table(t)]
    return {r.architecture: float(r.inner_score) for f in frames if "inner_score" in f
            for r in f.itertuples() if r.kind == "probe" and pd.notna(r.inner_score)}
