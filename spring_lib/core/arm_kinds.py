"""Every kind of arm the study runs, and one `run_arm` for all of them.

GLCM+SVM and the pixel-size floor (notebook 02), frozen-feature probes, fine-tuned (TL) and
from-scratch networks (notebooks 03-04) and the fused probes (notebook 04) are declared here; the packages that implement them
(`glcm/`, `nets/`) register their runners when imported (`register_runner`), and whatever runs
arms loads those packages first (`spring_lib.study`, the notebooks' setup). That keeps this
layer torch-free and below the stage packages, which are peers that do not import each other:
nothing here imports them, by name or by string. Every runner returns an `ArmResult`, so the
three notebooks write their arms tables the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd

from .architectures import Arm
from .arm_result import EMPTY_ARMS_COLUMNS, ArmResult
from .predictions import save_predictions
from .results_dir import ResultsDir


@dataclass(frozen=True)
class ArmKind:
    """A `planned` kind is timed and budgeted before it runs (`nets.planning`); its runner
    takes (arm, tileset, cfg, out, plan), an unplanned kind's runner (tileset, cfg, out)."""
    name: str
    planned: bool


KINDS = {k.name: k for k in [
    ArmKind("GLCM+SVM", planned=False),
    ArmKind("pixel-size", planned=False),
    ArmKind("probe", planned=True),
    ArmKind("TL", planned=True),
    ArmKind("scratch", planned=True),
    ArmKind("fused", planned=False),
]}
SINGLE_ARM_KINDS = ("GLCM+SVM", "pixel-size", "fused")   # a kind with one arm, named like it
_RUNNERS: dict[str, Callable[..., ArmResult]] = {}


def kind_of(arm: str) -> ArmKind:
    """The kind of an arm name: a classical arm is its own kind; a network arm is
    `<architecture>-<kind>` (an unknown name is an error naming it)."""
    if arm in SINGLE_ARM_KINDS:
        return KINDS[arm]
    try:
        return KINDS[Arm.parse(arm).kind]
    except ValueError as exc:
        raise ValueError(f"{exc}, or one of {list(SINGLE_ARM_KINDS)}") from None


def register_runner(kind: str, run: Callable[..., ArmResult]) -> None:
    """Called by the package that implements `kind` when it is imported."""
    if kind not in KINDS:
        raise ValueError(f"no arm kind {kind!r}: one of {list(KINDS)}")
    _RUNNERS[kind] = run


def runner(kind: ArmKind) -> Callable[..., ArmResult]:
    """The registered runner; none where the package implementing the kind was never loaded."""
    try:
        return _RUNNERS[kind.name]
    except KeyError:
        raise LookupError(f"no runner registered for {kind.name} arms: import spring_lib.study "
                          "(or the package that implements them) before running an arm") from None


def run_arm(arm: str, tileset, cfg, out: ResultsDir, plan=None) -> ArmResult:
    """Run one arm of any kind; it measures its own time and writes its own predictions.
    `plan`: a probe's or network's plan from `nets.planning.plan_arms` (planned alone here
    when None); classical arms are not planned."""
    kind = kind_of(arm)
    if kind.planned:
        return runner(kind)(arm, tileset, cfg, out, plan)
    if plan is not None:
        raise ValueError(f"{arm} is not planned ({kind.name} arms are not timed beforehand); "
                         "run it without a plan")
    return runner(kind)(tileset, cfg, out)


def kfold_evaluation(fit: Callable, X, tileset, cfg, out: ResultsDir, arm: str, reading=None,
                     inputs: Callable | None = None) -> tuple[pd.DataFrame, str]:
    """A scikit-learn arm evaluated by the run's k-fold, `fit` tuning it inside each training
    fold: its predictions as kfold/<arm>.csv, what each fold chose as kfold_selection_<arm>.
    `reading`, `inputs`: each test micrograph read whole too (`grouped_cv.kfold_predictions`).
    Returns that choice and the predictions' path in the results folder."""
    # scikit-learn loads here, not with this module: `nets/` registers its runners through it,
    # and `predict` needs none of it
    from .grouped_cv import kfold_predictions

    preds, chosen = kfold_predictions(fit, X, tileset.manifest,
                                      tileset.folds(cfg.evaluation.kfold, cfg.split.seed),
                                      tileset.classes, arm, reading, inputs)
    path = save_predictions(preds, out.root, "kfold")
    out.table(chosen, f"kfold_selection_{arm}")
    return chosen, path.relative_to(out.root).as_posix()


def arms_table(results: list[ArmResult], out: ResultsDir, table_name: str) -> pd.DataFrame:
    """The arms' rows, in order, written as the notebook's arms table."""
    rows = [r.row() for r in results]
    return out.table(pd.DataFrame(rows, columns=None if rows else EMPTY_ARMS_COLUMNS), table_name)


def run_arms(arms: list[str], tileset, cfg, out: ResultsDir, table_name: str,
             plans: list | None = None) -> pd.DataFrame:
    """Run arms in order, saying how each ended, and write their rows as the arms table.
    `plans`: the planned arms' plans (`nets.planning.plan_arms`), matched by arm name."""
    by_name = {p.arm.name: p for p in plans or []}
    results = []
    for i, arm in enumerate(arms, 1):
        plan = by_name.get(arm)
        print(f"[{i}/{len(arms)}] {arm}" + (f": {plan.describe()}" if plan else ""), flush=True)
        result = run_arm(arm, tileset, cfg, out, plan)
        if result.actual_s is not None:
            inner = result.outcome.get("inner_score")
            print(f"    {result.describe()}" + (f": inner score {inner:.3f}" if inner else "")
                  + f" in {result.actual_s / 60:.1f} min"
                  + (f" (estimated {result.estimate_s / 60:.1f})" if result.estimate_s else ""),
                  flush=True)
        results.append(result)
    return arms_table(results, out, table_name)
