"""Cutting micrographs into fixed-size tiles, optionally at a common physical scale."""
from __future__ import annotations

import numpy as np
from skimage.transform import resize


def tile_origins(height: int, width: int, tile_size: int, stride: int) -> list[tuple[int, int]]:
    """Top-left corners (y, x) of every whole tile on a regular grid from (0, 0).

    Pixels past the last whole tile (less than one stride) are not covered.
    """
    if tile_size > height or tile_size > width:
        return []
    ys = range(0, height - tile_size + 1, stride)
    xs = range(0, width - tile_size + 1, stride)
    return [(y, x) for y in ys for x in xs]


def covering_origins(height: int, width: int, tile_size: int, stride: int) -> list[tuple[int, int]]:
    """A sliding window's positions over the whole image: the grid from (0, 0), plus a last row
    and column flush with the bottom and right edges, so every pixel is covered."""
    if tile_size > height or tile_size > width:
        return []
    ys = sorted(set(range(0, height - tile_size + 1, stride)) | {height - tile_size})
    xs = sorted(set(range(0, width - tile_size + 1, stride)) | {width - tile_size})
    return [(y, x) for y in ys for x in xs]


#: windows a map may add to the tile grid's (about 25 s of EfficientNet-Lite0 at its native
#: input on 2 cores in bf16); a 12000 px micrograph at half-tile stride would add over 8000
MAP_EXTRA_WINDOWS = 4096


def axis_origins(n: int, tile: int, stride: int) -> list[int]:
    """Window starts along one axis: every `stride` from 0, and one flush with the far edge
    (as `covering_origins`)."""
    return sorted(set(range(0, n - tile + 1, stride)) | {n - tile})


def extra_windows(height: int, width: int, tile: int, stride: int) -> int:
    """Windows at `stride` that are not on the tile grid (stride = tile, from 0)."""
    ys, xs = axis_origins(height, tile, stride), axis_origins(width, tile, stride)
    on = [sum(o % tile == 0 for o in axis) for axis in (ys, xs)]
    return len(ys) * len(xs) - on[0] * on[1]


def map_stride(height: int, width: int, tile: int, stride: int) -> int:
    """`stride` if its windows add at most MAP_EXTRA_WINDOWS to the tile grid, else the finest
    stride tile/m (m a divisor of tile) that does; the tile itself adds only the last row and
    column of windows."""
    if tile > min(height, width):
        return stride
    coarser = [tile // m for m in range(max(1, tile // stride), 0, -1)
               if tile % m == 0 and tile // m > stride]
    for s in [stride, *coarser]:
        if extra_windows(height, width, tile, s) <= MAP_EXTRA_WINDOWS:
            return s
    return tile


def n_tiles(height: int, width: int, tile_size: int, stride: int) -> int:
    if tile_size > height or tile_size > width:
        return 0
    return ((height - tile_size) // stride + 1) * ((width - tile_size) // stride + 1)


def cut_tiles(image: np.ndarray, origins: list[tuple[int, int]], tile_size: int) -> np.ndarray:
    """Stack of tiles [n, tile_size, tile_size] (copies, same dtype)."""
    if not origins:
        return np.empty((0, tile_size, tile_size), image.dtype)
    return np.stack([image[y:y + tile_size, x:x + tile_size] for y, x in origins])


def _factor(um_per_px: float, target_um_per_px: float) -> float | None:
    """The resampling factor to the target scale; None where there is nothing to resample."""
    if not (um_per_px > 0):
        raise ValueError("micrograph has no known scale (µm/px)")
    factor = um_per_px / target_um_per_px
    return None if abs(factor - 1) < 1e-6 else factor


def scaled_shape(height: int, width: int, um_per_px: float,
                 target_um_per_px: float) -> tuple[int, int]:
    """The (height, width) `resample_to_scale` gives an image of this shape: what a run's
    preflight checks a tile against without decoding the image."""
    factor = _factor(um_per_px, target_um_per_px)
    if factor is None:
        return height, width
    return max(1, round(height * factor)), max(1, round(width * factor))   # as skimage rounds


def resample_to_scale(image: np.ndarray, um_per_px: float, target_um_per_px: float) -> np.ndarray:
    """Resample so one pixel spans `target_um_per_px`: tiles then cover the same area of steel."""
    factor = _factor(um_per_px, target_um_per_px)
    if factor is None:
        return image
    # skimage's rescale, to the shape `scaled_shape` says
    out = resize(image.astype(np.float32), scaled_shape(*image.shape, um_per_px, target_um_per_px),
                 order=1, anti_aliasing=factor < 1, preserve_range=True)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def choose_stride(shapes: list[tuple[int, int]], tile_size: int, stride: int, min_stride: int,
                  cap: int) -> int:
    """The coarsest stride, halving from `stride` down to `min_stride`, that yields `cap` tiles.

    Classes with few micrographs get overlapping tiles only as far as they need them.
    """
    s = stride
    while True:
        total = sum(n_tiles(h, w, tile_size, s) for h, w in shapes)
        if total >= cap or s <= min_stride:
            return s
        s = max(min_stride, s // 2)


def spread_sample(groups: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of k items drawn round-robin across groups (micrographs), random within each.

    Keeps every micrograph represented instead of letting the largest dominate a cap.
    """
    n = len(groups)
    if k >= n:
        return np.arange(n)
    order = rng.permutation(n)
    rank = np.empty(n, int)
    # position of each item within its own group (after shuffling)
    seen: dict = {}
    for i in order:
        g = groups[i]
        rank[i] = seen.get(g, 0)
        seen[g] = rank[i] + 1
    # take by rank, ties broken by the shuffled order
    key = rank * n + np.argsort(order)
    return np.sort(np.argsort(key, kind="stable")[:k])
