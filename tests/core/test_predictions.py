"""The common prediction file format: one frame per arm, read back only for the arms asked for."""
import numpy as np
import pandas as pd
import pytest

from spring_lib.core.predictions import load_predictions, prediction_frame, save_predictions


def test_only_the_named_arms_predictions_are_loaded(tmp_path):
    manifest = pd.DataFrame({"tile_id": [0, 1, 2, 3], "micrograph_id": ["007", "007", "12", "12"],
                             "label": ["x", "x", "y", "y"]})
    classes = ["x", "y"]
    scores = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.7, 0.3]])
    pred = scores.argmax(axis=1)
    for model in ("A", "B", "C"):
        save_predictions(prediction_frame(manifest, classes, pred, scores, model, "probability"),
                         tmp_path)
    assert (tmp_path / "predictions" / "C.csv").exists()   # a stray file of another arm

    df = load_predictions(tmp_path, ["A", "B"])
    assert sorted(df["model"].unique()) == ["A", "B"] and len(df) == 8
    assert list(df.loc[df["model"] == "A", "pred_label"]) == ["x", "y", "y", "x"]
    assert set(df["micrograph_id"]) == {"007", "12"}     # ids stay strings
    with pytest.raises(FileNotFoundError, match=r"\['Z'\]"):
        load_predictions(tmp_path, ["A", "Z"])
