"""Each notebook's estimate (its work besides the network and probe arms) against a run's times.

    SPRING_DATA_ROOT=../shared/data/uhcsdb .venv/bin/python benchmarks/notebook_estimates.py \
        [--profile cpu] [--run results/cpu/run.json] [--cold]

Times the work here (kept for this call only, so run it on a quiet machine),
then prints per notebook the estimate by part, the run's actual seconds and their ratio. The
ladder's probe, the arms and the pictures' arms of notebook 05 come from the run's arms tables,
as notebook 05 picks them (`evaluation.costs.choices`). `--cold`: notebook 01 as before its tile
set exists (the committed run built it cold). Notebooks 03 and 04 are mostly their arms, which
the planner estimates; their rows show the fixed part only.
"""
import argparse
import json
import time
from pathlib import Path

import pandas as pd

import spring_lib as sl
from spring_lib.core.products import STEPS
from spring_lib.data.costs import Work
from spring_lib.evaluation.costs import choices
from spring_lib.run.notebook_costs import notebook_estimate


class Kept:
    """A rate cache for this call only: each unit's sample timed once, nothing written."""

    def __init__(self):
        self.kept: dict[str, float] = {}

    def here(self, key, fn, what, device="cpu"):
        if key not in self.kept:
            self.kept[key] = fn()
        return self.kept[key]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--run", default=None, help="a run.json (default results/<profile>/run.json)")
    ap.add_argument("--cold", action="store_true", help="notebook 01 before its tile set exists")
    args = ap.parse_args()
    cfg = sl.load_config(args.profile)
    run = Path(args.run or f"results/{cfg.profile}/run.json")
    record = json.loads(run.read_text()) if run.exists() else {}
    actual = {n["notebook"].removesuffix(".ipynb"): n.get("seconds")
              for n in record.get("notebooks", [])}
    tileset, cache = sl.build_tileset(cfg), Kept()
    rows = []
    for step in STEPS:
        ts = None if args.cold and step == "01_dataset_tiling" else tileset
        t0 = time.perf_counter()
        parts = notebook_estimate(step, Work(cfg, ts, run.parent), cache)
        took = time.perf_counter() - t0
        print(f"{step} (estimated in {took:.1f} s)")
        for name, seconds in parts.items():
            print(f"    {seconds:8.1f} s  {name}")
        total, done = sum(parts.values()), actual.get(step)
        rows.append({"notebook": step, "estimate_s": round(total, 1), "actual_s": done,
                     "estimate/actual": round(total / done, 2) if done else None})
    probe, n_arms, pictures = choices(Work(cfg, tileset, run.parent))
    print(f"\nprofile {cfg.profile}; actual times from {run if record else 'no run'}; "
          f"ladder probe {probe}; {n_arms} arms; pictures of {pictures}")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
