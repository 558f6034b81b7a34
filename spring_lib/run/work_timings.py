"""Small samples of the notebooks' own work, timed on this machine: what `notebook_estimates`
scales by the counts a profile determines. Each returns seconds of one unit of work (a
micrograph read, a tile's GLCM features, one SVM fit, ...), never a number copied from a run.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ..core.machine import one_blas_thread, seconds


# ---------------------------------------------------------------- notebook 01

def micrograph_seconds(catalog, cfg, n: int = 6) -> float:
    """Mean seconds per micrograph of what building the tile set does to each: read it, crop
    its data bar, resample it to `tiling.um_per_px`, hash it for near duplicates. Timed on n
    micrographs at evenly spaced quantiles of the catalogue's image sizes (the hash's blur
    grows faster than the pixels, so a few large micrographs weigh)."""
    from ..data.catalogue import databar_setting
    from ..data.images import read_micrograph
    from ..data.splits import dhash
    from ..data.tiling import resample_to_scale

    order = np.argsort(pixel_counts(catalog), kind="stable")
    picks = order[((np.arange(n) + 0.5) / n * len(order)).astype(int)]
    rows = catalog.iloc[picks]

    def work():
        for r in rows.itertuples():
            img = read_micrograph(r.path, databar_setting(cfg, r.has_databar))
            if cfg.tiling.um_per_px:
                img = resample_to_scale(img, r.um_per_px, cfg.tiling.um_per_px)
            dhash(img)

    return seconds(work, 3) / len(rows)


def pixel_counts(catalog) -> np.ndarray:
    """Pixels of each micrograph of the catalogue, from its file's header."""
    from PIL import Image

    counts = []
    for path in catalog["path"]:
        with Image.open(path) as im:
            counts.append(im.size[0] * im.size[1])
    return np.array(counts)


def sample_tiles(cfg, tileset=None, n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """n real tiles and their class numbers: spread over the tile set, or (before notebook 01
    has run) cut from micrographs spread over the catalogue."""
    if tileset is not None and len(tileset.tiles):
        pick = np.linspace(0, len(tileset.tiles) - 1, n).astype(int)
        return np.array(tileset.tiles[pick]), tileset.labels()[pick]
    from ..data.catalogue import databar_setting, load_catalog
    from ..data.images import read_micrograph

    catalog, t = load_catalog(cfg), cfg.tiling.tile_size
    tiles, labels = [], []
    for r in catalog.iloc[np.linspace(0, len(catalog) - 1, 5).astype(int)].itertuples():
        img = read_micrograph(r.path, databar_setting(cfg, r.has_databar))
        cut = [img[y:y + t, x:x + t] for y in range(0, img.shape[0] - t + 1, t)
               for x in range(0, img.shape[1] - t + 1, t)][:max(1, n // 5)]
        tiles += cut
        labels += [r.label] * len(cut)
    codes = np.unique(np.array(labels, dtype=str), return_inverse=True)[1]
    reps = -(-n // len(tiles))
    return np.stack(tiles * reps)[:n], np.tile(codes, reps)[:n]


def normalisation_seconds(tiles: np.ndarray, n: int = 512) -> float:
    """Seconds per tile of fitting eq. 20's statistics (on n tiles: its float copies of the
    tiles outgrow the processor's cache, as the training split's do)."""
    from ..data.normalization import Standardizer

    many = np.concatenate([tiles] * -(-n // len(tiles)))[:n]
    return seconds(lambda: Standardizer.fit(many)) / n


def npz_seconds(tiles: np.ndarray, write: bool) -> float:
    """Seconds per tile of writing the tile cache's .npz, or of reading it back."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "tiles.npz"
        wrote = seconds(lambda: np.savez(path, tiles=tiles))
        if write:
            return wrote / len(tiles)

        def read():
            with np.load(path) as f:
                f["tiles"]
        return seconds(read, 2) / len(tiles)


# ---------------------------------------------------------------- GLCM and the SVM

def glcm_seconds(tiles: np.ndarray, setting: dict, n_jobs: int) -> float:
    """Seconds per tile of one GLCM setting's features (computed, not read from a cache)."""
    from ..glcm.features import glcm_features

    glcm_features(tiles[:2], **setting)   # first call: the library's own set-up, not counted
    return seconds(lambda: glcm_features(tiles, n_jobs=n_jobs, **setting), 2) / len(tiles)


def like_features(features: np.ndarray, labels: np.ndarray, n: int, seed: int = 0):
    """n rows like `features` (real rows drawn again, jittered): an SVM on them keeps about
    as many support vectors as on n real tiles, so it takes about as long."""
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    X = StandardScaler().fit_transform(features)
    pick = rng.integers(0, len(X), n)
    return X[pick] + rng.normal(0, 0.3, (n, X.shape[1])), labels[pick]


def svc_seconds(X: np.ndarray, y: np.ndarray, n_test: int, **params) -> float:
    """Seconds of one SVC fit on (X, y) and its scoring on n_test rows."""
    from sklearn.svm import SVC

    def work():
        fitted = SVC(**params).fit(X, y)
        if n_test:
            fitted.decision_function(X[np.arange(n_test) % len(X)])
    return seconds(work, 2)


def search_fit_seconds(n: int, cv: int, classes: int = 5) -> float:
    """Seconds a grouped grid search (`core.grouped_cv.grouped_search`) spends on each fit
    besides the estimator's own work: cloning, splitting, scoring twice, collecting; timed on a
    search over a do-nothing classifier on n rows."""
    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import Pipeline

    from ..core.grouped_cv import grouped_search

    rng = np.random.default_rng(0)
    y, groups = np.arange(n) % classes, rng.integers(0, 4 * cv, n)
    grid = {"clf__strategy": ["prior", "most_frequent", "stratified", "uniform"]}
    pipe = Pipeline([("clf", DummyClassifier(random_state=0))])
    return seconds(lambda: grouped_search(pipe, grid, np.zeros((n, 1)), y, groups, cv, 0), 2
                   ) / (len(grid["clf__strategy"]) * cv + 1)


def pixel_size_fold_seconds(cfg, tileset=None) -> float:
    """Seconds of one fold of the pixel-size arm: its grouped search over C on the first
    k-fold's training tiles, on the real log µm/px (before notebook 01: each micrograph of the
    catalogue repeated to the profile's tile count)."""
    import pandas as pd

    from ..core.grouped_cv import grouped_folds, tuned
    from ..glcm.pixel_size import C_GRID, pixel_size_features, pixel_size_pipeline

    seed, k = cfg.split.seed, cfg.evaluation.kfold
    if tileset is not None:
        X, y = pixel_size_features(tileset), tileset.labels()
        groups = tileset.manifest["group"].astype(str).to_numpy()
    else:
        from ..data.catalogue import load_catalog

        c, s = load_catalog(cfg), cfg.split
        n = c["label"].nunique() * (s.train_tiles_per_class + s.val_tiles_per_class
                                    + s.test_tiles_per_class)
        c = c.iloc[np.arange(n) % len(c)]
        with np.errstate(invalid="ignore"):
            X = np.log10(c["um_per_px"].to_numpy(float))[:, None]
        y = pd.Categorical(c["label"]).codes.astype(np.int64)
        groups = c["sample_key"].astype(str).to_numpy()
    if np.isnan(X).any():   # a micrograph without a scale: the arm is not run, and costs nothing
        return 0.0
    train, _ = grouped_folds(y, groups, k, seed)[0]
    fit = tuned(pixel_size_pipeline(seed), {"clf__C": C_GRID}, cfg.probe.cv_folds, seed,
                "probe.cv_folds")
    return seconds(lambda: fit(X[train], y[train], groups[train]), 2)


# ---------------------------------------------------------------- evaluation and the paper

def feature_files(cfg, probe_arm: str, tile_px: int) -> str:
    """The probe's feature cache files for this tile size, with their sizes: a key that changes
    when they fill (found without loading the network's weights)."""
    from ..core.architectures import Arm
    from ..core.paths import cache_dir
    from ..nets.probe import feature_cache_files

    files = feature_cache_files(cache_dir(cfg) / "features", Arm.parse(probe_arm).architecture,
                                tile_px)
    return ",".join(f"{f.name}:{f.stat().st_size}" for f in files)


def texture_width(probe_arm: str) -> float:
    """Features a tile gets from the probe's texture pooling (the network built without its
    weights, which do not change the width)."""
    import torch

    from ..core.architectures import Arm, architecture
    from ..nets.models import PooledBackbone

    net = PooledBackbone(architecture(Arm.parse(probe_arm).architecture), "texture").eval()
    with torch.no_grad():
        return float(net(torch.zeros(1, 3, 64, 64)).shape[1])


def ladder_probe_fold_seconds(tileset, cfg, probe_arm: str, protocol: str = "samples"
                              ) -> float | None:
    """Seconds of one fold of the leakage ladder's probe, run as the ladder runs it: its
    pipeline at the fixed setting fitted on the protocol's first fold's training tiles and
    scored on the rest, from the probe's cached features (real features take their own number
    of solver iterations). None while the feature cache lacks some tile (before notebook 04)."""
    from ..evaluation.leakage import ladder_models, protocol_folds

    pipe = ladder_models(cfg, probe_arm)[probe_arm]
    if pipe.named_steps["features"].uncached(tileset.tiles):
        return None
    folds, y = protocol_folds(tileset, protocol, cfg), tileset.labels()
    train, test = folds != 0, folds == 0

    def fold():
        with one_blas_thread():   # as kfold_predictions runs it
            pipe.fit(tileset.tiles[train], y[train]).predict_proba(tileset.tiles[test])
    return seconds(fold)


def picture_seconds(map_checkpoint, gradcam_checkpoint, tileset, cfg) -> dict[str, float]:
    """Seconds of the units of notebook 05's pictures: loading a checkpoint (its imports
    done), a phase map of one test micrograph of a mapped class, Grad-CAM per tile (after a
    first call that sets up its hooks, on a batch of four, as the notebook passes its tiles
    together)."""
    import matplotlib.pyplot as plt

    from ..nets.gradcam import gradcam_maps
    from ..nets.predict import Predictor

    predictor = Predictor.from_checkpoint(map_checkpoint)   # the first load: its imports
    load = seconds(lambda: Predictor.from_checkpoint(map_checkpoint))
    micro = tileset.micrographs
    test = micro[micro["split"] == "test"]
    mapped = test[test["label"].isin(cfg.evaluation.map_classes)]
    r = (mapped if len(mapped) else test).iloc[0]
    one_map = seconds(lambda: plt.close(predictor.phase_map(
        r.path, r.um_per_px, cfg.evaluation.map_stride_fraction)))
    cam = (predictor if Path(gradcam_checkpoint) == Path(map_checkpoint)
           else Predictor.from_checkpoint(gradcam_checkpoint))
    tiles, _ = tileset.split("test")
    gradcam_maps(cam.model, tiles[:1], [0], cam.transform)
    batch = tiles[:4]
    tile = seconds(lambda: gradcam_maps(cam.model, batch, [0] * len(batch), cam.transform))
    return {"checkpoint load": load, "phase map": one_map, "Grad-CAM tile": tile / len(batch)}


def bootstrap_seconds(n_micrographs: int, n_samples: int, n_boot: int,
                      classes: int = 5) -> float:
    """Seconds of one sample bootstrap of micrograph predictions (metrics.sample_bootstrap)."""
    import pandas as pd

    from ..evaluation.metrics import sample_bootstrap

    rng = np.random.default_rng(0)
    names = [f"c{i}" for i in range(classes)]
    true = pd.Series(rng.choice(names, n_micrographs))
    pred = true.where(rng.random(n_micrographs) < 0.6, pd.Series(rng.choice(names, n_micrographs)))
    samples = pd.Series(rng.integers(0, n_samples, n_micrographs).astype(str))
    return seconds(lambda: sample_bootstrap(true, pred, samples, names, n_boot))


def audit_seconds() -> float:
    """Seconds of notebook 06's audit of the paper (it builds SE-ResNeXt50 and 101 without
    weights to read their depths); timm is imported first: that counts in the kernel's start."""
    import timm  # noqa: F401

    from ..paper.audit import audit_paper

    return seconds(audit_paper)
