"""Probe list of bad inputs and faults: each case tried as a user would, judged handled or not.

Handled means: exit != 0 (or the documented recovery), ONE `error:` line (or warning) naming the
file or key, no traceback, and nothing already written lost. Run from the checkout root:

    PYTHONPATH=$PWD SPRING_DATA_ROOT=/path/to/uhcsdb python benchmarks/bad_inputs.py

It trains nothing: checkpoints are random-init networks saved in the checkpoint format.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import traceback
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")   # one line per case

import numpy as np  # noqa: E402
import tifffile  # noqa: E402
import torch
import yaml

from spring_lib.cli import main
from spring_lib.config import ConfigError, load_config
from spring_lib.core.paths import project_root
from spring_lib.data.catalogue import DataError, load_catalog
from spring_lib.data.images import databar_rows, read_micrograph
from spring_lib.nets.checkpoint import Checkpoint
from spring_lib.nets.models import build_model
from spring_lib.core.architectures import Arm

DATA = Path(os.environ.get("SPRING_DATA_ROOT", project_root() / "data" / "uhcsdb"))
CASES: list[tuple[str, str, object]] = []   # (group, name, function returning None or a problem)


def case(group: str, name: str):
    def register(fn):
        CASES.append((group, name, fn))
        return fn
    return register


# ---------------------------------------------------------------- helpers

def cli(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main([str(a) for a in args])
        except SystemExit as exc:   # argparse
            rc = exc.code
    return rc, out.getvalue(), err.getvalue()


def one_error(rc, err, *names) -> str | None:
    """None if exit != 0 with one error line naming every name; else what is wrong."""
    lines = err.strip().splitlines()
    if rc == 0:
        return "exit 0"
    if "Traceback" in err:
        return "traceback"
    if len(lines) != 1:
        return f"{len(lines)} lines on stderr"
    missing = [n for n in names if n not in lines[0]]
    return f"does not name {missing}: {lines[0][:160]}" if missing else None


def raises_one_line(fn, exc_type, *names) -> str | None:
    try:
        fn()
    except exc_type as exc:
        text = str(exc)
        if "\n" in text:
            return "message of several lines"
        missing = [n for n in names if n not in text]
        return f"does not name {missing}: {text[:160]}" if missing else None
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {str(exc)[:160]}"
    return "accepted"


@contextlib.contextmanager
def tmpdir():
    d = Path(tempfile.mkdtemp(prefix="bad-inputs-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


_CKPT: Path | None = None


def checkpoint() -> Path:
    """A random-init MobileNetV2 checkpoint (128 px tiles, 64 px input), made once."""
    global _CKPT
    if _CKPT is None:
        d = Path(tempfile.mkdtemp(prefix="bad-inputs-ckpt-"))
        arm = Arm.parse("MobileNetV2-scratch")
        torch.manual_seed(0)
        model, weights = build_model(arm, 3)
        _CKPT = Checkpoint(arm.name, ["a", "b", "c"], 128, None, "auto", "head",
                           {"size": 64, "mean": [0.5] * 3, "std": [0.25] * 3, "kind": "paper"},
                           weights, model.state_dict()).save(d / "model.pt")
    return _CKPT


def micrograph(d: Path) -> Path:
    src = sorted((DATA / "images").glob("*.png"))[0]
    return Path(shutil.copy(src, d / src.name))


def lab(d: Path, n: int = 3) -> Path:
    """A folder-per-class data root of real micrographs."""
    root = d / "lab"
    imgs = sorted((DATA / "images").glob("*.png"))
    for c, cls in enumerate(("ferrite", "martensite")):
        (root / cls).mkdir(parents=True)
        for p in imgs[c * n:(c + 1) * n]:
            shutil.copy(p, root / cls)
    return root


def profile(d: Path, content: dict, name: str = "probe") -> Path:
    path = d / f"{name}.yaml"
    path.write_text(yaml.safe_dump(content))
    return path


def tampered(d: Path, **change) -> Path:
    obj = torch.load(checkpoint(), map_location="cpu", weights_only=True)
    for k, v in change.items():
        obj.pop(k) if v is None else obj.__setitem__(k, v)
    torch.save(obj, d / "tampered.pt")
    return d / "tampered.pt"


# ---------------------------------------------------------------- the 16

@case("issue", "1 predict --output is the checkpoint")
def _():
    with tmpdir() as d:
        ck = Path(shutil.copy(checkpoint(), d / "model.pt"))
        before = ck.read_bytes()
        rc, _, err = cli("predict", "--checkpoint", ck, micrograph(d), "--output", ck)
        return one_error(rc, err, "--output") or (None if ck.read_bytes() == before else "lost")


@case("issue", "1 predict --output is an input image (via a link)")
def _():
    with tmpdir() as d:
        img = micrograph(d)
        (d / "link.png").symlink_to(img)
        before = img.read_bytes()
        rc, _, err = cli("predict", "--checkpoint", checkpoint(), img, "--output", d / "link.png")
        return one_error(rc, err, "--output") or (None if img.read_bytes() == before else "lost")


@case("issue", "1 predict --output equals --tiles-output")
def _():
    with tmpdir() as d:
        out = d / "p.csv"
        rc, _, err = cli("predict", "--checkpoint", checkpoint(), micrograph(d), "--output", out,
                         "--tiles-output", out)
        return one_error(rc, err, "--tiles-output")


@case("issue", "2 a link at the data root is not a class")
def _():
    with tmpdir() as d:
        root = lab(d)
        (root / "loop").symlink_to(".")
        cfg = load_config(profile(d, {"data": {"root": str(root), "layout": "folders",
                                               "n_classes": 2}}))
        return raises_one_line(lambda: load_catalog(cfg), DataError, str(root / "loop"))


def _sigterm(group: bool) -> str | None:
    """SIGTERM to the runner's process group, or to the runner alone: within 10 s, one line and
    no traceback, run.json and its notebook say interrupted with the cell, no kernel left."""
    driver = textwrap.dedent('''
        import json, sys
        from pathlib import Path
        import nbformat
        from spring_lib.core import products as stages
        from spring_lib.run import runner
        from spring_lib.cli import main
        a = json.loads(sys.argv[1])
        nbdir = Path(a["nbdir"]); nbdir.mkdir()
        nb = nbformat.v4.new_notebook(metadata={"language_info": {"name": "python"}})
        p = nbformat.v4.new_code_cell("profile = 'cpu'\\nresults_dir = None")
        p.metadata["tags"] = ["parameters"]
        nb.cells = [p, nbformat.v4.new_code_cell(
            "import pathlib, time\\npathlib.Path(%r).write_text('x')\\ntime.sleep(120)" % a["marker"])]
        nbformat.write(nb, nbdir / "01_sleep.ipynb")
        runner.notebooks_dir = lambda: nbdir
        stages.STEPS["01_sleep"] = stages.Step("01_sleep", writes=("x.txt",))
        run_study = runner.run_study
        runner.run_study = lambda *x, **k: run_study(*x, kernel_name="python3", **k)
        sys.exit(main(["run", "--profile", a["profile"], "--results", a["results"]]))
    ''')
    with tmpdir() as d:
        (d / "driver.py").write_text(driver)
        prof = profile(d, {"data": {"root": str(DATA), "micrograph_limit_per_class": 12}})
        a = {"nbdir": str(d / "nbs"), "marker": str(d / "m"), "profile": str(prof),
             "results": str(d / "results")}
        proc = subprocess.Popen([sys.executable, str(d / "driver.py"), json.dumps(a)],
                                cwd=project_root(), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            t = time.time()
            while not (d / "m").exists():
                if proc.poll() is not None or time.time() - t > 120:
                    return "the notebook never started"
                time.sleep(0.2)
            kernels = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                     text=True).stdout.split()
            t0 = time.time()
            (os.killpg if group else os.kill)(proc.pid, signal.SIGTERM)
            out, _ = proc.communicate(timeout=30)
            took = time.time() - t0
            time.sleep(1)
            left = [k for k in kernels if Path(f"/proc/{k}").exists()]
        except subprocess.TimeoutExpired:
            return "did not end within 30 s"
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        record = json.loads(next((d / "results" / ".failed").glob("*/run.json")).read_text())
        nbrec = record["notebooks"][0]
        if took > 10 or "Traceback" in out or proc.returncode == 0:
            return f"took {took:.1f} s, rc {proc.returncode}"
        if record["status"] != "interrupted" or nbrec["status"] != "interrupted" or not nbrec.get("cell"):
            return f"recorded {record['status']}, {nbrec}"
        if left:
            return f"kernel process(es) {left} still running"
        return None


case("issue", "3 SIGTERM to the runner and its kernel (process group) ends within 10 s")(
    lambda: _sigterm(group=True))
case("issue 32", "3 SIGTERM to the runner alone: one line, the notebook interrupted, no kernel left")(
    lambda: _sigterm(group=False))


@case("issue", "4 a truncated training state is moved aside (uniquely) and rebuilt")
def _():
    from spring_lib.config import Recipe
    from spring_lib.nets.execution import InputTransform
    from spring_lib.nets.training import train

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c, self.h = torch.nn.Conv2d(3, 4, 3), torch.nn.Linear(4, 2)

        def forward(self, x):
            return self.h(self.c(x).mean((2, 3)))

    with tmpdir() as d:
        x = np.random.default_rng(0).integers(0, 255, (16, 16, 16), dtype=np.uint8)
        y = np.arange(16) % 2
        recipe = Recipe(epochs=1, batch_size=8, lr=0.01, input_size=16)
        tr = InputTransform.fit("paper", x, 16)
        train(Tiny(), (x, y), (x, y), recipe, tr, state_dir=d)
        (state,) = d.glob("*.pt")
        for _ in range(2):
            state.write_bytes(state.read_bytes()[:100])
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                try:
                    train(Tiny(), (x, y), (x, y), recipe, tr, state_dir=d)
                except Exception as exc:  # noqa: BLE001
                    return f"{type(exc).__name__}: {str(exc)[:120]}"
            if str(state) not in err.getvalue():
                return "not named"
        return None if len(list(d.glob("*.damaged-*"))) == 2 else "a damaged copy was replaced"


@case("issue", "4 a second damaged feature cache keeps the first damaged copy")
def _():
    from spring_lib.nets.feature_cache import FeatureCache

    with tmpdir() as d:
        for i in range(2):
            (d / "features-k.npz").write_bytes(b"broken %d" % i)
            with contextlib.redirect_stderr(io.StringIO()):
                FeatureCache(str(d), "k")
        return None if len(list(d.glob("features-k.npz.damaged*"))) == 2 else "overwritten"


@case("issue", "5 an empty profile file")
def _():
    with tmpdir() as d:
        (d / "blank.yaml").write_text("")
        return raises_one_line(lambda: load_config(d / "blank.yaml"), ConfigError, "blank.yaml")


@case("issue", "6 dhash of a 12000 px micrograph under 5 s")
def _():
    from spring_lib.data.splits import dhash

    big = np.kron(read_micrograph(sorted((DATA / "images").glob("*.png"))[0])[:400, :400],
                  np.ones((30, 30), np.uint8))
    t = time.perf_counter()
    dhash(big)
    took = time.perf_counter() - t
    return None if took < 5 else f"took {took:.1f} s"


@case("issue", "6 a phase map's buffer follows the windows, not the pixels")
def _():
    from spring_lib.nets.predict import Predictor

    pred = Predictor.from_checkpoint(checkpoint())
    img = np.tile(read_micrograph(sorted((DATA / "images").glob("*.png"))[0]), (2, 2))
    grid, ys, xs = pred.class_grid(img, 0.5)
    return None if grid.size * len(pred.classes) < img.size / 100 else f"grid {grid.shape}"


@case("issue", "7 checkpoint tile_size 0")
def _():
    with tmpdir() as d:
        bad = tampered(d, tile_size=0)
        return one_error(*cli("predict", "--checkpoint", bad, micrograph(d))[::2], "tile_size")


@case("issue", "7 checkpoint tile_size 'abc'")
def _():
    with tmpdir() as d:
        bad = tampered(d, tile_size="abc")
        return one_error(*cli("predict", "--checkpoint", bad, micrograph(d))[::2], "tile_size")


@case("issue", "7 checkpoint transform missing")
def _():
    with tmpdir() as d:
        bad = tampered(d, transform=None)
        return one_error(*cli("predict", "--checkpoint", bad, micrograph(d))[::2], "transform")


@case("issue", "7 malicious pickle: refused, explained, ran nothing")
def _():
    with tmpdir() as d:
        marker = d / "pwned"

        class Evil:
            def __reduce__(self):
                return (os.system, (f"touch {marker}",))

        torch.save({"format": "spring_lib.checkpoint/1", "x": Evil()}, d / "evil.pt")
        rc, _, err = cli("predict", "--checkpoint", d / "evil.pt", micrograph(d))
        if marker.exists():
            return "the pickle ran code"
        return one_error(rc, err, "Python objects")


@case("issue", "8 the same image under two labels")
def _():
    from spring_lib import build_tileset

    with tmpdir() as d:
        root = lab(d)
        first = sorted((root / "ferrite").iterdir())[0]
        twin = Path(shutil.copy(first, root / "martensite" / "copy.png"))
        cfg = load_config(profile(d, {"cache_dir": str(d / "cache"),
                                      "data": {"root": str(root), "layout": "folders",
                                               "n_classes": 2},
                                      "tiling": {"tile_size": 128, "stride": 128}}))
        return raises_one_line(lambda: build_tileset(cfg), DataError, str(first), str(twin))


@case("issue", "9 --notebooks 01 with no complete result set")
def _():
    with tmpdir() as d:
        prof = profile(d, {"data": {"root": str(DATA), "micrograph_limit_per_class": 12}})
        rc, _, err = cli("run", "--profile", prof, "--notebooks", "01", "--results", d / "r")
        return one_error(rc, err, "--notebooks") or (
            "published" if (d / "r" / "probe").exists() else None)


@case("issue", "10 --output /proc/x.csv refused before any work")
def _():
    with tmpdir() as d:
        rc, _, err = cli("predict", "--checkpoint", d / "missing.pt", micrograph(d),
                         "--output", "/proc/x.csv")
        return one_error(rc, err, "--output")


@case("issue", "10 --um-per-px inf")
def _():
    with tmpdir() as d:
        rc, _, err = cli("predict", "--checkpoint", checkpoint(), micrograph(d),
                         "--um-per-px", "inf")
        return one_error(rc, err, "--um-per-px")


@case("issue", "11 profile: ../evil names the key, dumps nothing")
def _():
    with tmpdir() as d:
        content = yaml.safe_load((project_root() / "params" / "smoke.yaml").read_text())
        content["profile"] = "../evil"
        p = profile(d, content, "evil")
        problem = raises_one_line(lambda: load_config(p), ConfigError, ": profile: ")
        try:
            load_config(p)
        except ConfigError as exc:
            if len(str(exc)) > 300:
                return f"{len(str(exc))} characters"
        return problem


@case("issue", "11 unknown-architecture weights do not dump the cnn section")
def _():
    with tmpdir() as d:
        content = yaml.safe_load((project_root() / "params" / "smoke.yaml").read_text())
        content["cnn"]["weights"] = {"NoSuchNet": "imagenet"}
        p = profile(d, content, "arch")
        try:
            load_config(p)
        except ConfigError as exc:
            return "dumps the section" if "arms_baselines" in str(exc) else None
        return "accepted"


@case("issue", "11 the tile-cache repair warning reaches the runner's terminal")
def _():
    from spring_lib import build_tileset
    from spring_lib.run.monitor import Monitor
    import warnings

    with tmpdir() as d:
        events = d / "progress.jsonl"
        os.environ["SPRING_PROGRESS_FILE"] = str(events)
        try:
            cfg = load_config(profile(d, {"cache_dir": str(d / "cache"),
                                          "data": {"root": str(lab(d, 4)), "layout": "folders",
                                                   "n_classes": 2},
                                          "tiling": {"tile_size": 128, "stride": 128},
                                          "split": {"val_fraction": 0, "val_tiles_per_class": 0,
                                                    "train_tiles_per_class": 8,
                                                    "test_tiles_per_class": 4}}))
            ts = build_tileset(cfg)
            ts.cache_path.write_bytes(b"garbage")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                build_tileset(cfg)
        finally:
            os.environ.pop("SPRING_PROGRESS_FILE")
        shown = []
        monitor = Monitor(events, shown.append)
        monitor.poll()
        return None if any("damaged tile cache" in s for s in shown) else "not shown"


@case("issue", "11 kernel IPC sockets are not made in the checkout")
def _():
    from spring_lib.run.kernel import ipc_kernel_manager

    ip = Path(ipc_kernel_manager()().ip)
    inside = ip.resolve().is_relative_to(project_root().resolve()) or not ip.is_absolute()
    shutil.rmtree(ip.parent, ignore_errors=True)
    return f"sockets at {ip}" if inside else None


@case("issue", "12 a mid-grey (60) data bar is cropped")
def _():
    img = np.random.default_rng(1).integers(20, 236, (481, 645), dtype=np.uint8)
    bar = np.full((40, 645), 60, np.uint8)
    bar[5:12, 10:200] = 230
    got = databar_rows(np.vstack([img, bar]))
    return None if got == 40 else f"{got} rows cropped"


@case("issue", "12 a 250-row data bar is cropped whole")
def _():
    img = np.random.default_rng(1).integers(20, 236, (481, 645), dtype=np.uint8)
    bar = np.zeros((250, 645), np.uint8)
    bar[5:12, 10:200] = 255
    got = databar_rows(np.vstack([img, bar]))
    return None if got == 250 else f"{got} rows cropped"


# ---------------------------------------------------------------- kinds that already held

# ---------------------------------------------------------------- issue 32

def _run_cli(d: Path, prof: Path, *notebooks: str) -> tuple[int, str]:
    """`python -m spring_lib run` in a subprocess, results under `d`: (exit code, output)."""
    args = [sys.executable, "-m", "spring_lib", "run", "--profile", str(prof), "--results",
            str(d / "results")] + (["--notebooks", *notebooks] if notebooks else [])
    proc = subprocess.run(args, cwd=project_root(), capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


def _lab_profile(d: Path, root: Path) -> Path:
    return profile(d, {"data": {"root": str(root), "layout": "folders", "n_classes": 2},
                       "tiling": {"tile_size": 128, "stride": 128, "min_stride": 32},
                       "split": {"train_tiles_per_class": 8, "val_tiles_per_class": 4,
                                 "test_tiles_per_class": 4},
                       "glcm": {"levels": [16], "distances": [[1]], "svm_C": [1.0]},
                       "evaluation": {"kfold": 2},
                       "cnn": {"arms_baselines": [], "arms_transfer": []}}, "lab")


@case("issue 32", "1 a lab's folder without scale.csv: notebooks 01-02 run, pixel size not run")
def _():
    with tmpdir() as d:
        rc, out = _run_cli(d, _lab_profile(d, lab(d, 4)), "01", "02")
        if rc != 0:
            return f"exit {rc}: {out.strip().splitlines()[-1][:160]}"
        arms = (d / "results" / "lab" / "tables" / "arms_glcm.csv").read_text()
        return None if "pixel-size,classical,not run: no scale" in arms else "pixel-size ran?"


@case("issue 32", "1 scale.csv with a non-positive scale names the file and the row")
def _():
    with tmpdir() as d:
        root = lab(d)
        first = sorted(root.rglob("*.png"))[0].relative_to(root).as_posix()
        (root / "scale.csv").write_text(f"file,um_per_px\n{first},0\n")
        cfg = load_config(profile(d, {"data": {"root": str(root), "layout": "folders",
                                               "n_classes": 2}}))
        return raises_one_line(lambda: load_catalog(cfg), DataError, "scale.csv", first)


def _hard_linked_output(target) -> str | None:
    with tmpdir() as d:
        img = micrograph(d)
        ck = Path(shutil.copy(checkpoint(), d / "model.pt"))
        victim = img if target == "image" else ck
        (d / "out").mkdir()
        os.link(victim, d / "out" / "h.csv")
        before = victim.read_bytes()
        rc, _, err = cli("predict", "--checkpoint", ck, img, "--output", d / "out" / "h.csv")
        return one_error(rc, err, "--output") or (None if victim.read_bytes() == before
                                                  else "the input was overwritten")


case("issue 32", "2 predict --output is a hard link to an input image")(
    lambda: _hard_linked_output("image"))
case("issue 32", "2 predict --output is a hard link to the checkpoint")(
    lambda: _hard_linked_output("checkpoint"))


@case("issue 32", "4 a tile larger than every micrograph: one line before any kernel starts")
def _():
    with tmpdir() as d:
        prof = profile(d, {"data": {"root": str(DATA), "micrograph_limit_per_class": 12},
                           "tiling": {"tile_size": 4096, "stride": 4096, "min_stride": 32}})
        rc, out = _run_cli(d, prof)
        lines = [ln for ln in out.strip().splitlines() if ln.strip()]
        if rc == 0:
            return "exit 0"
        if "Traceback" in out or "KeyboardInterrupt" in out or "no estimate" in out:
            return f"noise before the error: {out[:200]}"
        if not any("tiling.tile_size" in ln for ln in lines):
            return f"does not name tiling.tile_size: {lines[-1][:160]}"
        return None if not (d / "results" / ".failed").exists() else "a notebook started"


@case("issue 32", "7 a plain pickle saved as .pt: refused as not torch's format, no warning")
def _():
    import pickle

    with tmpdir() as d:
        bad = d / "plain.pt"
        bad.write_bytes(pickle.dumps({"arm": "x", "state_dict": {}}))
        proc = subprocess.run([sys.executable, "-m", "spring_lib", "predict", "--checkpoint",
                               str(bad), str(micrograph(d))], cwd=project_root(),
                              capture_output=True, text=True)
        return one_error(proc.returncode, proc.stderr, "plain.pt", "torch")


@case("held", "missing image file")
def _():
    with tmpdir() as d:
        rc, _, err = cli("predict", "--checkpoint", checkpoint(), d / "nope.png")
        return None if rc != 0 and "Traceback" not in err and "nope.png" in err else err[-200:]


@case("held", "empty image file is skipped and named")
def _():
    with tmpdir() as d:
        (d / "empty.png").write_bytes(b"")
        rc, _, err = cli("predict", "--checkpoint", checkpoint(), d / "empty.png")
        return None if rc != 0 and "Traceback" not in err and "empty.png" in err else err[-200:]


@case("held", "corrupt image is skipped and named")
def _():
    with tmpdir() as d:
        (d / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"junk" * 50)
        rc, _, err = cli("predict", "--checkpoint", checkpoint(), d / "bad.png")
        return None if rc != 0 and "Traceback" not in err and "bad.png" in err else err[-200:]


@case("held", "16-bit TIFF is read and stretched")
def _():
    with tmpdir() as d:
        tifffile.imwrite(d / "m16.tif", np.linspace(1000, 4000, 4800).reshape(60, 80)
                         .astype(np.uint16))
        out = read_micrograph(d / "m16.tif")
        return None if out.dtype == np.uint8 and out.max() == 255 else "not stretched"


@case("held", "profile typo (unknown key)")
def _():
    with tmpdir() as d:
        p = profile(d, {"tiling": {"tile_sise": 128}})
        return raises_one_line(lambda: load_config(p), ConfigError, "tiling.tile_sise")


@case("held", "profile wrong type (epochs: true)")
def _():
    with tmpdir() as d:
        p = profile(d, {"cnn": {"epochs": True}})
        return raises_one_line(lambda: load_config(p), ConfigError, "cnn.epochs")


@case("held", "missing data root says how to fix")
def _():
    with tmpdir() as d:
        cfg = load_config(profile(d, {"data": {"root": str(d / "nowhere")}}))
        return raises_one_line(lambda: load_catalog(cfg), DataError, "make data")


@case("held", "empty class folder is named")
def _():
    with tmpdir() as d:
        root = lab(d)
        (root / "pearlite").mkdir()
        cfg = load_config(profile(d, {"data": {"root": str(root), "layout": "folders",
                                               "n_classes": 2}}))
        return raises_one_line(lambda: load_catalog(cfg), DataError, str(root / "pearlite"))


@case("held", "a profile run twice at once: the lock refuses the second")
def _():
    from spring_lib.run.lock import run_lock

    with tmpdir() as d:
        with run_lock(d, "probe"):
            prof = profile(d, {"data": {"root": str(DATA), "micrograph_limit_per_class": 12}})
            rc, _, err = cli("run", "--profile", prof, "--results", d)
        return one_error(rc, err, "already being run")


@case("held", "a SIGKILLed run's lock is free")
def _():
    from spring_lib.run.lock import lock_held

    with tmpdir() as d:
        code = ("import os, signal; from pathlib import Path; from spring_lib.run.lock import run_lock\n"
                f"with run_lock(Path({str(d)!r}), 'probe'):\n    os.kill(os.getpid(), signal.SIGKILL)")
        subprocess.run([sys.executable, "-c", code], cwd=project_root())
        return "still held" if lock_held(d, "probe") else None


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _saved(path: Path, obj) -> Path:
    torch.save(obj, path)
    return path


def _ckpt_kind(make, says):
    def run():
        with tmpdir() as d:
            bad = make(d)
            return one_error(*cli("predict", "--checkpoint", bad, micrograph(d))[::2], says)
    return run


for _name, _make, _says in [
    ("missing", lambda d: d / "none.pt", "does not exist"),
    ("a directory", lambda d: d, "directory"),
    ("empty", lambda d: _bytes(d / "e.pt", b""), "empty"),
    ("random bytes", lambda d: _bytes(d / "r.pt", os.urandom(4000)), "r.pt"),
    ("a bare tensor", lambda d: _saved(d / "t.pt", torch.zeros(3)), "bare"),
    ("a foreign dict", lambda d: _saved(d / "f.pt", {"w": torch.zeros(1)}),
     "not a spring_lib checkpoint"),
    ("another architecture", lambda d: tampered(d, arm="EfficientNet-Lite0-scratch"),
     "do not fit"),
]:
    case("held", f"checkpoint: {_name}")(_ckpt_kind(_make, _says))


# ---------------------------------------------------------------- run them

def main_() -> int:
    results = {"issue": [0, 0], "issue 32": [0, 0], "held": [0, 0]}
    for group, name, fn in CASES:
        t = time.time()
        try:
            problem = fn()
        except Exception as exc:  # noqa: BLE001 - a probe that crashes is not handled
            problem = f"crashed: {type(exc).__name__}: {str(exc)[:120]}"
            traceback.print_exc(limit=2)
        ok = problem is None
        results[group][0 if ok else 1] += 1
        print(f"{'handled    ' if ok else 'NOT HANDLED'}  [{group}] {name}"
              + ("" if ok else f"  -- {problem}") + f"  ({time.time() - t:.1f} s)", flush=True)
    total_ok = sum(v[0] for v in results.values())
    total = sum(sum(v) for v in results.values())
    for group, (ok, bad) in results.items():
        print(f"{group}: {ok}/{ok + bad} handled")
    print(f"total: {total_ok}/{total} handled")
    return 0 if total_ok == total else 1


if __name__ == "__main__":
    sys.exit(main_())
