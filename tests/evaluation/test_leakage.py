"""The leakage ladder: each protocol keeps (or does not keep) tiles of one micrograph or sample
together, its shared shares are counted right, and one row and one prediction file per model
and protocol come out."""
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from spring_lib.core.products import arm_file
from spring_lib.core.results_dir import ResultsDir
from spring_lib.data.tileset import TileSet
from spring_lib.evaluation import leakage

CLASSES = ["a", "b"]


@pytest.fixture
def tileset() -> TileSet:
    """12 samples (6 per class) x 2 micrographs x 4 tiles; class b's tiles are brighter."""
    rng = np.random.default_rng(0)
    rows = [{"tile_id": f"s{s}m{m}t{t}", "micrograph_id": f"{s}{m}", "sample_key": f"s{s}",
             "label": CLASSES[s % 2], "group": f"s{s}"}
            for s in range(12) for m in range(2) for t in range(4)]
    manifest = pd.DataFrame(rows)
    tiles = (rng.integers(0, 120, (len(manifest), 8, 8))
             + 100 * (manifest["label"] == "b").to_numpy()[:, None, None]).astype(np.uint8)
    micrographs = manifest.drop_duplicates("micrograph_id")[["micrograph_id", "label", "sample_key"]]
    return TileSet(tiles, manifest, micrographs, pd.DataFrame(), CLASSES, "checksum")


@pytest.fixture
def cfg():
    return SimpleNamespace(split=SimpleNamespace(seed=0),
                           evaluation=SimpleNamespace(kfold=3, ladder_random_folds=4))


@pytest.mark.parametrize("protocol,column", [("micrographs", "micrograph_id"),
                                             ("samples", "sample_key")])
def test_grouped_protocols_keep_their_groups_whole(tileset, cfg, protocol, column):
    folds = leakage.protocol_folds(tileset, protocol, cfg)
    per_group = pd.Series(folds).groupby(tileset.manifest[column].to_numpy()).nunique()
    assert per_group.max() == 1 and len(np.unique(folds)) == 3


def test_random_tiles_split_micrographs(tileset, cfg):
    folds = leakage.protocol_folds(tileset, "tiles", cfg)
    assert len(np.unique(folds)) == 4
    per_micrograph = pd.Series(folds).groupby(tileset.manifest["micrograph_id"].to_numpy()).nunique()
    assert per_micrograph.max() > 1
    with pytest.raises(ValueError, match="protocol must be one of"):
        leakage.protocol_folds(tileset, "pixels", cfg)


def test_shared_share_counts_tiles_whose_group_is_also_in_training():
    manifest = pd.DataFrame({"m": ["x", "x", "y", "y", "z"]})
    # fold 0: x, y(1 tile); fold 1: y(1 tile), z -> the two y tiles share; x and z do not
    folds = np.array([0, 0, 0, 1, 1])
    assert leakage.shared_share(manifest, folds, "m") == pytest.approx(2 / 5)
    assert leakage.shared_share(manifest, np.array([0, 0, 1, 1, 2]), "m") == 0.0


def test_ladder_has_a_row_and_a_prediction_file_per_model_and_protocol(tileset, cfg, tmp_path,
                                                                      monkeypatch):
    flat = make_pipeline(FunctionTransformer(lambda x: x.reshape(len(x), -1) / 255.0),
                         LogisticRegression(max_iter=200))
    monkeypatch.setattr(leakage, "ladder_models", lambda cfg, probe_arm: {"flat": flat})
    out = ResultsDir(tmp_path)
    samples = dict(zip(tileset.micrographs["micrograph_id"], tileset.micrographs["sample_key"]))
    ladder = leakage.leakage_ladder(tileset, cfg, out, None, samples, n_boot=50)
    assert ladder["protocol"].tolist() == list(leakage.PROTOCOLS.values())
    assert ladder["folds"].tolist() == [4, 3, 3]
    rows = ladder.set_index("protocol")
    assert rows.loc["random tiles", "test_tiles_with_sample_in_training"] > 0.5
    assert rows.loc["grouped by micrograph", "test_tiles_with_micrograph_in_training"] == 0
    assert rows.loc["grouped by micrograph", "test_tiles_with_sample_in_training"] > 0
    assert rows.loc["grouped by sample (this study)", "test_tiles_with_sample_in_training"] == 0
    assert (ladder["micrograph_macro_f1"] > 0.9).all()            # brightness separates a and b
    assert (ladder["micrograph_macro_f1_ci_low"] <= ladder["micrograph_macro_f1"]).all()
    assert (ladder["micrograph_macro_f1"] <= ladder["micrograph_macro_f1_ci_high"]).all()
    for protocol in leakage.PROTOCOLS:
        preds = pd.read_csv(tmp_path / arm_file("ladder", "flat", protocol=protocol))
        assert len(preds) == len(tileset.tiles) and preds["tile_id"].is_unique
