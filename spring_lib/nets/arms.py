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
from ..core.paths import cache_dir
from ..data.tileset import TileSet
from ..data.tiling import spread_sample
from ..core.grouped_cv import cv_table, grouped_search, kfold_predictions, tuned
from ..core.predictions import prediction_frame, save_predictions
from ..core.progress import Progress, arm_finished, emit
from ..core.results_dir import ResultsDir
from . import budget
from .checkpoint import Checkpoint
from .models import WeightsUnavailable, build_model, freeze, input_statistics
from .probe import FrozenFeatures, folded_head, probe_pipeline
from ..core.architectures import Arm
from .training import InputTransform, did_not_learn, evaluate, train

NOT_RUN_WEIGHTS = "not run: weights unavailable"
ARMS_COLUMNS = ["arm", "architecture", "kind", "status", "weights", "seeds"]   # of an empty table


def capped(manifest: pd.DataFrame, index: np.ndarray, cap: int | None, classes: list[str],
           seed: int) -> np.ndarray:
    """`index` limited to `cap` tiles per class, spread over micrographs (None: all of it)."""
    if not cap:
        return index
    m = manifest.iloc[index]
    keep = [index[np.flatnonzero(m["label"].to_numpy() == c)[spread_sample(
        m.loc[m["label"] == c, "micrograph_id"].to_numpy(), cap, np.random.default_rng(seed))]]
        for c in classes]
    return np.sort(np.concatenate(keep))


def split_indices(tileset: TileSet, recipe: Recipe, seed: int, split_column: str = "split"):
    """(train, val, test) tile indices of the held-out split for a network, training tiles
    capped per class by the recipe."""
    col = tileset.manifest[split_column].to_numpy()
    train = capped(tileset.manifest, np.flatnonzero(col == "train"),
                   recipe.max_train_tiles_per_class, tileset.classes, seed)
    return train, np.flatnonzero(col == "val"), np.flatnonzero(col == "test")


def fold_indices(tileset: TileSet, folds: np.ndarray, fold: int, recipe: Recipe,
                 cfg: StudyConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) tile indices of one k-fold fold for a network: the fold's tiles are
    the test; its own validation groups (samples) are held out of the other folds' micrographs,
    for the best epoch and early stopping. Training tiles capped by the recipe, validation
    tiles by split.val_tiles_per_class."""
    from ..data.splits import hold_out_groups

    m = tileset.manifest
    pool, test = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
    held = hold_out_groups(m["label"].astype(str).to_numpy()[pool], m["group"].to_numpy()[pool],
                           cfg.split.val_fraction or 0.15, cfg.split.seed + 1 + fold,
                           "val_fraction")
    seed = cfg.split.seed + fold
    train = capped(m, pool[~held], recipe.max_train_tiles_per_class, tileset.classes, seed)
    val = capped(m, pool[held], cfg.split.val_tiles_per_class, tileset.classes, seed)
    return train, val, test


def training_data(tileset: TileSet, recipe: Recipe, seed: int, split_column: str = "split"):
    """(train tiles, labels), (val tiles, labels), (test tiles, manifest) of the held-out split."""
    tr, va, te = split_indices(tileset, recipe, seed, split_column)
    return _data(tileset, tr, va, te)


def _data(tileset: TileSet, tr, va, te):
    m = tileset.manifest
    return ((tileset.tiles[tr], tileset.labels(m.iloc[tr])),
            (tileset.tiles[va], tileset.labels(m.iloc[va])),
            (tileset.tiles[te], m.iloc[te].reset_index(drop=True)))


def seeds(cfg: StudyConfig, recipe: Recipe) -> list[int]:
    return [cfg.split.seed + i for i in range(recipe.seeds)]


def model_path(out: ResultsDir, arm: str, seed: int | None = None, primary: int | None = None):
    """models/<arm>.pt (the primary seed's), models/<arm>@seed<k>.pt (the others')."""
    return out.arm_file("model", arm, None if seed == primary else seed)


# ---------------------------------------------------------------- probes

def _probe_pipeline(arm: Arm, cfg: StudyConfig, memory_format: str = "channels_last",
                    input_size: int | None = None):
    return probe_pipeline(arm, cfg.weights_for(arm.architecture), str(cache_dir(cfg) / "features"),
                          cfg.probe.batch_size, cfg.split.seed, memory_format, input_size)


def _probe_grid(cfg: StudyConfig, poolings: list[str] | None = None) -> dict:
    return {"features__pooling": poolings or cfg.probe.pooling, "clf__C": cfg.probe.C}


def fit_probe(arm: Arm, tileset: TileSet, cfg: StudyConfig, index: np.ndarray,
              poolings: list[str] | None = None, memory_format: str = "channels_last",
              input_size: int | None = None):
    """The probe pipeline tuned by grouped CV on the tiles `index` (samples kept whole)."""
    m = tileset.manifest.iloc[index]
    return grouped_search(_probe_pipeline(arm, cfg, memory_format, input_size),
                          _probe_grid(cfg, poolings), tileset.tiles[index], tileset.labels(m),
                          m["group"].to_numpy(), cfg.probe.cv_folds, cfg.split.seed,
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
                      cfg.data.databar, feats.pooling, feats.input_transform().to_dict(), desc,
                      model.state_dict(), cfg.split.seed, profile=cfg.profile)


def run_probe(plan, tileset: TileSet, cfg: StudyConfig, out: ResultsDir) -> dict:
    """Tuned on the split's training micrographs (the checkpoint, its test predictions and the
    CV table notebook 04 shows), then evaluated by the run's k-fold, tuned inside each fold."""
    arm = plan.arm
    t0 = time.perf_counter()
    progress = Progress(arm.name, cfg.split.seed, plan.estimate_s)
    memory_format = plan.measurement.execution.memory_format
    col = tileset.manifest["split"].to_numpy()
    search = fit_probe(arm, tileset, cfg, np.flatnonzero(np.isin(col, ["train", "val"])),
                       memory_format=memory_format)
    out.table(cv_table(search), f"probe_cv_{arm.name}")
    te_x, te_m = tileset.split("test")
    proba = search.predict_proba(te_x)
    save_predictions(prediction_frame(te_m, tileset.classes, proba.argmax(1), proba, arm.name,
                                      "probability"), out.root)
    probe_checkpoint(search, arm, tileset, cfg).save(model_path(out, arm.name))
    fit = tuned(_probe_pipeline(arm, cfg, memory_format), _probe_grid(cfg), cfg.probe.cv_folds,
                cfg.split.seed, "probe.cv_folds")
    kfold, chosen = kfold_predictions(fit, tileset.tiles, tileset.manifest,
                                      tileset.folds(cfg.evaluation.kfold, cfg.split.seed),
                                      tileset.classes, arm.name)
    save_predictions(kfold, out.root, "kfold")
    out.table(chosen, f"kfold_selection_{arm.name}")
    seconds = time.perf_counter() - t0
    progress.done(status="probed")
    arm_finished(arm.name, seconds, "probed")
    best = search.best_params_
    return {"status": "probed", "pooling": best["features__pooling"], "C": best["clf__C"],
            "cv_accuracy": float(search.best_score_),
            "inner_score": float(chosen["inner_accuracy"].mean()),
            "test_tile_acc": float((proba.argmax(1) == tileset.labels(te_m)).mean()),
            "actual_minutes": seconds / 60}


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


def _train_run(plan: ArmPlan, tileset: TileSet, cfg: StudyConfig, index, seed: int,
               state_name: str, progress_share: int):
    """One training of the arm's network on the tiles `index` = (train, val, test): the head
    from a probe fitted on these training tiles alone where the recipe says so. Returns the
    result, the test predictions' probabilities and the input transform."""
    arm, recipe = plan.arm, plan.recipe
    tr, va, te = index
    (tr_x, tr_y), (va_x, va_y), (te_x, te_m) = _data(tileset, tr, va, te)
    model, weights, _ = _network(arm, cfg, recipe, len(tileset.classes), seed)
    if recipe.head_init == "probe":
        W, b = folded_head(fit_probe(arm, tileset, cfg, tr, [recipe.pooling],
                                     input_size=recipe.input_size).best_estimator_)
        model.head.weight.data.copy_(W)
        model.head.bias.data.copy_(b)
    transform = _input_transform(arm, recipe, model, tr_x)
    progress = Progress(arm.name, seed, plan.estimate_s / progress_share)
    res = train(model, (tr_x, tr_y), (va_x, va_y), recipe, transform, seed,
                plan.measurement.execution, cache_dir(cfg) / "training" / state_name,
                init=f"{weights}|{recipe.head_init}", progress=progress)
    _, test_acc, proba = evaluate(res.model, te_x, tileset.labels(te_m), transform,
                                  res.execution, recipe.tta)
    progress.done(status="trained", best_val_acc=res.best_val_acc, test_tile_acc=test_acc)
    return res, proba, te_m, weights, transform, did_not_learn(res.history, va_y)


def run_network(plan: ArmPlan, tileset: TileSet, cfg: StudyConfig, out: ResultsDir) -> dict:
    """The held-out split first (training curves, the checkpoint, pictures), every seed the
    recipe asks for; a network that did not learn there stops with that status and leaves no
    predictions. Then the run's k-fold, one training per fold on that fold's training samples
    (validation samples of its own for the best epoch and early stopping): the headline."""
    arm, recipe, m = plan.arm, plan.recipe, plan.measurement
    run_seeds = seeds(cfg, recipe)
    k = cfg.evaluation.kfold
    folds = tileset.folds(k, cfg.split.seed)
    runs = len(run_seeds) + k
    print(f"    {len(run_seeds)} seed(s) on the held-out split and {k} folds, <= {recipe.epochs} "
          f"epochs at {recipe.input_size} px; {m.train_img_s:.1f} img/s ({m.describe()}) -> "
          f"estimated {plan.estimate_s / 60:.1f} min", flush=True)
    t0 = time.perf_counter()
    split = split_indices(tileset, recipe, cfg.split.seed)
    logs, results, pending = [], [], []
    for seed in run_seeds:
        res, proba, te_m, weights, transform, failed = _train_run(
            plan, tileset, cfg, split, seed, f"{arm.name}-seed{seed}", runs)
        logs.append(res.history.assign(arm=arm.name, seed=seed, fold="split"))
        if failed:
            minutes = (time.perf_counter() - t0) / 60
            out.table(pd.concat(logs, ignore_index=True), f"training_log_{arm.name}")
            status = f"did not learn within {minutes:.1f} min ({failed})"
            arm_finished(arm.name, minutes * 60, status)
            return {"status": status, "best_epoch": res.best_epoch,
                    "epochs_run": len(res.history), "actual_minutes": minutes}
        primary = seed == run_seeds[0]
        preds = prediction_frame(te_m, tileset.classes, proba.argmax(1), proba, arm.name,
                                 "probability").assign(seed=seed)
        pending.append((preds, primary, seed, Checkpoint(
            arm.name, tileset.classes, cfg.tiling.tile_size, cfg.tiling.um_per_px,
            cfg.data.databar, recipe.pooling, transform.to_dict(), weights,
            res.model.state_dict(), seed, res.best_epoch, res.best_val_acc, cfg.profile)))
        results.append(res)
    kfold, fold_rows = [], []
    for fold in range(k):
        index = fold_indices(tileset, folds, fold, recipe, cfg)
        res, proba, te_m, _, _, failed = _train_run(
            plan, tileset, cfg, index, cfg.split.seed, f"{arm.name}-fold{fold}", runs)
        logs.append(res.history.assign(arm=arm.name, seed=cfg.split.seed, fold=str(fold)))
        fold_rows.append({"fold": fold, "train_tiles": len(index[0]), "val_tiles": len(index[1]),
                          "test_tiles": len(index[2]), "best_epoch": res.best_epoch,
                          "epochs_run": len(res.history), "inner_accuracy": res.best_val_acc,
                          "did_not_learn": failed or ""})
        kfold.append(prediction_frame(te_m, tileset.classes, proba.argmax(1), proba, arm.name,
                                      "probability").assign(fold=fold))
    seconds = time.perf_counter() - t0
    out.table(pd.concat(logs, ignore_index=True), f"training_log_{arm.name}")
    out.table(pd.DataFrame(fold_rows).assign(model=arm.name), f"kfold_selection_{arm.name}")
    failed_folds = [r["fold"] for r in fold_rows if r["did_not_learn"]]
    if failed_folds:
        status = (f"did not learn within {seconds / 60:.1f} min (folds {failed_folds}: "
                  f"{fold_rows[failed_folds[0]]['did_not_learn']})")
        arm_finished(arm.name, seconds, status)
        return {"status": status, "actual_minutes": seconds / 60}
    for preds, primary, seed, ck in pending:
        save_predictions(preds, out.root, seed=None if primary else seed)
        ck.save(model_path(out, arm.name, seed, run_seeds[0]))
    save_predictions(pd.concat(kfold, ignore_index=True), out.root, "kfold")
    res = results[0]
    resumed = res.resumed_from is not None
    status = "trained" + (f" (resumed after epoch {res.resumed_from})" if resumed else "")
    arm_finished(arm.name, seconds, status)
    inner = [r["inner_accuracy"] for r in fold_rows]
    return {"status": status,
            "seed_values": " ".join(map(str, run_seeds)), "train_tiles": len(split[0]),
            "best_epoch": res.best_epoch, "epochs_run": len(res.history),
            "best_val_acc": res.best_val_acc,
            "inner_score": float(np.mean(inner)),
            "fold_best_epochs": " ".join(str(r["best_epoch"]) for r in fold_rows),
            "actual_minutes": seconds / 60}


def run_arm(plan: ArmPlan, tileset: TileSet, cfg: StudyConfig, out: ResultsDir) -> dict:
    """Train or probe one planned arm (or record why it did not run); returns its row."""
    arm, recipe = plan.arm, plan.recipe
    row = dict(arm=arm.name, architecture=arm.architecture, kind=arm.kind, status=plan.status,
               weights=plan.weights,
               input_size=recipe.input_size,
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
        rows.append({"arm": name, **({"input_size": "native", "pooling": "tuned by CV",
                                      "classifier": "logistic regression"} if arm.kind == "probe"
                                     else r.model_dump(exclude={"precision", "memory_format"}))})
    return pd.DataFrame(rows)


def training_logs(out: ResultsDir, arms: pd.DataFrame) -> pd.DataFrame:
    """Every trained arm's per-epoch log (all seeds), read back from this run's tables."""
    trained = arms.loc[arms["status"].str.startswith(("trained", "did not learn")), "arm"]
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
        if "actual_minutes" in row:
            est = row.get("estimate_minutes")
            inner = row.get("inner_score")
            print(f"    {row['status']}" + (f": inner score {inner:.3f}" if inner else "")
                  + f" in {row['actual_minutes']:.1f} min"
                  + (f" (estimated {est:.1f})" if est else ""), flush=True)
        rows.append(row)
    return out.table(pd.DataFrame(rows, columns=None if rows else ARMS_COLUMNS), table_name)
