"""How long each notebook's own work takes on this machine, besides its network and probe arms
(those are `nets.planning`'s): a small sample of each kind of work timed here (`work_timings`),
scaled by the counts the profile determines (micrographs, tiles, settings, fits, folds).

Every timing goes through `measured(key, fn, what)`, which the caller backs with the machine's
rate cache, so a second estimate measures nothing; each key names everything its timing
depends on. GLCM features are counted as computed: their disk cache (joblib) is keyed by the
exact arrays a search happens to ask for, which only a rerun of the same notebook repeats, so
the estimate is that of a cold cache.
"""
from __future__ import annotations

from functools import cache
from typing import Callable

import numpy as np

from ..config import StudyConfig
from ..core import products
from ..data.tileset import TileCounts, TileSet, digest_key, digest_seconds
from . import work_timings as wt
from .kernel_timing import kernel_startup

Measured = Callable[[str, Callable[[], float], str], float]

#: notebooks whose kernel imports torch (networks, probe features, the audit's timm)
TORCH_STEPS = (products.BASELINES, products.TRANSFER, products.EVALUATION, products.HEAT)


class _Work:
    """One estimate's timings, through `measured`; sample tiles read only if one needs them."""

    def __init__(self, cfg: StudyConfig, measured: Measured, tileset: TileSet | None,
                 counts: TileCounts):
        self.cfg, self.time, self.tileset, self.n = cfg, measured, tileset, counts
        self._startup = cache(kernel_startup)
        self.sample = cache(lambda n=24: wt.sample_tiles(cfg, tileset, n))

    def startup(self, torch: bool, part: str) -> float:
        key = f"notebook kernel|{'torch' if torch else 'plain'}|{self.n.tile_px}px|{part}"
        return self.time(key, lambda: self._startup(torch, self.n.tile_px)[part],
                         f"a notebook kernel's {part}")

    def per_tile(self, what: str, fn: Callable[[np.ndarray], float]) -> float:
        return self.time(f"{what}|{self.n.tile_px}px", lambda: fn(self.sample()[0]), what)

    def digests(self) -> float:
        """Seconds per tile of its digest (`data.tileset.digest_seconds`, planning's key)."""
        return self.time(digest_key(self.n.tile_px), lambda: digest_seconds(self.sample()[0]),
                         "tile digests")

    def glcm(self, setting: dict) -> float:
        """Seconds per tile of one GLCM setting, on as many tiles as its threads share in a
        run (a few tiles take one thread)."""
        jobs = self.cfg.glcm.n_jobs
        return self.time(f"GLCM features|{_key(setting)}|{jobs} jobs|{self.n.tile_px}px",
                         lambda: wt.glcm_seconds(self.sample(64)[0], setting, jobs),
                         "GLCM features")

    def svc(self, n_fit: int, n_test: int, setting: dict, params: dict) -> float:
        """Seconds of one SVC fit on n_fit tiles' GLCM features (`setting`) and its scoring
        on n_test, the features' digests included."""
        digest = self.digests()

        def fit() -> float:
            from ..glcm.features import glcm_features

            tiles, labels = self.sample(64)   # enough real rows to keep their overlap
            X, y = wt.like_features(glcm_features(tiles, **setting), labels, n_fit)
            return wt.svc_seconds(X, y, n_test, **params)

        key = f"SVC fit|{n_fit}+{n_test} tiles|{_key(setting)}|{sorted(params.items())}"
        return digest * (n_fit + n_test) + self.search_fit() + self.time(key, fit, "an SVM fit")

    def search_fit(self) -> float:
        """A grid search's own seconds per fit (on the tile set's rows; taken as the search's,
        the refit's and a k-fold's alike)."""
        n, cv = self.n.tiles, self.cfg.glcm.cv_folds
        return self.time(f"grid search per fit|{n} rows|{cv} folds",
                         lambda: wt.search_fit_seconds(n, cv), "a grid search's own work")


def _candidates(cfg: StudyConfig) -> list[tuple[dict, dict]]:
    """(GLCM setting, SVC parameters) of every candidate notebook 02's search fits: the grid
    `glcm.svm.param_grid` gives the search itself."""
    from sklearn.model_selection import ParameterGrid

    from ..glcm.svm import param_grid

    def split(c: dict) -> tuple[dict, dict]:
        glcm = {k.removeprefix("glcm__"): v for k, v in c.items() if k.startswith("glcm__")}
        return (_setting(**glcm), {k.removeprefix("svc__"): v for k, v in c.items()
                                   if k.startswith("svc__")})
    return [split(c) for c in ParameterGrid(param_grid(cfg.glcm))]


def _setting(levels, distances, angles_deg, properties, rotation) -> dict:
    return dict(levels=int(levels), distances=tuple(distances),
                angles=tuple(np.deg2rad(angles_deg)), properties=tuple(properties),
                rotation=rotation)


def _key(setting: dict) -> str:
    """A GLCM setting as a key: everything its cost depends on."""
    angles = tuple(round(float(np.rad2deg(a)), 3) for a in setting["angles"])
    return (f"{setting['levels']} levels|distances {setting['distances']}|angles {angles}|"
            f"{','.join(setting['properties'])}|{setting['rotation']}")


def _search_seconds(w: _Work, n: int, candidates: list[tuple[dict, dict]], cv: int,
                    test: int = 0) -> float:
    """A grouped grid search on n tiles and its refit: every candidate fitted on each of cv
    folds, then the best (taken as the first candidate) refitted on all n and scored on
    `test` tiles."""
    inner, held = round(n * (cv - 1) / cv), round(n / cv)
    return (cv * sum(w.svc(inner, held, s, p) for s, p in candidates)
            + w.svc(n, test, *candidates[0]))


def _cached(tileset: TileSet | None) -> bool:
    """Whether notebook 01 reads the tile set from the cache (a tile set not built yet is
    taken to be cold: knowing its cache's name takes hashing every micrograph)."""
    return bool(tileset is not None and tileset.cache_path and tileset.cache_path.exists())


def _tiling(w: _Work) -> dict[str, float]:
    cfg, n = w.cfg, w.n
    if _cached(w.tileset):
        return {}   # read from the tile cache, like every later notebook
    from ..data.catalogue import load_catalog

    catalog = load_catalog(cfg)
    key = (f"micrograph read|{len(catalog)} micrographs|{catalog.attrs['root']}|"
           f"{cfg.data.model_dump_json()}|{cfg.tiling.um_per_px}")
    each = w.time(key, lambda: wt.micrograph_seconds(catalog, cfg), "reading a micrograph")
    write = w.per_tile("tile cache write", lambda t: wt.npz_seconds(t, write=True))
    return {f"reading and tiling {n.micrographs} micrographs": each * n.micrographs
            + write * n.tiles}


def _notebook_01(w: _Work, **_) -> dict[str, float]:
    norm = w.per_tile("eq. 20 statistics of 512 tiles", wt.normalisation_seconds)
    return {**_tiling(w), f"normalisation statistics of {w.n.train} tiles": norm * w.n.train}


def _notebook_02(w: _Work, **_) -> dict[str, float]:
    from ..glcm.features import GLCMFeatures
    from ..glcm.figures import FEATURES_SHOWN

    cfg, n, g = w.cfg, w.n, w.cfg.glcm
    candidates = _candidates(cfg)
    settings = list({_key(s): s for s, _ in candidates}.values())
    d = GLCMFeatures(**FEATURES_SHOWN)   # the features figure: its setting, the defaults else
    shown = _setting(d.levels, d.distances, d.angles_deg, d.properties, d.rotation)
    glcm = n.tiles * sum(w.glcm(s) for s in settings) + n.pool * w.glcm(shown)
    k = cfg.evaluation.kfold
    train = round(n.tiles * (k - 1) / k)
    fits = (len(candidates) * g.cv_folds + 1) * (k + 1)
    svm = (_search_seconds(w, n.pool, candidates, g.cv_folds)
           + k * _search_seconds(w, train, candidates, g.cv_folds, round(n.tiles / k)))
    key = f"pixel-size fold|{n.tiles} tiles|{cfg.evaluation.kfold} folds|{cfg.probe.cv_folds}"
    fold = w.time(key, lambda: wt.pixel_size_fold_seconds(cfg, w.tileset),
                  "a fold of the pixel-size arm")
    return {f"GLCM features of {n.tiles} tiles, {len(settings)} settings": glcm,
            f"GLCM+SVM grid: {fits} SVM fits": svm,
            "pixel-size arm": k * fold}


def _notebook_05(w: _Work, probe_arm: str | None = None, n_arms: int = 0,
                 pictures: tuple | None = None) -> dict[str, float]:
    n, ev = w.n, w.cfg.evaluation
    from ..evaluation.leakage import GLCM_SETTING, PROTOCOLS, protocol_k
    from ..glcm.features import GLCMFeatures

    d = GLCMFeatures()   # the ladder's pipeline: its defaults, then the fixed setting
    setting = _setting(GLCM_SETTING["glcm__levels"], GLCM_SETTING["glcm__distances"],
                       d.angles_deg, d.properties, d.rotation)
    params = dict(kernel="rbf", C=GLCM_SETTING["svc__C"], gamma="scale")
    folds = {p: protocol_k(p, w.cfg) for p in PROTOCOLS}
    ladder = n.tiles * w.glcm(setting) + sum(
        f * w.svc(round(n.tiles * (f - 1) / f), round(n.tiles / f), setting, params)
        for f in folds.values())
    models = 2 if probe_arm else 1
    if probe_arm:
        ladder += sum(f * _probe_fold(w, probe_arm, p, f) for p, f in folds.items())
    micro, tiles = (w.time(f"sample bootstrap|{m} rows|{n.samples} samples|{ev.n_bootstrap}",
                           lambda m=m: wt.bootstrap_seconds(m, n.samples, ev.n_bootstrap),
                           "a sample bootstrap") for m in (n.micrographs, n.tiles))
    # an arm: micrograph and tile intervals, its paired comparison, the magnification band
    parts = {f"leakage ladder ({models} models, 3 protocols)": ladder + 3 * models * micro,
             f"sample bootstraps of {n_arms} arms": n_arms * (3 * micro + tiles)}
    if pictures:
        parts.update(_pictures(w, *pictures))
    return parts


def _probe_fold(w: _Work, probe_arm: str, protocol: str, k: int) -> float:
    """One of the k folds of the ladder's probe under `protocol`: timed as it runs (the
    protocol's first fold), on the probe's cached features, where they are cached (the
    solver's iterations differ from protocol to protocol); before notebook 04 has cached them,
    the planner's probe fit (`nets.budget`, synthetic features at the solver iterations real
    ones take) and the features' digests."""
    from ..evaluation.leakage import PROBE_SETTING
    from ..nets import budget

    cfg, n = w.cfg, w.n
    cached = wt.feature_files(cfg, probe_arm, n.tile_px)
    if w.tileset is not None and cached:
        key = (f"ladder probe fold|{probe_arm}|{protocol}|{k} folds|seed {cfg.split.seed}|"
               f"{n.tiles} tiles|{n.tile_px}px|{sorted(PROBE_SETTING.items())}|{cached}")
        fold = w.time(key, lambda: wt.ladder_probe_fold_seconds(w.tileset, cfg, probe_arm,
                                                                protocol) or -1.0,
                      "a fold of the ladder's probe")   # -1: not all cached
        if fold > 0:
            return fold
    kfold = cfg.evaluation.kfold
    kfold_fit, n_fit = round(n.tiles * (kfold - 1) / kfold), round(n.tiles * (k - 1) / k)
    width = int(w.time(f"texture features' width|{probe_arm}", lambda: wt.texture_width(probe_arm),
                       "a probe's feature width"))
    one = budget.measured_linear_fit(kfold_fit, width, w.time)
    return one * n_fit / kfold_fit + w.digests() * n.tiles


def _pictures(w: _Work, results_dir, map_arm: str | None,
              gradcam_arm: str | None) -> dict[str, float]:
    """Phase maps and Grad-CAM (`evaluation.verdicts.picture_arms`): a checkpoint loaded for
    each, one map per mapped test micrograph, Grad-CAM of the chosen test tiles; timed on the
    checkpoints where notebook 04 has written them (none before: the part is left out)."""
    from ..core.results_dir import ResultsDir
    from ..evaluation.figures import MAPS_PER_CLASS

    cfg, ev = w.cfg, w.cfg.evaluation
    if map_arm is None or gradcam_arm is None or w.tileset is None:
        return {}
    out = ResultsDir(results_dir)
    maps_at, cam_at = out.arm_file("model", map_arm), out.arm_file("model", gradcam_arm)
    if not (maps_at.exists() and cam_at.exists()):
        return {}
    timed = cache(lambda: wt.picture_seconds(maps_at, cam_at, w.tileset, cfg))
    micro = w.tileset.micrographs
    test_micro = micro.loc[micro["split"] == "test", "label"]
    test_tiles = w.tileset.split("test")[1]["label"]
    maps = sum(min(MAPS_PER_CLASS, int((test_micro == c).sum())) for c in ev.map_classes)
    tiles = sum(min(ev.gradcam_tiles_per_class, int((test_tiles == c).sum()))
                for c in w.tileset.classes)
    what = (f"{map_arm} ({maps_at.stat().st_size} B)|{gradcam_arm} ({cam_at.stat().st_size} B)|"
            f"{w.n.tile_px}px|{ev.map_stride_fraction}|{','.join(ev.map_classes)}")
    one = {part: w.time(f"pictures|{what}|{part}", lambda part=part: timed()[part],
                        f"notebook 05's {part}")
           for part in ("checkpoint load", "phase map", "Grad-CAM tile")}
    return {f"phase maps of {maps} micrographs, Grad-CAM of {tiles} tiles":
            2 * one["checkpoint load"] + maps * one["phase map"] + tiles * one["Grad-CAM tile"]}


def _notebook_06(w: _Work, **_) -> dict[str, float]:
    return {"audit of the paper": w.time("paper audit", wt.audit_seconds, "the paper's audit")}


ESTIMATORS = {products.TILING: _notebook_01, products.GLCM: _notebook_02,
              products.BASELINES: lambda w, **_: {}, products.TRANSFER: lambda w, **_: {},
              products.EVALUATION: _notebook_05, products.HEAT: _notebook_06}   # 03, 04: arms


def _outputs(w: _Work, step: str) -> dict[str, float]:
    """The step's figures and tables (the product catalogue's), drawn and written."""
    made = [p for p in products.PRODUCTS if step in p.steps and p.kind in ("table", "figure")]
    figures = sum(p.kind == "figure" for p in made)
    tables = sum(p.kind == "table" and not p.pattern for p in made)
    tables += len(products.step(step).arms)   # kfold_selection_<arm> of each arm it owes
    torch = step in TORCH_STEPS
    seconds = tables * w.startup(torch, "table")
    if figures:
        seconds += w.startup(torch, "first figure") + (figures - 1) * w.startup(torch, "figure")
    return {f"{figures} figures and {tables} tables": seconds}


def notebook_estimate(notebook: str, cfg: StudyConfig, measured: Measured,
                      tileset: TileSet | None = None, probe_arm: str | None = None,
                      n_arms: int = 0, pictures: tuple | None = None) -> dict[str, float]:
    """Estimated seconds of a notebook's work on this machine other than its network and probe
    arms, by part: {"kernel and imports": .., "reading and tiling 538 micrographs": .., ...}.

    `tileset`: None before notebook 01 has run (its counts then come from the catalogue and
    the profile's caps); `probe_arm`: the probe of notebook 05's leakage ladder (None: GLCM+SVM
    only); `n_arms`: the arms notebook 05 evaluates; `pictures`: (results folder, network arm)
    of notebook 05's phase maps and Grad-CAM."""
    step = notebook.removesuffix(".ipynb")
    if step not in ESTIMATORS:
        raise ValueError(f"no estimate for notebook {notebook!r}: the notebooks are "
                         + ", ".join(f"{s}.ipynb" for s in ESTIMATORS))
    counts = TileCounts.of(cfg, tileset)
    w = _Work(cfg, measured, tileset, counts)
    parts = {"kernel and imports": w.startup(step in TORCH_STEPS, "kernel")}
    if step != products.TILING or _cached(tileset):
        read = w.per_tile("tile cache read", lambda t: wt.npz_seconds(t, write=False))
        parts[f"reading the tile cache ({counts.tiles} tiles)"] = read * counts.tiles
    parts.update(ESTIMATORS[step](w, probe_arm=probe_arm, n_arms=n_arms, pictures=pictures))
    parts.update(_outputs(w, step))
    return {k: float(v) for k, v in parts.items()}
