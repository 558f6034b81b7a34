"""`python -m spring_lib predict` on real micrographs with checkpoints trained here.

Two tiny checkpoints are trained once per module (MobileNetV2-scratch, 1 epoch, 64 px input):
one on tiles cut at the micrographs' own pixel size, one on tiles resampled to 0.2 µm/px.
The tests check what the CLI writes against what the `Predictor` computes (means of tile
probabilities, window counts, per-pixel classes), and that every bad input gets one
`error:` line naming the file or option, without a traceback and before any work.
"""
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image

import spring_lib
from spring_lib.cli import main
from spring_lib.data.catalogue import load_uhcsdb_catalog
from spring_lib.data.images import read_micrograph
from spring_lib.data.tiling import covering_origins, resample_to_scale, tile_origins
from spring_lib.nets.arm_inputs import input_transform, training_data
from spring_lib.nets.checkpoint import Checkpoint
from spring_lib.nets.models import build_model
from spring_lib.nets.predict import Predictor
from spring_lib.core.architectures import Arm
from spring_lib.nets.training import train

ARM = "MobileNetV2-scratch"
TILE = 128
SCALE = 0.2   # µm/px of the scaled checkpoint


class NotPlainData:
    """Stands for any Python object a pickle may carry (module level, so it pickles)."""

    def __init__(self):
        self.payload = "print('this must never run')"


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: on the 2 shared cores of CI, two OpenMP threads that spin against
    other processes make these small forward passes many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _train_checkpoint(folder: Path, data: dict, tiling: dict, name: str) -> tuple[Path, object]:
    """Tiny profile -> tile set -> 1 epoch of MobileNetV2-scratch -> Checkpoint file."""
    prof = folder / f"{name}.yaml"
    prof.write_text(yaml.safe_dump({
        "cache_dir": str(folder / "cache"), "data": data, "tiling": tiling,
        "split": {"val_fraction": 0.25, "train_tiles_per_class": 8, "val_tiles_per_class": 4,
                  "test_tiles_per_class": 4},
        "cnn": {"epochs": 1, "input_size": 64}}))
    cfg = spring_lib.load_config(prof)
    tileset = spring_lib.build_tileset(cfg)
    arm = Arm.parse(ARM)
    recipe = cfg.recipe(arm)
    (x, y), (vx, vy), _ = training_data(tileset, recipe, seed=0)
    torch.manual_seed(0)
    model, weights = build_model(arm, len(tileset.classes))
    transform = input_transform(arm, recipe, model, x)
    result = train(model, (x, y), (vx, vy), recipe, transform, seed=0)
    path = Checkpoint(arm=arm.name, classes=tileset.classes, tile_size=TILE,
                      um_per_px=cfg.tiling.um_per_px, databar="auto", pooling="head",
                      transform=transform.to_dict(), weights=weights,
                      state=result.model.state_dict(), seed=0, best_epoch=result.best_epoch,
                      val_acc=result.best_val_acc, profile=cfg.profile).save(
        folder / "models" / f"{arm.name}.pt")
    return path, tileset


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_root):
    """(checkpoint path, tile set) of a model trained on unscaled 128 px tiles."""
    d = tmp_path_factory.mktemp("predict")
    return _train_checkpoint(
        d, {"root": str(data_root), "micrograph_limit_per_class": 6},
        {"tile_size": TILE, "stride": TILE, "min_stride": 64}, "predict-test")


@pytest.fixture(scope="module")
def ckpt(trained) -> Path:
    return trained[0]


@pytest.fixture(scope="module")
def predictor(ckpt) -> Predictor:
    return Predictor.from_checkpoint(ckpt)


@pytest.fixture(scope="module")
def micrographs(trained, data_root) -> list[Path]:
    """Three real micrographs of the tile set's catalogue (645 x 481 px each)."""
    ids = trained[1].micrographs["micrograph_id"].tolist()[:3]
    paths = [data_root / "images" / f"Croppedmicrograph{m}.png" for m in ids]
    for p in paths:
        assert read_micrograph(p, "auto").shape == (481, 645), p
    return paths


@pytest.fixture
def folder(tmp_path, micrographs) -> Path:
    """A folder of new micrographs, as a lab would bring them."""
    f = tmp_path / "new_sem_images"
    f.mkdir()
    for p in micrographs:
        shutil.copy(p, f)
    return f


def cli(capsys, *args) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["predict", *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_error(rc: int, err: str, *names: str) -> str:
    """Exit 1, stderr exactly one `error:` line naming every one of `names`, no traceback."""
    assert rc == 1, err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for name in names:
        assert name in lines[0], f"{name!r} not named in: {lines[0]}"
    return lines[0]


def prob_columns(frame: pd.DataFrame, classes: list[str]) -> list[str]:
    cols = [f"p:{c}" for c in classes]
    assert list(frame.filter(like="p:").columns) == cols
    return cols


# ---------------------------------------------------------------- 1. a folder of micrographs

def test_predict_folder_of_real_micrographs(ckpt, trained, folder, tmp_path, capsys):
    classes = trained[1].classes
    out, tiles_out = tmp_path / "preds.csv", tmp_path / "tiles.csv"
    # fp32: bf16 results move by ~1e-3 with the batch a tile shares (the CLI's batches span
    # micrographs, Predictor.predict's hold one)
    rc, _, err = cli(capsys, "--checkpoint", ckpt, folder, "--output", out,
                     "--tiles-output", tiles_out, "--precision", "fp32")
    assert rc == 0, err
    assert "Traceback" not in err and "3 micrograph(s) predicted" in err

    table = pd.read_csv(out)
    expected = sorted(str(p) for p in folder.iterdir())
    assert sorted(table["image"]) == expected                  # one row per micrograph
    assert set(table["predicted_class"]) <= set(classes)
    assert (table["n_tiles"] == 15).all()                      # 645 x 481 -> 5 x 3 tiles of 128
    cols = prob_columns(table, classes)
    assert np.allclose(table[cols].sum(axis=1), 1, atol=1e-4)
    # the predicted class is the one of highest mean probability
    assert (table["predicted_class"] == np.asarray(classes)[table[cols].to_numpy().argmax(1)]).all()

    tiles = pd.read_csv(tiles_out)
    assert len(tiles) == 45
    assert tiles.groupby("image").size().to_dict() == {p: 15 for p in expected}
    assert set(zip(tiles["y"], tiles["x"])) == set(tile_origins(481, 645, TILE, TILE))
    assert np.allclose(tiles[cols].sum(axis=1), 1, atol=1e-4)
    assert (tiles["predicted_class"] == np.asarray(classes)[tiles[cols].to_numpy().argmax(1)]).all()
    # a micrograph's probabilities are the mean of its tiles' probabilities
    mean = tiles.groupby("image")[cols].mean().loc[table["image"]].to_numpy()
    assert np.allclose(table[cols].to_numpy(), mean, atol=1e-5)

    # the CLI says what the Predictor says, micrograph by micrograph, tile by tile
    predictor = Predictor.from_checkpoint(ckpt, "fp32")
    for i, image in enumerate(table["image"]):
        row, per_tile = predictor.predict(Path(image))
        assert row["predicted_class"] == table["predicted_class"].iloc[i]
        assert row["n_tiles"] == 15 == len(per_tile)
        assert np.allclose([row[c] for c in cols], table[cols].iloc[i].to_numpy(), atol=1e-5)
        mine = tiles[tiles["image"] == image].reset_index(drop=True)
        assert (mine[["y", "x", "predicted_class"]] == per_tile[["y", "x", "predicted_class"]]).all().all()
        assert np.allclose(mine[cols].to_numpy(), per_tile[cols].to_numpy(), atol=1e-5)


# ---------------------------------------------------------------- 2. phase maps

def test_phase_maps_one_png_per_micrograph(ckpt, folder, tmp_path, capsys):
    maps = tmp_path / "maps"
    rc, _, err = cli(capsys, "--checkpoint", ckpt, folder, "--output", tmp_path / "p.csv",
                     "--map", maps)
    assert rc == 0, err
    pngs = sorted(maps.iterdir())
    assert [p.name for p in pngs] == sorted(p.stem + ".png" for p in folder.iterdir())
    for p in pngs:
        with Image.open(p) as im:
            im.verify()
        with Image.open(p) as im:
            assert im.format == "PNG" and min(im.size) > 200, im.size
            arr = np.asarray(im.convert("RGB"))
        assert arr.std() > 5              # a picture, not a blank canvas
        assert p.stat().st_size > 20_000


def test_class_map_windows_and_pixels(predictor, micrographs):
    img = predictor.image(micrographs[0])
    h, w = img.shape
    n_classes = len(predictor.classes)
    cmap = predictor.class_map(img, 0.5)
    assert cmap.shape == img.shape and np.issubdtype(cmap.dtype, np.integer)

    # stride fraction 0.5 of a 128 px tile: windows every 64 px, plus a last row and column
    # flush with the bottom and right edges, so the whole micrograph is mapped
    origins = covering_origins(h, w, TILE, 64)
    assert len(origins) == 10 * 7 == 70 and (h - TILE, w - TILE) in origins
    assert set(tile_origins(h, w, TILE, 64)) < set(origins)
    proba, got = predictor.tile_probabilities(img, 64, whole_image=True)
    assert got == origins and proba.shape == (70, n_classes)
    assert ((cmap >= 0) & (cmap < n_classes)).all()              # every pixel gets a class
    # the bottom-right pixel lies in the last window only: it takes that window's class
    assert cmap[-1, -1] == proba[origins.index((h - TILE, w - TILE))].argmax()

    # the top-left pixel lies in the first window only: it takes that window's class
    assert origins[0] == (0, 0)
    assert cmap[0, 0] == proba[0].argmax()
    # pixel (100, 100) lies in the windows at (0,0), (0,64), (64,0), (64,64): the class of
    # their mean probability
    four = [origins.index(o) for o in [(0, 0), (0, 64), (64, 0), (64, 64)]]
    assert cmap[100, 100] == proba[four].mean(0).argmax()


def test_nonempty_map_folder_refused(ckpt, folder, tmp_path, capsys):
    maps = tmp_path / "maps"
    maps.mkdir()
    keep = maps / "notes.txt"
    keep.write_text("an earlier map run")
    out = tmp_path / "p.csv"
    rc, stdout, err = cli(capsys, "--checkpoint", ckpt, folder, "--output", out, "--map", maps)
    assert_one_error(rc, err, "--map", str(maps))
    assert not out.exists() and stdout == ""
    assert sorted(maps.iterdir()) == [keep] and keep.read_text() == "an earlier map run"


def test_nonempty_map_folder_refused_before_checkpoint_loads(folder, tmp_path, capsys):
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "notes.txt").write_text("x")
    rc, _, err = cli(capsys, "--checkpoint", tmp_path / "missing.pt", folder, "--map", maps)
    assert_one_error(rc, err, "--map")


# ---------------------------------------------------------------- 3. one clear error each

def _missing(d, ckpt):
    return d / "no-such-model.pt"


def _directory(d, ckpt):
    (d / "models").mkdir()
    return d / "models"


def _empty(d, ckpt):
    (d / "empty.pt").write_bytes(b"")
    return d / "empty.pt"


def _random_bytes(d, ckpt):
    (d / "noise.pt").write_bytes(np.random.default_rng(0).bytes(4000))
    return d / "noise.pt"


def _bare_tensor(d, ckpt):
    torch.save(torch.zeros(3), d / "tensor.pt")
    return d / "tensor.pt"


def _foreign_dict(d, ckpt):
    torch.save({"weights": torch.zeros(1)}, d / "foreign.pt")
    return d / "foreign.pt"


def _other_architecture(d, ckpt):
    obj = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert obj["arm"] == ARM
    obj["arm"] = "EfficientNet-Lite0-scratch"
    torch.save(obj, d / "relabelled.pt")
    return d / "relabelled.pt"


def _python_objects(d, ckpt):
    torch.save({"format": "spring_lib.checkpoint/1", "x": NotPlainData()}, d / "objects.pt")
    return d / "objects.pt"


class RunsACommand:
    """A pickle that would run a shell command when unpickled (a blocked module: posix)."""

    def __reduce__(self):
        return (os.system, ("echo this must never run",))


def _malicious(d, ckpt):
    torch.save({"format": "spring_lib.checkpoint/1", "x": RunsACommand()}, d / "evil.pt")
    return d / "evil.pt"


def _plain_pickle(d, ckpt):
    """The checkpoint's contents through pickle.dump: no torch zip around them."""
    import pickle

    with open(d / "plain.pt", "wb") as f:
        pickle.dump(torch.load(ckpt, map_location="cpu", weights_only=True), f, protocol=4)
    return d / "plain.pt"


def _truncated_zip(d, ckpt):
    (d / "cut.pt").write_bytes(ckpt.read_bytes()[:5000])
    return d / "cut.pt"


def _text_file(d, ckpt):
    (d / "notes.pt").write_text("hello this is a text file\n")
    return d / "notes.pt"


def _tampered(**change):
    """The checkpoint with its metadata changed (None: the key removed), as a hand edit would."""
    def make(d, ckpt):
        obj = torch.load(ckpt, map_location="cpu", weights_only=True)
        for k, v in change.items():
            obj.pop(k) if v is None else obj.__setitem__(k, v)
        torch.save(obj, d / "tampered.pt")
        return d / "tampered.pt"
    make.__name__ = "_tampered_" + "_".join(f"{k}_{v}" for k, v in change.items())
    return make


@pytest.mark.parametrize("make, says", [
    (_missing, "does not exist"),
    (_directory, "directory"),
    (_empty, "empty"),
    (_random_bytes, ""),
    (_text_file, "neither a zip nor a pickle"),
    (_plain_pickle, "is not a torch checkpoint (torch.save's zip format): it is a plain pickle"),
    (_truncated_zip, "truncated zip"),
    (_bare_tensor, "bare Tensor"),
    (_foreign_dict, "not a spring_lib checkpoint"),
    (_other_architecture, "do not fit"),
    (_python_objects, "Python objects"),
    (_malicious, "Python objects"),
    (_tampered(tile_size=0), "tile_size"),
    (_tampered(tile_size="abc"), "tile_size"),
    (_tampered(transform=None), "transform"),
    (_tampered(transform={"size": 64}), "transform"),
    (_tampered(classes="abc"), "classes"),
], ids=lambda v: v.__name__.strip("_") if callable(v) else None)
def test_bad_checkpoint_one_error(make, says, ckpt, micrographs, tmp_path, capsys, recwarn):
    bad = make(tmp_path, ckpt)
    out = tmp_path / "p.csv"
    rc, stdout, err = cli(capsys, "--checkpoint", bad, micrographs[0], "--output", out)
    line = assert_one_error(rc, err, str(bad), says)
    assert not out.exists() and stdout == ""
    # no torch warning either (pytest records warnings instead of printing them to stderr)
    assert [str(w.message)[:80] for w in recwarn if "torch" in w.filename] == []
    if make in (_python_objects, _malicious):
        # refused without advising to turn the safety off
        assert "weights_only" not in line and "unpickl" in line, line


@pytest.mark.parametrize("content", [np.random.default_rng(0).bytes(4000),
                                     b"image,predicted_class\na.png,pearlite\n"],
                         ids=["random-bytes", "csv-text"])
def test_garbage_not_described_as_python_objects(content, micrographs, tmp_path, capsys):
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(content)
    rc, _, err = cli(capsys, "--checkpoint", bad, micrographs[0])
    line = assert_one_error(rc, err, str(bad))
    assert "Python objects" not in line, line


def test_output_in_missing_folder_checked_before_checkpoint(micrographs, tmp_path, capsys):
    out = tmp_path / "no-such-folder" / "p.csv"
    # the checkpoint is missing too: naming --output shows outputs are checked first
    rc, stdout, err = cli(capsys, "--checkpoint", tmp_path / "missing.pt", micrographs[0],
                          "--output", out)
    assert_one_error(rc, err, "--output", str(out))
    assert not out.parent.exists() and stdout == ""


def test_output_is_a_directory(micrographs, tmp_path, capsys):
    out = tmp_path / "results"
    out.mkdir()
    rc, stdout, err = cli(capsys, "--checkpoint", tmp_path / "missing.pt", micrographs[0],
                          "--output", out)
    assert_one_error(rc, err, "--output", str(out))
    assert list(out.iterdir()) == [] and stdout == ""


def test_tiles_output_in_read_only_folder(micrographs, tmp_path, capsys):
    ro = tmp_path / "read-only"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as root: a 0o555 folder is writable anyway")
        out, tiles = tmp_path / "p.csv", ro / "tiles.csv"
        rc, stdout, err = cli(capsys, "--checkpoint", tmp_path / "missing.pt", micrographs[0],
                              "--output", out, "--tiles-output", tiles)
        assert_one_error(rc, err, "--tiles-output", str(tiles))
        assert not out.exists() and not tiles.exists() and stdout == ""
    finally:
        ro.chmod(0o755)


@pytest.mark.parametrize("scale", ["-0.5", "0", "inf", "nan"])
def test_non_positive_um_per_px(scale, ckpt, micrographs, tmp_path, capsys):
    out = tmp_path / "p.csv"
    rc, stdout, err = cli(capsys, "--checkpoint", ckpt, micrographs[0], "--output", out,
                          "--um-per-px", scale)
    assert_one_error(rc, err, "--um-per-px")
    assert not out.exists() and stdout == ""


def test_folder_without_images(ckpt, tmp_path, capsys):
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    (empty / "readme.txt").write_text("no micrographs")
    out = tmp_path / "p.csv"
    rc, stdout, err = cli(capsys, "--checkpoint", ckpt, empty, "--output", out)
    assert_one_error(rc, err, "no images", str(empty))
    assert not out.exists() and stdout == ""


# ---------------------------------------------------------------- 4. an unreadable image

def test_unreadable_image_skipped_rest_predicted(ckpt, folder, tmp_path, capsys):
    broken = folder / "Croppedmicrograph999999.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 10)
    out = tmp_path / "p.csv"
    rc, _, err = cli(capsys, "--checkpoint", ckpt, folder, "--output", out)
    assert rc == 1, err
    assert "Traceback" not in err
    assert f"skipped {broken}" in err
    assert "3 micrograph(s) predicted" in err and "1 failed" in err
    table = pd.read_csv(out)
    assert len(table) == 3 and str(broken) not in set(table["image"])
    assert (table["n_tiles"] == 15).all()


# ---------------------------------------------------------------- 5. a model trained at a scale

@pytest.fixture(scope="module")
def scaled(tmp_path_factory, data_root):
    """A checkpoint trained on tiles resampled to 0.2 µm/px. Pearlite (~0.01-0.04 µm/px)
    would shrink below one tile and network (~2 µm/px) grow tenfold, so two classes whose
    micrographs lie near that scale."""
    d = tmp_path_factory.mktemp("predict-scaled")
    path, _ = _train_checkpoint(
        d, {"root": str(data_root), "micrograph_limit_per_class": 6,
            "classes": ["spheroidite", "pearlite+spheroidite"]},
        {"tile_size": TILE, "stride": TILE, "min_stride": 64, "um_per_px": SCALE},
        "predict-scaled-test")
    return path


def test_scaled_model_end_to_end(scaled, data_root, tmp_path, capsys):
    assert Predictor.from_checkpoint(scaled).um_per_px == SCALE
    catalog = load_uhcsdb_catalog(data_root)
    # a spheroidite micrograph recorded at about twice the model's pixel size
    row = catalog[(catalog["label"] == "spheroidite") & (catalog["um_per_px"] > 0.3)
                  & (catalog["um_per_px"] < 0.5)].iloc[0]
    image, scale = Path(row["path"]), float(row["um_per_px"])

    out = tmp_path / "p.csv"
    rc, _, err = cli(capsys, "--checkpoint", scaled, image, "--output", out)
    assert rc == 1 and "Traceback" not in err
    assert "--um-per-px" in err and str(scaled) in err and "0.2 µm/px" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()

    rc, _, err = cli(capsys, "--checkpoint", scaled, image, "--output", out,
                     "--um-per-px", repr(scale))
    assert rc == 0, err
    table = pd.read_csv(out)
    assert len(table) == 1 and table["predicted_class"].iloc[0] in (
        "spheroidite", "pearlite+spheroidite")
    resampled = resample_to_scale(read_micrograph(image, "auto"), scale, SCALE)
    expected = len(tile_origins(*resampled.shape, TILE, TILE))
    assert table["n_tiles"].iloc[0] == expected
    assert expected != 15                       # the resampling is what the count shows


# ---------------------------------------------------------------- 6. outputs that would destroy

@pytest.mark.parametrize("which", ["checkpoint", "image", "image-link", "tiles-output", "map",
                                   "image-hardlink", "checkpoint-hardlink"])
def test_output_that_is_an_input_is_refused(which, ckpt, micrographs, tmp_path, capsys):
    """An output that resolves to an input, the other output or a file in --map, or that is
    the same file under another name (a hard link): refused before any work, nothing changed."""
    model = tmp_path / "model.pt"
    shutil.copy(ckpt, model)
    image = tmp_path / micrographs[0].name
    shutil.copy(micrographs[0], image)
    link = tmp_path / "link.png"
    link.symlink_to(image)
    (tmp_path / "h.csv").hardlink_to(image)
    (tmp_path / "m.csv").hardlink_to(model)
    maps, tiles = tmp_path / "maps", tmp_path / "tiles.csv"
    output = {"checkpoint": model, "image": image, "image-link": link, "tiles-output": tiles,
              "map": maps / "table.csv", "image-hardlink": tmp_path / "h.csv",
              "checkpoint-hardlink": tmp_path / "m.csv"}[which]
    before = {p: p.read_bytes() for p in (model, image)}
    extra = ["--tiles-output", tiles] if which == "tiles-output" else []
    extra += ["--map", maps] if which == "map" else []
    rc, stdout, err = cli(capsys, "--checkpoint", model, image, "--output", output, *extra)
    assert_one_error(rc, err, "--output", str(output))
    assert stdout == "" and {p: p.read_bytes() for p in before} == before
    assert not tiles.exists() and not maps.exists()


def test_tiles_output_hard_linked_to_output_refused(ckpt, micrographs, tmp_path, capsys):
    out = tmp_path / "p.csv"
    out.write_text("an earlier table")
    (tmp_path / "t.csv").hardlink_to(out)
    rc, _, err = cli(capsys, "--checkpoint", ckpt, micrographs[0], "--output", out,
                     "--tiles-output", tmp_path / "t.csv")
    assert_one_error(rc, err, "--tiles-output", "also given as --output")
    assert out.read_text() == "an earlier table"


def test_outputs_replace_their_file_never_write_into_it(ckpt, micrographs, tmp_path, capsys,
                                                       monkeypatch):
    """Even an alias the checks miss (here: the check switched off) leaves the input intact:
    outputs are written beside their name and renamed over it."""
    from spring_lib.nets import predict_cli

    monkeypatch.setattr(predict_cli, "_check_not_an_input", lambda *a: None)
    image = tmp_path / micrographs[0].name
    shutil.copy(micrographs[0], image)
    before = image.read_bytes()
    (tmp_path / "h.csv").hardlink_to(image)
    (tmp_path / "t.csv").hardlink_to(image)
    rc, _, err = cli(capsys, "--checkpoint", ckpt, image, "--output", tmp_path / "h.csv",
                     "--tiles-output", tmp_path / "t.csv", "--precision", "fp32")
    assert rc == 0, err
    assert image.read_bytes() == before
    assert len(pd.read_csv(tmp_path / "h.csv")) == 1 and len(pd.read_csv(tmp_path / "t.csv")) == 15
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([image.name, "h.csv", "t.csv"])


def test_unwritable_output_refused_before_any_work(micrographs, tmp_path, capsys):
    """/proc refuses new files even to root: the refusal comes before the checkpoint is read."""
    rc, stdout, err = cli(capsys, "--checkpoint", tmp_path / "missing.pt", micrographs[0],
                          "--output", "/proc/x.csv")
    assert_one_error(rc, err, "--output", "/proc/x.csv")
    assert stdout == ""


def test_map_of_a_large_micrograph_is_bounded(predictor, micrographs):
    """The class map is computed on the cells the windows cut, not per pixel and class: its
    size follows the windows, and expanding it gives the per-pixel map."""
    img = np.tile(predictor.image(micrographs[0]), (6, 6))     # 2886 x 3870 px
    grid, ys, xs = predictor.class_grid(img, 0.5)
    assert grid.shape == (len(ys) - 1, len(xs) - 1) and grid.size < 200 * 200
    assert ys[0] == 0 and ys[-1] == img.shape[0] and xs[-1] == img.shape[1]
    cmap = predictor.class_map(img, 0.5)
    assert cmap.shape == img.shape and cmap.itemsize == 1
    assert cmap[ys[3], xs[5]] == grid[3, 5] and cmap[-1, -1] == grid[-1, -1]


def test_map_stride_grows_only_to_bound_the_windows():
    """12000 px at half a tile would add ~8,600 windows to the tile grid: the stride grows to
    the tile (the grid's own windows, plus the last row and column); a normal micrograph's
    map keeps the stride asked for. A stride never passes the tile: every pixel is covered."""
    from spring_lib.data.tiling import MAP_EXTRA_WINDOWS, extra_windows, map_stride

    assert map_stride(481, 645, 224, 112) == 112
    assert extra_windows(12000, 12000, 224, 112) > MAP_EXTRA_WINDOWS
    assert map_stride(12000, 12000, 224, 112) == 224
    assert map_stride(12000, 12000, 96, 48) == 96
    assert map_stride(3000, 3000, 224, 56) == 56
    assert map_stride(6000, 6000, 224, 56) == 112        # the finest stride that fits
    assert extra_windows(6000, 6000, 224, 112) <= MAP_EXTRA_WINDOWS
    for size, tile, stride in [(12000, 224, 112), (40000, 96, 10), (5000, 224, 22)]:
        s = map_stride(size, size, tile, stride)
        assert stride <= s <= tile and (s == stride or tile % s == 0)


@pytest.fixture
def large_image(predictor, micrographs, tmp_path) -> Path:
    """A 2886 x 3870 px micrograph (the first one tiled 6 x 6), as a PNG."""
    folder = tmp_path / "large"
    folder.mkdir()
    path = folder / "large.png"
    Image.fromarray(np.tile(predictor.image(micrographs[0]), (6, 6))).save(path)
    return path


def test_large_map_stride_grows_and_says_so(ckpt, large_image, tmp_path, capsys, monkeypatch):
    """With the cap lowered, a 2886 x 3870 px map steps a whole tile: every pixel covered,
    the stride named in the CLI's output and the map's title, a bar of its windows, the
    micrograph's row the one it gets without a map, and never more than a batch of tiles
    in memory."""
    import matplotlib.pyplot as plt

    from spring_lib.data import tiling
    from spring_lib.nets import predict

    monkeypatch.setattr(tiling, "MAP_EXTRA_WINDOWS", 100)
    seen = []
    forward = predict.Predictor.probabilities
    monkeypatch.setattr(predict.Predictor, "probabilities",
                        lambda self, tiles: seen.append(len(tiles)) or forward(self, tiles))
    maps, out, plain = tmp_path / "maps", tmp_path / "p.csv", tmp_path / "plain.csv"
    rc, _, err = cli(capsys, "--checkpoint", ckpt, large_image, "--output", out, "--map", maps,
                     "--precision", "fp32")
    assert rc == 0, err
    assert f"map of {large_image}: window {TILE} px, stride {TILE} px (grown from {TILE // 2} px" in err
    assert " windows/s" in err and max(seen) == predict.BATCH   # the map's own progress bar
    # the tile grid (22 x 30) and the last row and column flush with the edges
    assert sum(seen) == 23 * 31
    assert (maps / "large.png").stat().st_size > 20_000
    rc, _, err = cli(capsys, "--checkpoint", ckpt, large_image, "--output", plain,
                     "--precision", "fp32")
    assert rc == 0, err
    with_map, without = pd.read_csv(out), pd.read_csv(plain)
    assert with_map["n_tiles"].iloc[0] == 22 * 30 == without["n_tiles"].iloc[0]
    cols = [c for c in without.columns if c.startswith("p:")]
    assert np.allclose(with_map[cols], without[cols], atol=1e-5)

    predictor = Predictor.from_checkpoint(ckpt, "fp32")
    img = predictor.image(large_image)
    assert predictor.map_stride(img.shape) == (TILE, TILE // 2)
    windows = predictor.map_windows(img)
    assert len(windows[1]) == 23 * 31
    assert (predictor.class_grid(img, windows=windows)[0] >= 0).all()   # every pixel covered
    fig = predictor.phase_map(large_image, img=img, windows=windows)
    assert f"stride {TILE} px (grown from {TILE // 2} px" in fig.axes[0].get_title()
    plt.close(fig)


# ---------------------------------------------------------------- keeping the network busy

def test_progress_bar_on_stderr(ckpt, folder, tmp_path, capsys):
    rc, _, err = cli(capsys, "--checkpoint", ckpt, folder, "--output", tmp_path / "p.csv")
    assert rc == 0, err
    assert "3/3" in err and "micrographs/s" in err


def test_batches_span_micrographs_read_off_the_main_thread(ckpt, folder, tmp_path, capsys,
                                                            monkeypatch):
    """3 micrographs of 15 tiles: full batches cut across them, the last one the rest; the
    images read on another thread while the network computes."""
    import threading

    from spring_lib.nets import predict

    sizes, readers = [], set()
    forward, read = predict.Predictor.probabilities, predict.Predictor.image
    monkeypatch.setattr(predict.Predictor, "probabilities",
                        lambda self, tiles: sizes.append(len(tiles)) or forward(self, tiles))
    monkeypatch.setattr(predict.Predictor, "image", lambda self, *a: readers.add(
        threading.current_thread().name) or read(self, *a))
    rc, _, err = cli(capsys, "--checkpoint", ckpt, folder, "--output", tmp_path / "p.csv")
    assert rc == 0, err
    b = predict.BATCH
    assert sizes == [b] * (45 // b) + ([45 % b] if 45 % b else [])
    assert readers and threading.main_thread().name not in readers


def test_reading_runs_a_few_micrographs_ahead_and_in_order():
    import time

    from spring_lib.nets.inference import Job, prefetched

    started = []

    def prepare(i):
        started.append(i)
        return Job(Path(str(i)))
    jobs = prefetched(prepare, range(20), depth=3)
    first = next(jobs)
    time.sleep(0.2)                         # time for the thread to read ahead, if it would
    assert first.path == Path("0") and len(started) <= 4
    assert [j.path for j in jobs] == [Path(str(i)) for i in range(1, 20)]


def test_folded_network_computes_what_the_trained_one_does(ckpt, micrographs):
    """Batch norms folded into the convolutions: gone from the network, same probabilities
    as `evaluate` on the trained model (fp32)."""
    from spring_lib.data.tiling import cut_tiles
    from spring_lib.nets.execution import evaluate

    predictor = Predictor.from_checkpoint(ckpt, "fp32")
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in predictor.model.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in predictor.network.modules())
    img = predictor.image(micrographs[0])
    tiles = cut_tiles(img, tile_origins(*img.shape, TILE, TILE), TILE)
    want = evaluate(predictor.model, tiles, None, predictor.transform, predictor.execution)[2]
    assert np.allclose(predictor.probabilities(tiles), want, atol=1e-5)


class UsesConvOutputTwice(torch.nn.Module):
    """A batch norm reads the convolution's output, and so does the skip: not foldable."""

    def __init__(self):
        super().__init__()
        self.conv, self.bn = torch.nn.Conv2d(3, 3, 3, padding=1), torch.nn.BatchNorm2d(3)

    def forward(self, x):
        y = self.conv(x)
        return self.bn(y) + y


def test_batchnorm_folded_only_where_that_changes_nothing():
    from spring_lib.nets.inference import fold_batchnorm

    torch.manual_seed(0)
    plain = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4),
                                torch.nn.ReLU(), torch.nn.Flatten())
    twice = UsesConvOutputTwice()
    for m in (plain, twice):
        m.get_submodule("1" if m is plain else "bn").running_mean.uniform_(-1, 1)
        m.get_submodule("1" if m is plain else "bn").running_var.uniform_(0.5, 2)
        m.eval()
    folded = fold_batchnorm(plain, 8)
    assert folded is not plain and isinstance(folded[1], torch.nn.Identity)
    x = torch.randn(2, 3, 8, 8)
    assert torch.allclose(folded(x), plain(x), atol=1e-5)
    assert fold_batchnorm(twice, 8) is twice


# ---------------------------------------------------------------- precision

@pytest.mark.parametrize("flags, precision", [({"avx2"}, "fp32"), ({"avx2", "amx_bf16"}, "bf16"),
                                              ({"avx512_bf16"}, "bf16")])
def test_prediction_runs_in_bf16_only_where_the_cpu_computes_it(flags, precision, ckpt,
                                                                 monkeypatch):
    import torch

    from spring_lib.core import machine

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(machine, "cpu_flags", lambda: set(flags))
    for cap in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"):   # the flags alone decide here
        monkeypatch.delenv(cap, raising=False)
    assert Predictor.from_checkpoint(ckpt).execution.precision == precision
    assert Predictor.from_checkpoint(ckpt, "fp32").execution.precision == "fp32"


def test_bf16_prediction_agrees_with_fp32_on_real_micrographs(ckpt, trained, data_root, tmp_path):
    """bf16 moves no tile probability by 0.05 or more, so the class of every tile whose fp32
    lead (top-1 minus top-2 probability) exceeds 0.1 must stay; a tile near a tie may flip
    (on an AVX-512 BF16 EPYC 2 of 15 did). Holds on AMX Xeons, AVX-512 BF16 EPYCs and
    AVX2-only CPUs alike. The one-epoch checkpoint's probabilities sit near uniform (8 of its
    450 tiles lead by 0.1): its head doubled (temperature 1/2) spreads them as a trained
    network's are (48 do; bf16 moved none by more than 0.03 on an EPYC)."""
    obj = torch.load(ckpt, map_location="cpu", weights_only=True)
    obj["state"] = {k: v * 2 if k.startswith("head.") else v for k, v in obj["state"].items()}
    torch.save(obj, tmp_path / "sharper.pt")
    fp32 = Predictor.from_checkpoint(tmp_path / "sharper.pt", "fp32")
    bf16 = Predictor.from_checkpoint(tmp_path / "sharper.pt", "bf16")
    tolerance, confident = 0.05, 0
    for m in trained[1].micrographs["micrograph_id"]:      # 30 micrographs, 450 tiles
        path = data_root / "images" / f"Croppedmicrograph{m}.png"
        pa, pb = (p.predict(path)[1].filter(like="p:").to_numpy() for p in (fp32, bf16))
        assert np.abs(pa - pb).max() < tolerance
        top = np.sort(pa, 1)
        sure = top[:, -1] - top[:, -2] > 2 * tolerance
        assert (pa[sure].argmax(1) == pb[sure].argmax(1)).all()
        confident += int(sure.sum())
    assert confident > 0
