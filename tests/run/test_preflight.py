"""The run's preflight: a profile its data cannot run fails with one line before any kernel, staging
folder or estimate; tile sizes judged from image headers as tiling cuts them (data bar off,
resampled), split and fold counts refused only where no split could give them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spring_lib.cli import main
from spring_lib.config import ConfigError, load_config
from spring_lib.data import splits
from spring_lib.data.catalogue import UHCSDB_NEAR_DUPLICATES, databar_setting, load_catalog
from spring_lib.data.images import read_micrograph
from spring_lib.data.tiling import resample_to_scale, scaled_shape
from spring_lib.run import preflight as preflight_mod
from spring_lib.run.preflight import preflight
from spring_lib.run.runner import run_study


@pytest.fixture
def real_profile(write_profile, data_root):
    """A profile on the real data with smoke's 12 micrographs a class, plus `extra` sections."""
    def make(**extra) -> Path:
        content = {"data": {"root": str(Path(data_root).resolve()),
                            "micrograph_limit_per_class": 12}}
        for section, values in extra.items():
            content[section] = {**content.get(section, {}), **values}
        return write_profile(content, name="preflighttest")
    return make


def _shortest_side(cfg) -> int:
    """The largest tile every micrograph holds, from the decoded images (not their headers)."""
    sides = []
    for row in load_catalog(cfg).itertuples():
        shape = read_micrograph(row.path, databar_setting(cfg, row.has_databar)).shape
        if cfg.tiling.um_per_px:
            shape = scaled_shape(*shape, row.um_per_px, cfg.tiling.um_per_px)
        sides.append(min(shape))
    return min(sides)


def test_a_tile_larger_than_every_micrograph_fails_the_run_before_anything_starts(
        real_profile, tmp_path, monkeypatch):
    import papermill
    from jupyter_client.manager import KernelManager

    from spring_lib.run import series

    started = []
    monkeypatch.setattr(KernelManager, "start_kernel", lambda *a, **k: started.append("kernel"))
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: started.append("notebook"))
    monkeypatch.setattr(series, "before_notebook", lambda *a, **k: started.append("estimate"))
    path = real_profile(tiling={"tile_size": 5000, "stride": 5000})
    logs, results = [], tmp_path / "results"
    with pytest.raises(ConfigError) as exc:
        run_study(str(path), results_root=results, log=logs.append)
    msg = str(exc.value)
    largest = _shortest_side(load_config(path))
    assert "\n" not in msg
    assert msg == (f"{path}: tiling.tile_size: 5000 px is larger than a side of every one of "
                   f"the 60 micrographs; the largest tile every micrograph holds is {largest} "
                   f"px. Set tiling.tile_size to at most {largest}."), msg
    assert started == [] and logs == []
    assert not results.exists()   # no lock, no staging folder, no .failed entry


def test_estimate_fails_with_the_same_line_before_it_measures(real_profile, monkeypatch, capsys):
    from spring_lib.run import series

    def measured(*a, **k):
        raise AssertionError("the plan was made")
    monkeypatch.setattr(series, "print_plan", measured)
    path = real_profile(tiling={"tile_size": 5000, "stride": 5000})
    with pytest.raises(ConfigError) as exc:
        preflight(load_config(path))
    assert main(["estimate", "--profile", str(path)]) == 1
    assert capsys.readouterr().err == f"error: {exc.value}\n"


def test_resampling_is_accounted_for_to_the_pixel(real_profile):
    """tiling.um_per_px shrinks the finest micrographs: the limit is their resampled side."""
    cfg = load_config(real_profile(tiling={"um_per_px": 0.1, "tile_size": 16, "stride": 16,
                                           "min_stride": 16}))
    largest = _shortest_side(cfg)
    assert 16 < largest < 200   # the test means something: resampling sets the limit here
    ok = real_profile(tiling={"um_per_px": 0.1, "tile_size": largest, "stride": largest,
                              "min_stride": 16})
    assert len(preflight(load_config(ok))) == 60
    over = real_profile(tiling={"um_per_px": 0.1, "tile_size": largest + 1,
                                "stride": largest + 1, "min_stride": 16})
    with pytest.raises(ConfigError, match=rf"after resampling to tiling.um_per_px: .* the largest "
                                          rf"tile every micrograph holds is {largest} px"):
        preflight(load_config(over))


@pytest.mark.parametrize("shape,um,target", [((481, 645), 0.1, 0.2), ((445, 645), 0.37, 0.25),
                                             ((101, 33), 0.3, 0.7), ((7, 5), 0.01, 1.0),
                                             ((64, 64), 0.5, 0.5)])
def test_scaled_shape_is_the_shape_resample_to_scale_gives(shape, um, target):
    """The preflight judges a tile against `scaled_shape` without decoding: it must be what
    tiling cuts from, and the pixels still skimage's rescale's."""
    from skimage.transform import rescale

    img = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    out = resample_to_scale(img, um, target)
    assert out.shape == scaled_shape(*shape, um, target)
    if out is not img:
        factor = um / target
        ref = rescale(img.astype(np.float32), factor, order=1, anti_aliasing=factor < 1,
                      preserve_range=True)
        assert np.array_equal(out, np.clip(np.round(ref), 0, 255).astype(np.uint8))
    with pytest.raises(ValueError, match="scale"):
        scaled_shape(*shape, float("nan"), target)


def _folder_data(root: Path) -> None:
    """Two classes of four 100x80 px micrographs: class a's with a 20-row data bar (white)
    below, class b's without one."""
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(4):
            img = rng.integers(0, 200, (80, 100), dtype=np.uint8)
            if label == "a":
                img[60:] = 255
            Image.fromarray(img).save(root / label / f"m{i}.png")


@pytest.mark.parametrize("tile,fits,decoded", [(40, True, 0), (60, True, 8), (64, False, 8)])
def test_a_data_bar_is_cut_before_the_tile_is_judged(tile, fits, decoded, tmp_path,
                                                     write_profile, monkeypatch):
    """Headers alone settle a tile that fits whatever a bar is cut (40 px); one a bar decides is
    judged on the decoded micrograph, as tiling cuts it (60 fits, 64 does not: tiling itself
    agrees)."""
    from spring_lib.data.tileset import build_tileset

    _folder_data(tmp_path / "data")
    cfg = load_config(write_profile({
        "data": {"root": str(tmp_path / "data"), "layout": "folders", "n_classes": 2},
        "cache_dir": str(tmp_path / "cache"),
        "tiling": {"tile_size": tile, "stride": tile, "min_stride": 16},
        "split": {"group_by": "micrograph", "test_fraction": 0.5, "val_fraction": 0.0},
        "evaluation": {"kfold": 2}, "glcm": {"cv_folds": 2}, "probe": {"cv_folds": 2}}))
    reads = []
    monkeypatch.setattr(preflight_mod, "read_micrograph",
                        lambda *a, **k: reads.append(a) or read_micrograph(*a, **k))
    if fits:
        preflight(cfg)
    else:
        with pytest.raises(ConfigError) as exc:
            preflight(cfg)
        a = [str(tmp_path / "data" / "a" / f"m{i}.png") for i in range(4)]
        assert str(exc.value).endswith(
            f"tiling.tile_size: 64 px is larger than a side of 4 of the 8 micrographs: "
            f"{' (100x60 px), '.join(a)} (100x60 px); the largest tile every micrograph holds "
            "is 60 px. Set tiling.tile_size to at most 60, or leave those micrographs out."), exc
        with pytest.raises(ConfigError, match="tiling.tile_size: 64 px"):
            build_tileset(cfg, use_cache=False)
    assert len(reads) == decoded


@pytest.mark.parametrize("extra,key", [
    ({"data": {"micrograph_limit_per_class": 2}}, "split"),   # a class of one sample
    ({"split": {"test_fraction": 0.02}}, "split"),            # 1/50 of 24 samples
    ({"split": {"val_fraction": 0.05}}, "split.val_fraction"),
    ({"evaluation": {"kfold": 30}}, "evaluation.kfold"),
    ({"glcm": {"cv_folds": 24}}, "glcm.cv_folds"),
    ({"probe": {"cv_folds": 24}}, "probe.cv_folds")])
def test_splits_and_folds_the_samples_cannot_give_are_refused(extra, key, real_profile):
    """Each is one line naming the key; and the notebooks' own code fails on it too, so the
    preflight refuses nothing that could run."""
    path = real_profile(**extra)
    cfg = load_config(path)
    with pytest.raises(ConfigError) as exc:
        preflight(cfg)
    assert "\n" not in str(exc.value) and str(exc.value).startswith(f"{path}: {key}: ")
    with pytest.raises(ValueError):   # ConfigError and SplitError both are
        micro = splits.assign_splits(load_catalog(cfg), cfg, UHCSDB_NEAR_DUPLICATES)
        splits.kfold_assignment(micro, cfg.evaluation.kfold, cfg.split.seed)
        pool = micro[micro["split"] != "test"]
        for k in (cfg.glcm.cv_folds, cfg.probe.cv_folds):
            splits.grouped_folds(pool["label"].astype(str).to_numpy(), pool["group"].to_numpy(),
                                 k, cfg.split.seed)


@pytest.mark.parametrize("profile", ["smoke", "lesson", "cpu", "paper"])
def test_the_shipped_profiles_pass(profile, data_root, standin_weights, monkeypatch):
    """On their data, with the weights they need (`paper` needs every paper architecture's:
    offline, here, a folder of stand-ins gives them)."""
    from spring_lib.nets import weights
    from spring_lib.run.series import with_paper_weights

    monkeypatch.setenv("SPRING_DATA_ROOT", str(data_root))
    monkeypatch.setenv("SPRING_OFFLINE", "1")   # and no hub's copy cached on this machine:
    found = weights.weights_file
    monkeypatch.setattr(weights, "weights_file", lambda arch, source=None: None if (
        source or arch.default_weights) == "imagenet" else found(arch, source))
    cfg = load_config(profile)
    if profile == "paper":
        with pytest.raises(ConfigError, match="cnn.weights: VGG19, AlexNet"):
            preflight(cfg)
        cfg = with_paper_weights(cfg, str(standin_weights))
    catalog = preflight(cfg)
    assert len(catalog) == len(load_catalog(load_config(profile)))


def test_weights_the_profile_does_not_skip_are_checked_first_in_one_line(
        real_profile, standin_weights, monkeypatch, capsys):
    """`paper` offline: one line naming each architecture and cnn.weights, before any timing
    (it used to time the series for minutes, then fail in a traceback)."""
    from spring_lib.run import series

    monkeypatch.setenv("SPRING_OFFLINE", "1")
    monkeypatch.setattr(series, "print_plan", lambda *a, **k: pytest.fail("it timed the plan"))
    arms = {"arms_baselines": [], "arms_transfer": ["SE-ResNeXt50-TL", "SE-ResNeXt101-probe",
                                                    "EfficientNet-Lite0-probe"]}
    path = real_profile(cnn={**arms, "skip_unavailable": False})
    assert main(["estimate", "--profile", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cnn.weights: SE-ResNeXt50, SE-ResNeXt101: ImageNet " \
        "weights need a model hub, and SPRING_OFFLINE is set." in err and "Lite0" not in err
    with pytest.raises(ConfigError, match="cnn.weights: SE-ResNeXt50, SE-ResNeXt101: ") as exc:
        run_study(str(path), results_root=path.parent / "results")
    assert str(exc.value) in err and not (path.parent / "results").exists()
    # with weights files, or skipping what is missing, the profile passes
    preflight_mod.check_weights(load_config(real_profile(cnn={**arms, "weights": {
        "SE-ResNeXt50": str(standin_weights), "SE-ResNeXt101": str(standin_weights)}})))
    preflight_mod.check_weights(load_config(real_profile(cnn={**arms, "skip_unavailable": True})))
    empty = path.parent / "no-weights-here"
    empty.mkdir()
    with pytest.raises(ConfigError, match=r"SE-ResNeXt50: no weights file at .*no-weights-here"):
        preflight_mod.check_weights(load_config(real_profile(cnn={
            **arms, "weights": {"SE-ResNeXt50": str(empty)}, "skip_unavailable": False})))
