"""`predict`'s speed on real micrographs, and phase maps of one very large micrograph.

    SPRING_DATA_ROOT=../shared/data/uhcsdb .venv/bin/python benchmarks/predict_speed.py [--n 500]
        [--precision auto|fp32|bf16] [--profile]
    SPRING_DATA_ROOT=../shared/data/uhcsdb .venv/bin/python benchmarks/predict_speed.py --map 12000
        [--input-size 96]

The first form links N real UHCSDB micrographs (645x481 px, cycling through the folder) into a
temporary folder and runs the predict CLI path on them, in this process, with an
EfficientNet-Lite0 probe checkpoint of the kind the cpu profile writes (224 px tiles, the
network's native 224 px input, texture pooling, ImageNet weights from the installed package and
a random head: speed does not depend on the head). It prints micrographs/s, the CPU and the
precision. `--profile` prints cProfile's top functions as well.

The second form tiles real micrographs into one SIZE x SIZE greyscale PNG and runs
`python -m spring_lib predict --map` on it under `/usr/bin/time -v`, printing the wall time and
the peak resident memory. `--input-size 96` makes the checkpoint compute at 96 px (a fine-tuned
arm of the cpu profile), `--tile-size` changes the tile.

bf16 runs where the CPU computes it natively (AMX, AVX-512 BF16); to time a CPU without, run
with ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 or `--precision fp32`.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from spring_lib.core.architectures import Arm
from spring_lib.core.machine import _busy_jiffies, cpu_info, others_load
from spring_lib.core.paths import project_root
from spring_lib.data.images import read_micrograph
from spring_lib.nets.checkpoint import Checkpoint
from spring_lib.nets.models import build_model, input_statistics
from spring_lib.nets.execution import inference_execution

DATA = Path(os.environ.get("SPRING_DATA_ROOT", project_root() / "data" / "uhcsdb"))
CLASSES = ["spheroidite", "network", "pearlite", "pearlite+spheroidite", "spheroidite+widmanstatten"]


def write_checkpoint(folder: Path, tile_size: int = 224, input_size: int = 224) -> Path:
    """EfficientNet-Lite0 with the package's ImageNet weights; a probe (texture pooling) at
    the native 224 px, else a fine-tuned arm's head pooling at `input_size`."""
    probe = input_size == 224
    arm = Arm.parse("EfficientNet-Lite0-probe" if probe else "EfficientNet-Lite0-TL")
    torch.manual_seed(0)
    pooling = "texture" if probe else "head"
    model, desc = build_model(arm, len(CLASSES), "package", pooling)
    mean, std = input_statistics(arm.spec, model.backbone.net)
    transform = {"size": input_size, "mean": list(mean), "std": list(std), "kind": "imagenet"}
    return Checkpoint(arm.name, CLASSES, tile_size, None, "auto", pooling, transform, desc,
                      model.state_dict(), profile="benchmark").save(folder / f"{arm.name}.pt")


def real_micrographs() -> list[Path]:
    paths = sorted((DATA / "images").glob("*.png"))
    if not paths:
        sys.exit(f"no micrographs in {DATA / 'images'}: set SPRING_DATA_ROOT")
    return paths


def link_micrographs(folder: Path, n: int) -> Path:
    """N real micrographs, symlinked under distinct names (cycling through the folder)."""
    images = folder / "images"
    images.mkdir()
    source = real_micrographs()
    for i in range(n):
        (images / f"m{i:05d}.png").symlink_to(source[i % len(source)].resolve())
    return images


def large_micrograph(path: Path, size: int) -> Path:
    """A SIZE x SIZE greyscale PNG tiled from real micrographs (data bars cut)."""
    parts = [read_micrograph(p, "auto") for p in real_micrographs()[:40]]
    h, w = min(p.shape[0] for p in parts), min(p.shape[1] for p in parts)
    big = np.empty((size, size), np.uint8)
    k = 0
    for y in range(0, size, h):
        for x in range(0, size, w):
            tile = parts[k % len(parts)][:h, :w]
            big[y:y + h, x:x + w] = tile[:size - y, :size - x]
            k += 1
    Image.fromarray(big).save(path)
    return path


def speed(args, folder: Path) -> None:
    from spring_lib.cli import main

    ckpt = write_checkpoint(folder, args.tile_size, args.input_size)
    images = link_micrographs(folder, args.n)
    out = folder / "predictions.csv"
    argv = ["predict", "--checkpoint", str(ckpt), str(images), "--output", str(out),
            "--tiles-output", str(folder / "tiles.csv"), "--precision", args.precision]
    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        t0 = time.perf_counter()
        rc, others = others_load(lambda: prof.runcall(main, argv))
        seconds = time.perf_counter() - t0
        pstats.Stats(prof).sort_stats("cumulative").print_stats(35)
    else:
        t0 = time.perf_counter()
        rc, others = others_load(lambda: main(argv))
        seconds = time.perf_counter() - t0
    assert rc == 0, rc
    precision = inference_execution(precision=args.precision).precision
    print(f"{args.n} micrographs in {seconds:.1f} s: {args.n / seconds:.1f} micrographs/s "
          f"(model loading included; {precision}, {torch.get_num_threads()} torch threads); "
          f"other processes used {100 * (others or 0):.0f} % of the CPUs meanwhile")


def wait_quiet(limit_s: float, share: float = 0.1) -> None:
    """Wait (at most `limit_s`) for 3 s in which other processes use under `share` of the
    CPUs: on a shared machine a rate timed under load is that load's, not the machine's."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        _, used = others_load(lambda: time.sleep(3))
        if used is None or used < share:
            return
    print(f"(the machine stayed busy for {limit_s:.0f} s: timing under load)")


def phase_map(args, folder: Path) -> None:
    ckpt = write_checkpoint(folder, args.tile_size, args.input_size)
    image = large_micrograph(folder / f"large{args.map}.png", args.map)
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "spring_lib", "predict", "--checkpoint",
           str(ckpt), str(image), "--output", str(folder / "p.csv"), "--map", str(folder / "maps"),
           "--precision", args.precision]
    print(" ".join(cmd[2:]), flush=True)
    busy0, tick = _busy_jiffies(), 1 / os.sysconf("SC_CLK_TCK")
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=project_root())
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    stats = dict(re.findall(r"^\s*(.+?): (.+)$", run.stderr, re.M))
    print("\n".join(ln for ln in run.stderr.splitlines()
                    if ln.startswith(("map of", "error")) or "predicted with" in ln))
    wall = stats.get("Elapsed (wall clock) time (h:mm:ss or m:ss)", "0:0")
    seconds = sum(float(v) * 60 ** i for i, v in enumerate(reversed(wall.split(":"))))
    others = ((_busy_jiffies() - busy0) * tick - child.ru_utime - child.ru_stime) / (
        max(seconds, 1e-9) * (os.cpu_count() or 1))
    print(f"exit {run.returncode}; {args.map}x{args.map} px, tile {args.tile_size} px, input "
          f"{args.input_size} px: wall {wall}, max RSS "
          f"{int(stats.get('Maximum resident set size (kbytes)', 0)) / 1024:.0f} MB; other "
          f"processes used {100 * max(0.0, others):.0f} % of the CPUs meanwhile")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500, help="micrographs to predict (default 500)")
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    ap.add_argument("--tile-size", type=int, default=224)
    ap.add_argument("--input-size", type=int, default=224)
    ap.add_argument("--map", type=int, metavar="SIZE", help="time --map on a SIZE x SIZE image")
    ap.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                    help="first wait up to S seconds for the other processes to go quiet")
    args = ap.parse_args()
    if args.wait_quiet:
        wait_quiet(args.wait_quiet)
    info = cpu_info()
    print(f"CPU: {info['model']} ({info['cores']} cores; native bf16 {info['native_bf16']}, "
          f"oneDNN cap {info['isa_cap']}); load average {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="predict-speed-") as tmp:
        (phase_map if args.map else speed)(args, Path(tmp))


if __name__ == "__main__":
    main()
