"""The predict CLI on real micrographs with a checkpoint trained here."""
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from spring_lib import build_tileset, load_config
from spring_lib.nets.arms import settings_for, training_data
from spring_lib.cli import main
from spring_lib.nets.models import Arm, build_model
from spring_lib.nets.training import train


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, data_root):
    import yaml
    d = tmp_path_factory.mktemp("pred")
    prof = d / "p.yaml"
    prof.write_text(yaml.safe_dump({
        "cache_dir": str(d / "cache"), "data": {"root": str(data_root), "micrograph_limit_per_class": 12},
        "tiling": {"tile_size": 128, "stride": 128, "min_stride": 64},
        "split": {"val_fraction": 0.25, "train_tiles_per_class": 16, "val_tiles_per_class": 4, "test_tiles_per_class": 4},
        "cnn": {"epochs": 1, "input_size": 64}}))
    cfg = load_config(prof)
    ts = build_tileset(cfg)
    arm = Arm.parse("MobileNetV2-scratch")
    (x, y), (vx, vy), _ = training_data(ts, cfg)
    meta = dict(arm=arm.name, classes=ts.classes, tile_size=128, um_per_px=None, databar="auto")
    torch.manual_seed(0)
    model, _ = build_model(arm, len(ts.classes))
    train(model, x, y, vx, vy, settings_for(arm, cfg), d / "ck", meta=meta, progress=False)
    return d / "ck" / "best.pt", ts


def test_predict_folder_of_real_micrographs(checkpoint, data_root, tmp_path, capsys):
    ckpt, ts = checkpoint
    folder = tmp_path / "new_sem_images"
    folder.mkdir()
    for mid in ts.micrographs["micrograph_id"][:3]:
        shutil.copy(data_root / "images" / f"Croppedmicrograph{mid}.png", folder)
    out, tiles = tmp_path / "preds.csv", tmp_path / "tiles.csv"
    assert main(["predict", "--checkpoint", str(ckpt), str(folder), "--output", str(out),
                 "--tiles-output", str(tiles)]) == 0
    table = pd.read_csv(out)
    assert len(table) == 3 and set(table["predicted_class"]) <= set(ts.classes)
    assert (table["n_tiles"] == 15).all()         # 645 x 481 -> 5 x 3 tiles of 128 px
    probs = table.filter(like="p:")
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-3)
    assert len(pd.read_csv(tiles)) == 45


def test_unreadable_file_is_reported_and_the_rest_predicted(checkpoint, data_root, tmp_path, capsys):
    ckpt, ts = checkpoint
    good = data_root / "images" / f"Croppedmicrograph{ts.micrographs['micrograph_id'][0]}.png"
    bad = tmp_path / "corrupt.png"
    bad.write_bytes(b"\x89PNG broken")
    out = tmp_path / "p.csv"
    assert main(["predict", "--checkpoint", str(ckpt), str(good), str(bad), "--output", str(out)]) == 1
    assert len(pd.read_csv(out)) == 1
    assert "corrupt.png" in capsys.readouterr().err


def test_not_a_checkpoint(tmp_path, capsys):
    p = tmp_path / "x.pt"
    torch.save({"weights": torch.zeros(1)}, p)
    assert main(["predict", "--checkpoint", str(p), str(tmp_path)]) == 1
    assert "not a spring_lib training checkpoint" in capsys.readouterr().err
