"""The product catalogue: one entry per file a run leaves, one spelling of every path."""
import shutil
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from spring_lib.core import products as P  # noqa: E402
from spring_lib.core.predictions import prediction_path, save_predictions  # noqa: E402
from spring_lib.core.results_dir import ResultsDir  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "results" / "cpu"   # a complete run, committed (models/ and site/ are not)


def test_a_product_written_outside_the_catalogue_fails(tmp_path):
    out = ResultsDir(tmp_path)
    with pytest.raises(P.ProductError, match=r"table 'results_al_arms' is not in the product "
                                             r"catalogue: add it to spring_lib/core/products.py"):
        out.table(pd.DataFrame({"a": [1]}), "results_al_arms")
    with pytest.raises(P.ProductError, match="figure 'headlines'"):
        out.figure(plt.figure(), "headlines")
    with pytest.raises(P.ProductError, match="text 'readings'"):
        out.text("x", "readings")
    with pytest.raises(P.ProductError, match="tables/reading.txt is not in the product catalogue"):
        out.path("tables/reading.txt")
    with pytest.raises(P.ProductError, match="arm 'weights'"):
        out.arm_file("weights", "X-TL")
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []   # nothing was written


def test_a_catalogued_pattern_takes_any_arm(tmp_path):
    out = ResultsDir(tmp_path)
    out.table(pd.DataFrame({"fold": [0]}), "kfold_selection_GLCM+SVM")
    assert (tmp_path / "tables" / "kfold_selection_GLCM+SVM.csv").exists()
    assert (tmp_path / "tables" / "kfold_selection_GLCM+SVM.md").exists()
    assert P.product_path("table", "training_log_X-TL") == "tables/training_log_X-TL.csv"


def test_a_table_for_machines_has_no_markdown_copy(tmp_path):
    out = ResultsDir(tmp_path)
    out.table(pd.DataFrame({"tile_id": ["t0"], "micrograph_id": ["007"]}), "tile_manifest")
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == ["tile_manifest.csv"]
    assert out.read_table("tile_manifest")["micrograph_id"].tolist() == ["007"]   # ids stay text
    out.table(pd.DataFrame({"a": [0.123456]}), "claims")
    assert (tmp_path / "tables" / "claims.md").read_text().startswith("|")


def test_text_is_written_where_the_report_reads_it(tmp_path):
    out = ResultsDir(tmp_path)
    assert out.text("- one sentence", "reading") == "- one sentence"
    assert (tmp_path / "tables" / "reading.md").read_text() == "- one sentence\n"
    assert out.read_text("reading") == "- one sentence\n"


# ---------------------------------------------------------------- the one path function

@pytest.mark.parametrize("args,path", [
    (("model", "X-TL"), "models/X-TL.pt"),
    (("model", "X-TL", 3), "models/X-TL@seed3.pt"),
    (("predictions", "X-TL"), "predictions/X-TL.csv"),
    (("predictions", "X-TL", 3), "seeds/X-TL@seed3.csv"),
    (("kfold", "GLCM+SVM"), "kfold/GLCM+SVM.csv"),
    (("ladder", "GLCM+SVM", None, "tiles"), "ladder/GLCM+SVM@tiles.csv")])
def test_arm_file_spells_every_model_and_prediction_path(args, path):
    assert P.arm_file(*args) == path
    assert P.file_product(path).form == "arm"


def test_arm_file_refuses_what_it_cannot_spell():
    with pytest.raises(P.ProductError, match="protocol"):
        P.arm_file("ladder", "GLCM+SVM")               # which protocol?
    with pytest.raises(P.ProductError, match="'kfold@seed' is not in the product catalogue"):
        P.arm_file("kfold", "X-TL", seed=2)            # the k-fold has one seed


def test_prediction_files_go_where_arm_file_says(tmp_path):
    df = pd.DataFrame({"tile_id": ["t"], "micrograph_id": ["1"], "model": ["X-TL"]})
    assert save_predictions(df, tmp_path, seed=4) == tmp_path / "seeds" / "X-TL@seed4.csv"
    assert save_predictions(df, tmp_path, "ladder", protocol="samples") == \
        tmp_path / P.arm_file("ladder", "X-TL", protocol="samples")
    assert prediction_path(tmp_path, "X-TL", "kfold") == tmp_path / "kfold" / "X-TL.csv"


# ---------------------------------------------------------------- steps and their checks

def test_every_step_makes_its_catalogued_products_and_nothing_else(tmp_path):
    st = P.step("06_heat_treatment_table1.ipynb")
    assert "tables/paper_audit.csv" in st.makes and "figures/table1_processes.png" in st.makes
    before = P.file_times(tmp_path)
    out = ResultsDir(tmp_path)
    out.table(pd.DataFrame({"a": [1]}), "paper_audit")
    (tmp_path / "tables" / "notes.csv").write_text("x\n")
    check = P.check_products(st, tmp_path, before)
    assert "tables/paper_audit.csv" not in check.missing
    assert "tables/table1_recomputed.csv" in check.missing
    assert check.stray == ["tables/notes.csv"]
    problem = check.problem("06_heat_treatment_table1.ipynb")
    assert "finished without writing" in problem and "wrote ['tables/notes.csv']" in problem


def test_only_what_the_step_wrote_is_checked(tmp_path):
    (tmp_path / "old.txt").write_text("an earlier step's file, not this one's business\n")
    st = P.Step("01_x", writes=("tables/x.csv",))
    before = P.file_times(tmp_path)
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "x.csv").write_text("x\n")
    assert P.check_products(st, tmp_path, before) == ([], [])
    assert P.check_products(st, tmp_path).stray == ["old.txt"]    # without a snapshot: all


def test_an_arm_its_table_records_as_not_run_owes_no_k_fold_file(tmp_path):
    st = P.step("02_glcm_svm_baseline.ipynb")
    assert {"kfold/GLCM+SVM.csv", "kfold/pixel-size.csv"} <= set(st.owed(tmp_path))
    out = ResultsDir(tmp_path)
    out.table(pd.DataFrame({"arm": ["GLCM+SVM", "pixel-size"], "status": [
        "fitted", "not run: no scale"]}), "arms_glcm")
    missing = P.check_products(st, tmp_path).missing
    assert "kfold/GLCM+SVM.csv" in missing and "kfold/pixel-size.csv" not in missing


def test_an_optional_product_is_not_required_but_is_catalogued():
    gradcam = P.product("figure", "gradcam")[0]
    assert gradcam.optional and gradcam.report
    assert "figures/gradcam.png" not in P.step("05_evaluation").makes
    assert P.file_product("figures/gradcam.png") is gradcam


def test_a_notebook_without_a_step_names_the_file_to_declare_it_in():
    with pytest.raises(P.ProductError, match="07_new.ipynb has no step in spring_lib/core/products.py"):
        P.step("07_new.ipynb")


def test_every_product_names_known_steps_and_one_path():
    steps = set(P.STEPS)
    files = [f for p in P.PRODUCTS for f in p.files]
    assert len(files) == len(set(files))
    for p in P.PRODUCTS:
        assert set(p.steps) <= steps, p
        assert p.form in ("table", "figure", "text", "arm", "run"), p
        assert not p.optional or p.steps, p         # the runner's own files are never optional


# ---------------------------------------------------------------- a product REPORT.md needs

def test_a_product_the_report_needs_that_a_run_did_not_make_is_named(tmp_path):
    shutil.copytree(COMMITTED / "tables", tmp_path / "tables")
    shutil.copytree(COMMITTED / "figures", tmp_path / "figures")
    assert P.missing_for_report(tmp_path) == []
    (tmp_path / "tables" / "claims.csv").unlink()
    (tmp_path / "figures" / "gradcam.png").unlink()            # optional: not missing
    assert P.missing_for_report(tmp_path) == ["tables/claims.csv"]


# ---------------------------------------------------------------- against a real run

def test_the_committed_run_holds_only_catalogued_files_and_every_step_product():
    assert (COMMITTED / "run.json").exists()
    for st in P.STEPS.values():
        assert P.check_products(st, COMMITTED) == ([], []), st.notebook
    made = {p.path for p in P.PRODUCTS if not p.pattern and p.steps}
    on_disk = {f.relative_to(COMMITTED).as_posix() for f in COMMITTED.rglob("*") if f.is_file()}
    assert made - on_disk <= {p.path for p in P.PRODUCTS if p.optional}
