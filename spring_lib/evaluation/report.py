"""REPORT.md: one run's results in one page, assembled by the runner after the last notebook
from that run's own tables, so it always carries the same run's audit and names the run."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..config import StudyConfig
from ..nets.registry import ARM_KINDS, Arm
from ..paper.numbers import CITATION, CLASSES as PAPER_CLASSES, PROTOCOL, STEEL
from ..results import ResultsDir

# (caption, figure name) in the order the report shows them, where the run made them
FIGURES = [("Confusion matrices (row-normalised)", "confusion_matrices"),
           ("Validation accuracy of every trained network", "training_curves_all"),
           ("Phase maps of mixed-class test micrographs", "phase_maps"),
           ("Grad-CAM of the best network arm", "gradcam"),
           ("Example tiles", "example_tiles"),
           ("GLCM features per class", "glcm_feature_distributions"),
           ("Table 1 of the paper, recomputed", "table1_processes")]


# the headline table's columns (every column is in tables/results_all_arms.csv)
HEADLINE = ["model", "kind", "macro_f1", "macro_f1_ci95", "tile_accuracy", "tile_accuracy_ci95",
            "micrograph_accuracy_mean", "seeds", "macro_f1_seed_mean", "macro_f1_seed_sd",
            "estimate_minutes", "actual_minutes"]


def _md(df: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """A Markdown table; empty cells stay empty rather than reading `nan`."""
    return df.astype(object).where(df.notna(), "").to_markdown(index=False, floatfmt=floatfmt)


def protocol_differences(cfg: StudyConfig, classes: list[str]) -> pd.DataFrame:
    """The paper's protocol beside this run's, per arm kind."""
    P = PROTOCOL
    rows = [
        ("data", STEEL, "UHCSDB ultrahigh-carbon steel (open)" if cfg.data.layout == "uhcsdb"
         else "a folder of labelled micrographs"),
        ("classes", ", ".join(PAPER_CLASSES), ", ".join(classes)),
        ("tiles", f"{P.tile_size} px from {P.source_image[0]} x {P.source_image[1]} at "
                  f"{P.magnification}x", f"{cfg.tiling.tile_size} px from micrographs at "
                                          "their recorded magnifications"),
        ("train / test tiles per class", f"{P.train_tiles_per_class} / {P.test_tiles_per_class}",
         f"{cfg.split.train_tiles_per_class} / {cfg.split.test_tiles_per_class}"),
        ("split", "not stated", f"grouped by {cfg.split.group_by}"),
    ]
    for kind in ("TL", "scratch"):
        if any(Arm.parse(a).kind == kind for a in cfg.cnn.arms):
            r = cfg.cnn.kind_recipe(kind, cfg.tiling.tile_size)
            rows.append((f"{kind} arms",
                         f"{P.optimizer}, lr {P.learning_rate}, batch {P.batch_size}, "
                         f"{P.epochs} epochs, {P.tile_size} px",
                         f"{P.optimizer}, lr {r.lr}, batch {r.batch_size}, {r.epochs} epochs, "
                         f"{r.input_size} px, {r.schedule} rate, freeze {r.freeze}, head "
                         f"{r.head_init}, {r.seeds} seed(s), test views {r.tta}"))
    own = {k: v for k, v in cfg.cnn.overrides.items() if k not in ARM_KINDS}
    if own:
        rows.append(("own recipe changes", "none",
                     "; ".join(f"{k}: {', '.join(f'{a} {b}' for a, b in v.items())}"
                               for k, v in own.items())))
    if any(Arm.parse(a).kind == "probe" for a in cfg.cnn.arms):
        rows.append(("probe arms", "none", "frozen ImageNet features at the tile's own size, "
                                           "logistic regression tuned by grouped CV"))
    return pd.DataFrame(rows, columns=["", "Luo et al. 2025", f"this run ({cfg.profile})"])


def budget_table(record: dict) -> pd.DataFrame:
    arms = pd.DataFrame(record.get("arms", []), columns=["arm", "status", "estimate_s", "actual_s"])
    return arms.assign(estimate_min=arms["estimate_s"] / 60, actual_min=arms["actual_s"] / 60)[
        ["arm", "status", "estimate_min", "actual_min"]]


def write_report(result_dir: str | Path, cfg: StudyConfig, record: dict) -> Path:
    out = ResultsDir(result_dir)
    t = {name: out.read_table(name) for name in (
        "results_all_arms", "kfold_all_micrographs", "finetune_vs_probe", "transfer_gain",
        "arms_not_run", "mcnemar_best_arm", "leakage_contrast", "per_class_recall",
        "per_class_f1", "paper_audit", "class_overview") if out.has_table(name)}
    cpu = record.get("cpu", {})
    classes = t["class_overview"]["label"].tolist() if "class_overview" in t else []
    lines = [f"# Spring-steel microstructure study: report ({cfg.profile})", "",
             f"Run `{record['run_id']}` of commit `{record.get('git_commit')}`, profile "
             f"`{record['profile_file']}`, on {cpu.get('model')} ({cpu.get('cores')} cores), "
             f"{record.get('wall_seconds', 0) / 60:.1f} min wall time. Assembled from this run's "
             "own tables after its last notebook; not edited by hand.", "",
             f"Reproduces: {CITATION}.", "",
             "## Results of every arm", "",
             "Test micrographs of the grouped split; 95 % intervals from a bootstrap over "
             "micrographs; seed columns: mean and standard deviation over training seeds.", ""]
    if "results_all_arms" in t:
        lines += [_md(t["results_all_arms"][[c for c in HEADLINE if c in t["results_all_arms"]]]), ""]
    reading = out.path("tables/reading.md")
    if reading.exists():
        lines += ["## Reading", "", reading.read_text().strip(), ""]
    sections = [
        ("Every micrograph tested once: grouped k-fold over all micrographs", "kfold_all_micrographs"),
        ("Fine-tuning against the frozen probe of the same weights (validation split)",
         "finetune_vs_probe"),
        ("What pretrained weights add (minus the scratch twin, paired micrograph bootstrap)",
         "transfer_gain"),
        ("Arms not run", "arms_not_run"),
        ("McNemar: best arm against every other arm", "mcnemar_best_arm"),
        ("Leakage contrast", "leakage_contrast"),
        ("Recall per class", "per_class_recall"), ("F1 per class", "per_class_f1")]
    for heading, name in sections:
        if name in t and len(t[name]):
            lines += [f"## {heading}", "", _md(t[name]), ""]
    lines += ["## Time: estimated on this machine before each arm ran, against actual", "",
              _md(budget_table(record)), "",
              "## How this run differs from the paper", "", _md(protocol_differences(cfg, classes)), ""]
    if "paper_audit" in t:
        a = t["paper_audit"]
        lines += ["## Audit of the paper's numbers (notebook 06, this run)", "",
                  _md(a[a["verdict"] != "consistent"][["claim", "source", "verdict", "reason"]]), ""]
    figs = [(cap, f"figures/{name}.png") for cap, name in FIGURES
            if out.path(f"figures/{name}.png").exists()]
    if figs:
        lines += ["## Figures", ""] + [f"![{cap}]({rel})\n" for cap, rel in figs]
    path = out.path("REPORT.md")
    path.write_text("\n".join(lines))
    return path
