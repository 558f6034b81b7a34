"""Running one arm end to end: weights, budget, training (or probing), logs and predictions.

Notebooks 03 and 04 call `plan_arms`, then `run_planned`; every arm therefore measures its
budget, trains (or probes), logs, checkpoints and predicts the same way, and lands as one row of
the notebook's arms table.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..config import Recipe, StudyConfig
from ..data.tileset import TileSet, cache_dir
from ..data.tiling import spread_sample
from ..grouped_cv import cv_table, grouped_search, kfold_predictions, tuning_pool
from ..predictions import prediction_frame, save_predictions
from ..progress import Progress, arm_finished, emit
from ..results import ResultsDir
from . import budget
from .checkpoint import Checkpoint
from .models import WeightsUnavailable, build_model, freeze, input_statistics
from .probe import FrozenFeatures, folded_head, probe_pipeline
from .registry import Arm
from .training import InputTransform, evaluate, train

NOT_RUN_WEIGHTS = "not run: weights unavailable"
ARMS_COLUMNS = ["arm", "architecture", "kind", "status", "weights", "seeds"]   # of an empty table


def training_data(tileset: TileSet, recipe: Recipe, seed: int, split_column: str = "split"):
    """(train tiles, labels), (val tiles, labels), (test tiles, manifest) for the networks;
    training tiles capped per class by the recipe, spread over micrographs."""
    tr_x, tr_m = tileset.split("train", split_column)
    cap = recipe.max_train_tiles_per_class
    if cap:
        keep = np.concatenate([
            np.flatnonzero(tr_m["label"] == c)[spread_sample(
                tr_m.loc[tr_m["label"] == c, "micrograph_id"].to_numpy(), cap,
                np.random.default_rng(seed))] for c in tileset.classes])
        keep.sort()
        tr_x, tr_m = tr_x[keep], tr_m.iloc[keep].reset_index(drop=True)
    va_x, va_m = tileset.split("val", split_column)
    te_x, te_m = tileset.split("test", split_column)
    return (tr_x, tileset.labels(tr_m)), (va_x, tileset.labels(va_m)), (te_x, te_m)


def seeds(cfg: StudyConfig, recipe: Recipe) -> list[int]:
    return [cfg.split.seed + i for i in range(recipe.seeds)]


def model_path(out: ResultsDir, arm: str, seed: int, primary: int):
    return out.path(f"models/{arm}.pt" if seed == primary else f"models/{arm}@seed{seed}.pt")


# ---------------------------------------------------------------- probes

def fit_probe(arm: Arm, tileset: TileSet, cfg: StudyConfig, poolings: list[str] | None = None,
              memory_format: str = "channels_last", splits: tuple[str, ...] = ("train", "val")):
    """The probe pipeline tuned by grouped CV on the training micrographs (train + val: the
    CV replaces the validation split, as for GLCM+SVM; ("train",) keeps validation unseen)."""
    X, y, groups, _ = tuning_pool(tileset, splits)
    pipe = probe_pipeline(arm, cfg.weights_for(arm.architecture), str(cache_dir(cfg) / "features"),
                          cfg.probe.batch_size, cfg.split.seed, memory_format)
    grid = {"features__pooling": poolings or cfg.probe.pooling, "clf__C": cfg.probe.C}
    return grouped_search(pipe, grid, X, y, groups, cfg.probe.cv_folds, cfg.split.seed,
                          "probe.cv_folds")


def probe_checkpoint(search, arm: Arm, tileset: TileSet, cfg: StudyConfig) -> Checkpoint:
    """The fitted probe as a network: the frozen backbone with the linear classifier folded
    into its head, so predict, Grad-CAM and phase maps use it like any trained arm."""
    best = search.best_estimator_
    feats: FrozenFeatures = best.named_steps["features"]
    model, desc = build_model(arm, len(tileset.classes), cfg.weights_for(arm.architecture),
                              feats.pooling)
    W, b = folded_head(best)
    model.head.weight.data.copy_(W)
    model.head.bias.data.copy_(b)
    return Checkpoint(arm.name, tileset.classes, cfg.tiling.tile_size, cfg.tiling.um_per_px,
                      cfg.data.databar, feats.pooling,
                      feats.input_transform(cfg.tiling.tile_size).to_dict(), desc,
                      model.state_dict(), cfg.split.seed, profile=cfg.profile)


def run_probe(plan, tileset: TileSet, cfg: StudyConfig, out: ResultsDir) -> dict:
    arm = plan.arm
    t0 = time.perf_counter()
    progress = Progress(arm.name, cfg.split.seed, plan.estimate_s)
    memory_format = plan.measurement.execution.memory_format
    search = fit_probe(arm, tileset, cfg, memory_format=memory_format)
    out.table(cv_table(search), f"probe_cv_{arm.name}")
    te_x, te_m = tileset.split("test")
    proba = search.predict_proba(te_x)
    save_predictions(prediction_frame(te_m, tileset.classes, proba.argmax(1), proba, arm.name,
                                      "probability"), out.root)
    probe_checkpoint(search, arm, tileset, cfg).save(out.path(f"models/{arm.name}.pt"))
    kfold = kfold_predictions(search.best_estimator_, tileset.tiles, tileset.manifest,
                              tileset.classes, arm.name, cfg.evaluation.kfold, cfg.split.seed)
    save_predictions(kfold, out.root, "kfold")
    seconds = time.perf_counter() - t0
    progress.done(status="probed")
    arm_finished(arm.name, seconds, "probed")
    best = search.best_params_
    return {"status": "probed", "pooling": best["features__pooling"], "C": best["clf__C"],
            "cv_accuracy": float(search.best_score_),
            "val_acc": probe_val_accuracy(arm, tileset, cfg, memory_format)
            if arm.sibling("TL") in cfg.cnn.arms else None,
            "test_tile_acc": float((proba.argmax(1) == tileset.labels(te_m)).mean()),
            "actual_minutes": seconds / 60}


def probe_val_accuracy(arm: Arm, tileset: TileSet, cfg: StudyConfig,
                       memory_format: str) -> float:
    """The probe tuned and fitted on the training micrographs alone, scored on the validation
    split: the number a fine-tuned twin, whose head starts from the same fit, must beat."""
    va_x, va_m = tileset.split("val")
    if not len(va_x):
        return float("nan")
    search = fit_probe(arm, tileset, cfg, memory_format=memory_format, splits=("train",))
    return float((search.predict(va_x) == tileset.labels(va_m)).mean())


# ---------------------------------------------------------------- budgets

@dataclass
class ArmPlan:
    """An arm as measured on this machine before it runs: its recipe, the execution chosen,
    the measured rate and the estimated time, or why it will not run."""
    arm: Arm
    recipe: Recipe
    status: str = "planned"
    weights: str = ""
    trainable_params: int | None = None
    measurement: budget.Measurement | None = None
    images: int = 0
    estimate_s: float | None = None

    def row(self) -> dict:
        m = self.measurement
        return dict(arm=self.arm.name, kind=self.arm.kind, status=self.status,
                    input_size=self.recipe.input_size, images=self.images,
                    execution=m.describe() if m else None,
                    measured_img_per_s=round(m.train_img_s or m.eval_img_s, 1) if m else None,
                    measured_rates=str(m.rates) if m else None,
                    estimate_minutes=(None if self.estimate_s is None
                                      else self.estimate_s / 60))


def _network(arm: Arm, cfg: StudyConfig, recipe: Recipe, n_classes: int, seed: int,
             pooling: str | None = None):
    torch.manual_seed(seed)
    model, weights = build_model(arm, n_classes, cfg.weights_for(arm.architecture),
                                 pooling or recipe.pooling)
    trainable = freeze(model, arm, recipe.freeze if arm.kind == "TL" else "full")
    if arm.kind == "probe":
        trainable = 0
    return model, weights, trainable


def plan_arm(arm: Arm, tileset: TileSet, cfg: StudyConfig, measure=budget.measure) -> ArmPlan:
    """Build the arm's network once, time it here, and estimate its wall time."""
    recipe = cfg.recipe(arm)
    plan = ArmPlan(arm, recipe)
    try:
        model, plan.weights, plan.trainable_params = _network(
            arm, cfg, recipe, len(tileset.classes), cfg.split.seed,
            "texture" if arm.kind == "probe" else None)
    except WeightsUnavailable as exc:
        if not cfg.cnn.skip_unavailable:
            raise
        plan.status, plan.weights = NOT_RUN_WEIGHTS, str(exc)
        return plan
    if arm.kind == "probe":
        features = FrozenFeatures(arm.architecture, cfg.weights_for(arm.architecture),
                                  cache_dir=str(cache_dir(cfg) / "features"))
        plan.images = features.uncached(tileset.tiles)
        # timed as features are extracted: at the tile's own size, in the features' precision
        ex = features.execution()
        plan.measurement = measure(model, recipe.model_copy(update={
            "batch_size": cfg.probe.batch_size, "input_size": cfg.tiling.tile_size,
            "precision": ex.precision}), train=False, device=ex.device)
        plan.estimate_s = plan.images / plan.measurement.eval_img_s
    else:
        (tr_x, _), (va_x, _), (te_x, _) = training_data(tileset, recipe, cfg.split.seed)
        plan.images = len(tr_x) * recipe.epochs * recipe.seeds
        plan.measurement = measure(model, recipe)
        n_probe = 0
        if recipe.head_init == "probe":
            n_probe = FrozenFeatures(arm.architecture, cfg.weights_for(arm.architecture),
                                     cache_dir=str(cache_dir(cfg) / "features")).uncached(tileset.tiles)
        plan.estimate_s = budget.training_seconds(recipe, plan.measurement, len(tr_x), len(va_x),
                                                  len(te_x), n_probe)
    skip = budget.over_cap(plan.estimate_s, cfg.cnn.max_minutes_per_arm)
    if skip:
        plan.status = skip
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
    skip = budget.over_budget({p.arm.name: p.estimate_s for p in plans if p.status == "planned"},
                              cfg.cnn.max_minutes_total, spent_s)
    for p in plans:
        p.status = skip.get(p.arm.name, p.status)
    emit("plan", arms=[dict(arm=p.arm.name, status=p.status, estimate_s=p.estimate_s)
                       for p in plans])
    return plans


def with_paper_weights(cfg: StudyConfig, folder: str) -> StudyConfig:
    """The profile with `cnn.weights.<architecture>` set to `folder` for every paper
    architecture: the plan of a machine that has every pretrained arm."""
    from pathlib import Path

    from .registry import ARCHITECTURES

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
    from ..machine import cpu_model
    from ..data.tileset import build_tileset

    cfg = load_config(profile)
    if with_weights:
        cfg = with_paper_weights(cfg, with_weights)
    tileset = build_tileset(cfg)
    table = pd.DataFrame([p.row() for p in plan_arms(cfg.cnn.arms, tileset, cfg)])
    total = table.loc[table["status"] == "planned", "estimate_minutes"].sum()
    print(f"profile {cfg.profile} on {cpu_model()} ({platform.machine()}, "
          f"{torch.get_num_threads()} threads):")
    print(table.drop(columns=["measured_rates"]).to_string(index=False))
    print(f"estimated total for the network and probe arms that will run: {total:.1f} min"
          + (f" (the run's budget: {cfg.cnn.max_minutes_total:g} min)"
             if cfg.cnn.max_minutes_total else ""))
    return table


# ---------------------------------------------------------------- trained networks

def _input_transform(arm: Arm, recipe: Recipe, model, train_tiles) -> InputTransform:
    stats = input_statistics(arm.spec, model.backbone.net) if recipe.normalization == "imagenet" else None
    return InputTransform.fit(recipe.normalization, train_tiles, recipe.input_size, stats)


def run_network(plan: ArmPlan, tileset: TileSet, cfg: StudyConfig, out: ResultsDir) -> dict:
    arm, recipe, m = plan.arm, plan.recipe, plan.measurement
    run_seeds = seeds(cfg, recipe)
    (tr_x, tr_y), (va_x, va_y), (te_x, te_m) = training_data(tileset, recipe, cfg.split.seed)
    print(f"    {len(tr_x)} training tiles x {recipe.epochs} epochs x {len(run_seeds)} seed(s) at "
          f"{recipe.input_size} px; {m.train_img_s:.1f} img/s ({m.describe()}) -> estimated "
          f"{plan.estimate_s / 60:.1f} min", flush=True)
    t0 = time.perf_counter()
    head = None
    if recipe.head_init == "probe":
        # fitted on the training micrographs alone: validation picks the best epoch
        head = folded_head(fit_probe(arm, tileset, cfg, [recipe.pooling],
                                     splits=("train",)).best_estimator_)
    logs, results = [], []
    for seed in run_seeds:
        model, weights, _ = _network(arm, cfg, recipe, len(tileset.classes), seed)
        if head is not None:
            model.head.weight.data.copy_(head[0])
            model.head.bias.data.copy_(head[1])
        transform = _input_transform(arm, recipe, model, tr_x)
        progress = Progress(arm.name, seed, plan.estimate_s / len(run_seeds))
        state = cache_dir(cfg) / "training" / f"{arm.name}-seed{seed}"
        res = train(model, (tr_x, tr_y), (va_x, va_y), recipe, transform, seed, m.execution,
                    state, init=f"{weights}|{recipe.head_init}", progress=progress)
        _, test_acc, proba = evaluate(res.model, te_x, tileset.labels(te_m), transform,
                                      res.execution, recipe.tta)
        preds = prediction_frame(te_m, tileset.classes, proba.argmax(1), proba, arm.name,
                                 "probability").assign(seed=seed)
        primary = seed == run_seeds[0]
        save_predictions(preds, out.root, "predictions" if primary else "seeds",
                         suffix="" if primary else f"@seed{seed}")
        Checkpoint(arm.name, tileset.classes, cfg.tiling.tile_size, cfg.tiling.um_per_px,
                   cfg.data.databar, recipe.pooling, transform.to_dict(), weights,
                   res.model.state_dict(), seed, res.best_epoch, res.best_val_acc,
                   cfg.profile).save(model_path(out, arm.name, seed, run_seeds[0]))
        progress.done(status="trained", best_val_acc=res.best_val_acc, test_tile_acc=test_acc)
        logs.append(res.history.assign(arm=arm.name, seed=seed))
        results.append((res, test_acc))
    seconds = time.perf_counter() - t0
    out.table(pd.concat(logs, ignore_index=True), f"training_log_{arm.name}")
    res, test_acc = results[0]
    val = [r.best_val_acc for r, _ in results]
    resumed = res.resumed_from is not None
    status = "trained" + (f" (resumed after epoch {res.resumed_from})" if resumed else "")
    arm_finished(arm.name, seconds, status)
    return {"status": status,
            "seed_values": " ".join(map(str, run_seeds)), "train_tiles": len(tr_x),
            "best_epoch": res.best_epoch,
            "best_val_acc": res.best_val_acc,
            "val_acc_seed_mean": float(np.mean(val)),
            "val_acc_seed_sd": float(np.std(val, ddof=1)) if len(val) > 1 else None,
            "test_tile_acc": test_acc, "actual_minutes": seconds / 60}


def run_arm(plan: ArmPlan, tileset: TileSet, cfg: StudyConfig, out: ResultsDir) -> dict:
    """Train or probe one planned arm (or record why it did not run); returns its row."""
    arm, recipe = plan.arm, plan.recipe
    row = dict(arm=arm.name, architecture=arm.architecture, kind=arm.kind, status=plan.status,
               weights=plan.weights,
               input_size=cfg.tiling.tile_size if arm.kind == "probe" else recipe.input_size,
               epochs=None if arm.kind == "probe" else recipe.epochs,
               seeds=None if arm.kind == "probe" else recipe.seeds,
               freeze=recipe.freeze if arm.kind == "TL" else None,
               head_init=recipe.head_init if arm.kind == "TL" else None,
               tta=None if arm.kind == "probe" else recipe.tta,
               normalization="imagenet" if arm.kind == "probe" else recipe.normalization,
               trainable_params=plan.trainable_params,
               **{k: v for k, v in plan.row().items()
                  if k in ("execution", "measured_img_per_s", "estimate_minutes")})
    if plan.status != "planned":
        emit("arm_skip", arm=arm.name, status=plan.status, estimate_s=plan.estimate_s)
        return row
    runner = run_probe if arm.kind == "probe" else run_network
    return {**row, **runner(plan, tileset, cfg, out)}


def recipe_table(cfg: StudyConfig, names: list[str]) -> pd.DataFrame:
    """Each arm's recipe as the profile resolves it (base, then kind, architecture and arm)."""
    rows = []
    for name in names:
        arm, r = Arm.parse(name), cfg.recipe(name)
        rows.append({"arm": name, **({"input_size": cfg.tiling.tile_size, "pooling": "tuned by CV",
                                      "classifier": "logistic regression"} if arm.kind == "probe"
                                     else r.model_dump(exclude={"precision", "memory_format"}))})
    return pd.DataFrame(rows)


def training_logs(out: ResultsDir, arms: pd.DataFrame) -> pd.DataFrame:
    """Every trained arm's per-epoch log (all seeds), read back from this run's tables."""
    trained = arms.loc[arms["status"].str.startswith("trained"), "arm"]
    if trained.empty:
        return pd.DataFrame(columns=["arm", "seed", "epoch", "val_acc", "val_loss", "train_acc"])
    return pd.concat([out.read_table(f"training_log_{a}") for a in trained], ignore_index=True)


def plan_table(plans: list[ArmPlan]) -> pd.DataFrame:
    return pd.DataFrame([p.row() for p in plans])


def run_planned(plans: list[ArmPlan], tileset: TileSet, cfg: StudyConfig, out: ResultsDir,
                table_name: str) -> pd.DataFrame:
    """Run planned arms in order; one row per arm, written as the notebook's arms table."""
    rows = []
    for i, plan in enumerate(plans, 1):
        print(f"[{i}/{len(plans)}] {plan.arm.name}: {plan.status}", flush=True)
        row = run_arm(plan, tileset, cfg, out)
        if "test_tile_acc" in row:
            est = row.get("estimate_minutes")
            print(f"    {row['status']}: test tile accuracy {row['test_tile_acc']:.3f} in "
                  f"{row['actual_minutes']:.1f} min" + (f" (estimated {est:.1f})" if est else ""),
                  flush=True)
        rows.append(row)
    return out.table(pd.DataFrame(rows, columns=None if rows else ARMS_COLUMNS), table_name)
