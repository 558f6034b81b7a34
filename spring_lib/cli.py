"""`python -m spring_lib run|estimate|site|data|predict ...`: the study's command line."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import ConfigError

PROFILE_HELP = "a profile name in params/ or the path of a YAML file (default: %(default)s)"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m spring_lib", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute the notebook series with papermill")
    run.add_argument("--profile", default="cpu", help=PROFILE_HELP)
    run.add_argument("--notebooks", nargs="*", help="numbers or names, e.g. 01 02 (default: all)")
    run.add_argument("--results", default=None, help="results root (default: ./results)")
    est = sub.add_parser("estimate", help="measure this machine and print each notebook's and "
                                          "arm's time, without running them")
    est.add_argument("--profile", default="cpu", help=PROFILE_HELP)
    est.add_argument("--with-weights", metavar="DIR",
                     help="plan as if every paper architecture had pretrained weights: DIR holds "
                          "<timm name>.pth for each (benchmarks/write_paper_weights.py writes them)")
    site = sub.add_parser("site", help="render results/<profile>/ as a static site")
    site.add_argument("--profile", default="cpu", help=PROFILE_HELP)
    site.add_argument("--results", default=None, help="results root (default: ./results)")
    data = sub.add_parser("data", help="download UHCSDB and verify every file's sha256")
    data.add_argument("--dest", default="data/uhcsdb", help="where to put it (default: %(default)s)")
    pred = sub.add_parser("predict", help="classify micrographs with a trained checkpoint")
    pred.add_argument("--checkpoint", required=True,
                      help="a model from results/<profile>/models/<arm>.pt")
    pred.add_argument("images", nargs="+", help="image files or folders")
    pred.add_argument("--output", help="CSV, one row per micrograph (default: stdout)")
    pred.add_argument("--tiles-output", help="CSV, one row per tile")
    pred.add_argument("--um-per-px", type=float, help="image scale, if the model was trained at one")
    pred.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                      help="auto: bf16 where the CPU or GPU computes it natively, else fp32")
    pred.add_argument("--map", metavar="DIR", help="write a phase map PNG per micrograph into DIR")
    pred.add_argument("--map-stride", type=float, default=0.5,
                      help="window step of the phase maps, as a fraction of the tile (default 0.5)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    from .data.catalogue import DataError
    from .data.download import DownloadError
    from .run.errors import RunError

    try:
        return _command(args)
    except (ConfigError, DataError, DownloadError, RunError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _command(args: argparse.Namespace) -> int:
    """Run the parsed command; its exit code."""
    if args.command == "run":
        from .run.runner import run_study

        try:
            out = run_study(args.profile, args.notebooks, args.results)
        except KeyboardInterrupt:   # Ctrl-C, SIGTERM: run_study printed its one line
            return 130
        print(f"results in {out}")
    elif args.command == "estimate":
        from .config import load_config
        from .run.preflight import preflight
        from .run.series import print_plan, with_paper_weights

        cfg = load_config(args.profile)
        if args.with_weights:
            cfg = with_paper_weights(cfg, args.with_weights)
        preflight(cfg)   # as a run does: one line, before any timing or kernel
        print_plan(cfg)
    elif args.command == "site":
        from .run.runner import render_result_site

        problems = render_result_site(args.profile, args.results)
        for p in problems:
            print(f"site problem: {p}", file=sys.stderr)
        return 1 if problems else 0
    elif args.command == "data":
        from .data.download import download_uhcsdb

        root = download_uhcsdb(Path(args.dest))
        print(f"UHCSDB verified in {root}")
    elif args.command == "predict":
        from .nets.predict_cli import predict_cli

        return predict_cli(args.checkpoint, args.images, args.output, args.tiles_output,
                           args.um_per_px, args.map, args.map_stride, args.precision)
    return 0


if __name__ == "__main__":
    sys.exit(main())
