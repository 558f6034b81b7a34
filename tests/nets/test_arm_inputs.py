"""An arm's tiles: folds keep samples whole and hold validation samples out, and the training
tiles are capped per class, spread over micrographs."""
import numpy as np

from spring_lib.core.architectures import Arm
from spring_lib.nets import arm_inputs as I


def test_fold_indices_keep_samples_whole_and_hold_out_validation_samples(smoke):
    cfg, ts = smoke
    recipe = cfg.recipe("EfficientNet-Lite0-scratch")
    folds = ts.folds(cfg.evaluation.kfold, cfg.split.seed)
    m = ts.manifest
    for f in range(cfg.evaluation.kfold):
        tr, va, te = I.fold_indices(ts, folds, f, recipe, cfg)
        s = [set(m.iloc[i]["sample_key"]) for i in (tr, va, te)]
        assert not (s[0] & s[1]) and not (s[0] & s[2]) and not (s[1] & s[2])
        assert set(te) == set(np.flatnonzero(folds == f))
        assert len(va) > 0


def test_training_tiles_are_capped_per_class_over_several_micrographs(smoke):
    cfg, ts = smoke
    train = np.flatnonzero(ts.manifest["split"].to_numpy() == "train")
    kept = I.capped(ts.manifest, train, 5, ts.classes, 0)
    labels = ts.manifest["label"].to_numpy()
    assert set(kept) <= set(train) and all((labels[kept] == c).sum() == 5 for c in ts.classes)
    assert ts.manifest.iloc[kept]["micrograph_id"].nunique() > len(ts.classes)
    assert np.array_equal(I.capped(ts.manifest, train, None, ts.classes, 0), train)
    recipe = cfg.recipe("EfficientNet-Lite0-scratch").model_copy(
        update={"max_train_tiles_per_class": 5})
    (tr_x, tr_y), (va_x, _), (te_x, te_m) = I.training_data(ts, recipe, cfg.split.seed)
    assert len(tr_x) == len(tr_y) == 5 * len(ts.classes) and len(te_x) == len(te_m)


def test_a_probe_trains_nothing_and_a_scratch_network_everything(smoke):
    cfg, ts = smoke
    for name, trains in [("EfficientNet-Lite0-probe", False), ("EfficientNet-Lite0-scratch", True)]:
        recipe = cfg.recipe(name)
        model, weights, trainable = I.network(Arm.parse(name), cfg, recipe, 5, 0)
        assert (trainable > 0) is trains
        assert trainable == (sum(p.numel() for p in model.parameters()) if trains else 0)
