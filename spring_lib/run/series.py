"""The whole series on this machine: each notebook's estimated time, the run's budget, and
`python -m spring_lib estimate`.

A notebook's estimate is its arms' (`nets.planning`, from measured rates) and the rest of its
work (`run.notebook_costs`: the units its stages declare, `core.costs`). The profile's
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
from ..core import products
from ..core.architectures import Arm
from ..core.arm_result import ArmStatus
from ..core.paths import cache_dir
from ..core.rate_cache import RateCache
from ..data.costs import Work
from ..data.tileset import TileSet
from ..nets import costs, timing
from ..nets.arm_inputs import arm_recipe, network
from ..nets.cached_tuning import uses_cached_trunk
from ..nets.arm_inputs import trainings
from ..nets.planning import ArmPlan, plan_arms, run_order
from ..nets.weights import WeightsUnavailable
from .notebook_costs import notebook_estimate

#: the part of a notebook's estimate already spent when a notebook with arms plans them
STARTUP = "kernel and imports"
#: a profile without caps whose network arms' forward passes alone take longer than this here
#: is far beyond the machine (the paper's protocol on a CPU: its epochs of SE-ResNeXt101):
#: `estimate` says so with that bound rather than timing everything
FAR_BEYOND_HOURS = 24.0


def rates(cfg: StudyConfig) -> RateCache:
    """What this machine was measured to do, for this profile's cache folder."""
    return RateCache(cache_dir(cfg) / "rates.json")


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


def rest(cfg: StudyConfig, tileset: TileSet | None, results: Path | None = None,
         steps=products.STEPS) -> dict[str, dict[str, float]]:
    """Each step's estimated seconds by part, its network and probe arms aside."""
    work, cache = Work(cfg, tileset, results), rates(cfg)
    return {s: notebook_estimate(s, work, cache) for s in steps}


def _after(step: str, parts: dict[str, dict[str, float]]) -> float:
    """Estimated seconds of the series after the arms of `step` are planned: the rest of that
    notebook and every later one whole (their arms are planned together with these)."""
    return (sum(v for k, v in parts[step].items() if k != STARTUP)
            + sum(sum(parts[s].values()) for s in products.after(step)))


def plan_notebook_arms(step: str, cfg: StudyConfig, tileset: TileSet, out) -> list:
    """The arms of notebook `step` (03 or 04) planned against the series' budget: they get what
    the run (`out`'s record) has not used and the notebooks after them will not need; notebook
    03 shares it with notebook 04's arms (which come first where it is short), and notebook 04
    orders the fine-tuning it can still hold by notebook 03's probe scores."""
    baselines = step == products.BASELINES
    parts = rest(cfg, tileset, None, [step, *products.after(step)])   # the arms not run yet
    return plan_arms(cfg.cnn.arms_baselines if baselines else cfg.cnn.arms_transfer, tileset,
                     cfg, run_started=run_started(out.root), after_s=_after(step, parts),
                     later=cfg.cnn.arms_transfer if baselines else (),
                     scores=None if baselines else probe_scores(out, "arms_baselines"))


def series_plan(cfg: StudyConfig, tileset: TileSet, spent_s: float = 0.0) -> tuple[
        pd.DataFrame, pd.DataFrame]:
    """(notebooks, arms): every notebook's estimate and every arm's plan on this machine, as if
    a run had spent `spent_s` before its first notebook with arms."""
    parts, first = rest(cfg, tileset), products.NETS[0]
    before = (sum(sum(parts[s].values()) for s in products.before(first))
              + parts[first].get(STARTUP, 0))
    t0 = time.time()
    plans = plan_arms(run_order(cfg), tileset, cfg, run_started=t0 - spent_s - before,
                      after_s=_after(first, parts))
    measuring_s = time.time() - t0
    arms = pd.DataFrame([p.row() for p in plans])
    by_step = {products.BASELINES: cfg.cnn.arms_baselines,
               products.TRANSFER: cfg.cnn.arms_transfer}
    rows = []
    for s, part in parts.items():
        planned = arms[arms["arm"].isin(by_step.get(s, []))
                       & (arms["status"] == ArmStatus.PLANNED.value)]
        measure = measuring_s if s == first else 0.0
        arm_s, rest_s = 60 * planned["estimate_minutes"].sum(), sum(part.values())
        rows.append(dict(notebook=s, arms=len(planned), arms_minutes=arm_s / 60,
                         measuring_minutes=measure / 60, rest_minutes=rest_s / 60,
                         estimate_minutes=(arm_s + measure + rest_s) / 60,
                         parts="; ".join(f"{k} {v:.0f} s" for k, v in part.items())))
    return pd.DataFrame(rows), arms


def before_notebook(step: str, cfg: StudyConfig, results_dir: str | Path) -> dict[str, float]:
    """What the runner records before a notebook starts: its estimate by part, its arms aside
    (`with_arms` adds them once the notebook has planned them). Notebook 05's depends on the
    arms the run has, read from their tables."""
    from ..data.tileset import build_tileset

    tileset = None if step == products.TILING else build_tileset(cfg)   # tiled by then: the cache
    return rest(cfg, tileset, Path(results_dir), [step])[step]


def with_arms(parts: dict[str, float], events: list[dict], started: float) -> dict[str, float]:
    """A notebook's estimate once it has planned its arms (its "arms planned" event among `events`):
    the time it took to get there (starting, measuring this machine) and its planned arms'
    estimates replace its start-up part. Unchanged for a notebook without a plan."""
    # an event's time is rounded to 0.01 s: a plan made at once may read just before `started`
    plans = [e for e in events if e.get("kind") == "arms planned" and e["t"] >= started - 0.01]
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
    cache = rates(cfg)
    measure = measure or (lambda *a, **k: timing.measure(*a, cache=cache, **k))
    total, named = 0.0, []
    for name in run_order(cfg):
        arm = Arm.parse(name)
        if arm.kind == "probe":
            continue
        recipe = arm_recipe(arm, cfg)
        if uses_cached_trunk(arm, recipe):
            continue   # its trunk runs once, its top is small: about its probe's cost
        try:
            model, _, _ = network(arm, cfg, recipe, len(tileset.classes), cfg.split.seed, None)
        except WeightsUnavailable:
            continue   # preflight has refused a profile that needs them
        rate = timing.forward_rate(model, recipe, measure).eval_img_s
        total += costs.forward_floor(recipe, trainings(arm, tileset, cfg), rate)
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
