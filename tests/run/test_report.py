"""REPORT.md: assembled from a run's own products, in order; a product it needs that the run
did not make stops it, and an optional one it lacks is simply not shown."""
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from spring_lib.config import load_config
from spring_lib.core.products import ProductError
from spring_lib.run import report

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "results" / "cpu"   # a complete run's tables and figures, committed


@pytest.fixture
def run(tmp_path) -> Path:
    """A copy of the committed run's products, without its REPORT.md."""
    folder = tmp_path / "cpu"
    for sub in ("tables", "figures"):
        shutil.copytree(COMMITTED / sub, folder / sub)
    return folder


@pytest.fixture(scope="module")
def record() -> dict:
    return json.loads((COMMITTED / "run.json").read_text())


def _write(folder: Path, record: dict) -> str:
    return report.write_report(folder, load_config("cpu"), record).read_text()


def test_report_is_the_runs_tables_in_order(run, record):
    text = _write(run, record)
    assert text.startswith("# Spring-steel microstructure study: report (cpu)")
    assert f"Run `{record['run_id']}` of commit `{record['git_commit']}`" in text
    headings = [ln for ln in text.splitlines() if ln.startswith("## ")]
    assert headings == [
        "## The paper's claims, tested on open data", "## Results of every arm", "## Reading",
        "## What each lever added: reading micrographs whole, fusing the probes, weighting the "
        "training (measured, not chosen by)",
        "## The mixed classes: what the best arm called their micrographs (k-fold)",
        "## Paired comparisons (micrograph macro-F1, a minus b; paired sample bootstrap; Holm "
        "over the family)",
        "## Inside the magnification band, where pixel size cannot tell the classes apart",
        "## Leakage ladder: the same classifier under the literature's protocol and this study's",
        "## F1 per class (micrograph level, k-fold)", "## Arms without predictions",
        "## What the study can and cannot conclude about scale",
        "## Time: estimated on this machine before each arm and notebook ran, against actual",
        "## How this run differs from the paper",
        "## Audit of the paper's numbers (notebook 06, this run)", "## Figures"]
    assert text.index("figures/headline.png") < text.index(headings[0])
    reading = (run / "tables" / "reading.md").read_text().strip()
    assert reading in text
    claims = pd.read_csv(run / "tables" / "claims.csv")
    for verdict in claims["verdict"]:
        assert f"**Verdict: {verdict}**" in text
    best = pd.read_csv(run / "tables" / "results_all_arms.csv").iloc[0]
    assert f"| {best['model']} " in text


def test_intervals_are_floats_in_the_tables_and_text_in_the_report(run, record):
    """Each interval is written from its two float columns, once, where a person reads it."""
    from spring_lib.evaluation.intervals import text as interval

    results = pd.read_csv(run / "tables" / "results_all_arms.csv")
    results.loc[0, ["macro_f1_ci_low", "macro_f1_ci_high"]] = [0.12345, 0.98765]
    results.to_csv(run / "tables" / "results_all_arms.csv", index=False)
    text = _write(run, record)
    row = next(ln for ln in text.splitlines() if ln.startswith(f"| {results.loc[0, 'model']} "))
    assert "[0.123, 0.988]" in row
    assert "macro_f1_ci95" in text and "_ci_low" not in text      # one column, as text
    band = pd.read_csv(run / "tables" / "magnification_band.csv").iloc[0]
    assert interval(band["macro_f1_ci_low"], band["macro_f1_ci_high"]) in text
    claims = pd.read_csv(run / "tables" / "claims.csv").set_index("number")
    assert interval(claims.loc[4, "ci_low"], claims.loc[4, "ci_high"]) in text


def test_each_notebooks_estimate_is_set_against_its_actual_time(run, record):
    from spring_lib.run.report import notebook_times

    rec = {**record, "notebooks": [{"notebook": "01_dataset_tiling.ipynb", "seconds": 30.0,
                                    "estimate_seconds": 24.0},
                                   {"notebook": "02_glcm_svm_baseline.ipynb", "seconds": 90.0}]}
    table = notebook_times(rec).set_index("notebook")
    assert table.loc["01_dataset_tiling.ipynb", "actual / estimate"] == 1.25
    assert pd.isna(table.loc["02_glcm_svm_baseline.ipynb", "estimate_min"])   # none: not made up
    row = next(ln for ln in _write(run, rec).splitlines() if ln.startswith("| 01_dataset"))
    assert [c.strip() for c in row.strip("|").split("|")] == [
        "01_dataset_tiling.ipynb", "0.400", "0.500", "1.250"]


def test_every_figure_the_run_made_is_shown_and_an_optional_one_it_lacks_is_not(run, record):
    text = _write(run, record)
    for fig in ("leakage_ladder", "gradcam", "phase_maps", "example_tiles", "table1_processes"):
        assert f"](figures/{fig}.png)" in text, fig
    (run / "figures" / "gradcam.png").unlink()          # made only when a network arm was evaluated
    assert "](figures/gradcam.png)" not in _write(run, record)


def test_an_empty_table_leaves_its_section_out(run, record):
    empty = pd.read_csv(run / "tables" / "arms_not_run.csv").iloc[:0]
    empty.to_csv(run / "tables" / "arms_not_run.csv", index=False)
    assert "## Arms without predictions" not in _write(run, record)


@pytest.mark.parametrize("missing", ["tables/claims.csv", "tables/reading.md",
                                     "figures/headline.png", "tables/paper_audit.csv"])
def test_a_product_the_report_needs_that_the_run_did_not_make_stops_it(run, record, missing):
    (run / missing).unlink()
    with pytest.raises(ProductError, match=rf"REPORT.md needs \['{missing}'\], which run "
                                           rf"{record['run_id']} did not make"):
        _write(run, record)
    assert not (run / "REPORT.md").exists()


def test_a_table_the_report_reads_must_be_marked_in_the_catalogue(run, record, monkeypatch):
    monkeypatch.setattr(report, "SECTIONS", report.SECTIONS + [("Tiles", "tiling_plan")])
    with pytest.raises(ProductError, match="REPORT.md reads table 'tiling_plan', which the "
                                           "product catalogue does not mark report=True"):
        _write(run, record)


def test_budget_table_in_minutes():
    t = report.budget_table({"arms": [{"arm": "a", "status": "trained", "estimate_s": 120.0,
                                       "actual_s": 90.0}]})
    assert t.to_dict("records") == [{"arm": "a", "status": "trained", "estimate_min": 2.0,
                                     "actual_min": 1.5}]


def test_protocol_differences_name_this_run_and_the_paper():
    cfg = load_config("cpu")
    t = report.protocol_differences(cfg, ["network", "pearlite"]).set_index("")
    assert t.loc["classes", "this run (cpu)"] == "network, pearlite"
    assert str(cfg.evaluation.kfold) in t.loc["split and evaluation", "this run (cpu)"]
    assert t.loc["split and evaluation", "Luo et al. 2025"] == "not stated"
