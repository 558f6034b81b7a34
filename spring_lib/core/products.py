"""The product catalogue: every file a run leaves in `results/<profile>/`, in one place.

Each product has a form (table, figure, ...), the name a writer passes (`{placeholders}` stand for an arm, a seed, a
protocol), the path it lands at, the notebook steps that make it, and whether REPORT.md needs
it. `ResultsDir` writes only what is listed here; the runner checks each step against it; the
report refuses a run that lacks a product it needs. A notebook is a *step* of the series (a
network's layer group is its *stage*).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

HOME = "spring_lib/core/products.py"

# the steps of the series, in order (notebooks/<step>.ipynb)
TILING, GLCM, BASELINES, TRANSFER, EVALUATION, HEAT = (
    "01_dataset_tiling", "02_glcm_svm_baseline", "03_cnn_baselines", "04_seresnext_transfer",
    "05_evaluation", "06_heat_treatment_table1")
ARM_STEPS = (GLCM, BASELINES, TRANSFER)   # the steps that run arms
NETS = (BASELINES, TRANSFER)              # ... and the two that run networks
RUNNER = ()                               # made by the runner around the notebooks

TRAINED = "only when a network arm was trained"


class ProductError(ValueError):
    """A name the catalogue does not hold, or a product a run should have made and did not."""


@dataclass(frozen=True)
class Product:
    form: str                 # table, figure, text (Markdown), arm (models, predictions), run
    name: str                 # what a writer passes; {placeholders} allowed
    path: str                 # relative to results/<profile>/, the same placeholders
    steps: tuple[str, ...]    # the notebooks that make it; () for the runner's own files
    report: bool = False      # REPORT.md reads it
    optional: str = ""        # when a run may lack it (empty: every run makes it)
    caption: str = ""         # a figure REPORT.md shows, under this caption
    markdown: bool = True     # a table: a Markdown copy beside the CSV, for readers

    @property
    def files(self) -> tuple[str, ...]:
        if self.form == "table" and self.markdown:
            return self.path, self.path.removesuffix(".csv") + ".md"
        return (self.path,)

    @property
    def pattern(self) -> bool:
        return "{" in self.path


def _table(name: str, *steps: str, **kw) -> Product:
    return Product("table", name, f"tables/{name}.csv", steps, **kw)


def _figure(name: str, *steps: str, **kw) -> Product:
    return Product("figure", name, f"figures/{name}.png", steps, **kw)


PRODUCTS: tuple[Product, ...] = (
    # ---- tables (CSV, and Markdown unless said otherwise)
    _table("class_overview", TILING, report=True),
    _table("split_table", TILING),
    _table("tiling_plan", TILING),
    _table("tile_manifest", TILING, markdown=False),   # one row per tile: for machines
    _table("normalisation", TILING),
    _table("glcm_svm_cv", GLCM),
    _table("arms_glcm", GLCM),
    _table("arms_baselines", BASELINES),
    _table("arms_transfer", TRANSFER),
    _table("arms_fused", TRANSFER),
    _table("kfold_selection_{arm}", *ARM_STEPS),       # what each fold's inner search chose
    _table("probe_cv_{arm}", *NETS),
    _table("training_log_{arm}", *NETS),
    _table("arms_not_run", EVALUATION, report=True),
    _table("results_all_arms", EVALUATION, report=True),
    _table("per_class_recall", EVALUATION),
    _table("per_class_f1", EVALUATION, report=True),
    _table("per_class_precision", EVALUATION),
    _table("comparisons", EVALUATION, report=True),
    _table("ablations", EVALUATION, report=True),          # what whole reading, fusion, weighting added
    _table("mixed_class_confusions", EVALUATION, report=True),
    _table("magnification_band", EVALUATION, report=True),
    _table("leakage_ladder", EVALUATION, report=True),
    _table("claims", EVALUATION, report=True),
    _table("table1_recomputed", HEAT),
    _table("table1_differences", HEAT),
    _table("paper_audit", HEAT, report=True),
    _table("paper_audit_summary", HEAT),
    # ---- Markdown text
    Product("text", "reading", "tables/reading.md", (EVALUATION,), report=True),
    # ---- figures: first those REPORT.md shows, in its order
    _figure("headline", EVALUATION, report=True,
            caption="Every arm: micrograph macro-F1 under sample-grouped k-fold, with the "
                    "pixel-size floor"),
    _figure("leakage_ladder", EVALUATION, report=True, caption="Leakage ladder"),
    _figure("um_per_px_by_class", EVALUATION, report=True,
            caption="µm/px of every micrograph, per class"),
    _figure("confusion_matrices", EVALUATION, report=True,
            caption="Confusion matrices, micrograph level, k-fold (row-normalised)"),
    _figure("tl_vs_scratch_curves", TRANSFER, report=True,
            optional="only when a fine-tuned arm and its scratch twin were trained",
            caption="Transfer versus scratch: validation accuracy against training minutes "
                    "of each scratch arm and its pretrained twin, every fold"),
    _figure("mixed_class_errors", EVALUATION, report=True, optional="only when the best arm "
            "called a mixed-class micrograph something else", caption="Mixed-class micrographs "
            "the best arm called something else (k-fold), at their own scale"),
    _figure("training_curves_all", EVALUATION, report=True, optional=TRAINED,
            caption="Validation accuracy of every trained network"),
    _figure("phase_maps", EVALUATION, report=True,
            optional="only when a network arm was evaluated and a test micrograph of a mixed "
                     "class exists", caption="Phase maps of mixed-class test micrographs"),
    _figure("gradcam", EVALUATION, report=True, optional="only when a network arm was evaluated",
            caption="Grad-CAM of the best network arm"),
    _figure("example_tiles", TILING, report=True, caption="Example tiles"),
    _figure("glcm_feature_distributions", GLCM, report=True, caption="GLCM features per class"),
    _figure("table1_processes", HEAT, report=True, caption="Table 1 of the paper, recomputed"),
    _figure("tiles_per_split", TILING),
    _figure("tile_grid_example", TILING),
    _figure("glcm_cooccurrence_examples", GLCM),
    _figure("curves_baselines", BASELINES, optional=TRAINED),
    # ---- an arm's files: `arm_file` spells their paths
    Product("arm", "model", "models/{arm}.pt", NETS),                    # the primary seed's
    Product("arm", "model@seed", "models/{arm}@seed{seed}.pt", NETS),    # further seeds'
    Product("arm", "predictions", "predictions/{arm}.csv", NETS),        # the held-out split
    Product("arm", "predictions@seed", "seeds/{arm}@seed{seed}.csv", NETS),
    Product("arm", "kfold", "kfold/{arm}.csv", ARM_STEPS),               # the headline numbers
    Product("arm", "ladder", "ladder/{arm}@{protocol}.csv", (EVALUATION,)),
    # ---- the runner's own files around the notebooks
    Product("run", "run.json", "run.json", RUNNER),
    Product("run", "config.json", "config.json", RUNNER),            # the profile, as validated once
    Product("run", "REPORT.md", "REPORT.md", RUNNER),
    Product("run", "notebook", "notebooks/{step}.ipynb", RUNNER),
    Product("run", "progress", "logs/progress-{run_id}.jsonl", RUNNER),
    Product("run", "site", "site/{subpath}", RUNNER),
)
# the arms tables name every arm a run made; evaluation reads exactly those arms' predictions
ARMS_TABLES = ("arms_glcm", "arms_baselines", "arms_transfer", "arms_fused")


# ---------------------------------------------------------------- finding a product

@lru_cache(maxsize=None)
def _regex(template: str) -> re.Pattern:
    """A template as a pattern: `{subpath}` spans folders, every other placeholder one name."""
    parts = re.split(r"\{(\w+)\}", template)   # literal, placeholder, literal, ...
    return re.compile("".join(re.escape(p) if i % 2 == 0 else
                              f"(?P<{p}>{'.+' if p == 'subpath' else '[^/]+'})"
                              for i, p in enumerate(parts)))


def product(form: str, name: str) -> tuple[Product, dict[str, str]]:
    """The catalogue's entry for a concrete `name` of `form`, and its placeholders' values."""
    for p in PRODUCTS:
        if p.form == form:
            m = _regex(p.name).fullmatch(name)
            if m:
                return p, m.groupdict()
    raise ProductError(f"{form} {name!r} is not in the product catalogue: add it to {HOME} "
                       "(PRODUCTS), with the notebook step that makes it")


def product_path(form: str, name: str) -> str:
    """Where the product `name` of `form` lands, relative to results/<profile>/."""
    p, values = product(form, name)
    return p.path.format(**values)


def arm_file(what: str, arm: str, seed: int | None = None, protocol: str | None = None) -> str:
    """The one spelling of an arm's files, relative to results/<profile>/: `what` is "model",
    "predictions" (the held-out split), "kfold" or "ladder" (with `protocol`); a `seed` other
    than the primary one names that seed's model or predictions."""
    p, _ = product("arm", what if seed is None else f"{what}@seed")
    values = {"arm": arm, "seed": seed, "protocol": protocol}
    needed = re.findall(r"\{(\w+)\}", p.path)
    if any(values[k] is None for k in needed):
        raise ProductError(f"{what} files of an arm need {', '.join(needed)}: got {values}")
    return p.path.format(**{k: values[k] for k in needed})


def file_product(rel: str) -> Product | None:
    """The product a file (relative to results/<profile>/) is, or None: not catalogued."""
    for p in PRODUCTS:
        if any(_regex(f).fullmatch(rel) for f in p.files):
            return p
    return None


# ---------------------------------------------------------------- the steps

@dataclass(frozen=True)
class Step:
    """One notebook: what it reads (the runner refuses to start it without them) and, beyond
    the catalogue's products of the step that every run makes, the arms whose k-fold files it
    must also leave, unless its arms table records the arm as not run (a lab's data without a
    scale has no pixel-size arm, by design), and any other files it must leave (`writes`)."""
    notebook: str
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    arms: tuple[str, ...] = ()
    arms_table: str | None = None

    @property
    def makes(self) -> tuple[str, ...]:
        return tuple(f for p in PRODUCTS if self.notebook in p.steps and not p.optional
                     and not p.pattern for f in p.files) + self.writes

    def owed(self, folder: str | Path) -> tuple[str, ...]:
        """What the step must leave in `folder`: its products, and the k-fold file of each of
        its arms that its arms table does not record as not run."""
        return self.makes + tuple(arm_file("kfold", a) for a in self.arms
                                  if a not in _not_run(folder, self.arms_table))


def _not_run(folder: str | Path, table: str | None) -> set[str]:
    """The arms a step's arms table records as not run (none where it has no table yet)."""
    import csv

    path = Path(folder) / product_path("table", table) if table else None
    if path is None or not path.exists():
        return set()
    with open(path, newline="") as f:
        return {r["arm"] for r in csv.DictReader(f) if r.get("status", "").startswith("not run")}


STEPS = {s.notebook: s for s in [
    Step(TILING),
    Step(GLCM, arms=("GLCM+SVM", "pixel-size"), arms_table="arms_glcm"),
    Step(BASELINES),
    Step(TRANSFER, arms=("fused",), arms_table="arms_fused"),
    Step(EVALUATION, reads=tuple(product_path("table", t) for t in ARMS_TABLES)),
    Step(HEAT),
]}


def fixed_arms() -> tuple[str, ...]:
    """The arms every run has besides the profile's networks (GLCM+SVM, pixel size, fused)."""
    return tuple(a for s in STEPS.values() for a in s.arms)


def before(notebook: str) -> list[str]:
    """The steps the series runs before `notebook`."""
    order = list(STEPS)
    return order[:order.index(notebook)]


def after(notebook: str) -> list[str]:
    """The steps the series runs after `notebook`: what its time left must still pay for."""
    order = list(STEPS)
    return order[order.index(notebook) + 1:]


def step(notebook_name: str) -> Step:
    stem = notebook_name.removesuffix(".ipynb")
    try:
        return STEPS[stem]
    except KeyError:
        raise ProductError(f"notebook {notebook_name} has no step in {HOME}: declare what it "
                           "reads there (STEPS), and its products (PRODUCTS)") from None


# ---------------------------------------------------------------- checks

def file_times(folder: str | Path) -> dict[str, int]:
    """Every file under `folder` with its modification time (ns): what a step found there."""
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns
            for p in Path(folder).rglob("*") if p.is_file()}


class Check(NamedTuple):
    missing: list[str]   # files the step must make that the folder lacks
    stray: list[str]     # files it wrote that the catalogue does not hold

    def problem(self, notebook: str) -> str:
        """One sentence naming what to fix; empty when the step is fine."""
        parts = ([f"finished without writing {self.missing}, which {HOME} says it makes"]
                 if self.missing else []) + \
                ([f"wrote {self.stray}, which {HOME} does not list: add them there"]
                 if self.stray else [])
        return f"{notebook} " + "; it also ".join(parts) if parts else ""


def check_products(st: Step, folder: str | Path, before: dict[str, int] | None = None) -> Check:
    """After a step: the files it must make that `folder` lacks, and the files it wrote (new or
    changed since `before`, a `snapshot` taken before it ran; every file if None) that the
    catalogue does not hold."""
    folder, before = Path(folder), before or {}
    written = [f for f, t in sorted(file_times(folder).items()) if before.get(f) != t]
    return Check([f for f in st.owed(folder) if not (folder / f).exists()],
                 [f for f in written if f not in st.writes and file_product(f) is None])


def missing_for_report(folder: str | Path) -> list[str]:
    """The files REPORT.md needs that `folder` lacks (optional products excepted)."""
    return [p.path for p in PRODUCTS if p.report and not p.optional
            and not (Path(folder) / p.path).exists()]
