"""Run the notebook series headlessly with papermill, one profile at a time.

Each executed notebook, table and figure lands in `results/<profile>/`, plus `run.json`
saying what ran, on what, from which data. A previous run's results are copied to
`results/.archive/` first, so a rerun never destroys them.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from .config import load_config, params_dir, project_root

KERNEL_NAME = "spring-steel"
PACKAGES = ["spring-lib", "torch", "torchvision", "timm", "numpy", "pandas", "scikit-learn",
            "scikit-image", "papermill", "seaborn", "matplotlib", "pydantic"]


class RunError(RuntimeError):
    """A notebook failed; the message names it and the cell."""


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def find_notebooks(selection: list[str] | None = None) -> list[Path]:
    """Notebooks in series order; `selection` holds numbers ("01") or names."""
    all_nbs = sorted(notebooks_dir().glob("[0-9][0-9]_*.ipynb"))
    if not selection:
        return all_nbs
    chosen = []
    for s in selection:
        match = [nb for nb in all_nbs if nb.name.startswith(f"{s}_") or nb.stem == s
                 or nb.name == s]
        if not match:
            raise RunError(f"no notebook '{s}' in {notebooks_dir()} "
                           f"(have: {', '.join(nb.name for nb in all_nbs)})")
        chosen.extend(match)
    return sorted(set(chosen))


def _git_commit() -> str | None:
    try:
        root = project_root()
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "spring_lib", "notebooks",
                                "params"], cwd=root, capture_output=True, text=True).stdout
        return head + ("+dirty" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def _cpu() -> dict:
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"model": model, "cores": os.cpu_count(), "machine": platform.machine()}


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def archive_previous(out: Path) -> Path | None:
    """Copy an earlier run's results aside (not checkpoints or caches, which are rebuilt)."""
    if not out.exists() or not any(out.iterdir()):
        return None
    stamp = datetime.fromtimestamp(out.stat().st_mtime).strftime("%Y%m%dT%H%M%S")
    dest = out.parent / ".archive" / f"{out.name}-{stamp}"
    if not dest.exists():
        shutil.copytree(out, dest, ignore=shutil.ignore_patterns("checkpoints", "cache"))
    return dest


def run_study(profile: str, notebooks: list[str] | None = None,
              results_root: str | Path | None = None, kernel_name: str = KERNEL_NAME,
              log=print) -> Path:
    """Execute the selected notebooks in order; stop at the first failure."""
    import papermill as pm

    cfg = load_config(profile)  # a bad profile fails here, before any notebook starts
    nbs = find_notebooks(notebooks)
    out = Path(results_root or project_root() / "results") / cfg.profile
    archived = archive_previous(out)
    if archived:
        log(f"previous results of '{cfg.profile}' copied to {archived}")
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    root = project_root()
    profile_arg = cfg.profile if Path(cfg.source).parent == params_dir() else str(cfg.source)
    record = {"profile": cfg.profile, "profile_file": _rel(Path(cfg.source), root),
              "config": cfg.model_dump(), "started": _now(), "git_commit": _git_commit(),
              "cpu": _cpu(), "versions": _versions(), "notebooks": [], "status": "running"}
    previous = out / "run.json"
    if previous.exists():  # keep the record of earlier runs (e.g. of the notebooks not rerun now)
        old = json.loads(previous.read_text())
        record["earlier_runs"] = old.pop("earlier_runs", []) + [old]
    try:
        from .data.catalogue import catalog_checksum, load_catalog

        record["data_checksum"] = catalog_checksum(load_catalog(cfg))
    except Exception as exc:  # noqa: BLE001 - recorded; the notebook will raise it properly
        record["data_checksum"] = f"unavailable: {exc}"
    try:
        for i, nb in enumerate(nbs, 1):
            log(f"[{i}/{len(nbs)}] {nb.name} (profile {cfg.profile}) ...")
            t0 = time.time()
            dest = out / "notebooks" / nb.name
            entry = {"notebook": nb.name, "output": str(dest.relative_to(out))}
            record["notebooks"].append(entry)
            try:
                pm.execute_notebook(
                    str(nb), str(dest), kernel_name=kernel_name, cwd=str(project_root()),
                    parameters={"profile": profile_arg, "results_dir": _rel(out, root)},
                    progress_bar=False, log_output=False)
            except pm.PapermillExecutionError as exc:
                entry.update(status="failed", seconds=round(time.time() - t0, 1),
                             cell=exc.exec_count, error=f"{exc.ename}: {exc.evalue}")
                raise RunError(
                    f"{nb.name} failed in cell [{exc.exec_count}]: {exc.ename}: {exc.evalue}\n"
                    f"The executed notebook with the traceback is {dest}; results of the "
                    f"notebooks before it are kept in {out}.") from None
            entry.update(status="ok", seconds=round(time.time() - t0, 1))
            log(f"    done in {entry['seconds']:.0f} s -> {dest}")
        record["status"] = "ok"
        return out
    except BaseException:
        record["status"] = "failed"
        raise
    finally:
        record["finished"] = _now()
        (out / "run.json").write_text(json.dumps(record, indent=2, default=str) + "\n")


def _rel(path: Path, root: Path) -> str:
    """Paths inside the checkout are recorded relative to it, so records carry no machine path."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
