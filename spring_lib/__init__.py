"""spring_lib: the library behind the spring-steel microstructure study notebooks."""
# submodules, reached as sl.<module> from the notebooks
from . import (data, evaluation, glcm, leakage, normalization, paper, plots,  # noqa: F401
               predictions, report, splits, svm_baseline, tiling, tileset)
from .config import ConfigError, StudyConfig, load_config
from .data import DataError, load_catalog, read_micrograph
from .results import ResultsDir
from .tileset import TileSet, build_tileset

__all__ = ["ConfigError", "DataError", "ResultsDir", "StudyConfig", "TileSet", "build_tileset",
           "load_catalog", "load_config", "read_micrograph"]
__version__ = "0.1.0"
