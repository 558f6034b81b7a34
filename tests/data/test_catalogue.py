import shutil

import numpy as np
import pandas as pd
import pytest
import tifffile
from PIL import Image

from spring_lib.config import ConfigError, load_config
from spring_lib.data.catalogue import (DataError, load_catalog, load_folder_catalog,
                                       load_uhcsdb_catalog, resolve_data_root)
from spring_lib.data.images import databar_rows, read_micrograph


@pytest.fixture
def grey():
    rng = np.random.default_rng(0)
    return rng.integers(20, 236, size=(60, 80), dtype=np.uint8)


def _with_databar(img, rows=12):
    bar = np.zeros((rows, img.shape[1]), np.uint8)
    bar[3:8, 5:40] = 255          # "text" in the bar
    return np.vstack([img, bar])


@pytest.mark.parametrize("fmt", ["png", "jpg", "tif", "bmp"])
def test_8bit_grey_every_format(tmp_path, grey, fmt):
    path = tmp_path / f"m.{fmt}"
    if fmt == "tif":
        tifffile.imwrite(path, grey)
    else:
        Image.fromarray(grey).save(path, quality=100) if fmt == "jpg" else Image.fromarray(grey).save(path)
    out = read_micrograph(path)
    assert out.dtype == np.uint8 and out.shape == grey.shape
    if fmt == "jpg":  # lossy
        assert np.abs(out.astype(int) - grey).mean() < 3
    else:
        assert np.array_equal(out, grey)


def test_rgb_with_equal_channels_is_exact(tmp_path, grey):
    Image.fromarray(np.dstack([grey] * 3)).save(tmp_path / "rgb.png")
    assert np.array_equal(read_micrograph(tmp_path / "rgb.png"), grey)


def test_rgba_and_palette(tmp_path, grey):
    Image.fromarray(np.dstack([grey] * 3 + [np.full_like(grey, 255)])).save(tmp_path / "a.png")
    assert np.array_equal(read_micrograph(tmp_path / "a.png"), grey)
    Image.fromarray(grey).convert("P").save(tmp_path / "p.png")
    assert np.abs(read_micrograph(tmp_path / "p.png").astype(int) - grey).max() <= 8


def test_colour_becomes_luminance(tmp_path):
    img = np.zeros((20, 20, 3), np.uint8)
    img[..., 1] = 200
    Image.fromarray(img).save(tmp_path / "c.png")
    out = read_micrograph(tmp_path / "c.png")
    assert out.shape == (20, 20) and abs(int(out[0, 0]) - round(200 * 0.7154)) <= 1


@pytest.mark.parametrize("fmt", ["tif", "png"])
def test_16bit_is_stretched_to_uint8(tmp_path, fmt):
    img16 = np.linspace(1000, 4000, 60 * 80).reshape(60, 80).astype(np.uint16)
    path = tmp_path / f"m16.{fmt}"
    tifffile.imwrite(path, img16) if fmt == "tif" else Image.fromarray(img16).save(path)
    out = read_micrograph(path)
    assert out.dtype == np.uint8 and out.min() == 0 and out.max() == 255
    assert np.all(np.diff(out.ravel().astype(int)) >= 0)  # order preserved


def test_unreadable_file_is_named(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(DataError, match="broken.png"):
        read_micrograph(bad)


def test_databar_detected_and_cropped(tmp_path, grey):
    img = _with_databar(grey, rows=12)
    assert databar_rows(img) == 12
    assert databar_rows(grey) == 0
    tifffile.imwrite(tmp_path / "m.tif", img)
    assert np.array_equal(read_micrograph(tmp_path / "m.tif", "auto"), grey)
    assert np.array_equal(read_micrograph(tmp_path / "m.tif", 12), grey)
    assert read_micrograph(tmp_path / "m.tif", "none").shape == img.shape


def test_uhcsdb_catalog_matches_labels_csv(data_root):
    cat = load_uhcsdb_catalog(data_root)
    ref = pd.read_csv(data_root / "labels.csv", dtype={"micrograph_id": str})
    assert len(cat) == len(ref) == 538
    merged = cat.merge(ref[["micrograph_id", "label"]], on="micrograph_id", suffixes=("", "_csv"))
    assert (merged["label"] == merged["label_csv"]).all()
    assert not cat["has_databar"].any()  # the shared copies are already cropped
    row = cat.set_index("micrograph_id").loc["2"]
    assert row["um_per_px"] == pytest.approx(10.0 / 103)


def test_original_nist_tiff_gets_its_databar_cropped(tmp_path, data_root):
    """A NIST original (micrograph<ID>.tif, data bar at the bottom) is found by id and cropped."""
    shutil.copy(data_root / "microstructures.sqlite", tmp_path)
    cropped = read_micrograph(data_root / "images" / "Croppedmicrograph2.png")
    tifffile.imwrite(tmp_path / "micrograph2.tif", _with_databar(cropped, rows=38))
    cat = load_uhcsdb_catalog(tmp_path)
    assert list(cat["micrograph_id"]) == ["2"] and cat["has_databar"].all()
    assert np.array_equal(read_micrograph(cat["path"][0], "auto"), cropped)


def test_folder_layout(tmp_path, grey, write_profile):
    for cls in ("ferrite_pearlite", "martensite"):
        (tmp_path / "lab" / cls).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(grey).save(tmp_path / "lab" / cls / f"img{i}.png")
    cat = load_folder_catalog(tmp_path / "lab")
    assert len(cat) == 6 and set(cat["label"]) == {"ferrite_pearlite", "martensite"}
    cfg = load_config(write_profile({"data": {"root": str(tmp_path / "lab"), "layout": "folders",
                                              "n_classes": 2}}))
    assert len(load_catalog(cfg)) == 6


def test_class_not_in_data_names_key_and_file(write_profile, data_root):
    path = write_profile({"data": {"root": str(data_root), "classes": ["spheroidite", "martensite"]}})
    with pytest.raises(ConfigError) as exc:
        load_catalog(load_config(path))
    assert "data.classes" in str(exc.value) and str(path) in str(exc.value)
    assert "martensite" in str(exc.value)


def test_top_five_classes_by_default(write_profile, data_root):
    cat = load_catalog(load_config(write_profile({"data": {"root": str(data_root)}})))
    assert list(cat["label"].cat.categories) == [
        "spheroidite", "network", "spheroidite+widmanstatten", "pearlite+spheroidite", "pearlite"]


def test_missing_data_root_says_how_to_fix(write_profile, tmp_path, monkeypatch):
    monkeypatch.delenv("SPRING_DATA_ROOT", raising=False)
    cfg = load_config(write_profile({"data": {"root": str(tmp_path / "nowhere")}}))
    with pytest.raises(DataError, match="make data"):
        resolve_data_root(cfg)


def test_env_variable_is_used(write_profile, data_root, monkeypatch):
    monkeypatch.setenv("SPRING_DATA_ROOT", str(data_root))
    assert resolve_data_root(load_config(write_profile({}))) == data_root.resolve()


def _lab(root, grey, files):
    """A folder-per-class set: {"class/name.ext": image}; a trailing "/" makes an empty folder."""
    for rel in files:
        path = root / rel
        if rel.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tifffile.imwrite(path, grey) if path.suffix == ".tif" else Image.fromarray(grey).save(path)
    return root


def test_same_name_two_extensions_is_refused_naming_both(tmp_path, grey):
    root = _lab(tmp_path / "lab", grey, ["ferrite/a.png", "ferrite/a.tif", "martensite/b.png"])
    with pytest.raises(DataError) as exc:
        load_folder_catalog(root)
    message = str(exc.value)
    assert str(root / "ferrite" / "a.png") in message and str(root / "ferrite" / "a.tif") in message


def test_same_name_in_two_classes_is_two_micrographs(tmp_path, grey):
    root = _lab(tmp_path / "lab", grey, ["ferrite/a.png", "martensite/a.png", "martensite/x/a.png"])
    Image.fromarray(255 - grey).save(root / "martensite" / "a.png")
    cat = load_folder_catalog(root)
    assert list(cat["micrograph_id"]) == ["ferrite/a", "martensite/a", "martensite/x/a"]
    assert cat["sample_key"].is_unique
    by_id = cat.set_index("micrograph_id")
    assert by_id.loc["ferrite/a", "label"] == "ferrite"
    assert np.array_equal(read_micrograph(by_id.loc["martensite/a", "path"]), 255 - grey)


def test_empty_class_folder_is_named(tmp_path, grey):
    root = _lab(tmp_path / "lab", grey, ["ferrite/a.png", "martensite/", "pearlite/"])
    (root / "pearlite" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError) as exc:
        load_folder_catalog(root)
    message = str(exc.value)
    assert str(root / "martensite") in message and str(root / "pearlite") in message
    assert str(root / "ferrite") not in message


def test_duplicate_ids_in_uhcsdb_are_refused(tmp_path, grey):
    rows = pd.DataFrame({"micrograph_id": [1, 2], "label": ["a", "b"], "sample_key": [1, 2],
                         "micron_bar": 10, "micron_bar_units": "um", "micron_bar_px": 100,
                         "magnification": "1000X", "detector": "SE"})
    rows.to_csv(tmp_path / "labels.csv", index=False)
    _lab(tmp_path, grey, ["Croppedmicrograph1.png", "Croppedmicrograph2.png", "micrograph2.tif"])
    assert len(load_uhcsdb_catalog(tmp_path)) == 2  # an original beside its cropped copy is fine
    _lab(tmp_path, grey, ["more/Croppedmicrograph2.png"])
    with pytest.raises(DataError) as exc:
        load_uhcsdb_catalog(tmp_path)
    assert str(tmp_path / "Croppedmicrograph2.png") in str(exc.value)
    assert str(tmp_path / "more" / "Croppedmicrograph2.png") in str(exc.value)
    (tmp_path / "more" / "Croppedmicrograph2.png").unlink()
    pd.concat([rows, rows.iloc[[1]]]).to_csv(tmp_path / "labels.csv", index=False)
    with pytest.raises(DataError, match=r"labels.csv lists micrograph id\(s\) \['2'\]"):
        load_uhcsdb_catalog(tmp_path)


# ---------------------------------------------------------------- links and twins in a lab's folders

def test_link_at_the_data_root_is_not_a_class(tmp_path, grey):
    """`ln -s . DATA/loop` made a class of duplicates of every class."""
    root = _lab(tmp_path / "lab", grey, ["ferrite/a.png", "martensite/b.png"])
    (root / "loop").symlink_to(".")
    with pytest.raises(DataError) as exc:
        load_folder_catalog(root)
    message = str(exc.value)
    assert "\n" not in message and str(root / "loop") in message and "real folder" in message


def test_link_to_an_image_inside_the_root_is_refused(tmp_path, grey):
    root = _lab(tmp_path / "lab", grey, ["ferrite/a.png", "martensite/b.png"])
    (root / "martensite" / "c.png").symlink_to(root / "ferrite" / "a.png")
    with pytest.raises(DataError, match="inside the data root") as exc:
        load_folder_catalog(root)
    assert str(root / "martensite" / "c.png") in str(exc.value)


# ---------------------------------------------------------------- data bars of any grey

@pytest.mark.parametrize("level, rows", [(60, 12), (0, 250), (128, 250), (255, 30)])
def test_databar_of_any_flat_grey_and_height_is_cropped_whole(level, rows):
    img = np.random.default_rng(1).integers(20, 236, size=(481, 645), dtype=np.uint8)
    bar = np.full((rows, 645), level, np.uint8)
    bar[3:9, 5:200] = 255 - level          # its text
    assert databar_rows(np.vstack([img, bar])) == rows
    assert databar_rows(img) == 0
