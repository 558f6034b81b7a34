"""What each notebook of the series reads and writes: the one place the runner checks.

The runner refuses to start a notebook whose inputs the run does not hold, and fails a notebook
that finished without writing what it declares. Paths are relative to `results/<profile>/`.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    notebook: str
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()


STAGES = {s.notebook: s for s in [
    Stage("01_dataset_tiling",
          writes=("tables/tile_manifest.csv", "tables/split_table.csv", "tables/tiling_plan.csv",
                  "tables/class_overview.csv")),
    Stage("02_glcm_svm_baseline",
          writes=("tables/arms_glcm.csv", "tables/glcm_svm_cv.csv", "kfold/GLCM+SVM.csv")),
    Stage("03_cnn_baselines", writes=("tables/arms_baselines.csv",)),
    Stage("04_seresnext_transfer", writes=("tables/arms_transfer.csv",)),
    Stage("05_evaluation",
          reads=("tables/arms_glcm.csv", "tables/arms_baselines.csv", "tables/arms_transfer.csv"),
          writes=("tables/results_all_arms.csv", "tables/claims.csv", "tables/comparisons.csv",
                  "tables/leakage_ladder.csv", "figures/headline.png")),
    Stage("06_heat_treatment_table1",
          writes=("tables/table1_recomputed.csv", "tables/paper_audit.csv")),
]}
# the arms tables name every arm a run made; evaluation reads exactly those arms' predictions
ARMS_TABLES = ("tables/arms_glcm.csv", "tables/arms_baselines.csv", "tables/arms_transfer.csv")


def stage(notebook_name: str) -> Stage:
    stem = notebook_name.removesuffix(".ipynb")
    try:
        return STAGES[stem]
    except KeyError:
        raise KeyError(f"notebook {notebook_name} has no entry in spring_lib/stages.py: declare "
                       "what it reads and writes there") from None
