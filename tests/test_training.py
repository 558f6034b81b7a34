import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from spring_lib.nets.training import IMAGENET_MEAN, InputTransform, TrainSettings, evaluate, train


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


SETTINGS = TrainSettings(epochs=3, batch_size=8, lr=0.01, input_size=24, seed=3)


def _run(ckdir, on_step=None, settings=SETTINGS):
    torch.manual_seed(0)
    x, y = _data()
    return train(Tiny(), x, y, x[:12], y[:12], settings, ckdir, on_step=on_step, progress=False)


def _state(path):
    return torch.load(path, weights_only=True)["model"]


def test_same_settings_twice_give_identical_logs_and_weights(tmp_path):
    a, b = _run(tmp_path / "a"), _run(tmp_path / "b")
    cols = ["train_loss", "train_acc", "val_loss", "val_acc"]
    assert a.history[cols].equals(b.history[cols])
    sa, sb = _state(tmp_path / "a" / "last.pt"), _state(tmp_path / "b" / "last.pt")
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_interrupted_run_resumes_to_the_same_weights(tmp_path):
    _run(tmp_path / "full")

    class Killed(Exception):
        pass

    def kill(epoch, step):
        if epoch == 2 and step == 2:
            raise Killed

    with pytest.raises(Killed):
        _run(tmp_path / "resumed", on_step=kill)
    assert torch.load(tmp_path / "resumed" / "last.pt", weights_only=True)["epoch"] == 1
    res = _run(tmp_path / "resumed")
    assert res.resumed_from == 1 and len(res.history) == 3
    full, resumed = _state(tmp_path / "full" / "last.pt"), _state(tmp_path / "resumed" / "last.pt")
    assert all(torch.equal(full[k], resumed[k]) for k in full)


def test_checkpoint_from_other_settings_is_not_overwritten(tmp_path):
    _run(tmp_path / "c")
    before = (tmp_path / "c" / "last.pt").read_bytes()
    other = TrainSettings(**{**SETTINGS.__dict__, "lr": 0.02})
    with pytest.raises(RuntimeError, match="move it aside"):
        _run(tmp_path / "c", settings=other)
    assert (tmp_path / "c" / "last.pt").read_bytes() == before


def test_best_checkpoint_and_log_columns(tmp_path):
    res = _run(tmp_path / "d")
    assert (tmp_path / "d" / "best.pt").exists()
    assert list(res.history.columns[:7]) == ["epoch", "train_loss", "train_acc", "val_loss",
                                             "val_acc", "seconds", "img_per_s"]
    assert res.history["img_per_s"].gt(0).all()


def test_both_normalisation_paths():
    x, _ = _data()
    paper = InputTransform.fit("paper", x, 24)
    z = paper(x)
    assert z.shape == (len(x), 3, 24, 24)
    assert abs(float(z.mean())) < 1e-4 and abs(float(z.std()) - 1) < 1e-3   # eq. 20 on train tiles
    imnet = InputTransform.fit("imagenet", x, 32)
    w = imnet(x[:2])
    assert w.shape == (2, 3, 32, 32)
    white = imnet(np.stack([np.r_[np.zeros((1, 24)), np.full((23, 24), 255)].astype(np.uint8)]))
    assert float(white[0, 0, 5, 5]) == pytest.approx((1 - IMAGENET_MEAN[0]) / 0.229, rel=1e-3)
    with pytest.raises(ValueError, match="normalization"):
        InputTransform.fit("other", x, 24)


def test_evaluate_probabilities(tmp_path):
    res = _run(tmp_path / "e")
    x, y = _data()
    loss, acc, p = evaluate(res.model, x, y, res.transform)
    assert p.shape == (len(x), 3) and np.allclose(p.sum(1), 1, atol=1e-3) and 0 <= acc <= 1


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
    assert (tmp_path / "ck" / "last.pt").exists()
