"""The one setup call every notebook makes: `study = sl.open_study(profile, results_dir)`.

Under the runner, `results_dir` is the run's folder: the config is the run's snapshot there
(`config.json`, the profile validated once for the whole run), and the run's record gives its id
and the data checksum computed once, so no notebook re-reads the profile or re-hashes the data.
Opened interactively, a notebook reads the profile itself (a name or a YAML path). Importing this
module loads `glcm/` and `nets/`, which register the runners `core.arm_kinds.run_arm` calls.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import matplotlib
import pandas as pd

from . import glcm, nets  # noqa: F401 - importing them registers the arms' runners
from .config import SNAPSHOT_FILE, StudyConfig, load_config, read_snapshot
from .core.paths import project_root
from .data.tileset import TileSet, build_tileset
from .core.results_dir import ResultsDir


@dataclass
class Study:
    cfg: StudyConfig
    out: ResultsDir
    run: dict = field(default_factory=dict)

    @cached_property
    def tileset(self) -> TileSet:
        return build_tileset(self.cfg, data_checksum=self.run.get("data_checksum"))

    @property
    def classes(self) -> list[str]:
        return self.tileset.classes


def open_study(profile: str | Path, results_dir: str | Path | None = None) -> Study:
    """`profile`: a name or a YAML path (`config.profile_path`); a run's folder as `results_dir`
    brings its own config, and `profile` must then name that run's profile."""
    cfg = read_snapshot(results_dir, profile) if results_dir else None
    from_run = cfg is not None
    cfg = cfg if from_run else load_config(profile)
    # outside a run (JupyterLab), products go beside the published result sets, never into one
    out = ResultsDir(results_dir or project_root() / "results" / ".interactive" / cfg.profile)
    record = out.path("run.json")
    run = json.loads(record.read_text()) if record.exists() else {}
    if run.get("status") != "running":
        run = {}   # a finished run's record is not this notebook's run
    pd.set_option("display.max_colwidth", 120)
    matplotlib.rcParams.update({"figure.dpi": 100, "savefig.dpi": 120})
    source = f"the run's {SNAPSHOT_FILE} of {cfg.source}" if from_run else cfg.source
    print(f"profile {cfg.profile} ({source}): {cfg.description}")
    print(f"run {run.get('run_id', '(interactive, outside a run)')} -> {out.root}")
    return Study(cfg, out, run)
