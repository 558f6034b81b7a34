"""Running one probe or network arm end to end: training (or probing), logs, checkpoints and
predictions, measured against its plan.

`core.arm_kinds.run_arm` calls `run_probe_arm` and `run_network_arm` (notebooks 03 and 04, after
`planning.plan_arms`); every arm therefore trains (or probes), logs, checkpoints and predicts the
same way, and ends as one `ArmResult`, one row of the notebook's arms table.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import StudyConfig
from ..core.arm_kinds import kfold_evaluation
from ..core.arm_result import TRAINED_OR_TRIED, ArmResult, ArmStatus
from ..core.grouped_cv import cv_table, tuned
from ..core.paths import cache_dir
from ..core.predictions import prediction_frame, save_predictions, whole_frame
from ..core.progress import Progress, arm_skipped
from ..core.results_dir import ResultsDir
from ..data.reading import whole_reading
from ..data.tileset import TileSet
from .arm_inputs import fold_indices, input_transform, network, seeds, split_indices, tile_data
from .cached_tuning import epochs_run, fine_tune, uses_cached_trunk
from .checkpoint import Checkpoint
from .models import boundary
from .planning import ArmPlan, plan_arms
from .probe import arm_probe_pipeline, fit_probe, folded_head, probe_checkpoint, probe_grid
from .training import did_not_learn, evaluate, train


def model_path(out: ResultsDir, arm: str, seed: int | None = None, primary: int | None = None):
    """models/<arm>.pt (the primary seed's), models/<arm>@seed<k>.pt (the others')."""
    return out.arm_file("model", arm, None if seed == primary else seed)


def _relative(out: ResultsDir, path: Path) -> str:
    return Path(path).relative_to(out.root).as_posix()


def _result(plan: ArmPlan, status: ArmStatus, note: str = "", outcome: dict | None = None,
            seconds: float | None = None, paths: list[str] | None = None) -> ArmResult:
    """The arm's result: its plan's settings and estimate, with what running it gave."""
    arm, recipe = plan.arm, plan.recipe
    probe, tl = arm.kind == "probe", arm.kind == "TL"
    settings = dict(input_size=recipe.input_size,
                    epochs=None if probe else recipe.epochs,
                    seeds=None if probe else recipe.seeds,
                    freeze=recipe.freeze if tl else None,
                    boundary=boundary(arm, recipe.freeze) if tl else None,
                    lr_grid=" ".join(map(str, recipe.learning_rates)) if not probe else None,
                    head_init=recipe.head_init if tl else None,
                    tta=None if probe else recipe.tta,
                    normalization="imagenet" if probe else recipe.normalization,
                    trainable_params=plan.trainable_params, **plan.measured())
    return ArmResult(arm.name, arm.kind, status, note, arm.architecture, plan.weights, settings,
                     planned=True, estimate_s=plan.estimate_s, outcome=outcome or {},
                     actual_s=seconds, paths=paths or [])


def _run_planned(arm: str, tileset: TileSet, cfg: StudyConfig, out: ResultsDir,
                 plan: ArmPlan | None, body) -> ArmResult:
    """`body(plan, ...)` where the plan says the arm runs; otherwise its not-run result. Without
    a plan, the arm is planned alone here (nothing of the run's budget counted as spent)."""
    plan = plan if plan is not None else plan_arms([arm], tileset, cfg)[0]
    if plan.arm.name != arm:
        raise ValueError(f"the plan given for {arm} is {plan.arm.name}'s")
    if plan.status is not ArmStatus.PLANNED:
        arm_skipped(arm, plan.describe(), plan.estimate_s)
        return _result(plan, plan.status, plan.note)
    return body(plan, tileset, cfg, out)


def run_probe_arm(arm: str, tileset: TileSet, cfg: StudyConfig, out: ResultsDir,
                  plan: ArmPlan | None = None) -> ArmResult:
    """A probe arm (registered in `core.arm_kinds`): tuned on the split's training
    micrographs, then evaluated by the run's k-fold; or why its plan does not run it."""
    return _run_planned(arm, tileset, cfg, out, plan, _probe)


def run_network_arm(arm: str, tileset: TileSet, cfg: StudyConfig, out: ResultsDir,
                    plan: ArmPlan | None = None) -> ArmResult:
    """A TL or scratch arm (registered in `core.arm_kinds`): trained on the held-out split,
    then once per fold of the run's k-fold; or why its plan does not run it."""
    return _run_planned(arm, tileset, cfg, out, plan, _network_arm)


def _probe(plan: ArmPlan, tileset: TileSet, cfg: StudyConfig, out: ResultsDir) -> ArmResult:
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
    paths = [save_predictions(prediction_frame(te_m, tileset.classes, proba.argmax(1), proba,
                                               arm.name, "probability"), out.root)]
    paths.append(probe_checkpoint(search, arm, tileset, cfg).save(model_path(out, arm.name)))
    fit = tuned(arm_probe_pipeline(arm, cfg, memory_format), probe_grid(cfg), cfg.probe.cv_folds,
                cfg.split.seed, "probe.cv_folds")
    chosen, kfold = kfold_evaluation(fit, tileset.tiles, tileset, cfg, out, arm.name,
                                     whole_reading(cfg, tileset))
    seconds = time.perf_counter() - t0
    progress.done(status=ArmStatus.PROBED.value)
    best = search.best_params_
    return _result(plan, ArmStatus.PROBED, outcome={
        "pooling": best["features__pooling"], "C": best["clf__C"],
        "weighting": best["clf__weighting"],
        "cv_accuracy": float(search.best_score_),
        "inner_score": float(chosen["inner_accuracy"].mean()),
        "test_tile_acc": float((proba.argmax(1) == tileset.labels(te_m)).mean())},
        seconds=seconds, paths=[_relative(out, p) for p in paths] + [kfold]).finished()


def _train_run(plan: ArmPlan, tileset: TileSet, cfg: StudyConfig, index, seed: int,
               state_name: str, progress_share: int, windows: np.ndarray | None = None):
    """One training of the arm's network on the tiles `index` = (train, val, test): the head
    from a probe fitted on these training tiles alone where the recipe says so. Returns the
    result, the test predictions' probabilities, the input transform, whether it did not
    learn, and the probabilities of `windows` (the test micrographs read whole) if given."""
    arm, recipe = plan.arm, plan.recipe
    tr, va, te = index
    (tr_x, tr_y), (va_x, va_y), (te_x, te_m) = tile_data(tileset, tr, va, te)
    model, weights, _ = network(arm, cfg, recipe, len(tileset.classes), seed)
    if recipe.head_init == "probe":
        W, b = folded_head(fit_probe(arm, tileset, cfg, tr, [recipe.pooling],
                                     input_size=recipe.input_size).best_estimator_)
        model.head.weight.data.copy_(W)
        model.head.bias.data.copy_(b)
    transform = input_transform(arm, recipe, model, tr_x)
    progress = Progress(arm.name, seed, plan.estimate_s / progress_share)
    state_dir, init = cache_dir(cfg) / "training" / state_name, f"{weights}|{recipe.head_init}"
    if uses_cached_trunk(arm, recipe):
        res, proba, whole = fine_tune(model, arm, recipe, tileset.tiles,
                                      tileset.labels(tileset.manifest), index, transform,
                                      plan.measurement.execution, cache_dir(cfg) / "features",
                                      state_dir, seed, init, progress, windows)
        test_acc = float((proba.argmax(1) == tileset.labels(te_m)).mean())
    else:
        res = train(model, (tr_x, tr_y), (va_x, va_y), recipe, transform, seed,
                    plan.measurement.execution, state_dir, init=init, progress=progress)
        _, test_acc, proba = evaluate(res.model, te_x, tileset.labels(te_m), transform,
                                      res.execution, recipe.tta)
        whole = None if windows is None else evaluate(res.model, windows, None, transform,
                                                      res.execution)[2]   # one view each
    progress.done(status=ArmStatus.TRAINED.value, best_val_acc=res.best_val_acc, test_tile_acc=test_acc)
    return res, proba, te_m, weights, transform, did_not_learn(res.history, va_y), whole


def _checkpoint(plan: ArmPlan, tileset: TileSet, cfg: StudyConfig, res, transform, weights,
                seed: int) -> Checkpoint:
    """What `predict` needs of one trained seed: the network and how its tiles were made."""
    return Checkpoint(plan.arm.name, tileset.classes, cfg.tiling.tile_size, cfg.tiling.um_per_px,
                      cfg.data.databar, plan.recipe.pooling, transform.to_dict(), weights,
                      res.model.state_dict(), seed, res.best_epoch, res.best_val_acc, cfg.profile)


def _split_seeds(plan: ArmPlan, tileset: TileSet, cfg: StudyConfig, split, run_seeds: list[int],
                 runs: int, logs: list):
    """Every seed trained on the held-out split, its log appended to `logs`; stops at the first
    that did not learn. Returns the results, what each seed will save (predictions, whether it
    is the primary seed, the seed, its checkpoint) and (the failed result, why) or None."""
    arm, results, pending = plan.arm, [], []
    for seed in run_seeds:
        res, proba, te_m, weights, transform, failed, _ = _train_run(
            plan, tileset, cfg, split, seed, f"{arm.name}-seed{seed}", runs)
        logs.append(res.history.assign(arm=arm.name, seed=seed, fold="split"))
        if failed:
            return results, pending, (res, failed)
        preds = prediction_frame(te_m, tileset.classes, proba.argmax(1), proba, arm.name,
                                 "probability").assign(seed=seed)
        pending.append((preds, seed == run_seeds[0], seed,
                        _checkpoint(plan, tileset, cfg, res, transform, weights, seed)))
        results.append(res)
    return results, pending, None


def _kfold_runs(plan: ArmPlan, tileset: TileSet, cfg: StudyConfig, folds, runs: int,
                logs: list):
    """One training per fold of the run's k-fold, its log appended to `logs`: the folds'
    predictions (its test micrographs read whole too, where the profile says so) and one row
    per fold (tiles, best epoch, inner accuracy, did not learn)."""
    arm, kfold, fold_rows = plan.arm, [], []
    reading = whole_reading(cfg, tileset)
    for fold in range(cfg.evaluation.kfold):
        index = fold_indices(tileset, folds, fold, plan.recipe, cfg)
        windows, rows = reading.windows(tileset.manifest["micrograph_id"][folds == fold].unique()) \
            if reading else (None, None)
        res, proba, te_m, _, _, failed, whole = _train_run(
            plan, tileset, cfg, index, cfg.split.seed, f"{arm.name}-fold{fold}", runs, windows)
        logs.append(res.history.assign(arm=arm.name, seed=cfg.split.seed, fold=str(fold)))
        fold_rows.append({"fold": fold, "train_tiles": len(index[0]), "val_tiles": len(index[1]),
                          "test_tiles": len(index[2]), "best_epoch": res.best_epoch,
                          "epochs_run": epochs_run(res.history),
                          "inner_accuracy": res.best_val_acc,
                          "lr": float(res.history["lr_chosen"].iloc[0])
                          if "lr_chosen" in res.history else plan.recipe.lr,
                          "did_not_learn": failed or ""})
        kfold.append(prediction_frame(te_m, tileset.classes, proba.argmax(1), proba, arm.name,
                                      "probability").assign(fold=fold, reading="tiles"))
        if whole is not None:
            kfold.append(whole_frame(rows, tileset.classes, whole, arm.name,
                                     "probability").assign(fold=fold))
    return kfold, fold_rows


def _network_arm(plan: ArmPlan, tileset: TileSet, cfg: StudyConfig,
                 out: ResultsDir) -> ArmResult:
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
    logs = []
    results, pending, failed = _split_seeds(plan, tileset, cfg, split, run_seeds, runs, logs)
    if failed:
        (res, why), seconds = failed, time.perf_counter() - t0
        out.table(pd.concat(logs, ignore_index=True), f"training_log_{arm.name}")
        return _result(
            plan, ArmStatus.DID_NOT_LEARN, f"within {seconds / 60:.1f} min: {why}",
            {"best_epoch": res.best_epoch, "epochs_run": epochs_run(res.history)},
            seconds).finished()
    kfold, fold_rows = _kfold_runs(plan, tileset, cfg, folds, runs, logs)
    seconds = time.perf_counter() - t0
    out.table(pd.concat(logs, ignore_index=True), f"training_log_{arm.name}")
    out.table(pd.DataFrame(fold_rows).assign(model=arm.name), f"kfold_selection_{arm.name}")
    failed_folds = [r["fold"] for r in fold_rows if r["did_not_learn"]]
    if failed_folds:
        return _result(
            plan, ArmStatus.DID_NOT_LEARN, f"within {seconds / 60:.1f} min, folds {failed_folds}: "
            f"{fold_rows[failed_folds[0]]['did_not_learn']}", seconds=seconds).finished()
    paths = []
    for preds, primary, seed, ck in pending:
        paths.append(save_predictions(preds, out.root, seed=None if primary else seed))
        paths.append(ck.save(model_path(out, arm.name, seed, run_seeds[0])))
    paths.append(save_predictions(pd.concat(kfold, ignore_index=True), out.root, "kfold"))
    return _trained(plan, results[0], run_seeds, len(split[0]), fold_rows, seconds,
                    [_relative(out, p) for p in paths])


def _trained(plan: ArmPlan, res, run_seeds: list[int], train_tiles: int, fold_rows: list[dict],
             seconds: float, paths: list[str]) -> ArmResult:
    """A trained arm's result: the primary seed's training and the folds' inner score."""
    resumed = res.resumed_from is not None
    inner = [r["inner_accuracy"] for r in fold_rows]
    return _result(
        plan, ArmStatus.TRAINED, f"resumed after epoch {res.resumed_from}" if resumed else "",
        {"seed_values": " ".join(map(str, run_seeds)), "train_tiles": train_tiles,
         "best_epoch": res.best_epoch, "epochs_run": epochs_run(res.history),
         "best_val_acc": res.best_val_acc,
         "inner_score": float(np.mean(inner)),
         "fold_best_epochs": " ".join(str(r["best_epoch"]) for r in fold_rows),
         "fold_lrs": " ".join(f"{r['lr']:g}" for r in fold_rows)},
        seconds, paths).finished()


def training_logs(out: ResultsDir, arms: pd.DataFrame) -> pd.DataFrame:
    """Every trained arm's per-epoch log (all seeds), read back from this run's tables."""
    trained = arms.loc[arms["status"].isin(TRAINED_OR_TRIED), "arm"]
    if trained.empty:
        return pd.DataFrame(columns=["arm", "seed", "epoch", "val_acc", "val_loss", "train_acc"])
    return pd.concat([out.read_table(f"training_log_{a}") for a in trained], ignore_index=True)
