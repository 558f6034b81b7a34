"""Each notebook's estimate (its work besides the network and probe arms) against a run's times.

    SPRING_DATA_ROOT=../shared/data/uhcsdb .venv/bin/python benchmarks/notebook_estimates.py \
        [--profile cpu] [--run results/cpu/run.json] [--cold]

Times the work here (kept for this call only, so run it on a quiet machine),
then prints per notebook the estimate by part, the run's actual seconds and their ratio. The
ladder's probe and the number of arms of notebook 05 are read from the run's tables. `--cold`:
notebook 01 as before its tile set exists (the committed run built it cold). Notebooks 03 and
04 are mostly their arms, which the planner estimates; their rows show the fixed part only.
"""
import argparse
import json
import time
from pathlib import Path

import pandas as pd

import spring_lib as sl
from spring_lib.run.notebook_estimates import ESTIMATORS, notebook_estimate


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
    tables = run.parent / "tables"
    probe, n_arms = None, 0
    if (tables / "leakage_ladder.csv").exists():
        models = pd.read_csv(tables / "leakage_ladder.csv")["model"].unique()
        probe = next((m for m in models if m.endswith("-probe")), None)
    if (tables / "results_all_arms.csv").exists():
        n_arms = len(pd.read_csv(tables / "results_all_arms.csv"))
    tileset = sl.build_tileset(cfg)
    kept: dict[str, float] = {}

    def measured(key, fn, what):
        if key not in kept:
            kept[key] = fn()
        return kept[key]
    rows = []
    for step in ESTIMATORS:
        ts = None if args.cold and step == "01_dataset_tiling" else tileset
        t0 = time.perf_counter()
        parts = notebook_estimate(f"{step}.ipynb", cfg, measured, ts, probe, n_arms)
        took = time.perf_counter() - t0
        print(f"{step} (estimated in {took:.1f} s)")
        for name, seconds in parts.items():
            print(f"    {seconds:8.1f} s  {name}")
        total, done = sum(parts.values()), actual.get(step)
        rows.append({"notebook": step, "estimate_s": round(total, 1), "actual_s": done,
                     "estimate/actual": round(total / done, 2) if done else None})
    print(f"\nprofile {cfg.profile}; actual times from {run if record else 'no run'}; "
          f"ladder probe {probe}; {n_arms} arms")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
