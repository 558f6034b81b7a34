"""Planning arms before they run: each arm's network built and timed on this machine, its wall
time estimated, the per-arm cap and the run's total budget applied (`run.series` prints the
plan of a whole series without running it)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import numpy as np
import pandas as pd
from sklearn.model_selection import ParameterGrid

from ..config import Recipe, StudyConfig
from ..core import costs as unit_costs
from ..core.architectures import Arm
from ..core.arm_result import ArmStatus, describe
from ..core.paths import cache_dir
from ..core.progress import arms_planned
from ..core.rate_cache import RateCache
from ..core.schedule import over_budget
from ..data.reading import window_count
from ..data.tileset import TileSet
from . import costs, timing
from .arm_inputs import arm_recipe, input_transform, network, trainings
from .cached_trunk import uncached_maps
from .cached_tuning import measure_top, top_network, twin_boundary, uses_cached_trunk
from .execution import Execution
from .feature_cache import uncached_tiles
from .models import native_input_size
from .probe import FrozenFeatures, probe_grid
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
    measurement: timing.Measurement | None = None
    images: int = 0
    estimate_s: float | None = None
    parts: dict = field(default_factory=dict)   # seconds by part of its work

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
class ArmFacts:
    """What an arm's plan needs from this machine (`_measure_arm`), kept per machine as JSON.
    A plan kept with other fields is measured again: the version follows the fields."""
    weights: str
    trainable: int
    measurement: timing.Measurement
    network: str = ""                  # its key (`timing.network_key`): its state's size
    input_size: int | None = None      # a probe's: its weights' native size
    width: int | None = None           # the features of a probe or a probe-initialised head
    feature_cache: str | None = None   # ... and their cache's name
    forward_only: bool = False         # over its cap on its forward passes alone
    trunk_img_s: float | None = None   # a cached top's: its trunk's forward rate (at most)
    map_cache: str | None = None       # ... and its maps' cache's name

    @classmethod
    def from_json(cls, facts: dict) -> "ArmFacts":
        m = facts["measurement"]
        return cls(**{**facts, "measurement": timing.Measurement(
            Execution(**m["execution"]), m["train_img_s"], m["eval_img_s"], m["rates"])})

    @staticmethod
    def version() -> str:
        return ";".join(f"{t.__name__}.{f.name}:{f.type}" for t in (
            ArmFacts, timing.Measurement, Execution) for f in fields(t))


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
    parts = [ArmFacts.version(), recipe.model_dump_json(), cfg.probe.model_dump_json(),
             cfg.evaluation.model_dump_json(), cfg.split.model_dump_json(), str(tiles),
             str(tileset.tiles.shape), weights, cfg.cnn.skip_unavailable,
             cfg.cnn.max_minutes_per_arm]
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]
    return f"{cache.machine()}|{arm.name}|{digest}"


def _measure_arm(arm: Arm, recipe: Recipe, model, tileset: TileSet, cfg: StudyConfig,
                 measure, at_least=None) -> dict:
    """Time the arm's network here: the facts its plan needs besides its weights (`_facts`).

    `at_least(forward_img_s)`: the least seconds a training arm can take, given its forward
    rate (a training step costs at least its forward pass). Where that already exceeds the arm's
    cap, only the forward pass is timed: fine-tuning VGG19 or SE-ResNeXt101 on this CPU is
    over any cap by a factor of five or more, and timing its training steps in every execution
    costs a minute or more each."""
    if arm.kind == "probe":
        features = FrozenFeatures(arm.architecture, cfg.weights_for(arm.architecture))
        size, ex = features.resolved_input_size(), features.execution()
        # timed as features are extracted: at the weights' native size, in their execution
        m = measure(model, recipe.model_copy(update={
            "batch_size": cfg.probe.batch_size, "input_size": size, "precision": ex.precision,
            "memory_format": ex.memory_format}), train=False, device=ex.device)
        return dict(measurement=m, input_size=size, width=features.width(),
                    feature_cache=features.cache_name(tileset.tiles.shape[1]))
    facts: dict = {}
    if uses_cached_trunk(arm, recipe):   # the trunk runs once; the top trains on its maps
        transform = input_transform(arm, recipe, model, tileset.tiles[:64])
        facts.update(measure_top(arm, recipe, model, tileset.tiles.shape[1], transform, measure))
    elif at_least is not None and cfg.cnn.max_minutes_per_arm is not None:
        forward = timing.forward_rate(model, recipe, measure)
        if at_least(forward.eval_img_s) > cfg.cnn.max_minutes_per_arm * 60:
            facts.update(measurement=forward, forward_only=True)
    if "measurement" not in facts:
        facts["measurement"] = measure(model, recipe)
    if recipe.head_init == "probe":
        head = FrozenFeatures(arm.architecture, cfg.weights_for(arm.architecture),
                              pooling=recipe.pooling, input_size=recipe.input_size)
        facts.update(feature_cache=head.cache_name(tileset.tiles.shape[1]), width=head.width())
    return facts


def _facts(arm: Arm, recipe: Recipe, tileset: TileSet, cfg: StudyConfig, measure, at_least,
           cache: RateCache) -> tuple[ArmFacts, object]:
    """The arm's plan facts, read from `cache` where this machine already planned it, else its
    network built and timed here; and a function that builds the network (once) for the units
    of work not yet timed."""
    from functools import cache as once

    built = once(lambda: network(arm, cfg, recipe, len(tileset.classes), cfg.split.seed,
                                 "texture" if arm.kind == "probe" else None))
    key = _memo_key(arm, recipe, tileset, cfg, cache)
    kept = cache.facts(key) if key else None
    if kept:
        return ArmFacts.from_json(kept), lambda: built()[0]
    loaded = cache.loaded_used
    model, weights, trainable = built()
    facts = ArmFacts(weights, trainable, network=timing.network_key(model),
                      **_measure_arm(arm, recipe, model, tileset, cfg, measure, at_least))
    if key:
        cache.keep_facts(key, asdict(facts), loaded=cache.loaded_used != loaded)
    return facts, lambda: model


def _work(arm: Arm, recipe: Recipe, facts: ArmFacts, runs: list[tuple], uncached: int,
          tileset: TileSet, cfg: StudyConfig, model) -> tuple[dict[str, float], list]:
    """The arm's passes at its measured rates and the units of the rest of its work."""
    m, sample = facts.measurement, np.array(tileset.tiles[:64])
    if arm.kind == "probe":
        k, cv = cfg.evaluation.kfold, cfg.probe.cv_folds
        grid = len(ParameterGrid(probe_grid(cfg)))   # the settings its searches try
        return ({"feature passes": uncached / m.eval_img_s},
                [costs.input_unit(sample, facts.input_size, False, uncached),
                 *costs.probe_units(len(tileset.tiles), k, grid, cv, facts.width, sample)])
    if facts.map_cache:
        grid = len(recipe.learning_rates)
        shared = _maps_shared(arm, cfg)
        unmapped = uncached_maps(cache_dir(cfg) / "features", facts.map_cache, tileset.tiles,
                                 facts.feature_cache if shared else None)
        passes = costs.top_passes(recipe, runs, grid, m.train_img_s, m.eval_img_s,
                                  facts.trunk_img_s, unmapped + uncached)
        units = [costs.state_unit(facts.network + "|cached top",
                                  lambda: top_network(arm, recipe, model()),
                                  grid * recipe.epochs * len(runs), cache_dir(cfg) / "training")]
    else:
        passes = costs.passes(recipe, runs, m.train_img_s, m.eval_img_s, uncached)
        units = costs.network_units(recipe, runs, sample, facts.network, model,
                                    cache_dir(cfg) / "training", extra_eval=uncached)
    if recipe.head_init == "probe":   # each run searches its head's grid (pooling fixed)
        grid = len(ParameterGrid(probe_grid(cfg, [recipe.pooling])))
        units += [u for tr, _, _ in runs
                  for u in costs.search_units(len(tr), grid, cfg.probe.cv_folds, facts.width, sample)]
    return passes, units


def _maps_shared(arm: Arm, cfg: StudyConfig) -> bool:   # its probe keeps its maps
    return not arm.variant and arm.sibling("probe") in cfg.cnn.arms and twin_boundary(
        Arm.parse(arm.sibling("probe")), cfg) is not None


def plan_arm(arm: Arm, tileset: TileSet, cfg: StudyConfig, measure=timing.measure,
             cache: RateCache | None = None) -> ArmPlan:
    """The arm's network built and timed here (or its plan's facts read from `cache`, where
    this machine already planned it), and its wall time estimated."""
    cache = cache if cache is not None else RateCache(None)
    recipe = arm_recipe(arm, cfg)
    plan = ArmPlan(arm, recipe)
    runs = trainings(arm, tileset, cfg)
    one = recipe.model_copy(update={"seeds": 1})
    at_least = lambda rate: costs.forward_floor(one, runs, rate)  # noqa: E731
    try:
        facts, model = _facts(arm, recipe, tileset, cfg, measure, at_least, cache)
    except WeightsUnavailable as exc:
        if not cfg.cnn.skip_unavailable:
            raise
        plan.status, plan.weights = ArmStatus.NOT_RUN_WEIGHTS, str(exc)
        return plan
    plan.weights, plan.trainable_params = facts.weights, facts.trainable
    plan.measurement = m = facts.measurement
    uncached = (uncached_tiles(str(cache_dir(cfg) / "features"), facts.feature_cache,
                               tileset.tiles) if facts.feature_cache else 0)
    if arm.kind == "TL" and arm.sibling("probe") in cfg.cnn.arms and \
            recipe.input_size == native_input_size(arm.spec):
        uncached = 0   # its head's features are its probe's, embedded when the probe runs first
    if arm.kind == "probe":
        plan.recipe = recipe.model_copy(update={"input_size": facts.input_size})
    plan.images = (uncached if arm.kind == "probe" else sum(len(tr) for tr, _, _ in runs)
                   * recipe.epochs * len(recipe.learning_rates))
    if facts.forward_only:
        plan.estimate_s = at_least(m.eval_img_s)
        plan.status, plan.note = ArmStatus.NOT_RUN_OVER_CAP, (
            f"estimated at least {plan.estimate_s / 60:.1f} min on this machine (its forward "
            f"passes alone, at {m.eval_img_s:.1f} img/s), over the profile's cap "
            f"of {cfg.cnn.max_minutes_per_arm:g} min")
        return plan
    passes, units = _work(arm, one, facts, runs, uncached, tileset, cfg, model)
    if cfg.evaluation.read_whole:   # every k-fold test micrograph read whole, its new windows
        windows = window_count(tileset.micrographs, tileset.tiles.shape[1],   # beyond the tiles
                               cfg.evaluation.map_stride_fraction)
        passes.update(costs.reading_passes(arm.kind, one, windows, max(0, windows - len(
            tileset.tiles)), m.eval_img_s, facts.map_cache and not _maps_shared(arm, cfg)
            and facts.trunk_img_s))
    plan.parts = {**passes, **unit_costs.seconds(units, cache)}
    plan.estimate_s = sum(plan.parts.values())
    over = costs.over_cap(plan.estimate_s, cfg.cnn.max_minutes_per_arm)
    if over:
        plan.status, plan.note = ArmStatus.NOT_RUN_OVER_CAP, over
    return plan


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
        measure = lambda *a, **k: timing.measure(*a, cache=cache, **k)  # noqa: E731
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
