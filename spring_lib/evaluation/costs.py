"""Notebook 05's units: the leakage ladder (GLCM+SVM and a probe under every protocol), the sample
bootstraps of its tables and ladder, its pictures. The ladder's probe, the arms and the
pictures' arms are the notebook's own choices from the run's arms tables once the run has all
it reads; before, the profile's first probe in run order and all its arms."""
from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import costs, products
from ..core.architectures import Arm
from ..core.costs import Derived, Unit
from ..core.machine import one_blas_thread, seconds
from ..core.paths import cache_dir
from ..core.results_dir import ResultsDir
from ..data.costs import Work, digests
from ..glcm import costs as glcm
from . import tables, verdicts
from .metrics import sample_bootstrap


def choices(work: Work) -> tuple[str | None, int, tuple | None]:
    """(the ladder's probe, the arms evaluated, (phase maps' arm, Grad-CAM's arm) or None)."""
    from ..nets.planning import run_order

    if work.results and all((Path(work.results) / f).exists()
                            for f in products.STEPS[products.EVALUATION].reads):
        arms = tables.arms_of_run(ResultsDir(work.results))
        return (verdicts.best_arm(arms, ("probe",)), len(arms),
                verdicts.picture_arms(work.cfg, arms))
    probe = next((a for a in run_order(work.cfg) if Arm.parse(a).kind == "probe"), None)
    return probe, len(work.cfg.cnn.arms) + len(products.fixed_arms()), None


def evaluation_costs(work: Work) -> list:
    from ..glcm.svm import glcm_svm_pipeline
    from . import leakage

    n, (probe, n_arms, pictures) = work.counts, choices(work)
    folds = {p: leakage.protocol_k(p, work.cfg) for p in leakage.PROTOCOLS}
    models = 1 + bool(probe)
    ladder = f"leakage ladder ({models} models, {len(folds)} protocols)"
    pipe = glcm_svm_pipeline().set_params(**leakage.GLCM_SETTING)   # the ladder's
    s, svc = glcm.setting(pipe.named_steps["glcm"]), pipe.named_steps["svc"].get_params()
    params = {p: svc[p] for p in ("kernel", "C", "gamma")}
    units = [glcm.features(work, ladder, s, n.tiles), *(
        u for k in folds.values()
        for u in glcm.svc(work, ladder, round(n.tiles * (k - 1) / k), round(n.tiles / k), s,
                          params, k))]
    units += [Derived(ladder, lambda c, p=p, k=k: k * _probe_fold(work, c, probe, p, k))
              for p, k in folds.items() if probe]
    arms, per_arm = f"sample bootstraps of {n_arms} arms", tables.BOOTSTRAPS_PER_ARM
    return units + [bootstrap(work, ladder, n.micrographs,
                              len(folds) * models * leakage.BOOTSTRAPS_PER_RUN),
                    bootstrap(work, arms, n.micrographs, n_arms * per_arm["micrographs"]),
                    bootstrap(work, arms, n.tiles, n_arms * per_arm["tiles"]),
                    *(_pictures(work, *pictures) if pictures else [])]


def bootstrap(work: Work, part: str, rows: int, count: float) -> Unit:
    """`count` sample bootstraps (`metrics.sample_bootstrap`) of `rows` predictions."""
    n, b = work.counts.samples, work.cfg.evaluation.n_bootstrap

    def once() -> float:
        rng, names = np.random.default_rng(0), [f"c{i}" for i in range(5)]
        true = pd.Series(rng.choice(names, rows))
        pred = true.where(rng.random(rows) < 0.6, pd.Series(rng.choice(names, rows)))
        samples = pd.Series(rng.integers(0, n, rows).astype(str))
        return seconds(lambda: sample_bootstrap(true, pred, samples, names, b))
    return Unit(part, f"sample bootstrap|{rows} rows|{n} samples|{b}", once, count=count)


def _probe_fold(work: Work, cache, arm: str, protocol: str, k: int) -> float:
    """One of the probe's k folds: the protocol's first, timed as the ladder runs it where its
    features are all cached (each protocol's solver takes its own iterations); else the
    planner's probe fit (`nets.costs`) and the features' digests."""
    from ..nets.costs import fit_unit
    from ..nets.feature_cache import feature_cache_files
    from .leakage import PROBE_SETTING, ladder_models, protocol_folds

    cfg, n, ts = work.cfg, work.counts, work.tileset
    files = ",".join(f"{f.name}:{f.stat().st_size}" for f in feature_cache_files(
        cache_dir(cfg) / "features", Arm.parse(arm).architecture, n.tile_px))

    def fold() -> float:   # -1: some tile's features not cached yet (before notebook 04)
        pipe = ladder_models(cfg, arm)[arm]
        if pipe.named_steps["features"].uncached(ts.tiles):
            return -1.0
        train, y = protocol_folds(ts, protocol, cfg) != 0, ts.labels()

        def run():
            with one_blas_thread():   # as kfold_predictions runs it
                pipe.fit(ts.tiles[train], y[train]).predict_proba(ts.tiles[~train])
        return seconds(run)
    if ts is not None and files:
        timed = Unit("", f"ladder probe fold|{arm}|{protocol}|{k} folds|seed {cfg.split.seed}|"
                     f"{n.tiles} tiles|{n.tile_px}px|{sorted(PROBE_SETTING.items())}|{files}",
                     fold).seconds(cache)
        if timed > 0:
            return timed
    kfold = cfg.evaluation.kfold
    fit, n_fit = round(n.tiles * (kfold - 1) / kfold), round(n.tiles * (k - 1) / k)
    width = Unit("", f"texture features' width|{arm}", lambda: _texture_width(arm)).seconds(cache)
    return (fit_unit(fit, int(width), n_fit / fit).seconds(cache)
            + digests(work, "", n.tiles).seconds(cache))


def _texture_width(arm: str) -> float:
    """The features a probe's texture pooling gives a tile (without its weights: the same)."""
    import torch

    from ..core.architectures import architecture
    from ..nets.models import PooledBackbone

    net = PooledBackbone(architecture(Arm.parse(arm).architecture), "texture").eval()
    with torch.no_grad():
        return float(net(torch.zeros(1, 3, 64, 64)).shape[1])


def _pictures(work: Work, map_arm: str | None, cam_arm: str | None) -> list[Unit]:
    """A checkpoint loaded for each picture, a phase map per mapped test micrograph, Grad-CAM of
    the chosen test tiles: timed once notebook 04 has written the checkpoints (none before)."""
    from .figures import MAPS_PER_CLASS

    ts, ev = work.tileset, work.cfg.evaluation
    if map_arm is None or cam_arm is None or ts is None:
        return []
    at = {a: Path(work.results) / products.arm_file("model", a) for a in (map_arm, cam_arm)}
    if not all(p.exists() for p in at.values()):
        return []
    timed = cache(lambda: _picture_seconds(at[map_arm], at[cam_arm], ts, work.cfg))
    test, tiles = ts.micrographs.query("split == 'test'")["label"], ts.split("test")[1]["label"]
    maps = sum(min(MAPS_PER_CLASS, int((test == c).sum())) for c in ev.map_classes)
    cams = sum(min(ev.gradcam_tiles_per_class, int((tiles == c).sum())) for c in ts.classes)
    what = "|".join([*(f"{a} ({at[a].stat().st_size} B)" for a in (map_arm, cam_arm)),
                     f"{work.counts.tile_px}px", str(ev.map_stride_fraction),
                     ",".join(ev.map_classes)])
    part = f"phase maps of {maps} micrographs, Grad-CAM of {cams} tiles"
    return [Unit(part, f"pictures|{what}|{u}", lambda u=u: timed()[u], count=c)
            for u, c in (("checkpoint load", 2), ("phase map", maps), ("Grad-CAM tile", cams))]


def _picture_seconds(map_at: Path, cam_at: Path, ts, cfg) -> dict[str, float]:
    """A checkpoint's load (its imports done by a first), a phase map of a mapped test
    micrograph, Grad-CAM per tile of a batch of four (after a first call sets up its hooks)."""
    import matplotlib.pyplot as plt

    from ..nets.gradcam import gradcam_maps
    from ..nets.predict import Predictor

    predictor, ev = Predictor.from_checkpoint(map_at), cfg.evaluation
    load = seconds(lambda: Predictor.from_checkpoint(map_at))
    test = ts.micrographs[ts.micrographs["split"] == "test"]
    mapped = test[test["label"].isin(ev.map_classes)]
    r = (mapped if len(mapped) else test).iloc[0]
    one_map = seconds(lambda: plt.close(predictor.phase_map(r.path, r.um_per_px,
                                                            ev.map_stride_fraction)))
    cam = predictor if cam_at == map_at else Predictor.from_checkpoint(cam_at)
    batch = ts.split("test")[0][:4]
    gradcam_maps(cam.model, batch[:1], [0], cam.transform)
    tile = seconds(lambda: gradcam_maps(cam.model, batch, [0] * len(batch), cam.transform))
    return {"checkpoint load": load, "phase map": one_map, "Grad-CAM tile": tile / len(batch)}


costs.register(products.EVALUATION, evaluation_costs)
