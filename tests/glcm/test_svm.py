"""The GLCM+SVM arm: tuned by grouped CV that never splits a sample, then evaluated by the
run's sample-grouped k-fold, timing itself, as one ArmResult."""
import json

import numpy as np
import pandas as pd
import pytest

from spring_lib import build_tileset, load_config
from spring_lib.core.arm_result import ArmStatus
from spring_lib.core.grouped_cv import cv_table, tuning_pool
from spring_lib.core.results_dir import ResultsDir
from spring_lib.glcm.svm import run_glcm_arm, tune


@pytest.fixture(scope="module")
def tuned(smoke_profile_path, tmp_path_factory):
    cfg = load_config(smoke_profile_path)
    ts = build_tileset(cfg)
    X, y, groups, m = tuning_pool(ts)
    search = tune(X, y, groups, cfg.glcm, str(tmp_path_factory.mktemp("glcm")), cfg.split.seed)
    return cfg, ts, (X, y, groups, m), search


def test_pipeline_tunes_and_predicts_on_real_tiles(tuned):
    cfg, ts, (X, y, groups, m), search = tuned
    table = cv_table(search)
    assert len(table) == len(search.cv_results_["params"]) and table["rank"].min() == 1
    assert search.best_score_ > 1 / len(ts.classes) + 0.1    # grouped CV beats chance


def test_tuning_folds_never_split_a_micrograph_or_group(tuned):
    _, _, (X, y, groups, m), search = tuned
    folds = search.cv
    assert len(folds) == search.n_splits_ and sorted(np.concatenate([te for _, te in folds])) == \
        list(range(len(X)))
    for tr, te in folds:
        assert not set(m["micrograph_id"].iloc[tr]) & set(m["micrograph_id"].iloc[te])
        assert not set(groups[tr]) & set(groups[te])


def test_the_arm_tunes_then_evaluates_every_micrograph_once(tuned, tmp_path, monkeypatch):
    cfg, ts, _, search = tuned
    events = tmp_path / "progress.jsonl"
    monkeypatch.setenv("SPRING_PROGRESS_FILE", str(events))
    out = ResultsDir(tmp_path / "out")
    result = run_glcm_arm(ts, cfg, out)
    assert result.status is ArmStatus.FITTED and result.kind == "classical" and result.evaluated
    assert result.outcome["cv_accuracy"] == pytest.approx(search.best_score_)   # the same search
    assert result.paths == ["kfold/GLCM+SVM.csv"] and result.actual_s > 0
    assert len(out.read_table("glcm_svm_cv")) == len(cv_table(search))
    preds = pd.read_csv(tmp_path / "out" / "kfold" / "GLCM+SVM.csv", dtype={"micrograph_id": str})
    tiles, whole = preds[preds["reading"] == "tiles"], preds[preds["reading"] == "whole"]
    assert len(tiles) == len(ts.tiles) and preds["fold"].nunique() == cfg.evaluation.kfold
    assert sorted(whole["micrograph_id"]) == sorted(tiles["micrograph_id"].unique())
    assert len(out.read_table("kfold_selection_GLCM+SVM")) == cfg.evaluation.kfold
    row = result.row()
    assert list(row)[:5] == ["arm", "kind", "status", "note", "weights"]
    assert list(row)[-3:] == ["cv_accuracy", "inner_score", "actual_minutes"]
    total = [e for e in map(json.loads, events.read_text().splitlines())
             if e["kind"] == "arm_total"]
    assert total[0]["seconds"] == result.actual_s and total[0]["status"] == "fitted"
