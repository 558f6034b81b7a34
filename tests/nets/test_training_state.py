"""The state a training keeps: which settings it belongs to (the fingerprint), a damaged file
moved aside under a name of its own, another run's state refused, files written whole."""
import json

import numpy as np
import pytest

from spring_lib.config import Recipe
from spring_lib.nets import training_state as S

RECIPE = Recipe(epochs=3, batch_size=8, lr=0.01, input_size=24)


def _data():
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (12, 24, 24), dtype=np.uint8), np.arange(12) % 3


def test_cosine_schedule_keeps_epochs_in_the_fingerprint():
    x, y = _data()
    const, cos = RECIPE, RECIPE.model_copy(update={"schedule": "cosine"})

    def fp(r):
        return S.fingerprint(r, 0, x, y, "")
    assert fp(const) == fp(const.model_copy(update={"epochs": 9}))
    assert fp(cos) != fp(cos.model_copy(update={"epochs": 9}))
    assert fp(const) != fp(const.model_copy(update={"lr": 0.02}))
    assert fp(const) == fp(const.model_copy(update={"tta": "dihedral", "seeds": 3}))
    assert S.fingerprint(const, 0, x, y, "a") != S.fingerprint(const, 0, x, y, "b")
    assert S.fingerprint(const, 0, x, y[::-1].copy(), "") != fp(const)


def _state(epoch=2, fp="abc"):
    return S.TrainingState(model={}, optimizer={}, scheduler=None, epoch=epoch, history=[],
                           best={}, best_epoch=1, best_acc=0.5, fingerprint=fp, execution={})


def test_a_state_is_resumed_only_by_its_own_run(tmp_path):
    from dataclasses import asdict

    path = S.save_atomic(asdict(_state()), tmp_path / "s" / "abc.pt")
    assert [p.name for p in (tmp_path / "s").iterdir()] == ["abc.pt"]     # no temporary left
    assert S.load_state(path, "abc", 3).epoch == 2
    assert S.load_state(tmp_path / "none.pt", "abc", 3) is None
    with pytest.raises(RuntimeError, match="another run's state"):
        S.load_state(path, "xyz", 3)
    with pytest.raises(RuntimeError, match="raise epochs to at least 2"):
        S.load_state(path, "abc", 1)


def test_damaged_states_are_each_moved_aside_and_said(tmp_path, capsys, monkeypatch):
    events = tmp_path / "progress.jsonl"
    monkeypatch.setenv("SPRING_PROGRESS_FILE", str(events))
    path = tmp_path / "abc.pt"
    for _ in range(2):
        path.write_bytes(b"not a zip")
        assert S.load_state(path, "abc", 3) is None and not path.exists()
        assert "training state" in capsys.readouterr().err
    assert len(list(tmp_path.glob("abc.pt.damaged-*"))) == 2      # the second kept the first
    warnings = [json.loads(line) for line in events.read_text().splitlines()]
    assert [w["kind"] for w in warnings] == ["warning", "warning"]
