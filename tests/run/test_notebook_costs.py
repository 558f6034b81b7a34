import pytest

from spring_lib import build_tileset, load_config
from spring_lib.core.products import STEPS
from spring_lib.data.costs import Work
from spring_lib.data.tileset import TileCounts
from spring_lib.run import notebook_costs
from spring_lib.run.notebook_costs import STARTUP, notebook_estimate


class Standin:
    """A rate cache that times nothing: every unit's sample takes `seconds`; keys are recorded."""

    def __init__(self, seconds: float = 0.01):
        self.value, self.keys = seconds, []

    def here(self, key, fn, what, device="cpu"):
        self.keys.append(key)
        return 2144.0 if key.startswith("texture features' width") else self.value


class Memo(Standin):
    """A rate cache that times each key once, as the machine's does."""

    def __init__(self):
        super().__init__()
        self.memo = {}

    def here(self, key, fn, what, device="cpu"):
        if key not in self.memo:
            self.keys.append(key)
            self.memo[key] = fn()
        return self.memo[key]


@pytest.fixture(scope="module")
def cfg(smoke_profile_path):
    return load_config(smoke_profile_path)


def with_(cfg, section: str, **values):
    return cfg.model_copy(update={section: getattr(cfg, section).model_copy(update=values)})


def part(estimate: dict, starts: str) -> float:
    (value,) = [v for k, v in estimate.items() if k.startswith(starts)]
    return value


def estimate(step: str, cfg, cache=None, tileset=None, results=None) -> dict:
    return notebook_estimate(step, Work(cfg, tileset, results), cache or Standin())


def test_every_notebook_has_parts_and_a_kernel(cfg):
    for step in STEPS:
        e = estimate(step, cfg)
        assert e[STARTUP] > 0 and all(v >= 0 for v in e.values()), step
        assert any(k.startswith("reading the tile cache") for k in e) or step == "01_dataset_tiling"


def test_more_tiles_cost_more(cfg):
    bigger = with_(cfg, "split", train_tiles_per_class=cfg.split.train_tiles_per_class * 3)
    for step in ("02_glcm_svm_baseline", "05_evaluation"):
        assert sum(estimate(step, bigger).values()) > sum(estimate(step, cfg).values()), step
    small, large = estimate("02_glcm_svm_baseline", cfg), estimate("02_glcm_svm_baseline", bigger)
    assert part(large, "GLCM features") > part(small, "GLCM features")


def fits(e: dict) -> int:
    return int(next(k for k in e if k.startswith("GLCM+SVM grid")).split()[2])


def test_a_bigger_grid_costs_more_fits(cfg):
    small = estimate("02_glcm_svm_baseline", cfg)
    large = estimate("02_glcm_svm_baseline",
                     with_(cfg, "glcm", svm_C=[*cfg.glcm.svm_C, 1000.0], levels=[16, 32]))
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

    before = fits(estimate("02_glcm_svm_baseline", cfg))
    grid = svm.param_grid
    monkeypatch.setattr(svm, "param_grid", lambda g: {**grid(g), "svc__tol": [1e-3, 1e-4]})
    k = cfg.evaluation.kfold
    per_search = before // (k + 1) - 1   # candidates x cv, then one refit
    assert fits(estimate("02_glcm_svm_baseline", cfg)) == (2 * per_search + 1) * (k + 1)
    monkeypatch.setattr(figures, "FEATURES_SHOWN", {"levels": 7, "distances": (3,)})
    timed = Standin()
    estimate("02_glcm_svm_baseline", cfg, timed)
    assert any("7 levels|distances (3,)" in key for key in timed.keys)


def test_slower_work_gives_a_longer_estimate(cfg):
    for step in STEPS:
        fast, slow = estimate(step, cfg, Standin(0.01)), estimate(step, cfg, Standin(0.02))
        assert sum(slow.values()) == pytest.approx(2 * sum(fast.values())), step


def test_tiling_is_timed_before_the_cache_and_read_after(cfg):
    cold = estimate("01_dataset_tiling", cfg)
    assert any(k.startswith("reading and tiling") for k in cold)
    assert not any(k.startswith("reading the tile cache") for k in cold)
    ts = build_tileset(cfg)
    warm = estimate("01_dataset_tiling", cfg, tileset=ts)
    assert not any(k.startswith("reading and tiling") for k in warm)
    assert any(k.startswith("reading the tile cache") for k in warm)
    counts = TileCounts.of(cfg, ts)
    assert counts.tiles == len(ts.tiles) and counts.micrographs == len(ts.micrographs)
    assert counts.tile_px == cfg.tiling.tile_size


def test_keys_name_what_a_timing_depends_on(cfg):
    a, b = Standin(), Standin()
    estimate("02_glcm_svm_baseline", cfg, a)
    estimate("02_glcm_svm_baseline", with_(cfg, "tiling", tile_size=96), b)
    glcm = lambda m: {k for k in m.keys if k.startswith("GLCM features")}
    assert glcm(a) and glcm(a).isdisjoint(glcm(b))   # another tile size is timed again


def test_a_second_estimate_measures_nothing(cfg):
    memo = Memo()
    first = estimate("02_glcm_svm_baseline", cfg, memo)
    n = len(memo.keys)
    second = estimate("02_glcm_svm_baseline", cfg, memo)
    assert n and len(memo.keys) == n and first == second
    assert all(v > 0 for v in first.values())


def test_an_unknown_notebook_names_the_notebooks(cfg):
    with pytest.raises(ValueError) as err:
        estimate("07_extra", cfg)
    assert "07_extra" in str(err.value) and all(s in str(err.value) for s in STEPS)


def test_figures_and_tables_are_counted_from_the_catalogue(cfg, monkeypatch):
    """A step's figures and tables, and the k-fold selection table of each arm it owes."""
    from spring_lib.core import products

    def tables() -> int:
        e = estimate("02_glcm_svm_baseline", cfg)
        return int(next(k for k in e if k.endswith(" tables")).split()[3])
    n, step = tables(), products.STEPS["02_glcm_svm_baseline"]
    monkeypatch.setitem(products.STEPS, step.notebook, products.Step(
        step.notebook, arms=(*step.arms, "another arm"), arms_table=step.arms_table))
    assert tables() == n + 1


@pytest.mark.parametrize("real_kernel", [True, False])
def test_a_kernel_start_is_timed_with_its_figures_and_tables(real_kernel, monkeypatch):
    if not real_kernel:   # no Jupyter kernel of the study's installed: a fresh Python
        no_kernel(monkeypatch)
    parts = notebook_costs.kernel_startup(torch=False, tile_px=64)
    assert set(parts) == {"kernel", "first figure", "figure", "table"}
    assert all(v > 0 for v in parts.values())
    assert parts["kernel"] > parts["table"]


def no_kernel(monkeypatch):
    from jupyter_client.kernelspec import NoSuchKernel
    from jupyter_client.manager import KernelManager

    from spring_lib.run import kernel

    class Missing(KernelManager):
        def __init__(self, *a, **k):
            raise NoSuchKernel("spring-steel")
    monkeypatch.setattr(kernel, "ipc_kernel_manager", lambda: Missing)


@pytest.mark.parametrize("real_kernel", [True, False])
def test_a_failing_start_says_so(real_kernel, monkeypatch):
    monkeypatch.setattr(notebook_costs, "_STARTUP", "raise SystemExit(3)")
    if not real_kernel:
        no_kernel(monkeypatch)
    with pytest.raises(RuntimeError, match="kernel's start failed"):
        notebook_costs.kernel_startup(torch=False, tile_px=64)
