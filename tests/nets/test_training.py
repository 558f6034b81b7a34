"""The trainer: identical runs from identical settings, the best epoch's weights, exact resume,
early stopping, the did-not-learn rule, and DDP under torchrun."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from spring_lib.config import Recipe
from spring_lib.nets.execution import Execution, InputTransform
from spring_lib.nets.training import TrainResult, did_not_learn, plateaued, train


class Tiny(nn.Module):
    def __init__(self, n=3):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2))
        self.head = nn.Linear(8, n)

    def forward(self, x):
        return self.head(self.body(x))


def _data(n=48, size=24, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.integers(0, 60, (n, size, size), dtype=np.uint8) + (y * 60)[:, None, None].astype(np.uint8)
    return x, y


RECIPE = Recipe(epochs=3, batch_size=8, lr=0.01, input_size=24)


def _run(state=None, on_step=None, recipe=RECIPE, seed=3) -> TrainResult:
    torch.manual_seed(0)
    x, y = _data()
    transform = InputTransform.fit("paper", x, recipe.input_size)
    return train(Tiny(), (x, y), (x[:12], y[:12]), recipe, transform, seed, state_dir=state,
                 on_step=on_step)


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _equal(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_same_settings_twice_give_identical_logs_and_weights(tmp_path):
    a, b = _run(tmp_path / "a"), _run(tmp_path / "b")
    cols = ["train_loss", "train_acc", "val_loss", "val_acc"]
    assert a.history[cols].equals(b.history[cols])
    assert _equal(_weights(a.model), _weights(b.model))


def test_returns_best_epoch_weights_with_or_without_a_state_file(tmp_path):
    with_state, without = _run(tmp_path / "s"), _run(None)
    assert with_state.best_epoch == without.best_epoch
    assert with_state.best_val_acc == with_state.history["val_acc"].max()
    assert _equal(_weights(with_state.model), _weights(without.model))


def test_interrupted_run_resumes_to_the_same_weights(tmp_path):
    full = _run(tmp_path / "full")

    class Killed(Exception):
        pass

    def kill(epoch, step):
        if epoch == 2 and step == 2:
            raise Killed

    with pytest.raises(Killed):
        _run(tmp_path / "resumed", on_step=kill)
    (state,) = (tmp_path / "resumed").glob("*.pt")
    assert torch.load(state, weights_only=True)["epoch"] == 1
    res = _run(tmp_path / "resumed")
    assert res.resumed_from == 1 and len(res.history) == 3
    assert _equal(_weights(full.model), _weights(res.model))
    assert res.history["train_loss"].equals(full.history["train_loss"])


def test_raising_epochs_extends_a_constant_rate_run(tmp_path):
    three = _run(tmp_path / "three", recipe=RECIPE.model_copy(update={"epochs": 4}))
    _run(tmp_path / "ext", recipe=RECIPE.model_copy(update={"epochs": 2}))
    extended = _run(tmp_path / "ext", recipe=RECIPE.model_copy(update={"epochs": 4}))
    assert extended.resumed_from == 2 and len(extended.history) == 4
    assert extended.history["train_loss"].equals(three.history["train_loss"])


def test_resume_uses_the_kept_execution_and_refuses_fewer_epochs(tmp_path):
    first = _run(tmp_path / "x", recipe=RECIPE.model_copy(update={"epochs": 2}))
    x, y = _data()
    transform = InputTransform.fit("paper", x, RECIPE.input_size)
    torch.manual_seed(0)
    other = Execution(memory_format="channels_last")       # a new measurement chose otherwise
    res = train(Tiny(), (x, y), (x[:12], y[:12]), RECIPE, transform, 3, other, state_dir=tmp_path / "x")
    assert res.resumed_from == 2 and res.execution == first.execution != other
    with pytest.raises(RuntimeError, match="more than the recipe's 2"):
        _run(tmp_path / "x", recipe=RECIPE.model_copy(update={"epochs": 2}))


def test_state_from_other_settings_is_kept_beside_not_overwritten(tmp_path):
    _run(tmp_path / "c")
    (first,) = (tmp_path / "c").glob("*.pt")
    before = first.read_bytes()
    other = _run(tmp_path / "c", recipe=RECIPE.model_copy(update={"lr": 0.02}))
    assert other.resumed_from is None and len(list((tmp_path / "c").glob("*.pt"))) == 2
    assert first.read_bytes() == before


def test_log_columns():
    res = _run()
    assert list(res.history.columns) == ["epoch", "train_loss", "train_acc", "val_loss", "val_acc",
                                         "val_top_share", "seconds", "img_per_s", "lr"]
    assert res.history["img_per_s"].gt(0).all()


def test_ddp_two_processes_gloo(tmp_path):
    """torchrun with 2 CPU processes: both ranks end with the same (synchronised) weights."""
    worker = Path(__file__).with_name("ddp_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                           "--master_port=29517", str(worker), str(tmp_path)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sums = [float((tmp_path / f"rank{r}.txt").read_text()) for r in (0, 1)]
    assert sums[0] == sums[1]
    assert (tmp_path / "state").exists()


def test_plateau_is_patience_epochs_without_a_lower_validation_loss():
    h = [{"val_loss": v} for v in (1.0, 0.8, 0.9, 0.85)]
    assert not plateaued(h, 3) and plateaued(h, 2) and not plateaued(h, None)
    assert not plateaued([{"val_loss": 1.0}, {"val_loss": 0.5}], 1)


def test_early_stopping_stops_on_a_plateau_and_a_resumed_run_stays_stopped(tmp_path):
    recipe = Recipe(epochs=30, batch_size=8, lr=1.0, input_size=24, patience=2)   # lr far too high
    res = _run(tmp_path / "s", recipe=recipe)
    h = res.history
    assert len(h) < 30
    best = int(h["val_loss"].idxmin())
    assert len(h) - 1 - best == 2                       # stopped exactly `patience` epochs after
    again = _run(tmp_path / "s", recipe=recipe)         # the kept state: nothing more to train
    assert len(again.history) == len(h) and again.resumed_from == len(h)


def test_a_collapsed_network_did_not_learn():
    import pandas as pd

    labels = np.array([0] * 6 + [1] * 3 + [2] * 3)      # majority share 0.5
    flat = pd.DataFrame({"epoch": [1, 2], "val_acc": [0.5, 0.5], "val_top_share": [0.4, 1.0]})
    assert "majority class" in did_not_learn(flat, labels)
    one_class = pd.DataFrame({"epoch": [1], "val_acc": [0.6], "val_top_share": [0.95]})
    assert "one class" in did_not_learn(one_class, labels)
    learned = pd.DataFrame({"epoch": [1, 2], "val_acc": [0.3, 0.75], "val_top_share": [1.0, 0.5]})
    assert did_not_learn(learned, labels) is None


def test_did_not_learn_judges_the_weights_train_keeps():
    """The kept weights are the best validation epoch's: a network that learned and then
    drifted keeps what it learned; one whose best epoch is no better than the majority fails."""
    import pandas as pd

    labels = np.array([0] * 6 + [1] * 3 + [2] * 3)      # majority share 0.5
    drifted = pd.DataFrame({"epoch": [1, 2, 3], "val_acc": [0.4, 0.7, 0.3],
                            "val_top_share": [0.6, 0.5, 1.0]})
    assert did_not_learn(drifted, labels) is None       # its last epoch alone would fail it
    never = pd.DataFrame({"epoch": [1, 2, 3], "val_acc": [0.4, 0.5, 0.45],
                          "val_top_share": [0.6, 0.5, 0.6]})
    assert "at its best epoch (2)" in did_not_learn(never, labels)


def test_damaged_state_is_named_moved_aside_and_rebuilt(tmp_path, capsys, monkeypatch):
    """A truncated state file: named on stderr and in the runner's terminal, moved aside under
    a name of its own (an earlier damaged copy is kept), and training starts afresh."""
    events = tmp_path / "progress.jsonl"
    monkeypatch.setenv("SPRING_PROGRESS_FILE", str(events))
    fresh = _run(tmp_path / "s")
    (state,) = (tmp_path / "s").glob("*.pt")
    copies = []
    for _ in range(2):
        data = state.read_bytes()
        state.write_bytes(data[: len(data) // 2])
        capsys.readouterr()
        again = _run(tmp_path / "s")
        err = capsys.readouterr().err
        assert str(state) in err and "damaged" in err and len(err.strip().splitlines()) == 1
        assert again.resumed_from is None and _equal(_weights(again.model), _weights(fresh.model))
        copies = sorted((tmp_path / "s").glob(f"{state.name}.damaged-*"))
        assert state.exists()
    assert len(copies) == 2                      # the second did not replace the first
    warnings = [l for l in events.read_text().splitlines() if '"warning"' in l]
    assert len(warnings) == 2 and state.name in warnings[0]
