"""Tile predictions every evaluation test scores: the common format, three classes."""
import numpy as np
import pandas as pd
import pytest

CLASSES = ["a", "b", "c"]


@pytest.fixture
def make_preds():
    """(true, pred, micrograph ids[, model]) -> tile predictions, score 1 on the predicted class."""
    def _preds(true, pred, micro, model="m"):
        n = len(true)
        df = pd.DataFrame({"tile_id": [f"t{i}" for i in range(n)], "micrograph_id": micro,
                           "true_label": true, "pred_label": pred, "model": model,
                           "score_kind": "probability"})
        for c in CLASSES:
            df[f"score:{c}"] = [1.0 if p == c else 0.0 for p in pred]
        return df
    return _preds


@pytest.fixture
def fixed(make_preds):
    """90 tiles of 18 micrographs (6 samples: the id's last digit), 70 % predicted right."""
    rng = np.random.default_rng(0)
    true = rng.choice(CLASSES, 90)
    pred = np.where(rng.random(90) < 0.7, true, rng.choice(CLASSES, 90))
    micro = [f"{t}{i % 6}" for i, t in enumerate(true)]
    return make_preds(true, pred, micro)
