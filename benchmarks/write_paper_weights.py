"""Weights files for every paper architecture, as a user with internet would have them.

    .venv/bin/python benchmarks/write_paper_weights.py DIR

Writes `DIR/<timm name>.pth` (torchvision's name for AlexNet) from the library's own model,
`timm.create_model(name).state_dict()` or `torchvision.models.alexnet().state_dict()`: the
shapes and sizes of the ImageNet checkpoints, random values. Then

    python -m spring_lib estimate --profile cpu --with-weights DIR

shows the plan of a machine that has every pretrained arm (times, not accuracies).
"""
import argparse
from pathlib import Path

import torch

from spring_lib.core.architectures import ARCHITECTURES


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", type=Path)
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    for arch in ARCHITECTURES.values():
        if not arch.in_paper:
            continue
        torch.manual_seed(0)
        if arch.library == "timm":
            import timm

            state = timm.create_model(arch.model_name, pretrained=False).state_dict()
        else:
            import torchvision

            state = getattr(torchvision.models, arch.model_name)(weights=None).state_dict()
        path = args.dir / f"{arch.model_name}.pth"
        torch.save(state, path)
        print(f"{arch.name}: {path} ({path.stat().st_size / 2**20:.0f} MiB)", flush=True)


if __name__ == "__main__":
    main()
