"""Where the study's files live: the checkout, its notebooks, results and the cache.

Every path the library derives starts here, so a checkout moved elsewhere (or a cache set by
`$SPRING_CACHE_DIR`) moves everything with it.
"""
from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "SPRING_CACHE_DIR"


def project_root() -> Path:
    """The checkout holding `params/` (editable install), else the working directory."""
    here = Path(__file__).resolve().parents[2]
    return here if (here / "params").is_dir() else Path.cwd()


def cache_dir(cfg) -> Path:
    """The profile's `cache_dir`, else `$SPRING_CACHE_DIR`, else `./.cache` (created)."""
    d = cfg.cache_dir or os.environ.get(CACHE_ENV) or str(project_root() / ".cache")
    path = Path(d).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
