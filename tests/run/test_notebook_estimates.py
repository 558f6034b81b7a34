import pytest

from spring_lib import build_tileset, load_config
from spring_lib.data.tileset import TileCounts
from spring_lib.run.notebook_estimates import ESTIMATORS, notebook_estimate

PROBE = "EfficientNet-Lite0-probe"


def standin(seconds: float = 0.01):
    """A `measured` that times nothing: every unit of work takes `seconds`; keys are recorded."""
    keys = []

    def measured(key, fn, what):
        keys.append(key)
        return 2144.0 if key.startswith("texture features' width") else seconds
    measured.keys = keys
    return measured


@pytest.fixture(scope="module")
def cfg(smoke_profile_path):
    return load_config(smoke_profile_path)


def with_(cfg, section: str, **values):
    return cfg.model_copy(update={section: getattr(cfg, section).model_copy(update=values)})


def part(estimate: dict, starts: str) -> float:
    (value,) = [v for k, v in estimate.items() if k.startswith(starts)]
    return value


def test_every_notebook_has_parts_and_a_kernel(cfg):
    for step in ESTIMATORS:
        e = notebook_estimate(f"{step}.ipynb", cfg, standin(), probe_arm=PROBE, n_arms=5)
        assert e["kernel and imports"] > 0 and all(v >= 0 for v in e.values())


def test_more_tiles_cost_more(cfg):
    bigger = with_(cfg, "split", train_tiles_per_class=cfg.split.train_tiles_per_class * 3)
    for step in ("02_glcm_svm_baseline", "05_evaluation"):
        small = notebook_estimate(f"{step}.ipynb", cfg, standin(), probe_arm=PROBE)
        large = notebook_estimate(f"{step}.ipynb", bigger, standin(), probe_arm=PROBE)
        assert sum(large.values()) > sum(small.values()), step
    small = notebook_estimate("02_glcm_svm_baseline.ipynb", cfg, standin())
    large = notebook_estimate("02_glcm_svm_baseline.ipynb", bigger, standin())
    assert part(large, "GLCM features") > part(small, "GLCM features")


def test_a_bigger_grid_costs_more_fits(cfg):
    small = notebook_estimate("02_glcm_svm_baseline.ipynb", cfg, standin())
    grid = with_(cfg, "glcm", svm_C=[*cfg.glcm.svm_C, 1000.0], levels=[16, 32])
    large = notebook_estimate("02_glcm_svm_baseline.ipynb", grid, standin())
    fits = lambda e: int(next(k for k in e if k.startswith("GLCM+SVM grid")).split()[2])
    # (candidates x cv + 1 refit) per search, the tuning search and one per fold
    k, cv = cfg.evaluation.kfold, cfg.glcm.cv_folds
    assert fits(small) == (len(cfg.glcm.svm_C) * cv + 1) * (k + 1)
    assert fits(large) == (2 * (len(cfg.glcm.svm_C) + 1) * cv + 1) * (k + 1)
    assert part(large, "GLCM+SVM grid") > part(small, "GLCM+SVM grid")
    assert part(large, "GLCM features") > part(small, "GLCM features")


def test_the_grid_and_the_figures_setting_are_read_from_their_homes(cfg, monkeypatch):
    """The estimate fits what notebook 02's search fits (`glcm.svm.param_grid`) and times the
    setting its figure draws (`glcm.figures.FEATURES_SHOWN`): change either there, and the
    estimate follows."""
    from spring_lib.glcm import figures, svm

    fits = lambda e: int(next(k for k in e if k.startswith("GLCM+SVM grid")).split()[2])
    before = fits(notebook_estimate("02_glcm_svm_baseline.ipynb", cfg, standin()))
    grid = svm.param_grid
    monkeypatch.setattr(svm, "param_grid", lambda g: {**grid(g), "svc__tol": [1e-3, 1e-4]})
    k = cfg.evaluation.kfold
    doubled = fits(notebook_estimate("02_glcm_svm_baseline.ipynb", cfg, standin()))
    per_search = before // (k + 1) - 1   # candidates x cv, then one refit
    assert doubled == (2 * per_search + 1) * (k + 1)
    monkeypatch.setattr(figures, "FEATURES_SHOWN", {"levels": 7, "distances": (3,)})
    timed = standin()
    notebook_estimate("02_glcm_svm_baseline.ipynb", cfg, timed)
    assert any("7 levels|distances (3,)" in key for key in timed.keys)


def test_the_ladder_counts_its_probe_and_the_bootstraps_their_arms(cfg):
    glcm_only = notebook_estimate("05_evaluation.ipynb", cfg, standin(), n_arms=2)
    both = notebook_estimate("05_evaluation.ipynb", cfg, standin(), probe_arm=PROBE, n_arms=2)
    assert part(both, "leakage ladder") > part(glcm_only, "leakage ladder")
    more = notebook_estimate("05_evaluation.ipynb", cfg, standin(), n_arms=6)
    assert part(more, "sample bootstraps") == pytest.approx(3 * part(glcm_only, "sample bootstraps"))


def test_slower_work_gives_a_longer_estimate(cfg):
    for step in ESTIMATORS:
        fast = notebook_estimate(f"{step}.ipynb", cfg, standin(0.01))
        slow = notebook_estimate(f"{step}.ipynb", cfg, standin(0.02))
        assert sum(slow.values()) == pytest.approx(2 * sum(fast.values())), step


def test_tiling_is_timed_before_the_cache_and_read_after(cfg):
    cold = notebook_estimate("01_dataset_tiling.ipynb", cfg, standin())
    assert any(k.startswith("reading and tiling") for k in cold)
    ts = build_tileset(cfg)
    warm = notebook_estimate("01_dataset_tiling.ipynb", cfg, standin(), ts)
    assert not any(k.startswith("reading and tiling") for k in warm)
    assert any(k.startswith("reading the tile cache") for k in warm)
    counts = TileCounts.of(cfg, ts)
    assert counts.tiles == len(ts.tiles) and counts.micrographs == len(ts.micrographs)
    assert counts.tile_px == cfg.tiling.tile_size


def test_keys_name_what_a_timing_depends_on(cfg):
    a, b = standin(), standin()
    notebook_estimate("02_glcm_svm_baseline.ipynb", cfg, a)
    notebook_estimate("02_glcm_svm_baseline.ipynb", with_(cfg, "tiling", tile_size=96), b)
    glcm = lambda m: {k for k in m.keys if k.startswith("GLCM features")}
    assert glcm(a) and glcm(a).isdisjoint(glcm(b))   # another tile size is timed again


def test_a_second_estimate_measures_nothing(cfg):
    memo, calls = {}, []

    def measured(key, fn, what):
        if key not in memo:
            calls.append(key)
            memo[key] = fn()
        return memo[key]
    first = notebook_estimate("02_glcm_svm_baseline.ipynb", cfg, measured)
    n = len(calls)
    second = notebook_estimate("02_glcm_svm_baseline.ipynb", cfg, measured)
    assert n and len(calls) == n and first == second
    assert all(v > 0 for v in first.values())


def test_an_unknown_notebook_names_the_notebooks(cfg):
    with pytest.raises(ValueError) as err:
        notebook_estimate("07_extra.ipynb", cfg, standin())
    assert "07_extra.ipynb" in str(err.value)
    assert all(f"{s}.ipynb" in str(err.value) for s in ESTIMATORS)


def test_the_ladder_probe_is_timed_on_its_cached_features_once_they_exist(cfg, tmp_path):
    cfg = cfg.model_copy(update={"cache_dir": str(tmp_path)})
    ts = build_tileset(cfg)
    keys = []

    def measured(key, fn, what):
        keys.append(key)
        if key.startswith("ladder probe fold"):
            return 5.0    # a protocol's first fold, as timed on the cached features
        return 2144.0 if key.startswith("texture features' width") else 0.01

    def probe_part() -> float:
        ladder = lambda **kw: part(notebook_estimate("05_evaluation.ipynb", cfg, measured, ts,
                                                     **kw), "leakage ladder")
        return ladder(probe_arm=PROBE) - ladder()
    synthetic = probe_part()
    (tmp_path / "features").mkdir(exist_ok=True)
    name = f"features-EfficientNet-Lite0-abc-{cfg.tiling.tile_size}-224-fp32-v1.npz"
    (tmp_path / "features" / name).write_bytes(b"x")
    ev = cfg.evaluation
    boots = 3 * 0.01   # the probe's bootstraps, one per protocol
    assert probe_part() == pytest.approx(5.0 * (ev.ladder_random_folds + 2 * ev.kfold) + boots)
    assert probe_part() != pytest.approx(synthetic)
    # each protocol's fold is timed apart: their solvers take different iterations
    assert {k.split("|")[2] for k in keys if k.startswith("ladder probe fold")} == {
        "tiles", "micrographs", "samples"}


def test_the_pictures_are_timed_on_the_arms_checkpoint_once_it_exists(cfg, monkeypatch, tmp_path):
    from spring_lib.core.results_dir import ResultsDir
    from spring_lib.evaluation.figures import MAPS_PER_CLASS
    from spring_lib.run import work_timings as wt

    ts, arm = build_tileset(cfg), "EfficientNet-Lite0-TL"
    monkeypatch.setattr(wt, "picture_seconds", lambda *a: {
        "checkpoint load": 1.0, "phase map": 10.0, "Grad-CAM tile": 100.0})
    calls = []

    def measured(key, fn, what):
        calls.append(key)
        return fn() if key.startswith("pictures|") else 0.01
    estimate = lambda: notebook_estimate("05_evaluation.ipynb", cfg, measured, ts,
                                         pictures=(tmp_path, arm, arm))
    assert not any(k.startswith("phase maps") for k in estimate())   # no checkpoint yet
    assert not any(k.startswith("pictures|") for k in calls)
    checkpoint = ResultsDir(tmp_path).arm_file("model", arm)
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"x")
    e = estimate()
    (key,) = [k for k in e if k.startswith("phase maps")]
    # the notebook's counts: maps of the mapped classes' test micrographs, Grad-CAM of test tiles
    micro, tiles = ts.micrographs, ts.split("test")[1]
    test = micro[micro["split"] == "test"]
    maps = sum(min(MAPS_PER_CLASS, int((test["label"] == c).sum()))
               for c in cfg.evaluation.map_classes)
    cams = sum(min(cfg.evaluation.gradcam_tiles_per_class, int((tiles["label"] == c).sum()))
               for c in ts.classes)
    assert key == f"phase maps of {maps} micrographs, Grad-CAM of {cams} tiles" and cams > 0
    assert e[key] == pytest.approx(2 * 1.0 + maps * 10.0 + cams * 100.0)
