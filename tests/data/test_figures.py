"""Scale bars on pictures of steel, and the pixel size of every micrograph per class."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib_scalebar.scalebar import ScaleBar  # noqa: E402

from spring_lib.data import figures  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _image_axes(width_px: int = 224):
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.imshow(np.zeros((width_px, width_px), np.uint8), cmap="gray")
    return fig, ax


@pytest.mark.parametrize("um_per_px, label", [(1.0, "50 µm"), (0.02, "1 µm"), (3.9, "200 µm"),
                                              (0.5, "25 µm")])
def test_scale_bar_label_and_length_follow_um_per_px(um_per_px, label):
    fig, ax = _image_axes(224)
    bar = figures.add_scale_bar(ax, um_per_px)
    assert isinstance(bar, ScaleBar) and bar in ax.artists
    fig.canvas.draw()
    info = bar.info
    assert info.scale_text.replace("$\\mathregular{\\mu}$", "µ") == label
    # the drawn bar spans exactly the labelled length at this pixel size
    value_um = info.value * {"µm": 1, "um": 1, "mm": 1e3, "nm": 1e-3}[info.units]
    assert info.length_px * um_per_px == pytest.approx(value_um)
    # and is a sensible part of the picture, not the whole of it
    assert 0.1 * 224 < info.length_px < 0.5 * 224


def test_scale_bar_follows_the_image_width():
    """The same µm/px on a wider image gives a longer bar (the length is chosen per axes)."""
    labels = []
    for width in (224, 2240):
        fig, ax = _image_axes(width)
        bar = figures.add_scale_bar(ax, 0.1)
        fig.canvas.draw()
        labels.append(bar.info.value * {"µm": 1, "um": 1, "mm": 1e3, "nm": 1e-3}[bar.info.units])
    assert labels[1] == pytest.approx(10 * labels[0])


@pytest.mark.parametrize("missing", [None, np.nan, pd.NA, 0.0, -1.0])
def test_unknown_scale_says_so_and_draws_no_bar(missing):
    fig, ax = _image_axes()
    text = figures.add_scale_bar(ax, missing)
    assert not any(isinstance(a, ScaleBar) for a in ax.artists)
    assert text.get_text() == "scale unknown" and text in ax.texts
    fig.canvas.draw()


def _micrographs():
    rng = np.random.default_rng(0)
    rows = []
    for label, centre, n, samples in (("network", 2.0, 9, 3), ("pearlite", 0.02, 4, 2),
                                      ("spheroidite", 0.1, 6, 6)):
        for i in range(n):
            rows.append({"micrograph_id": f"{label}{i}", "label": label,
                         "sample_key": f"{label}-s{i % samples}",
                         "um_per_px": centre * rng.uniform(0.5, 2)})
    micro = pd.DataFrame(rows)
    micro["label"] = pd.Categorical(micro["label"])
    return micro


def _points(ax) -> np.ndarray:
    return np.concatenate([c.get_offsets() for c in ax.collections if len(c.get_offsets())])


def test_um_per_px_by_class_one_point_per_micrograph_on_a_log_axis():
    micro = _micrographs()
    classes = ["pearlite", "network", "spheroidite"]
    fig = figures.um_per_px_by_class(micro, classes)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    pts = _points(ax)
    assert len(pts) == len(micro)
    assert sorted(pts[:, 1]) == pytest.approx(sorted(micro["um_per_px"]))
    # each point sits over its own class
    for k, c in enumerate(classes):
        ys = pts[np.abs(pts[:, 0] - k) < 0.5, 1]
        assert sorted(ys) == pytest.approx(sorted(micro.loc[micro["label"] == c, "um_per_px"]))
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks[1].splitlines() == ["network", "9 micrographs", "3 samples"]
    assert ticks[0].splitlines() == ["pearlite", "4 micrographs", "2 samples"]


def test_um_per_px_by_class_counts_micrographs_without_scale_and_other_classes_out():
    micro = _micrographs()
    micro.loc[0, "um_per_px"] = np.nan
    fig = figures.um_per_px_by_class(micro, ["network", "pearlite"])
    ax = fig.axes[0]
    assert len(_points(ax)) == 9 - 1 + 4
    assert ax.get_xticklabels()[0].get_text().splitlines() == [
        "network", "9 micrographs", "3 samples", "1 without scale"]


def test_example_tiles_and_overlay_carry_scale_bars():
    tiles = np.zeros((4, 64, 64), np.uint8)
    manifest = pd.DataFrame({"micrograph_id": ["a", "b", "c", "d"],
                             "label": ["x", "x", "y", "y"], "um_per_px": [0.1, 0.1, 2.0, np.nan]})
    fig = figures.example_tiles(tiles, manifest, ["x", "y"], per_class=2)
    bars = [a for ax in fig.axes for a in ax.artists if isinstance(a, ScaleBar)]
    unknown = [t for ax in fig.axes for t in ax.texts if t.get_text() == "scale unknown"]
    assert sorted(b.dx for b in bars) == [0.1, 0.1, 2.0] and len(unknown) == 1

    # a tile of 64 px at 2 µm/px (resampled) spans 128 px of the micrograph: it is at 1 µm/px
    cut = pd.DataFrame({"x": [0], "y": [0], "size": [128], "tile_px": [64], "um_per_px": [2.0]})
    fig = figures.tile_grid_overlay(np.zeros((256, 256), np.uint8), cut)
    (bar,) = [a for a in fig.axes[0].artists if isinstance(a, ScaleBar)]
    assert bar.dx == pytest.approx(1.0)


def test_um_per_px_by_class_without_any_scale_says_so():
    micro = _micrographs().assign(um_per_px=np.nan)
    fig = figures.um_per_px_by_class(micro, ["network"])
    ax = fig.axes[0]
    assert not any(len(c.get_offsets()) for c in ax.collections)
    assert [t.get_text() for t in ax.texts] == ["no micrograph has a known scale (µm/px)"]
    assert ax.get_xticklabels()[0].get_text().splitlines()[-1] == "9 without scale"


def test_gradcam_panel_puts_each_tiles_scale_on_it():
    import torch

    from spring_lib.nets.gradcam import gradcam_panel
    from spring_lib.nets.models import build_model
    from spring_lib.core.architectures import Arm
    from spring_lib.nets.execution import InputTransform

    torch.manual_seed(0)
    model, _ = build_model(Arm.parse("MobileNetV2-scratch"), 2)
    tiles = np.random.default_rng(0).integers(0, 256, (2, 64, 64), dtype=np.uint8)
    transform = InputTransform.fit("paper", tiles, 64)
    args = (model, "MobileNetV2-scratch", tiles, ["a", "b"], ["a", "a"], ["a", "b"], transform)
    fig = gradcam_panel(*args, um_per_px=[0.05, np.nan])
    assert [b.dx for ax in fig.axes for b in ax.artists if isinstance(b, ScaleBar)] == [0.05]
    assert sum(t.get_text() == "scale unknown" for ax in fig.axes for t in ax.texts) == 1
    with pytest.raises(ValueError, match="1 scales for 2 tiles"):
        gradcam_panel(*args, um_per_px=[0.05])
