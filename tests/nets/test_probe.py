"""Frozen-feature probes: the per-tile feature cache, the folded head, and a real-tile probe."""
import numpy as np
import pytest
import torch

from spring_lib.core.grouped_cv import kfold_predictions, tuned
from spring_lib.nets import probe as P
from spring_lib.nets.models import PooledBackbone
from spring_lib.nets.probe import FrozenFeatures
from spring_lib.core.architectures import Arm


def test_feature_cache_is_reused_and_rebuilt_when_tiles_or_weights_change(smoke, tmp_path, monkeypatch,
                                                                          standin_weights):
    _, ts = smoke
    tiles = ts.tiles[:20].copy()
    f = FrozenFeatures("EfficientNet-Lite0", cache_dir=str(tmp_path), batch_size=8)
    assert f.uncached(tiles) == 20
    first = f.texture_features(tiles)
    assert f.uncached(tiles) == 0
    # a second transformer (a CV clone) reads the cache; the network is not run again
    monkeypatch.setattr(PooledBackbone, "forward", lambda *a: pytest.fail("features recomputed"))
    again = FrozenFeatures("EfficientNet-Lite0", cache_dir=str(tmp_path)).texture_features(tiles)
    assert np.array_equal(first, again)
    monkeypatch.undo()
    changed = tiles.copy()
    changed[3] = 255 - changed[3]
    assert f.uncached(changed) == 1
    other = FrozenFeatures("MobileNetV2", weights=str(standin_weights), cache_dir=str(tmp_path))
    assert other.uncached(tiles) == 20    # other weights: their own cache
    head = FrozenFeatures("EfficientNet-Lite0", pooling="head", cache_dir=str(tmp_path)).fit(tiles)
    assert np.array_equal(head.transform(tiles), first[:, :head.head_width_])


def test_probe_on_real_tiles_beats_chance_and_folds_into_a_network(smoke, monkeypatch):
    from spring_lib.core import machine

    monkeypatch.setattr(machine, "cpu_flags", set)   # fp32 features: the folding is exact there
    cfg, ts = smoke
    arm = Arm.parse("EfficientNet-Lite0-probe")
    col = ts.manifest["split"].to_numpy()
    search = P.fit_probe(arm, ts, cfg, np.flatnonzero(np.isin(col, ["train", "val"])))
    te_x, te_m = ts.split("test")
    proba = search.predict_proba(te_x)
    accuracy = float((proba.argmax(1) == ts.labels(te_m)).mean())
    assert accuracy >= 1 / len(ts.classes) + 0.25, accuracy    # chance is 0.2 with 5 classes
    ck = P.probe_checkpoint(search, arm, ts, cfg)
    model = ck.model()
    with torch.no_grad():
        folded = torch.softmax(model(ck.input_transform()(te_x)), 1).numpy()
    assert np.allclose(folded, proba, atol=2e-4)


def test_kfold_tests_every_micrograph_once_tuning_inside_each_fold(smoke):
    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    cfg, ts = smoke
    flat = make_pipeline(FunctionTransformer(lambda x: x.reshape(len(x), -1)[:, ::97]),
                         DummyClassifier(strategy="prior"))
    folds = ts.folds(3, cfg.split.seed)
    seen = []

    def fit(X, y, groups):                   # what the fold's tuning may see: its training part
        seen.append(set(groups))
        return tuned(flat, {"dummyclassifier__strategy": ["prior", "most_frequent"]}, 2,
                     cfg.split.seed, "cv")(X, y, groups)

    preds, chosen = kfold_predictions(fit, ts.tiles, ts.manifest, folds, ts.classes, "dummy")
    assert sorted(preds["tile_id"]) == sorted(ts.manifest["tile_id"])
    assert set(preds["micrograph_id"]) == set(ts.micrographs["micrograph_id"])
    assert (preds.groupby("micrograph_id")["fold"].nunique() == 1).all()
    groups = preds.merge(ts.manifest[["tile_id", "group"]], on="tile_id")
    assert (groups.groupby("group")["fold"].nunique() == 1).all()
    assert preds["fold"].nunique() == 3 and len(chosen) == 3
    for f, train_groups in enumerate(seen):  # no fold's test groups in its own tuning
        assert not train_groups & set(groups.loc[groups["fold"] == f, "group"])
    assert {"inner_accuracy", "strategy"} <= set(chosen.columns)


def test_damaged_feature_caches_each_kept_under_their_own_name(tmp_path, capsys):
    from spring_lib.nets.feature_cache import FeatureCache

    path = tmp_path / "features-k.npz"
    for i in range(2):
        path.write_bytes(b"not an npz %d" % i)
        capsys.readouterr()
        cache = FeatureCache(str(tmp_path), "k")
        err = capsys.readouterr().err
        assert str(path) in err and "damaged" in err and len(cache.keys) == 0
    copies = sorted(tmp_path.glob("features-k.npz.damaged*"))
    assert sorted(p.read_bytes() for p in copies) == [b"not an npz 0", b"not an npz 1"]


def test_bf16_features_are_cached_apart_and_close_to_fp32(smoke, tmp_path):
    _, ts = smoke
    tiles = ts.tiles[:16].copy()
    fp32 = FrozenFeatures("EfficientNet-Lite0", cache_dir=str(tmp_path), precision="fp32")
    bf16 = FrozenFeatures("EfficientNet-Lite0", cache_dir=str(tmp_path), precision="bf16")
    a = fp32.texture_features(tiles)
    assert bf16.uncached(tiles) == 16 and fp32.uncached(tiles) == 0   # a key per precision
    b = bf16.texture_features(tiles)
    assert len(list(tmp_path.glob("features-*-fp32-*.npz"))) == 1
    assert len(list(tmp_path.glob("features-*-bf16-*.npz"))) == 1
    assert not np.array_equal(a, b)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.99
