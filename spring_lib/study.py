"""The one setup call every notebook makes: `study = sl.open_study(profile, results_dir)`.

It validates the profile, opens the results folder, and picks up the run the notebook belongs
to (its id and the data checksum the runner computed once), so no notebook re-hashes the data.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property

import matplotlib
import pandas as pd

from .config import StudyConfig, load_config
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


def open_study(profile: str, results_dir: str | None = None) -> Study:
    cfg = load_config(profile)
    # outside a run (JupyterLab), products go beside the published result sets, never into one
    out = ResultsDir(results_dir or project_root() / "results" / ".interactive" / cfg.profile)
    record = out.path("run.json")
    run = json.loads(record.read_text()) if record.exists() else {}
    if run.get("status") != "running":
        run = {}   # a finished run's record is not this notebook's run
    pd.set_option("display.max_colwidth", 120)
    matplotlib.rcParams.update({"figure.dpi": 100, "savefig.dpi": 120})
    print(f"profile {cfg.profile} ({cfg.source}): {cfg.description}")
    print(f"run {run.get('run_id', '(interactive, outside a run)')} -> {out.root}")
    return Study(cfg, out, run)
