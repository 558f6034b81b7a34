"""Planning arms before they run: each arm's network built and timed on this machine, its wall
time estimated, the per-arm cap and the run's total budget applied (`run.series` prints the
plan of a whole series without running it).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import numpy as np
import pandas as pd

from ..config import Recipe, StudyConfig
from ..core.architectures import Arm
from ..core.arm_result import ArmStatus, describe
from ..core.paths import cache_dir
from ..core.progress import arms_planned
from ..core.schedule import over_budget
from ..data.tileset import TileSet, digest_key, digest_seconds
from . import budget
from .arm_inputs import fold_indices, network, split_indices
from .execution import Execution
from .probe import FrozenFeatures, uncached_tiles
from .rate_cache import RateCache
from .weights import WeightsUnavailable, weights_file

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


@dataclass
class PlanFacts:
    """What an arm's plan needs from this machine (`_measure_arm`), kept per machine as JSON.
    A plan kept with other fields is measured again: the version follows the fields."""
    weights: str
    trainable: int
    measurement: budget.Measurement
    feeding: budget.Feeding = field(default_factory=budget.Feeding)
    input_size: int | None = None      # a probe's: its weights' native size
    width: int | None = None           # the features of a probe or a probe-initialised head
    feature_cache: str | None = None   # ... and their cache's name
    forward_only: bool = False         # over its cap on its forward passes alone

    @classmethod
    def from_json(cls, facts: dict) -> "PlanFacts":
        m = facts["measurement"]
        return cls(**{**facts, "feeding": budget.Feeding(**facts["feeding"]),
                      "measurement": budget.Measurement(Execution(**m["execution"]),
                                                        m["train_img_s"], m["eval_img_s"],
                                                        m["rates"])})

    @staticmethod
    def version() -> str:
        return ";".join(f"{t.__name__}.{f.name}:{f.type}" for t in (
            PlanFacts, budget.Measurement, budget.Feeding, Execution) for f in fields(t))


def _memo_key(arm: Arm, recipe: Recipe, tileset: TileSet, cfg: StudyConfig,
              cache: RateCache) -> str | None:
    """What an arm's plan depends on besides the feature cache: the machine, the arm, its
    recipe, the probe's and the evaluation's settings, the tiles and the weights' file (its size
    and time). None where the weights' file is not known without loading them (a hub)."""
    import hashlib

    if arm.pretrained:
        path = weights_file(arm.spec, cfg.weights_for(arm.architecture))
        if path is None:
            return None
        st = path.stat()
        weights = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    else:
        weights = "random init"
    tiles = pd.util.hash_pandas_object(tileset.manifest[["tile_id", "split", "group"]],
                                       index=False).sum()
    parts = [PlanFacts.version(), recipe.model_dump_json(), cfg.probe.model_dump_json(),
             cfg.evaluation.model_dump_json(), cfg.split.model_dump_json(), str(tiles),
             str(tileset.tiles.shape), weights, cfg.cnn.skip_unavailable,
             cfg.cnn.max_minutes_per_arm]
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]
    return f"{cache.machine()}|{arm.name}|{digest}"


def _measure_arm(arm: Arm, recipe: Recipe, tileset: TileSet, cfg: StudyConfig,
                 measure, at_least=None) -> PlanFacts:
    """Build the arm's network once and time it here: the facts its plan needs.

    `at_least(forward_img_s)`: the least seconds a training arm can take, given its forward
    rate (a training step costs at least its forward pass). Where that already exceeds the arm's
    cap, only the forward pass is timed: fine-tuning VGG19 or SE-ResNeXt101 on this CPU is
    over any cap by a factor of five or more, and timing its training steps in every execution
    costs a minute or more each."""
    model, weights, trainable = network(arm, cfg, recipe, len(tileset.classes), cfg.split.seed,
                                        "texture" if arm.kind == "probe" else None)
    facts = {}
    sample = np.array(tileset.tiles[:64])
    if arm.kind == "probe":
        features = FrozenFeatures(arm.architecture, cfg.weights_for(arm.architecture))
        size, ex = features.resolved_input_size(), features.execution()
        # timed as features are extracted: at the weights' native size, in the features' precision
        m = measure(model, recipe.model_copy(update={
            "batch_size": cfg.probe.batch_size, "input_size": size, "precision": ex.precision}),
            train=False, device=ex.device)
        facts.update(input_size=size, width=features.width(),
                     feature_cache=features.cache_name(tileset.tiles.shape[1]),
                     feeding=budget.Feeding(eval_s=budget.input_seconds(sample, size)))
    else:
        m = None
        if at_least is not None and cfg.cnn.max_minutes_per_arm is not None:
            forward = forward_rate(model, recipe, measure)
            if at_least(forward.eval_img_s) > cfg.cnn.max_minutes_per_arm * 60:
                m, facts["forward_only"] = forward, True
        m = m or measure(model, recipe)
        if not facts.get("forward_only"):   # an arm over its cap is not timed further
            facts["feeding"] = budget.Feeding(
                train_s=budget.input_seconds(sample, recipe.input_size, recipe.augment),
                eval_s=budget.input_seconds(sample, recipe.input_size),
                epoch_s=budget.state_save_seconds(model, cache_dir(cfg) / "training"))
        if recipe.head_init == "probe":
            head = FrozenFeatures(arm.architecture, cfg.weights_for(arm.architecture),
                                  pooling=recipe.pooling, input_size=recipe.input_size)
            facts.update(feature_cache=head.cache_name(tileset.tiles.shape[1]),
                         width=head.width())
    return PlanFacts(weights, trainable, m, **facts)


def forward_rate(model, recipe: Recipe, measure) -> budget.Measurement:
    """The forward pass in the fastest inference execution: what no training step can beat."""
    fastest = budget.inference_execution()
    return measure(model, recipe.model_copy(update={
        "precision": fastest.precision, "memory_format": fastest.memory_format}),
        train=False, device=fastest.device)


def trainings(arm: Arm, tileset: TileSet, cfg: StudyConfig) -> list[tuple]:
    """(train, val, test) indices of every training a network arm runs: each seed's on the
    held-out split, then one per k-fold fold; none for a probe (it trains no network)."""
    if arm.kind == "probe":
        return []
    recipe, k, seed = cfg.recipe(arm), cfg.evaluation.kfold, cfg.split.seed
    folds = tileset.folds(k, seed)
    return [split_indices(tileset, recipe, seed)] * recipe.seeds + [
        fold_indices(tileset, folds, f, recipe, cfg) for f in range(k)]


def forward_floor(recipe: Recipe, runs: list[tuple], forward_img_s: float) -> float:
    """Seconds no run of `runs` can beat: every training step as fast as a forward pass
    (a training step costs at least its forward pass), every epoch run."""
    return sum(budget.training_seconds(recipe, budget.forward_bound(forward_img_s), len(tr),
                                       len(va), len(te)) for tr, va, te in runs)


def plan_arm(arm: Arm, tileset: TileSet, cfg: StudyConfig, measure=budget.measure,
             cache: RateCache | None = None) -> ArmPlan:
    """The arm's network built and timed here (or its plan's facts read from `cache`, where
    this machine already planned it), and its wall time estimated."""
    cache = cache if cache is not None else RateCache(None)
    recipe = cfg.recipe(arm)
    plan = ArmPlan(arm, recipe)
    runs = trainings(arm, tileset, cfg)
    one = recipe.model_copy(update={"seeds": 1})
    at_least = lambda rate: forward_floor(one, runs, rate)  # noqa: E731

    key = _memo_key(arm, recipe, tileset, cfg, cache)
    kept = cache.plan(key) if key else None
    facts = PlanFacts.from_json(kept) if kept else None
    if facts is None:
        loaded = cache.loaded_used
        try:
            facts = _measure_arm(arm, recipe, tileset, cfg, measure, at_least)
        except WeightsUnavailable as exc:
            if not cfg.cnn.skip_unavailable:
                raise
            plan.status, plan.weights = ArmStatus.NOT_RUN_WEIGHTS, str(exc)
            return plan
        if key:
            cache.keep_plan(key, asdict(facts), loaded=cache.loaded_used != loaded)
    plan.weights, plan.trainable_params = facts.weights, facts.trainable
    plan.measurement, feeding = facts.measurement, facts.feeding
    features_dir = str(cache_dir(cfg) / "features")
    uncached = (uncached_tiles(features_dir, facts.feature_cache, tileset.tiles)
                if facts.feature_cache else 0)
    plan.images = (uncached if arm.kind == "probe"
                   else sum(len(tr) for tr, _, _ in runs) * recipe.epochs)
    if arm.kind == "probe":
        plan.recipe = recipe.model_copy(update={"input_size": facts.input_size})
        plan.estimate_s = (budget.embedding_seconds(plan.images, plan.measurement, feeding)
                           + _probe_fits(len(tileset.tiles), facts.width, tileset, cfg, cache))
    elif facts.forward_only:
        plan.estimate_s = at_least(plan.measurement.eval_img_s)
        plan.status, plan.note = ArmStatus.NOT_RUN_OVER_CAP, (
            f"estimated at least {plan.estimate_s / 60:.1f} min on this machine (its forward "
            f"passes alone, at {plan.measurement.eval_img_s:.1f} img/s), over the profile's cap "
            f"of {cfg.cnn.max_minutes_per_arm:g} min")
        return plan
    else:
        plan.estimate_s = budget.embedding_seconds(uncached, plan.measurement, feeding) + sum(
            budget.training_seconds(one, plan.measurement, len(tr), len(va), len(te),
                                    feeding=feeding)
            + (_head_search(len(tr), facts.width, tileset, cfg, cache)
               if recipe.head_init == "probe" else 0.0)
            for tr, va, te in runs)
    over = budget.over_cap(plan.estimate_s, cfg.cnn.max_minutes_per_arm)
    if over:
        plan.status, plan.note = ArmStatus.NOT_RUN_OVER_CAP, over
    return plan


def _read_seconds(tileset: TileSet, cache: RateCache) -> float:
    """Seconds per tile of reading its cached features (its digest), timed here once."""
    return cache.here(digest_key(tileset.tiles.shape[1]),
                      lambda: digest_seconds(np.array(tileset.tiles[:24])), "tile digests")


def _probe_fits(n: int, width: int, tileset: TileSet, cfg: StudyConfig,
                cache: RateCache) -> float:
    """Seconds of a probe's classifier fits in every fold (`budget.probe_fit_seconds`)."""
    k, cv = cfg.evaluation.kfold, cfg.probe.cv_folds
    fit_s = budget.measured_linear_fit(round(n * (k - 1) / k * (cv - 1) / cv), width,
                                          cache.here)
    grid = len(cfg.probe.C) * len(cfg.probe.pooling)
    return budget.probe_fit_seconds(n, k, grid, cv, fit_s, _read_seconds(tileset, cache))


def _head_search(n: int, width: int, tileset: TileSet, cfg: StudyConfig,
                 cache: RateCache) -> float:
    """Seconds of the grouped search that fits a probe-initialised head on a run's n training
    tiles (over C only: the run's pooling is fixed)."""
    cv = cfg.probe.cv_folds
    fit_s = budget.measured_linear_fit(round(n * (cv - 1) / cv), width, cache.here)
    return budget.search_seconds(n, len(cfg.probe.C), cv, fit_s, _read_seconds(tileset, cache))


def run_order(cfg: StudyConfig) -> list[str]:
    """Every arm of the run in the order its budget is filled within each priority group: the
    study's own comparison (notebook 04) before the paper's other baselines (notebook 03)."""
    return cfg.cnn.arms_transfer + cfg.cnn.arms_baselines


def plan_arms(names: list[str], tileset: TileSet, cfg: StudyConfig,
              run_started: float | None = None, after_s: float = 0.0, measure=None,
              later: list[str] = (), scores: dict[str, float] | None = None,
              clock=None) -> list[ArmPlan]:
    """Every arm of `names` planned here (rates measured once per machine, then read from the
    cache), then the run's budget filled in priority order (`core.schedule`) together with
    `later`, the arms of later notebooks that share it (planned, not returned).

    The budget (`cnn.max_minutes_total`) is the whole series': the arms get what is left of it
    after the time the run has used since `run_started` (epoch seconds, read after measuring;
    None: since this call) and `after_s`, the estimated seconds of the series' work after
    these arms. `scores`: the probes' inner scores by architecture, which order the remaining
    fine-tuning. `clock`: epoch seconds now (`time.time`; a test's own clock)."""
    import time

    clock = clock or time.time
    t0 = clock()
    # what this machine measured is kept; a given `measure` (a stand-in) keeps nothing
    cache = RateCache(cache_dir(cfg) / "rates.json" if measure is None else None)
    if measure is None:
        measure = lambda *a, **k: budget.measure(*a, cache=cache, **k)  # noqa: E731
    order = {n: i for i, n in enumerate(run_order(cfg))}
    competing = sorted(dict.fromkeys([*names, *later]), key=lambda n: order.get(n, len(order)))
    plans = {n: plan_arm(Arm.parse(n), tileset, cfg, measure, cache) for n in competing}
    used_s = clock() - (t0 if run_started is None else run_started)
    over = over_budget({n: p.estimate_s for n, p in plans.items()
                               if p.status is ArmStatus.PLANNED},
                              cfg.cnn.budget_minutes(), used_s + after_s, scores)
    for p in plans.values():
        if p.arm.name in over:
            p.status, p.note = ArmStatus.NOT_RUN_OVER_BUDGET, over[p.arm.name]
    mine = [plans[n] for n in names]
    arms_planned((p.arm.name, p.describe(), p.estimate_s) for p in mine)
    return mine
