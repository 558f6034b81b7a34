"""`python -m spring_lib predict`: every micrograph of the inputs classified, with a progress
bar, and a phase map of each on request.

Bad inputs are refused in one line before any work. The next micrographs are read on a
background thread while the network classifies batches cut from several at once
(`inference`). Every output is written beside its name and renamed over it, so an output that
aliases an input in a way the checks miss replaces that name and never writes into the input.
"""
from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Callable

import pandas as pd
from tqdm import tqdm

from ..data.catalogue import IMAGE_SUFFIXES, DataError
from ..data.tiling import covering_origins, tile_origins
from . import phase_map as maps
from .inference import Job, batched, prefetched
from .predict import BATCH, Predictor


def expand_inputs(inputs: list[str]) -> list[Path]:
    paths = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            paths += sorted(q for q in p.rglob("*") if q.suffix.lower() in IMAGE_SUFFIXES)
        else:
            paths.append(p)
    return paths


def _beside(p: Path) -> Path:
    """Where an output is written before it is renamed over `p`."""
    return p.with_name(f".{p.name}.{os.getpid()}.tmp")


def write_replacing(target: str | Path, write: Callable[[Path], None]) -> None:
    """write(a new file beside the target), then rename it over the target (followed through
    a symbolic link): the file that was there is replaced, never written into, and a reader
    never sees half a file."""
    final = Path(os.path.realpath(target))
    tmp = _beside(final)
    try:
        write(tmp)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def _check_writable(option: str, target: str | None, folder: bool = False) -> None:
    """Refuse an output that cannot be written before any work is done."""
    if not target:
        return
    p = Path(target)
    if folder:
        if p.exists() and not p.is_dir():
            raise DataError(f"{option} {p}: exists and is not a folder")
        parent = p if p.exists() else p.parent
    else:
        if p.is_dir():
            raise DataError(f"{option} {p}: is a folder; give a file name such as {p}/predictions.csv")
        parent = p.parent
    if not parent.exists():
        raise DataError(f"{option} {p}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise DataError(f"{option} {p}: not writable")
    if not folder:   # permissions do not tell everything (/proc, a read-only mount): try it
        try:
            if p.exists():
                open(p, "a").close()   # opens without changing a byte
            probe = _beside(Path(os.path.realpath(p)))
            open(probe, "x").close()   # what the write will do: a new file beside it
            probe.unlink()
        except OSError as exc:
            raise DataError(f"{option} {p}: cannot be written ({exc.strerror}); give another "
                            "file") from None


def _identity(p: str | Path) -> tuple[int, int] | None:
    try:
        st = os.stat(p)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _check_not_an_input(outputs: dict[str, str | None], checkpoint: str, images: list[Path],
                        map_dir: str | None) -> None:
    """Refuse an output that is an input, another output or a file inside the map folder:
    the same path once links are followed, or the same file (a hard link) under another
    name. Writing it would destroy what the run reads or writes."""
    real = lambda q: Path(os.path.realpath(q))   # noqa: E731
    inputs: dict = {}
    for path, what in [(checkpoint, f"the checkpoint {checkpoint}"),
                       *((i, f"the input image {i}") for i in images)]:
        inputs[real(path)] = inputs[_identity(path) or real(path)] = what
    planned = {f"--map {map_dir}": [Path(map_dir) / f"{i.stem}.png" for i in images]
               } if map_dir else {}
    taken: dict = {}   # the outputs' own paths and files
    for option, targets in [*((o, [t]) for o, t in outputs.items() if t), *planned.items()]:
        for target in targets:
            keys = [real(target), _identity(target)]
            what = next((d.get(k) for k in keys if k for d in (inputs, taken) if d.get(k)), None)
            if what is None and map_dir and option in outputs and real(map_dir) in keys[0].parents:
                what = f"a file inside --map {map_dir}"
            if what:
                raise DataError(f"{option} {target} is {what}: writing it would destroy it; "
                                "give another file name")
            if option in outputs:
                taken.update({k: f"also given as {option}" for k in keys if k})


def _check_args(checkpoint, inputs, output, tiles_output, um_per_px, map_dir,
                map_stride_fraction) -> list[Path]:
    """Every refusal that needs no checkpoint, in one place; the images to predict."""
    if um_per_px is not None and not (math.isfinite(um_per_px) and um_per_px > 0):
        raise DataError(f"--um-per-px must be a positive scale in µm per pixel, got {um_per_px}")
    if not 0 < map_stride_fraction < 1:
        raise DataError(f"--map-stride must lie between 0 and 1 (of the tile size), got "
                        f"{map_stride_fraction}")
    _check_writable("--output", output)
    _check_writable("--tiles-output", tiles_output)
    _check_writable("--map", map_dir, folder=True)
    paths = expand_inputs(inputs)
    if not paths:
        raise DataError(f"no images (.png, .tif, .jpg, .bmp) in {', '.join(inputs)}")
    _check_not_an_input({"--output": output, "--tiles-output": tiles_output}, checkpoint, paths,
                        map_dir)
    if map_dir:
        if Path(map_dir).is_dir() and any(Path(map_dir).iterdir()):
            raise DataError(f"--map {map_dir}: the folder is not empty; give a new or empty folder "
                            "(maps already there are not overwritten)")
        stems = [p.stem for p in paths]
        twice = sorted({s for s in stems if stems.count(s) > 1})
        if twice:
            raise DataError(f"--map: several images are named {twice[:3]}; their maps would "
                            "overwrite each other, predict them in separate runs")
    return paths


def _prepare(predictor: Predictor, um_per_px: float | None, map_fraction: float | None
             ) -> Callable[[Path], Job]:
    """A micrograph read and its windows planned (on the reading thread): the tile grid its
    row needs, and with a map the map's windows too, each window computed once."""
    t = predictor.tile_size

    def prepare(path: Path) -> Job:
        try:
            img = predictor.image(path, um_per_px)
        except (DataError, OSError) as exc:
            return Job(path, error=exc)
        grid = tile_origins(*img.shape, t, t)
        if map_fraction is None:
            return Job(path, img, grid, {"grid": grid})
        stride, requested = predictor.map_stride(img.shape, map_fraction)
        windows = covering_origins(*img.shape, t, stride)
        union = sorted(set(grid) | set(windows))
        at = {o: i for i, o in enumerate(union)}
        return Job(path, img, union, {"grid": grid, "windows": windows, "stride": stride,
                                      "requested": requested, "at": at})
    return prepare


def _save_map(predictor: Predictor, job: Job, map_dir: str, fraction: float) -> None:
    import matplotlib.pyplot as plt

    m = job.meta
    windows = (job.proba[[m["at"][o] for o in m["windows"]]], m["windows"])
    if m["stride"] != m["requested"]:
        tqdm.write(f"map of {job.path}: {maps.stride_note(predictor.tile_size, m['stride'], m['requested'])}",
                   file=sys.stderr)
    fig = predictor.phase_map(job.path, None, fraction, img=job.img, windows=windows)
    try:
        write_replacing(Path(map_dir) / f"{job.path.stem}.png",
                        lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    finally:
        plt.close(fig)


#: the count, the time taken and left, and the rate as things per second even when it is slow
BAR = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_noinv_fmt}]"


def _window_bar(job: Job, n: int) -> None:
    """A second bar, for a micrograph of many windows (a large map), so a minute's work shows."""
    if len(job.origins) <= 4 * BATCH:
        return
    if "bar" not in job.meta:
        job.meta["bar"] = tqdm(total=len(job.origins), unit=" windows", desc=job.path.name,
                               bar_format=BAR, file=sys.stderr, leave=False, position=1,
                               dynamic_ncols=True)
    job.meta["bar"].update(n)
    if job.done == len(job.origins):
        job.meta.pop("bar").close()


def predict_cli(checkpoint: str, inputs: list[str], output: str | None, tiles_output: str | None,
                um_per_px: float | None, map_dir: str | None = None,
                map_stride_fraction: float = 0.5, precision: str = "auto") -> int:
    """Predict every image; report unreadable ones and carry on. Exit 1 if any failed."""
    paths = _check_args(checkpoint, inputs, output, tiles_output, um_per_px, map_dir,
                        map_stride_fraction)
    predictor = Predictor.from_checkpoint(checkpoint, precision)
    if predictor.um_per_px and not um_per_px:
        raise DataError(f"{checkpoint} was trained on micrographs resampled to "
                        f"{predictor.um_per_px} µm/px: give the images' scale with --um-per-px")
    if map_dir:
        import matplotlib

        matplotlib.use("Agg")
        Path(map_dir).mkdir(parents=True, exist_ok=True)
    _ = predictor.network   # folded once, before the reading thread starts
    rows, tiles, failed = [], [], []
    jobs = prefetched(_prepare(predictor, um_per_px, map_stride_fraction if map_dir else None),
                      paths)
    with tqdm(total=len(paths), unit=" micrographs", bar_format=BAR, file=sys.stderr,
              dynamic_ncols=True) as bar:
        for job in batched(predictor.probabilities, jobs, predictor.tile_size,
                           len(predictor.classes), BATCH, _window_bar):
            try:
                if job.error:
                    raise job.error
                at, grid = job.meta.get("at"), job.meta["grid"]
                proba = job.proba if at is None else job.proba[[at[o] for o in grid]]
                row, per_tile = predictor.rows(job.path, proba, grid)
                if map_dir:
                    _save_map(predictor, job, map_dir, map_stride_fraction)
                rows.append(row)
                tiles.append(per_tile)
            except (DataError, OSError) as exc:
                failed.append(job.path)
                tqdm.write(f"skipped {job.path}: {exc}", file=sys.stderr)
            bar.update(1)
    table = pd.DataFrame(rows)
    if output and rows:
        write_replacing(output, lambda tmp: table.to_csv(tmp, index=False))
    else:
        print(table.to_csv(index=False), end="")
    if tiles_output and tiles:
        every = pd.concat(tiles, ignore_index=True)
        write_replacing(tiles_output, lambda tmp: every.to_csv(tmp, index=False))
    print(f"{len(rows)} micrograph(s) predicted with {predictor.arm} "
          f"({predictor.execution.precision}), {len(failed)} failed", file=sys.stderr)
    return 1 if failed else 0
