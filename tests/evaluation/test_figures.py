"""The evaluation's figures: what each one marks, and the pictures of one arm's model drawn from
its catalogued checkpoint and predictions."""
import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from spring_lib.core.results_dir import ResultsDir  # noqa: E402
from spring_lib.evaluation import figures  # noqa: E402

CLASSES = ["a", "b", "c"]


def _results():
    return pd.DataFrame({"model": ["X-TL", "pixel-size", "Y-probe"], "macro_f1": [0.8, 0.5, 0.7],
                         "macro_f1_ci_low": [0.7, 0.4, 0.6], "macro_f1_ci_high": [0.9, 0.6, 0.8]})


def test_headline_marks_the_best_arm_and_the_pixel_size_floor():
    fig = figures.headline(_results(), best="X-TL")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["pixel-size", "Y-probe", "X-TL (best by inner score)"]   # by macro-F1
    floor = [ln for ln in ax.get_lines() if list(ln.get_xdata()) == [0.5, 0.5]]
    assert len(floor) == 1 and "pixel size alone" in [t.get_text().strip() for t in ax.texts]
    bars = [c for c in ax.collections if len(c.get_segments())]       # drawn from the floats
    spans = sorted(tuple(round(v, 6) for v in c.get_segments()[0][:, 0]) for c in bars)
    assert spans == [(0.4, 0.6), (0.6, 0.8), (0.7, 0.9)]
    no_floor = figures.headline(_results().iloc[[0, 2]], best=None).axes[0]
    assert not no_floor.texts


def test_confusion_grid_has_one_panel_per_arm(make_preds):
    preds = pd.concat([make_preds(["a", "b", "c"], ["a", "b", "b"], ["1", "2", "3"], model=m)
                       for m in ("m1", "m2", "m3", "m4", "m5")])
    fig = figures.confusion_grid(preds, CLASSES, ["m5", "m1", "m2", "m3", "m4"])
    shown = [ax for ax in fig.axes if ax.axison]
    assert len(fig.axes) >= 8 and [ax.get_title() for ax in shown][:5] == ["m5", "m1", "m2", "m3", "m4"]
    assert len([ax for ax in fig.axes if not ax.axison]) == 3         # 2 x 4 grid, 3 left empty


def test_leakage_ladder_draws_a_line_per_model_in_protocol_order():
    ladder = pd.DataFrame({"model": ["g", "g", "p", "p"], "protocol": ["tiles", "samples"] * 2,
                           "micrograph_macro_f1": [0.9, 0.6, 0.95, 0.7]})
    ax = figures.leakage_ladder(ladder).axes[0]
    assert [ln.get_label() for ln in ax.get_lines()] == ["g", "p"]
    assert list(ax.get_lines()[1].get_ydata()) == [0.95, 0.7]


# ---------------------------------------------------------------- pictures of one arm

def test_no_network_arm_means_no_picture(tmp_path):
    out = ResultsDir(tmp_path)
    assert figures.gradcam_figure(out, None, None, 2, 0) is None
    assert figures.phase_maps(out, None, None, ["a"]) is None


@pytest.fixture(scope="module")
def arm_run(tmp_path_factory, data_root):
    """A tile set of real micrographs and an untrained MobileNetV2-scratch checkpoint with its
    test predictions, where the catalogue puts them."""
    import torch
    import yaml

    from spring_lib import build_tileset, load_config
    from spring_lib.core.architectures import Arm
    from spring_lib.core.predictions import prediction_frame, save_predictions
    from spring_lib.nets.checkpoint import Checkpoint
    from spring_lib.nets.models import build_model
    from spring_lib.nets.training import InputTransform

    d = tmp_path_factory.mktemp("arm")
    (d / "p.yaml").write_text(yaml.safe_dump({
        "cache_dir": str(d / "cache"), "data": {"root": str(data_root),
                                                "micrograph_limit_per_class": 6},
        "tiling": {"tile_size": 128, "stride": 128, "min_stride": 64},
        "split": {"val_fraction": 0.25, "train_tiles_per_class": 4, "val_tiles_per_class": 2,
                  "test_tiles_per_class": 4}}))
    cfg = load_config(d / "p.yaml")
    tileset = build_tileset(cfg)
    arm = Arm.parse("MobileNetV2-scratch")
    torch.manual_seed(0)
    model, weights = build_model(arm, len(tileset.classes))
    out = ResultsDir(d / "results")
    Checkpoint(arm.name, tileset.classes, cfg.tiling.tile_size, cfg.tiling.um_per_px,
               cfg.data.databar, "head", InputTransform(64).to_dict(), weights,
               model.state_dict(), 0, 1, 0.5, cfg.profile).save(out.arm_file("model", arm.name))
    _, te_m = tileset.split("test")
    pred = np.arange(len(te_m)) % len(tileset.classes)
    save_predictions(prediction_frame(te_m, tileset.classes, pred, np.eye(len(tileset.classes))[pred],
                                      arm.name, "probability"), out.root)
    return out, tileset, arm.name


def test_gradcam_shows_tiles_of_every_class(arm_run):
    out, tileset, arm = arm_run
    fig = figures.gradcam_figure(out, tileset, arm, per_class=1, seed=0)
    assert arm in fig._suptitle.get_text()
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) >= len(tileset.classes)


def test_phase_maps_draw_the_first_test_micrographs_of_each_class(arm_run):
    out, tileset, arm = arm_run
    fig = figures.phase_maps(out, tileset, arm, tileset.classes[:1], per_class=1)
    title = fig._suptitle.get_text()
    assert title.startswith(f"Phase maps by {arm}: window 128 px, stride 64 px")
    assert len([ax for ax in fig.axes if ax.images]) == 1
    assert figures.phase_maps(out, tileset, arm, ["no such class"]) is None
