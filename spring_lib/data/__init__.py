"""Step 01: micrograph catalogues, downloads, tiling, grouped splits and the cached tile set."""
import importlib

_SUBMODULES = ("catalogue", "download", "figures", "images", "normalization", "overview", "splits", "tileset", "tiling")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
