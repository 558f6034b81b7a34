"""spring_lib: the library behind the spring-steel microstructure study notebooks.

Sub-packages follow the notebook series: `data` (01), `glcm` (02), `nets` (03-04),
`evaluation` (05), `paper` (06).
"""
from . import data, evaluation, glcm, paper, plots, predictions  # noqa: F401
from .config import ConfigError, StudyConfig, load_config
from .data.catalogue import DataError, load_catalog, read_micrograph
from .data.tileset import TileSet, build_tileset
from .results import ResultsDir

__all__ = ["ConfigError", "DataError", "ResultsDir", "StudyConfig", "TileSet", "build_tileset",
           "load_catalog", "load_config", "read_micrograph"]
__version__ = "0.1.0"
