"""Notebook 05's units: what its estimate counts, and from where."""
import pandas as pd
import pytest

from spring_lib import build_tileset, load_config
from spring_lib.core import products
from spring_lib.data.costs import Work
from spring_lib.evaluation import costs, leakage, tables
from spring_lib.run.notebook_costs import notebook_estimate

EVALUATION = products.EVALUATION
PROBE = "EfficientNet-Lite0-probe"


class Standin:
    """A rate cache that times only keys starting with one of `timed`: `seconds` per key (by
    its start), else 0.01; keys kept."""

    def __init__(self, timed: tuple = (), **seconds):
        self.timed, self.keys = timed, []
        self.seconds = {"texture features' width": 2144.0, **seconds}

    def here(self, key, fn, what, device="cpu"):
        self.keys.append(key)
        if key.startswith(self.timed):
            return fn()
        return next((v for k, v in self.seconds.items() if key.startswith(k)), 0.01)


@pytest.fixture(scope="module")
def cfg(smoke_profile_path):
    return load_config(smoke_profile_path)


def part(estimate: dict, starts: str) -> float:
    (value,) = [v for k, v in estimate.items() if k.startswith(starts)]
    return value


def run_with_arms(folder, arms: dict[str, str]):
    """A run's folder whose arms tables hold `arms` (arm -> kind), all evaluated, scored in
    their order (the last best)."""
    rows = pd.DataFrame([{"arm": a, "architecture": a.rsplit("-", 1)[0], "kind": k,
                          "status": "fitted", "inner_score": 0.5 + 0.01 * i}
                         for i, (a, k) in enumerate(arms.items())])
    classical = rows["kind"].isin(("GLCM+SVM", "pixel-size"))
    (folder / "tables").mkdir(parents=True, exist_ok=True)
    for name, these in zip(products.ARMS_TABLES, (classical, classical & False, ~classical,
                                                  classical & False)):
        rows[these].to_csv(folder / "tables" / f"{name}.csv", index=False)
    return folder


def estimate(cfg, cache=None, tileset=None, results=None) -> dict:
    return notebook_estimate(EVALUATION, Work(cfg, tileset, results), cache or Standin())


def test_before_the_arms_the_profile_says_which_probe_and_how_many_arms(cfg, monkeypatch):
    probe, n, pictures = costs.choices(Work(cfg))
    assert probe == PROBE and pictures is None   # the first probe the run would run
    assert n == len(cfg.cnn.arms) + len(products.STEPS[products.GLCM].arms) + len(
        products.STEPS[products.TRANSFER].arms)
    assert f"sample bootstraps of {n} arms" in estimate(cfg)
    glcm = products.STEPS[products.GLCM]   # the classical arms: their step's, not a count here
    monkeypatch.setitem(products.STEPS, glcm.notebook, products.Step(
        glcm.notebook, arms=(*glcm.arms, "another"), arms_table=glcm.arms_table))
    assert costs.choices(Work(cfg))[1] == n + 1


def test_the_runs_arms_tables_say_it_once_they_are_all_there(cfg, tmp_path):
    run = run_with_arms(tmp_path, {"GLCM+SVM": "GLCM+SVM", "pixel-size": "pixel-size",
                                   PROBE: "probe", "MobileNetV2-probe": "probe"})
    best = "MobileNetV2-probe"   # by inner score, as notebook 05 picks it
    assert costs.choices(Work(cfg, None, run)) == (best, 4, (best, best))
    (run / products.product_path("table", "arms_transfer")).unlink()   # notebook 05 cannot run
    assert costs.choices(Work(cfg, None, run))[:2] == costs.choices(Work(cfg))[:2]


def test_the_ladder_counts_its_probe_and_the_bootstraps_their_arms(cfg, tmp_path):
    glcm_only = estimate(cfg, results=run_with_arms(tmp_path / "a", {"GLCM+SVM": "GLCM+SVM",
                                                                     "pixel-size": "pixel-size"}))
    both = estimate(cfg, results=run_with_arms(tmp_path / "b", {"GLCM+SVM": "GLCM+SVM",
                                                                "pixel-size": "pixel-size",
                                                                PROBE: "probe"}))
    assert part(both, "leakage ladder (2 models") > part(glcm_only, "leakage ladder (1 models")
    six = {f"{a}-{k}": k for a in ("AlexNet", "MobileNetV2", "VGG19") for k in ("TL", "scratch")}
    more = estimate(cfg, results=run_with_arms(tmp_path / "c", six))
    assert part(more, "sample bootstraps of 6") == pytest.approx(
        3 * part(glcm_only, "sample bootstraps of 2"))


def test_the_bootstraps_counted_are_those_evaluation_declares(cfg, monkeypatch):
    """Notebook 05's tables and ladder declare the sample bootstraps they run; the estimate
    counts those, so a table that runs more is estimated longer."""
    before = estimate(cfg)
    per_arm = tables.BOOTSTRAPS_PER_ARM
    monkeypatch.setattr(tables, "BOOTSTRAPS_PER_ARM", {k: 2 * v for k, v in per_arm.items()})
    assert part(estimate(cfg), "sample bootstraps") == pytest.approx(
        2 * part(before, "sample bootstraps"))
    monkeypatch.setattr(leakage, "BOOTSTRAPS_PER_RUN", leakage.BOOTSTRAPS_PER_RUN + 1)
    models, protocols = 2, len(leakage.PROTOCOLS)   # GLCM+SVM and the profile's first probe
    assert part(estimate(cfg), "leakage ladder") == pytest.approx(
        part(before, "leakage ladder") + models * protocols * 0.01)


def test_the_ladder_probe_is_timed_on_its_cached_features_once_they_exist(cfg, tmp_path):
    cfg = cfg.model_copy(update={"cache_dir": str(tmp_path)})
    ts = build_tileset(cfg)
    timed = Standin(**{"ladder probe fold": 5.0})   # a protocol's first fold, as timed
    no_probe = cfg.model_copy(update={"cnn": cfg.cnn.model_copy(update={
        "arms_baselines": ["AlexNet-TL"], "arms_transfer": []})})

    def probe_part() -> float:
        return (part(estimate(cfg, timed, ts), "leakage ladder")
                - part(estimate(no_probe, timed, ts), "leakage ladder"))
    synthetic = probe_part()
    (tmp_path / "features").mkdir(exist_ok=True)
    name = f"features-EfficientNet-Lite0-abc-{cfg.tiling.tile_size}-224-fp32-v1.npz"
    (tmp_path / "features" / name).write_bytes(b"x")
    ev = cfg.evaluation
    boots = 3 * 0.01   # the probe's bootstraps, one per protocol
    assert probe_part() == pytest.approx(5.0 * (ev.ladder_random_folds + 2 * ev.kfold) + boots)
    assert probe_part() != pytest.approx(synthetic)
    # each protocol's fold is timed apart: their solvers take different iterations
    assert {k.split("|")[2] for k in timed.keys if k.startswith("ladder probe fold")} == {
        "tiles", "micrographs", "samples"}


def test_the_pictures_are_timed_on_the_arms_checkpoint_once_it_exists(cfg, monkeypatch, tmp_path):
    from spring_lib.evaluation.figures import MAPS_PER_CLASS

    ts, arm = build_tileset(cfg), "EfficientNet-Lite0-TL"
    run = run_with_arms(tmp_path, {"GLCM+SVM": "GLCM+SVM", arm: "TL"})
    monkeypatch.setattr(costs, "_picture_seconds", lambda *a: {
        "checkpoint load": 1.0, "phase map": 10.0, "Grad-CAM tile": 100.0})

    cache = Standin(timed=("pictures|",))
    assert not any(k.startswith("phase maps") for k in estimate(cfg, cache, ts, run))
    assert not any(k.startswith("pictures|") for k in cache.keys)   # no checkpoint yet
    checkpoint = run / products.arm_file("model", arm)
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"x")
    e = estimate(cfg, cache, ts, run)
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


def test_a_sample_bootstrap_is_timed(cfg):
    unit = costs.bootstrap(Work(cfg), "bootstraps", 40, 3)
    assert unit.key.startswith("sample bootstrap|40 rows|") and 0 < unit.time() < 5
