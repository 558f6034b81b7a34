"""REPORT.md: one run's results in one page, assembled by the runner after the last notebook
from that run's own tables, so it always carries the same run's audit and names the run."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..config import StudyConfig
from ..core.architectures import ARM_KINDS, Arm
from ..core.paper_numbers import CITATION, CLASSES as PAPER_CLASSES, PROTOCOL, STEEL
from ..core.products import PRODUCTS, ProductError, missing_for_report, product
from ..core.results_dir import ResultsDir

# the headline table's columns, as a reader sees tables/results_all_arms.csv (each interval,
# two float columns there, shown as one "[a, b]" column: `evaluation.intervals.for_people`)
HEADLINE = ["model", "kind", "macro_f1", "macro_f1_ci95", "balanced_accuracy",
            "balanced_accuracy_ci95", "macro_f1_fold_mean", "macro_f1_fold_sd", "tile_macro_f1",
            "inner_score", "micrographs", "samples", "estimate_minutes", "actual_minutes"]


def _md(df: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """A Markdown table; empty cells stay empty rather than reading `nan`."""
    return df.astype(object).where(df.notna(), "").to_markdown(index=False, floatfmt=floatfmt)


def _size(input_size) -> str:
    return "the weights' native size" if input_size == "native" else f"{input_size} px"


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
        ("split and evaluation", "not stated", f"{cfg.evaluation.kfold}-fold over every "
         f"micrograph, grouped by {cfg.split.group_by}; hyperparameters (weighting: "
         f"{', '.join(cfg.probe.weighting)}) chosen inside each training fold; micrograph "
         f"labels from the mean of {READING[cfg.evaluation.read_whole]}"),
    ]
    for kind in ("TL", "scratch"):
        if any(Arm.parse(a).kind == kind for a in cfg.cnn.arms):
            r = cfg.cnn.kind_recipe(kind, cfg.tiling.tile_size)
            rows.append((f"{kind} arms",
                         f"{P.optimizer}, lr {P.learning_rate}, batch {P.batch_size}, "
                         f"{P.epochs} epochs, {P.tile_size} px",
                         f"{P.optimizer}, lr {r.lr}, batch {r.batch_size}, {r.epochs} epochs, "
                         f"{_size(r.input_size)}, {r.schedule} rate, freeze {r.freeze}, head "
                         f"{r.head_init}, {r.seeds} seed(s), test views {r.tta}"
                         + (f", learning rate and epoch chosen inside each training among "
                            f"{', '.join(map(str, r.lr_grid))}"
                            + (" (epoch 0, the probe's head, included)"
                               if r.head_init == "probe" else "")
                            if r.lr_grid else "")))
    own = {k: v for k, v in cfg.cnn.overrides.items() if k not in ARM_KINDS}
    if own:
        rows.append(("own recipe changes", "none",
                     "; ".join(f"{k}: {', '.join(f'{a} {b}' for a, b in v.items())}"
                               for k, v in own.items())))
    if any(Arm.parse(a).kind == "probe" for a in cfg.cnn.arms):
        rows.append(("probe arms", "none", "frozen ImageNet features at the tile's own size, "
                                           "logistic regression tuned by grouped CV"))
    if cfg.fusion.members:
        rows.append(("fused arm", "none", f"the probes of {', '.join(cfg.fusion.members)} (those "
                     f"that ran; sets of at least {cfg.fusion.min_members}) joined under one "
                     f"logistic regression, C {', '.join(map(str, cfg.fusion.C))}; members"
                     + (", C" if len(cfg.fusion.C) > 1 else "") + " and weighting chosen by "
                     "grouped CV inside each fold"))
    return pd.DataFrame(rows, columns=["", "Luo et al. 2025", f"this run ({cfg.profile})"])


def budget_table(record: dict) -> pd.DataFrame:
    arms = pd.DataFrame(record.get("arms", []), columns=["arm", "status", "estimate_s", "actual_s"])
    return arms.assign(estimate_min=arms["estimate_s"] / 60, actual_min=arms["actual_s"] / 60)[
        ["arm", "status", "estimate_min", "actual_min"]]


def notebook_times(record: dict) -> pd.DataFrame:
    """Each notebook's estimate (made on this machine before it ran; a notebook with arms adds
    them when it plans them) against its actual time."""
    nbs = pd.DataFrame(record.get("notebooks", []),
                       columns=["notebook", "estimate_seconds", "seconds"])
    return pd.DataFrame({"notebook": nbs["notebook"], "estimate_min": nbs["estimate_seconds"] / 60,
                         "actual_min": nbs["seconds"] / 60,
                         "actual / estimate": nbs["seconds"] / nbs["estimate_seconds"]})


def _needed(form: str, name: str) -> str:
    """`name` if the catalogue says REPORT.md needs it, so nothing the report reads can be
    missing from a run unnoticed."""
    if not product(form, name)[0].report:
        raise ProductError(f"REPORT.md reads {form} {name!r}, which the product catalogue does "
                           "not mark report=True: mark it in spring_lib/core/products.py")
    return name


# (heading, table) of the sections after the reading, in order; an empty table is left out
SECTIONS = [
    ("What each lever added: reading micrographs whole, fusing the probes, weighting the "
     "training (measured, not chosen by)", "ablations"),
    ("The mixed classes: what the best arm called their micrographs (k-fold)",
     "mixed_class_confusions"),
    ("Paired comparisons (micrograph macro-F1, a minus b; paired sample bootstrap; Holm "
     "over the family)", "comparisons"),
    ("Inside the magnification band, where pixel size cannot tell the classes apart",
     "magnification_band"),
    ("Leakage ladder: the same classifier under the literature's protocol and this study's",
     "leakage_ladder"),
    ("F1 per class (micrograph level, k-fold)", "per_class_f1"),
    ("Arms without predictions", "arms_not_run")]


def write_report(result_dir: str | Path, cfg: StudyConfig, record: dict) -> Path:
    """REPORT.md from the run's products; a product it needs that the run lacks is an error."""
    from ..evaluation.claims import claims_markdown
    from ..evaluation.intervals import for_people

    out = ResultsDir(result_dir)
    missing = missing_for_report(out.root)
    if missing:
        raise ProductError(f"REPORT.md needs {missing}, which run {record['run_id']} did not "
                           f"make in {out.root}: run the notebooks that make them")
    tables = ("claims", "results_all_arms", "class_overview", "paper_audit") + tuple(
        name for _, name in SECTIONS)
    t = {name: out.read_table(_needed("table", name)) for name in tables}
    shown = {name: for_people(table) for name, table in t.items()}   # intervals as text
    cpu = record.get("cpu", {})
    classes = t["class_overview"]["label"].tolist()
    headline = product("figure", _needed("figure", "headline"))[0]
    lines = [f"# Spring-steel microstructure study: report ({cfg.profile})", "",
             f"Run `{record['run_id']}` of commit `{record.get('git_commit')}`, profile "
             f"`{record['profile_file']}`, on {cpu.get('model')} ({cpu.get('cores')} cores), "
             f"{record.get('wall_seconds', 0) / 60:.1f} min wall time. Assembled from this run's "
             "own tables after its last notebook; not edited by hand.", "",
             f"Reproduces: {CITATION}.", "",
             f"![{headline.caption}]({headline.path})", "",
             "## The paper's claims, tested on open data", "",
             claims_markdown(t["claims"]), "",
             "## Results of every arm", "",
             f"Every micrograph of the study's classes predicted once, by a model that never saw "
             f"its sample ({cfg.evaluation.kfold}-fold grouped by {cfg.split.group_by}); a "
             f"micrograph's label is the mean of {READING[cfg.evaluation.read_whole]}. 95 % "
             "intervals from a "
             "bootstrap over samples. `inner_score`: the arm's inner-CV or own-validation "
             "accuracy, mean over folds: the only score used to choose the best arm.", "",
             _md(shown["results_all_arms"][[c for c in HEADLINE if c in shown["results_all_arms"]]]),
             "",
             "## Reading", "", out.read_text(_needed("text", "reading")).strip(), ""]
    for heading, name in SECTIONS:
        if len(t[name]):
            lines += [f"## {heading}", "", _md(shown[name]), ""]
    a = t["paper_audit"]
    lines += ["## What the study can and cannot conclude about scale", "", SCALE_STATEMENT, "",
              "## Time: estimated on this machine before each arm and notebook ran, against "
              "actual", "",
              _md(budget_table(record)), "",
              "Notebooks (the runner's estimate before each started):", "",
              _md(notebook_times(record)), "",
              "## How this run differs from the paper", "",
              _md(protocol_differences(cfg, classes)), "",
              "## Audit of the paper's numbers (notebook 06, this run)", "",
              _md(a[a["verdict"] != "consistent"][[c for c in ("claim", "source", "verdict",
                                                                "reason") if c in a]]), ""]
    # every figure the report shows, in the catalogue's order; an optional one where it was made
    figs = [p for p in PRODUCTS if p.form == "figure" and p.report and p is not headline
            and (out.root / p.path).exists()]
    if figs:
        lines += ["## Figures", ""] + [f"![{p.caption}]({p.path})\n" for p in figs]
    path = out.path("REPORT.md")
    path.write_text("\n".join(lines))
    return path


READING = {True: "the scores of windows over its whole area, half a tile apart "
                 "(`macro_f1_capped_tiles`: from its capped tiles alone)",
           False: "its capped tiles' scores"}

SCALE_STATEMENT = (
    "UHCSDB's classes were imaged at different magnifications (network mostly near 100x, "
    "pearlite at 4910x and more), so pixel size alone separates them partly: the `pixel-size` "
    "arm, a classifier that sees nothing but log µm/px, is the floor every image arm must clear, "
    "and only the margin above it can be credited to morphology. Inside the magnification band "
    "where three or more classes overlap, pixel size cannot help, and the arms' numbers there "
    "are the cleanest test of morphology this data allows; the band holds few samples, so its "
    "intervals are wide. Resampling every micrograph to one physical scale (`tiling.um_per_px`) "
    "is not done in this run: across an 80x range it would upsample some classes far beyond "
    "their resolution. The study therefore cannot say how the arms would rank on micrographs "
    "all taken at one magnification, as the paper's were (1000x).")
