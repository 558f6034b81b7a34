"""Stage 01: micrograph catalogues, downloads, tiling, grouped splits and the cached tile set."""
from . import catalogue, download, normalization, splits, tiling, tileset  # noqa: F401
