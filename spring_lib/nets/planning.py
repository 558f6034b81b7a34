"""Planning arms before they run: each arm's network built and timed on this machine, its wall
time estimated, the per-arm cap and the run's total budget applied; `python -m spring_lib
estimate` prints the plan without training anything.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from ..config import Recipe, StudyConfig
from ..core.architectures import Arm
from ..core.arm_result import ArmStatus, describe
from ..core.paths import cache_dir
from ..core.progress import arms_planned
from ..core.results_dir import ResultsDir
from ..data.tileset import TileSet
from . import budget
from .arm_inputs import fold_indices, network, split_indices
from .probe import FrozenFeatures
from .weights import WeightsUnavailable

@dataclass
class ArmPlan:
    """An arm as measured on this machine before it runs: its recipe, the execution chosen,
    the measured rate and the estimated time, or why it will not run (status and note)."""
    arm: Arm
    recipe: Recipe
    status: ArmStatus = ArmStatus.PLANNED
    note: str = ""
    weights: str = ""
    trainable_params: int | None = None
    measurement: budget.Measurement | None = None
    images: int = 0
    estimate_s: float | None = None

    def describe(self) -> str:
        return describe(self.status, self.note)

    def measured(self) -> dict:
        """The execution chosen here and its measured rate (None before a measurement)."""
        m = self.measurement
        return dict(execution=m.describe() if m else None,
                    measured_img_per_s=round(m.train_img_s or m.eval_img_s, 1) if m else None)

    def row(self) -> dict:
        m = self.measurement
        return dict(arm=self.arm.name, kind=self.arm.kind, status=self.status.value,
                    note=self.note, input_size=self.recipe.input_size, images=self.images,
                    **self.measured(), measured_rates=str(m.rates) if m else None,
                    estimate_minutes=(None if self.estimate_s is None
                                      else self.estimate_s / 60))


def plan_arm(arm: Arm, tileset: TileSet, cfg: StudyConfig, measure=budget.measure) -> ArmPlan:
    """Build the arm's network once, time it here, and estimate its wall time."""
    recipe = cfg.recipe(arm)
    plan = ArmPlan(arm, recipe)
    try:
        model, plan.weights, plan.trainable_params = network(
            arm, cfg, recipe, len(tileset.classes), cfg.split.seed,
            "texture" if arm.kind == "probe" else None)
    except WeightsUnavailable as exc:
        if not cfg.cnn.skip_unavailable:
            raise
        plan.status, plan.weights = ArmStatus.NOT_RUN_WEIGHTS, str(exc)
        return plan
    k = cfg.evaluation.kfold
    if arm.kind == "probe":
        features = FrozenFeatures(arm.architecture, cfg.weights_for(arm.architecture),
                                  cache_dir=str(cache_dir(cfg) / "features"))
        plan.images = features.uncached(tileset.tiles)
        plan.recipe = recipe.model_copy(update={"input_size": features.resolved_input_size()})
        # timed as features are extracted: at the weights' native size, in the features' precision
        ex = features.execution()
        plan.measurement = measure(model, recipe.model_copy(update={
            "batch_size": cfg.probe.batch_size, "input_size": features.resolved_input_size(),
            "precision": ex.precision}), train=False, device=ex.device)
        grid = len(cfg.probe.C) * len(cfg.probe.pooling)
        fits = (k + 1) * (grid * cfg.probe.cv_folds + 1)
        plan.estimate_s = (plan.images / plan.measurement.eval_img_s
                           + fits * budget.linear_fit_seconds(len(tileset.tiles),
                                                              features.width()))
    else:
        folds = tileset.folds(k, cfg.split.seed)
        runs = [split_indices(tileset, recipe, cfg.split.seed)] * recipe.seeds + [
            fold_indices(tileset, folds, f, recipe, cfg) for f in range(k)]
        plan.images = sum(len(tr) for tr, _, _ in runs) * recipe.epochs
        plan.measurement = measure(model, recipe)
        n_probe = 0
        if recipe.head_init == "probe":
            n_probe = FrozenFeatures(arm.architecture, cfg.weights_for(arm.architecture),
                                     cache_dir=str(cache_dir(cfg) / "features"),
                                     input_size=recipe.input_size).uncached(tileset.tiles)
        one = recipe.model_copy(update={"seeds": 1})
        plan.estimate_s = n_probe / plan.measurement.eval_img_s + sum(
            budget.training_seconds(one, plan.measurement, len(tr), len(va), len(te))
            for tr, va, te in runs)
    over = budget.over_cap(plan.estimate_s, cfg.cnn.max_minutes_per_arm)
    if over:
        plan.status, plan.note = ArmStatus.NOT_RUN_OVER_CAP, over
    return plan


def plan_arms(names: list[str], tileset: TileSet, cfg: StudyConfig, spent_s: float = 0.0,
              measure=None) -> list[ArmPlan]:
    """Every arm planned here (rates measured once per machine, then read from the cache),
    then the run's total budget filled in priority order; `spent_s`: seconds the arms of
    earlier notebooks already used of it."""
    if measure is None:
        rates = budget.RateCache(cache_dir(cfg) / "rates.json")
        measure = lambda *a, **k: budget.measure(*a, cache=rates, **k)  # noqa: E731
    plans = [plan_arm(Arm.parse(n), tileset, cfg, measure) for n in names]
    over = budget.over_budget({p.arm.name: p.estimate_s for p in plans
                               if p.status is ArmStatus.PLANNED},
                              cfg.cnn.max_minutes_total, spent_s)
    for p in plans:
        if p.arm.name in over:
            p.status, p.note = ArmStatus.NOT_RUN_OVER_BUDGET, over[p.arm.name]
    arms_planned((p.arm.name, p.describe(), p.estimate_s) for p in plans)
    return plans


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


def spent_seconds(out: ResultsDir, *tables: str) -> float:
    """What the arms of earlier notebooks of this run took (their arms tables), to be counted
    against the run's total budget."""
    frames = [out.read_table(t) for t in tables if out.has_table(t)]
    return sum(60 * f["actual_minutes"].fillna(0).sum() for f in frames if "actual_minutes" in f)


def with_paper_weights(cfg: StudyConfig, folder: str) -> StudyConfig:
    """The profile with `cnn.weights.<architecture>` set to `folder` for every paper
    architecture: the plan of a machine that has every pretrained arm."""
    from pathlib import Path

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


def print_plan(profile: str, with_weights: str | None = None) -> pd.DataFrame:
    """`python -m spring_lib estimate`: every arm of the profile, timed here, not trained
    (`with_weights`: a folder of weights for every paper architecture)."""
    import platform

    from ..config import load_config
    from ..core.machine import cpu_model
    from ..data.tileset import build_tileset

    cfg = load_config(profile)
    if with_weights:
        cfg = with_paper_weights(cfg, with_weights)
    tileset = build_tileset(cfg)
    table = pd.DataFrame([p.row() for p in plan_arms(cfg.cnn.arms, tileset, cfg)])
    total = table.loc[table["status"] == ArmStatus.PLANNED.value, "estimate_minutes"].sum()
    print(f"profile {cfg.profile} on {cpu_model()} ({platform.machine()}, "
          f"{torch.get_num_threads()} threads):")
    print(table.drop(columns=["measured_rates"]).to_string(index=False))
    print(f"estimated total for the network and probe arms that will run: {total:.1f} min"
          + (f" (the run's budget: {cfg.cnn.max_minutes_total:g} min)"
             if cfg.cnn.max_minutes_total else ""))
    return table
