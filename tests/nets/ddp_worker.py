"""Run by test_training.py under torchrun: trains the tiny model with DDP on gloo."""
import sys
from pathlib import Path

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).parent))
from test_training import RECIPE, Tiny, _data  # noqa: E402

from spring_lib.nets.execution import InputTransform  # noqa: E402
from spring_lib.nets.training import train  # noqa: E402

out = Path(sys.argv[1])
dist.init_process_group("gloo")
torch.manual_seed(0)
x, y = _data()
res = train(Tiny(), (x, y), (x[:12], y[:12]), RECIPE, InputTransform.fit("paper", x, 24), 3,
            state_dir=out / "state")
checksum = sum(float(p.detach().double().sum()) for p in res.model.parameters())
(out / f"rank{dist.get_rank()}.txt").write_text(repr(checksum))
dist.destroy_process_group()
