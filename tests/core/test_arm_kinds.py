"""One `run_arm` for every kind: each kind's runner is registered by the package that
implements it, planned kinds get their plan, classical ones refuse one, and the arms table has
one layout."""
import importlib
import subprocess
import sys

import pandas as pd
import pytest

import spring_lib.study  # noqa: F401 - as the notebooks' setup does: glcm/ and nets/ register
from spring_lib.core import arm_kinds as K
from spring_lib.core.arm_result import EMPTY_ARMS_COLUMNS, ArmResult, ArmStatus
from spring_lib.core.results_dir import ResultsDir

RUNNERS = {"GLCM+SVM": "spring_lib.glcm.svm:run_glcm_arm",
           "pixel-size": "spring_lib.glcm.pixel_size:run_pixel_size_arm",
           "probe": "spring_lib.nets.arms:run_probe_arm",
           "TL": "spring_lib.nets.arms:run_network_arm",
           "scratch": "spring_lib.nets.arms:run_network_arm",
           "fused": "spring_lib.nets.fusion:run_fused_arm"}


def _where(kind: K.ArmKind) -> tuple[str, str]:
    """(module, function) the registered runner calls."""
    run = K.runner(kind)
    return run.__module__, run.__name__


def test_every_kind_has_its_packages_runner():
    assert {name: ":".join(_where(kind)) for name, kind in K.KINDS.items()} == RUNNERS
    for kind in K.KINDS.values():
        module, function = _where(kind)
        assert callable(getattr(importlib.import_module(module), function)), kind.name


def test_registering_loads_neither_torch_nor_scikit_learn():
    code = ("import sys, spring_lib.glcm, spring_lib.nets\n"
            "from spring_lib.core.arm_kinds import KINDS, runner\n"
            "[runner(k) for k in KINDS.values()]\n"
            "assert not {'torch', 'sklearn'} & set(sys.modules), 'torch or sklearn imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_a_kind_whose_package_was_not_loaded_says_so(monkeypatch, tmp_path):
    monkeypatch.delitem(K._RUNNERS, "GLCM+SVM")
    with pytest.raises(LookupError, match="no runner registered for GLCM\\+SVM arms: import "
                                          "spring_lib.study"):
        K.run_arm("GLCM+SVM", "tiles", "cfg", ResultsDir(tmp_path))
    with pytest.raises(ValueError, match="no arm kind 'SVM'"):
        K.register_runner("SVM", print)


def test_an_arm_names_its_kind():
    assert K.kind_of("GLCM+SVM").name == "GLCM+SVM" and not K.kind_of("pixel-size").planned
    assert K.kind_of("EfficientNet-Lite0-probe").name == "probe"
    assert K.kind_of("VGG19-TL").planned and K.kind_of("AlexNet-scratch").name == "scratch"
    with pytest.raises(ValueError, match="unknown arm 'SVM'.*GLCM\\+SVM"):
        K.kind_of("SVM")


class _Plan:
    def __init__(self, name):
        self.arm = type("A", (), {"name": name})()

    def describe(self):
        return "planned"


def _fake_runners(monkeypatch) -> list:
    """Every registered runner's function replaced, in its own module, by one that records how
    it was called: the registered runner finds it there when the arm runs."""
    calls = []
    for kind in K.KINDS.values():
        module, function = _where(kind)

        def fake(*args, _function=function):
            calls.append((_function, args))
            name = args[0] if isinstance(args[0], str) else _function
            return ArmResult(name, "x", ArmStatus.FITTED, actual_s=60.0,
                             outcome={"inner_score": 0.5})
        monkeypatch.setattr(importlib.import_module(module), function, fake)
    return calls


def test_run_arm_dispatches_each_kind(monkeypatch, tmp_path):
    calls = _fake_runners(monkeypatch)
    out, plan = ResultsDir(tmp_path), _Plan("VGG19-TL")
    K.run_arm("GLCM+SVM", "tiles", "cfg", out)
    K.run_arm("pixel-size", "tiles", "cfg", out)
    K.run_arm("VGG19-probe", "tiles", "cfg", out)
    K.run_arm("VGG19-TL", "tiles", "cfg", out, plan)
    K.run_arm("VGG19-scratch", "tiles", "cfg", out)
    assert calls == [("run_glcm_arm", ("tiles", "cfg", out)),
                     ("run_pixel_size_arm", ("tiles", "cfg", out)),
                     ("run_probe_arm", ("VGG19-probe", "tiles", "cfg", out, None)),
                     ("run_network_arm", ("VGG19-TL", "tiles", "cfg", out, plan)),
                     ("run_network_arm", ("VGG19-scratch", "tiles", "cfg", out, None))]
    with pytest.raises(ValueError, match="GLCM\\+SVM is not planned"):
        K.run_arm("GLCM+SVM", "tiles", "cfg", out, plan)


def test_run_arms_writes_one_table_in_order_with_each_plan(monkeypatch, tmp_path, capsys):
    calls = _fake_runners(monkeypatch)
    out = ResultsDir(tmp_path)
    plans = [_Plan("VGG19-scratch"), _Plan("VGG19-TL")]
    table = K.run_arms(["VGG19-TL", "VGG19-scratch"], "tiles", "cfg", out, "arms_transfer", plans)
    assert [c[1][4] for c in calls] == plans[::-1]          # each arm got its own plan
    assert list(table["arm"]) == ["VGG19-TL", "VGG19-scratch"]
    assert pd.read_csv(tmp_path / "tables" / "arms_transfer.csv")["status"].tolist() == ["fitted"] * 2
    assert "[1/2] VGG19-TL: planned" in capsys.readouterr().out
    empty = K.run_arms([], "tiles", "cfg", out, "arms_baselines")
    assert list(empty.columns) == EMPTY_ARMS_COLUMNS and list(
        pd.read_csv(tmp_path / "tables" / "arms_baselines.csv").columns) == EMPTY_ARMS_COLUMNS
