"""Run by test_training.py under torchrun: trains the tiny model with DDP on gloo."""
import sys
from pathlib import Path

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).parent))
from test_training import SETTINGS, Tiny, _data  # noqa: E402

from spring_lib.nets.training import train  # noqa: E402

out = Path(sys.argv[1])
dist.init_process_group("gloo")
torch.manual_seed(0)
x, y = _data()
res = train(Tiny(), x, y, x[:12], y[:12], SETTINGS, out / "ck", progress=False, device="cpu")
checksum = sum(float(p.detach().double().sum()) for p in res.model.parameters())
(out / f"rank{dist.get_rank()}.txt").write_text(repr(checksum))
dist.destroy_process_group()
