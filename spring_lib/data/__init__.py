"""Step 01: micrograph catalogues, downloads, tiling, grouped splits and the cached tile set."""
from ..core.lazy import submodule_loader

__getattr__ = submodule_loader(__name__, (
    "catalogue", "costs", "download", "figures", "images", "normalization", "overview", "splits",
    "tile_cache", "tileset", "tiling"))
