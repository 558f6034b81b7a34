"""One config per run: the runner validates the profile once and writes it into the run's folder
as `config.json`; every notebook of the run reads that snapshot, never the YAML file again. So
editing the profile during a run changes nothing in it, and run.json's `config` is the same record.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..core.paths import project_root
from .base import ConfigError
from .schema import StudyConfig

SNAPSHOT_FILE = "config.json"


def snapshot(cfg: StudyConfig, profile_file: str) -> dict:
    """What a run records of its config: the profile's name, the file it came from (relative to
    the checkout, as run.json has it) and every value, defaults included."""
    return {"profile": cfg.profile, "profile_file": profile_file, "config": cfg.model_dump()}


def write_snapshot(folder: Path, snap: dict) -> Path:
    path = Path(folder) / SNAPSHOT_FILE
    path.write_text(json.dumps(snap, indent=2, default=str) + "\n")
    return path


def _names(profile: str | Path, cfg: StudyConfig) -> bool:
    """Whether `profile` (a name or a YAML path) is the profile the snapshot was made from."""
    if str(profile) == cfg.profile:
        return True
    return Path(profile).expanduser().resolve() == Path(cfg.source).resolve()


def read_snapshot(folder: str | Path, profile: str | Path | None = None) -> StudyConfig | None:
    """The config of the run whose folder this is, or None when the folder holds no snapshot
    (a notebook opened outside a run). `profile`, if given, must name the snapshot's profile:
    a notebook pointed at another profile's run would mix two studies."""
    path = Path(folder) / SNAPSHOT_FILE
    if not path.exists():
        return None
    try:
        snap = json.loads(path.read_text())
        # JSON mode: the values as written, validated again by the schema
        cfg = StudyConfig.model_validate_json(json.dumps(snap["config"]))
        source = project_root() / snap["profile_file"]
    except (ValueError, KeyError, TypeError) as exc:   # pydantic's ValidationError included
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{path}: not a run's config snapshot ({first}); remove the file, or "
                          "run the notebook series again") from None
    cfg._source = source
    if profile is not None and not _names(profile, cfg):
        raise ConfigError(f"{path.parent} holds a run of profile '{cfg.profile}' "
                          f"({snap['profile_file']}), not '{profile}': open it with "
                          f"profile='{cfg.profile}', or choose another results_dir")
    return cfg
