"""spring_lib: the library behind the spring-steel microstructure study notebooks.

Layers, bottom to top, each importing only from those below it: `core` (torch-free foundations),
`config` (the profile), the step packages that follow the notebook series -- `data` (01),
`glcm` (02), `nets` (03-04), `paper` (06), `evaluation` (05) -- and `run` (runner, report, site).
They load on first use (`sl.nets.arms`), so validating a profile or reading a table never
imports torch.
"""
import importlib

_SUBMODULES = {"cli", "config", "core", "data", "evaluation", "glcm", "nets", "paper", "run", "study"}
_NAMES = {"ConfigError": "config", "StudyConfig": "config", "load_config": "config",
          "DataError": "data.catalogue", "load_catalog": "data.catalogue",
          "read_micrograph": "data.images", "TileSet": "data.tileset",
          "build_tileset": "data.tileset", "ResultsDir": "core.results_dir", "Study": "study",
          "open_study": "study"}

__all__ = sorted(_NAMES)
__version__ = "0.1.0"


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
