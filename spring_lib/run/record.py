"""The run record, run.json: the run id, provenance (commit, versions), and every product with its
sha256, written atomically and verified against the files."""
from __future__ import annotations

import json
import platform
import re
import secrets
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from ..core.paths import project_root
from ..data.catalogue import file_sha256
from .errors import RunError

PACKAGES = ["spring-lib", "torch", "torchvision", "timm", "numpy", "pandas", "scikit-learn",
            "scikit-image", "papermill", "seaborn", "matplotlib", "pydantic"]

RUN_FOLDER = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{4}")


def new_run_id() -> str:
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def git_commit() -> str | None:
    try:
        root = project_root()
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "spring_lib", "notebooks",
                                "params"], cwd=root, capture_output=True, text=True).stdout
        return head + ("+dirty" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def list_products(folder: Path, run_id: str, since: float = 0.0,
                  earlier: dict | None = None) -> list[dict]:
    """Every file of a result set except run.json itself, with its size, sha256 and the run
    that made it: this one, or (files carried into a subset run unchanged) the earlier one."""
    before = {p["path"]: p for p in (earlier or {}).get("products", [])}
    out = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.name == "run.json":
            continue
        rel, digest = p.relative_to(folder).as_posix(), file_sha256(p)
        old = before.get(rel)
        carried = p.stat().st_mtime < since and old and old["sha256"] == digest
        out.append({"path": rel, "bytes": p.stat().st_size, "sha256": digest,
                    "made_by": old.get("made_by", earlier["run_id"]) if carried else run_id})
    return out


def verify_products(folder: Path) -> list[str]:
    """Files in `folder` not listed in its run.json, or whose sha256 differs (empty: fine).
    Listed files that are absent (models/, kept out of git) are not problems."""
    record = json.loads((folder / "run.json").read_text())
    listed = {p["path"]: p["sha256"] for p in record.get("products", [])}
    problems = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.name == "run.json":
            continue
        rel = p.relative_to(folder).as_posix()
        if rel not in listed:
            problems.append(f"{rel}: not a product of run {record.get('run_id')}")
        elif file_sha256(p) != listed[rel]:
            problems.append(f"{rel}: sha256 differs from run {record.get('run_id')}'s record")
    return problems


def rel_path(path: Path, root: Path) -> str:
    """Paths inside the checkout are recorded relative to it, so records carry no machine path."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_record(folder: Path, record: dict) -> None:
    tmp = folder / ".run.json.tmp"
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n")
    tmp.replace(folder / "run.json")


def complete_record(folder: Path) -> dict | None:
    f = folder / "run.json"
    if not f.exists():
        return None
    record = json.loads(f.read_text())
    # a record without a run id comes from before result sets were runs; it is archived, not built on
    return record if record.get("status") == "ok" and record.get("run_id") else None


def check_same_study(previous: dict, record: dict) -> None:
    """A subset run builds on the last complete set only if that set was made from the same
    profile values and the same data; otherwise its carried products would not match."""
    for key, what in (("config", "profile values"), ("data_checksum", "data")):
        if previous.get(key) != record[key]:
            raise RunError(f"the last complete result set (run {previous['run_id']}) was made with "
                           f"other {what} than this run's: run every notebook (no --notebooks), "
                           "so the result set stays one study")
