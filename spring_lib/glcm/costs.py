"""Notebook 02's units: GLCM features per setting, the grouped SVM grid searches and the
pixel-size arm's folds; the leakage ladder's estimate reuses the feature and SVC fit units.
Features count as computed: their disk cache is keyed by the exact arrays a search asks for,
which only a rerun of the same notebook repeats."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import ParameterGrid
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from ..core.costs import Unit
from ..core.grouped_cv import grouped_folds, grouped_search, tuned
from ..core.machine import seconds
from ..data.catalogue import load_catalog
from ..data.costs import Work, digests
from .features import GLCMFeatures, glcm_features
from . import svm
from .pixel_size import C_GRID, pixel_size_features, pixel_size_pipeline


def setting(g: GLCMFeatures) -> dict:
    """A GLCM step's parameters as `glcm_features` takes them."""
    return dict(levels=int(g.levels), distances=tuple(g.distances), rotation=g.rotation,
                angles=tuple(np.deg2rad(g.angles_deg)), properties=tuple(g.properties))


def key(s: dict) -> str:
    angles = tuple(round(float(np.rad2deg(a)), 3) for a in s["angles"])
    return (f"{s['levels']} levels|distances {s['distances']}|angles {angles}|"
            f"{','.join(s['properties'])}|{s['rotation']}")


def features(work: Work, part: str, s: dict, count: float) -> Unit:
    """`count` tiles' features of setting `s`, timed on as many tiles as its threads share in
    a run (a few tiles take one thread), after a first call that sets the library up."""
    jobs = work.cfg.glcm.n_jobs

    def per_tile() -> float:
        tiles = work.sample(64)[0]
        glcm_features(tiles[:2], **s)
        return seconds(lambda: glcm_features(tiles, n_jobs=jobs, **s), 2) / len(tiles)
    return Unit(part, f"GLCM features|{key(s)}|{jobs} jobs|{work.counts.tile_px}px", per_tile,
                count=count)


def svc(work: Work, part: str, n_fit: int, n_test: int, s: dict, params: dict,
        count: float = 1) -> list[Unit]:
    """`count` SVC fits on n_fit tiles' features of `s`, each scored on n_test: the features'
    digests, the search's own work per fit (the search's, the refit's and a k-fold's alike)
    and the fit, on rows like real ones."""
    n, cv = work.counts.tiles, work.cfg.glcm.cv_folds

    def fit() -> float:
        tiles, labels = work.sample(64)   # enough real rows to keep their overlap
        X, y = like_features(glcm_features(tiles, **s), labels, n_fit)

        def once():
            fitted = SVC(**params).fit(X, y)
            if n_test:
                fitted.decision_function(X[np.arange(n_test) % len(X)])
        return seconds(once, 2)
    return [digests(work, part, count * (n_fit + n_test)),
            Unit(part, f"grid search per fit|{n} rows|{cv} folds",
                 lambda: _search_fit_seconds(n, cv), count=count),
            Unit(part, f"SVC fit|{n_fit}+{n_test} tiles|{key(s)}|{sorted(params.items())}", fit,
                 count=count)]


def like_features(features: np.ndarray, labels: np.ndarray, n: int, seed: int = 0):
    """n rows like `features` (real rows drawn again, jittered): an SVM on them keeps about as
    many support vectors as on n real tiles, so it takes about as long."""
    rng = np.random.default_rng(seed)
    X, pick = StandardScaler().fit_transform(features), rng.integers(0, len(features), n)
    return X[pick] + rng.normal(0, 0.3, (n, X.shape[1])), labels[pick]


def search(work: Work, part: str, n: int, cands: list, test: int = 0,
           times: int = 1) -> list[Unit]:
    """`times` grouped grid searches on n tiles: each candidate fitted on each inner fold, then
    the best (taken as the first) refitted on all n and scored on `test` tiles."""
    cv = work.cfg.glcm.cv_folds
    inner, held = round(n * (cv - 1) / cv), round(n / cv)
    return [u for s, p in cands for u in svc(work, part, inner, held, s, p, cv * times)
            ] + svc(work, part, n, test, *cands[0], times)


def glcm_costs(work: Work) -> list[Unit]:
    from .figures import FEATURES_SHOWN

    cfg, n, k = work.cfg, work.counts, work.cfg.evaluation.kfold
    split = lambda c, p: {name.removeprefix(p): v for name, v in c.items() if name.startswith(p)}
    cands = [(setting(GLCMFeatures(**split(c, "glcm__"))), split(c, "svc__"))
             for c in ParameterGrid(svm.param_grid(cfg.glcm))]
    settings = list({key(s): s for s, _ in cands}.values())
    shown = setting(GLCMFeatures(**FEATURES_SHOWN))   # the features figure's
    feats = f"GLCM features of {n.tiles} tiles, {len(settings)} settings"
    grid = f"GLCM+SVM grid: {(len(cands) * cfg.glcm.cv_folds + 1) * (k + 1)} SVM fits"
    return ([features(work, feats, s, n.tiles) for s in settings]
            + [features(work, feats, shown, n.pool)] + search(work, grid, n.pool, cands)
            + search(work, grid, round(n.tiles * (k - 1) / k), cands, round(n.tiles / k), k)
            + [Unit("pixel-size arm", f"pixel-size fold|{n.tiles} tiles|{k} folds|"
                    f"{cfg.probe.cv_folds}", lambda: _pixel_size_fold_seconds(work), count=k)]
            # each window read whole once, by its fold's setting (taken as the first)
            + ([features(work, f"reading {work.windows} windows whole", settings[0],
                         work.windows)] if work.windows else []))


def _search_fit_seconds(n: int, cv: int) -> float:
    """A grouped search's own work per fit besides its estimator's (cloning, splitting,
    scoring, collecting), on a do-nothing classifier."""
    grid = {"clf__strategy": ["prior", "most_frequent", "stratified", "uniform"]}
    pipe = Pipeline([("clf", DummyClassifier(random_state=0))])
    groups = np.random.default_rng(0).integers(0, 4 * cv, n)
    return seconds(lambda: grouped_search(pipe, grid, np.zeros((n, 1)), np.arange(n) % 5,
                                          groups, cv, 0), 2) / (4 * cv + 1)


def _pixel_size_fold_seconds(work: Work) -> float:
    """The arm's grouped search over C on the first k-fold's training tiles (before notebook
    01: each micrograph of the catalogue repeated to the profile's tile count)."""
    cfg, ts, seed = work.cfg, work.tileset, work.cfg.split.seed
    if ts is not None:
        X, y, groups = pixel_size_features(ts), ts.labels(), ts.manifest["group"]
    else:
        c = load_catalog(cfg)
        c = c.iloc[np.arange(work.counts.tiles) % len(c)]
        with np.errstate(invalid="ignore"):
            X = np.log10(c["um_per_px"].to_numpy(float))[:, None]
        y, groups = pd.Categorical(c["label"]).codes.astype(np.int64), c["sample_key"]
    if np.isnan(X).any():   # a micrograph without a scale: the arm is not run, and costs nothing
        return 0.0
    groups = groups.astype(str).to_numpy()
    train, _ = grouped_folds(y, groups, cfg.evaluation.kfold, seed)[0]
    fit = tuned(pixel_size_pipeline(seed), {"clf__C": C_GRID}, cfg.probe.cv_folds, seed,
                "probe.cv_folds")
    return seconds(lambda: fit(X[train], y[train], groups[train]), 2)
