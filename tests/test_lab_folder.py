"""A lab's own folder of labelled micrographs (`data.layout: folders`) runs the whole series, with
and without the scales a `scale.csv` beside the class folders gives."""
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from spring_lib import load_config
from spring_lib.data.catalogue import DataError, load_catalog
from spring_lib.run.runner import run_study

CLASSES = ("spheroidite", "network", "spheroidite+widmanstatten")
PER_CLASS = 6


@pytest.fixture(scope="module")
def lab_folder(tmp_path_factory, data_root):
    """Six UHCS micrographs of three classes, one folder per class, as a lab would bring them
    (PNG copies; their scale bars' µm/px kept aside for scale.csv)."""
    labels = pd.read_csv(data_root / "labels.csv")
    root = tmp_path_factory.mktemp("lab") / "micrographs"
    rows = []
    for cls in CLASSES:
        (root / cls).mkdir(parents=True)
        for r in labels[labels["label"] == cls].head(PER_CLASS).itertuples():
            name = f"{cls}/m{r.micrograph_id}.png"
            shutil.copy(data_root / r.path, root / name)
            rows.append({"file": name, "um_per_px": r.micron_bar / r.micron_bar_px})
    return root, pd.DataFrame(rows)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One cache for both runs: the second measures nothing the first measured."""
    return tmp_path_factory.mktemp("lab-cache")


def _profile(tmp_path, root, cache) -> str:
    """The smoke profile on the folder: three classes, one cheap network arm."""
    content = yaml.safe_load((Path(__file__).parents[1] / "params" / "smoke.yaml").read_text())
    content["data"] = {"layout": "folders", "root": str(root), "n_classes": len(CLASSES)}
    content["cache_dir"] = str(cache)
    content["cnn"].update(arms_baselines=[], arms_transfer=["EfficientNet-Lite0-probe"])
    content["fusion"] = {"members": ["EfficientNet-Lite0"], "min_members": 2}   # one probe: none
    content["split"].update(train_tiles_per_class=12, val_tiles_per_class=4,
                            test_tiles_per_class=6)
    path = tmp_path / "lab-test.yaml"
    path.write_text(yaml.safe_dump(content))
    return str(path)


def _run(tmp_path, root, cache):
    out = run_study(_profile(tmp_path, root, cache), results_root=tmp_path / "results",
                    log=lambda s: None)
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "ok" and [n["status"] for n in record["notebooks"]] == ["ok"] * 6
    arms = pd.read_csv(out / "tables" / "arms_glcm.csv").set_index("arm")["status"]
    return out, arms, (out / "REPORT.md").read_text()


def test_the_series_runs_on_a_folder_without_scales_and_says_what_it_could_not_do(
        lab_folder, tmp_path, cache):
    root, _ = lab_folder
    out, arms, report = _run(tmp_path, root, cache)
    assert arms["pixel-size"] == "not run: no scale" and arms["GLCM+SVM"] == "fitted"
    assert not (out / "kfold" / "pixel-size.csv").exists()
    assert "No pixel-size floor: the micrographs have no scale" in report
    assert "No magnification band: the micrographs have no scale." in report
    results = pd.read_csv(out / "tables" / "results_all_arms.csv")
    assert set(results["model"]) == {"GLCM+SVM", "EfficientNet-Lite0-probe"}


def test_the_series_runs_on_a_folder_with_scales_and_its_pixel_size_floor(lab_folder, tmp_path,
                                                                         cache):
    src, scales = lab_folder
    root = tmp_path / "micrographs"
    shutil.copytree(src, root)
    scales.to_csv(root / "scale.csv", index=False)
    out, arms, report = _run(tmp_path, root, cache)
    assert arms["pixel-size"] == "fitted" and (out / "kfold" / "pixel-size.csv").exists()
    assert "Pixel size alone (log µm/px, no image) scores" in report
    assert "No pixel-size floor" not in report and "have no scale" not in report


def test_a_scale_file_is_read_and_checked(lab_folder, tmp_path, write_profile):
    src, scales = lab_folder
    root = tmp_path / "micrographs"
    shutil.copytree(src, root)
    cfg = load_config(write_profile({"data": {"layout": "folders", "root": str(root),
                                              "n_classes": 3}}))
    assert load_catalog(cfg)["um_per_px"].isna().all()
    scales.to_csv(root / "scale.csv", index=False)
    got = load_catalog(cfg).set_index("path")["um_per_px"]
    want = {str(root / f): um for f, um in zip(scales["file"], scales["um_per_px"])}
    assert got.to_dict() == pytest.approx(want)
    for bad, says in [(scales.assign(um_per_px=-1.0), "must be a positive number"),
                      (scales.rename(columns={"file": "image"}), "needs exactly `file,um_per_px`"),
                      (pd.concat([scales, scales.head(1)]), "more than one scale"),
                      (pd.concat([scales, pd.DataFrame({"file": ["pearlite/x.png"],
                                                        "um_per_px": [0.1]})]),
                       "not images in a class folder")]:
        bad.to_csv(root / "scale.csv", index=False)
        with pytest.raises(DataError, match=says):
            load_catalog(cfg)
