"""The fused arm: its choice made inside the fold, and its checkpoint a network like any arm's."""
import numpy as np
import pandas as pd
import pytest

from spring_lib.core.grouped_cv import grouped_search, kfold_predictions, tuned, tuning_pool
from spring_lib.nets import fusion

MEMBERS = ["EfficientNet-Lite0", "MobileNetV2"]


@pytest.fixture
def fused_cfg(smoke):
    cfg, ts = smoke
    cfg = cfg.model_copy(update={"fusion": cfg.fusion.model_copy(
        update={"members": MEMBERS, "min_members": 1, "C": [0.1, 1.0]})})
    return cfg, ts


def test_the_search_space_is_the_profiles_members_that_were_probed(fused_cfg):
    cfg, _ = fused_cfg
    grid = fusion.fused_grid(cfg, ["MobileNetV2", "EfficientNet-Lite0", "AlexNet"])
    assert grid["features__members"] == ["EfficientNet-Lite0", "MobileNetV2",
                                         "EfficientNet-Lite0+MobileNetV2"]
    assert grid["clf__C"] == [0.1, 1.0] and grid["clf__weighting"] == cfg.probe.weighting
    two = cfg.model_copy(update={"fusion": cfg.fusion.model_copy(update={"min_members": 2})})
    assert fusion.candidates(two, ["EfficientNet-Lite0"]) == []


def test_the_fused_choice_in_a_fold_does_not_change_when_its_test_tiles_are_permuted(fused_cfg):
    """Each fold's members, C and weighting come from its inner search alone: shuffling the
    labels of fold 0's test tiles (what would score its outer predictions) changes nothing
    that fold chose, nor its inner score."""
    cfg, ts = fused_cfg
    folds = ts.folds(3, cfg.split.seed)
    grid = fusion.fused_grid(cfg, MEMBERS)
    fit = tuned(fusion.fused_pipeline(cfg), grid, 2, cfg.split.seed, "probe.cv_folds")
    _, chosen = kfold_predictions(fit, ts.tiles, ts.manifest, folds, ts.classes, "fused")
    shuffled = ts.manifest.copy()
    test = np.flatnonzero(folds == 0)
    shuffled.loc[test, "label"] = np.random.default_rng(1).permutation(
        shuffled.loc[test, "label"].to_numpy())
    assert not shuffled["label"].equals(ts.manifest["label"])
    _, again = kfold_predictions(fit, ts.tiles, shuffled, folds, ts.classes, "fused")
    pd.testing.assert_series_equal(chosen.iloc[0], again.iloc[0])
    assert set(chosen["members"]) <= set(grid["features__members"])


def test_the_fused_checkpoint_predicts_like_the_members_it_was_built_from(fused_cfg, tmp_path,
                                                                          monkeypatch):
    from spring_lib.core import machine
    from spring_lib.nets.checkpoint import Checkpoint
    from spring_lib.nets.predict import Predictor

    monkeypatch.setattr(machine, "cpu_flags", set)   # fp32 features: the folding is exact there
    cfg, ts = fused_cfg
    X, y, groups, _ = tuning_pool(ts)
    grid = {**fusion.fused_grid(cfg, MEMBERS),
            "features__members": ["EfficientNet-Lite0+MobileNetV2"]}
    search = grouped_search(fusion.fused_pipeline(cfg), grid, X, y, groups, 2, cfg.split.seed)
    path = fusion.fused_checkpoint(search, ts, cfg).save(tmp_path / "fused.pt")
    ck = Checkpoint.load(path)
    assert [m["architecture"] for m in ck.members] == MEMBERS
    te_x, _ = ts.split("test")
    want = search.predict_proba(te_x)
    got = Predictor.from_checkpoint(path, precision="fp32").probabilities(te_x)
    assert np.allclose(got, want, atol=2e-4), np.abs(got - want).max()
    one_member = search.best_estimator_.named_steps["features"].extractors()[0]
    assert ck.members[0]["transform"] == one_member.input_transform().to_dict()
