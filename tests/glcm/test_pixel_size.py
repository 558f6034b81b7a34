"""The pixel-size arm: it must read each micrograph's scale bar, and nothing else."""
import numpy as np
import pandas as pd
import pytest

from spring_lib import build_tileset, load_config
from spring_lib.core.arm_result import ArmStatus
from spring_lib.core.results_dir import ResultsDir
from spring_lib.glcm.pixel_size import pixel_size_features, run_pixel_size_arm


@pytest.fixture(scope="module")
def tileset(smoke_profile_path):
    return build_tileset(load_config(smoke_profile_path))


def test_reads_the_scale_bar(tileset, data_root):
    labels = pd.read_csv(data_root / "labels.csv", dtype={"micrograph_id": str})
    to_um = labels["micron_bar_units"].map({"um": 1.0, "nm": 1e-3, "mm": 1e3})
    assert to_um.notna().all()
    bar = dict(zip(labels["micrograph_id"], labels["micron_bar"] * to_um / labels["micron_bar_px"]))
    x = pixel_size_features(tileset)[:, 0]
    expected = np.log10(tileset.manifest["micrograph_id"].map(bar).to_numpy(float))
    assert np.allclose(x, expected)
    assert np.unique(x).size > 3                          # it varies with magnification


def test_micrographs_without_scale_are_not_guessed(tileset, smoke_profile_path, tmp_path):
    no_scale = tileset.micrographs.copy()
    no_scale.loc[no_scale.index[0], "um_per_px"] = np.nan
    ts = type(tileset)(tileset.tiles, tileset.manifest, no_scale, tileset.plan, tileset.classes,
                       tileset.data_checksum)
    assert np.isnan(pixel_size_features(ts)).sum() > 0
    result = run_pixel_size_arm(ts, load_config(smoke_profile_path), ResultsDir(tmp_path))
    assert result.status is ArmStatus.NOT_RUN_NO_SCALE and "no known scale" in result.note
    assert result.actual_s is None and not result.evaluated
    assert not (tmp_path / "kfold" / "pixel-size.csv").exists()


def test_the_arm_is_evaluated_by_the_sample_grouped_kfold(tileset, smoke_profile_path, tmp_path):
    cfg = load_config(smoke_profile_path)
    out = ResultsDir(tmp_path)
    result = run_pixel_size_arm(tileset, cfg, out)
    assert result.status is ArmStatus.FITTED and 0 < result.outcome["inner_score"] <= 1
    assert result.paths == ["kfold/pixel-size.csv"] and result.row()["kind"] == "classical"
    preds = pd.read_csv(tmp_path / "kfold" / "pixel-size.csv", dtype={"micrograph_id": str})
    tiles, whole = preds[preds["reading"] == "tiles"], preds[preds["reading"] == "whole"]
    assert len(tiles) == len(tileset.tiles) and preds["fold"].nunique() == cfg.evaluation.kfold
    assert sorted(whole["micrograph_id"]) == sorted(tiles["micrograph_id"].unique())
    samples = dict(zip(tileset.manifest["micrograph_id"].astype(str), tileset.manifest["sample_key"]))
    per_sample = preds.assign(s=preds["micrograph_id"].map(samples)).groupby("s")["fold"].nunique()
    assert (per_sample == 1).all()
    chosen = out.read_table("kfold_selection_pixel-size")
    assert len(chosen) == cfg.evaluation.kfold and "C" in chosen
