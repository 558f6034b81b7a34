"""Reading micrographs whole: windows over every pixel, their scores averaged per micrograph."""
import numpy as np
import pandas as pd

from spring_lib.core.predictions import prediction_frame, whole_frame
from spring_lib.data.reading import WholeReading
from spring_lib.evaluation import metrics as ev

CLASSES = ["a", "b"]


def _reading(shapes: dict, tile: int) -> WholeReading:
    images = {m: np.random.default_rng(i).integers(0, 255, s, dtype=np.uint8)
              for i, (m, s) in enumerate(shapes.items())}
    micro = pd.DataFrame({"micrograph_id": list(shapes), "label": ["a", "b", "a"][:len(shapes)],
                          "group": ["s1", "s2", "s3"][:len(shapes)]})
    return WholeReading(images, micro, tile, 0.5)


def test_whole_reading_covers_every_pixel_of_every_micrograph_at_half_a_tile():
    shapes = {"m1": (481, 645), "m2": (128, 128), "m3": (300, 1000)}
    reading = _reading(shapes, 128)
    tiles, rows = reading.windows(list(shapes))
    assert tiles.shape == (len(rows), 128, 128) and len(rows) == reading.n_windows()
    for m, (h, w) in shapes.items():
        mine = rows[rows["micrograph_id"] == m]
        covered = np.zeros((h, w), bool)
        for y, x in zip(mine["y"], mine["x"]):
            assert 0 <= y <= h - 128 and 0 <= x <= w - 128
            covered[y:y + 128, x:x + 128] = True
        assert covered.all(), m
        for axis in ("y", "x"):                          # half a tile apart, at most
            assert np.diff(np.unique(mine[axis]), prepend=0).max(initial=0) <= 64, m
    first = rows.index[rows["micrograph_id"] == "m3"][0]
    y, x = rows.loc[first, ["y", "x"]]
    assert np.array_equal(tiles[first], reading.images["m3"][y:y + 128, x:x + 128])
    assert set(rows.loc[rows["micrograph_id"] == "m2", "label"]) == {"b"}


def test_a_micrographs_whole_score_is_the_mean_of_its_windows_and_evaluation_reads_it():
    windows = pd.DataFrame({"micrograph_id": ["m1", "m1", "m1", "m2"], "label": "a"})
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.1, 0.9], [0.6, 0.4]])
    whole = whole_frame(windows, CLASSES, scores, "arm", "probability")
    m1 = whole.set_index("micrograph_id").loc["m1"]
    assert np.isclose(m1["score:b"], 0.6) and m1["pred_label"] == "b" and m1["n_windows"] == 3
    # the capped tiles say otherwise: reading decides which the micrograph's label comes from
    tiles = prediction_frame(pd.DataFrame({"tile_id": ["t1", "t2"], "micrograph_id": ["m1", "m2"],
                                           "label": "a"}), CLASSES, np.array([0, 0]),
                             np.array([[0.7, 0.3], [0.8, 0.2]]), "arm", "probability")
    preds = pd.concat([tiles.assign(reading="tiles"), whole], ignore_index=True)
    read = ev.micrograph_predictions(preds, CLASSES).set_index("micrograph_id")
    capped = ev.micrograph_predictions(preds, CLASSES, "tiles").set_index("micrograph_id")
    assert read.loc["m1", "pred_label"] == "b" and read.loc["m1", "n_tiles"] == 3
    assert capped.loc["m1", "pred_label"] == "a" and capped.loc["m1", "n_tiles"] == 1
    assert len(ev.capped_tiles(preds)) == 2
