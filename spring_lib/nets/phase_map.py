"""Phase maps: a tile window slides over the micrograph and each pixel takes the class of the
highest mean probability over the windows covering it, a colour per class with a legend.

A map's windows are bounded: on a large micrograph the stride grows (to a whole fraction of the
tile, so the windows include the tile grid the micrograph's classification computes anyway)
until the map adds at most `MAP_EXTRA_WINDOWS` windows to that grid. Windows never step more
than a tile, so every pixel stays covered. The class map is kept on the cells the windows'
edges cut, not per pixel: its size follows the windows.
"""
from __future__ import annotations

import math

import numpy as np

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


def class_grid(proba: np.ndarray, origins: list, shape: tuple[int, int], tile: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(classes, row edges, column edges): the class map on the cells cut by the windows'
    edges. Every pixel of a cell lies in the same windows, so the map is exact, and its size
    grows with the number of windows, not with the pixels (a 12000 px micrograph would need
    one float per class and pixel, gigabytes). -1: a cell no window covers."""
    edges = [np.unique(np.r_[0, n, [o[k] for o in origins], [o[k] + tile for o in origins]])
             for k, n in enumerate(shape)]
    acc = np.zeros((len(edges[0]) - 1, len(edges[1]) - 1, proba.shape[1]), np.float64)
    hits = np.zeros(acc.shape[:2], np.int64)
    for p, (y, x) in zip(proba, origins):
        (y0, y1), (x0, x1) = (np.searchsorted(edges[0], [y, y + tile]),
                              np.searchsorted(edges[1], [x, x + tile]))
        acc[y0:y1, x0:x1] += p
        hits[y0:y1, x0:x1] += 1
    return np.where(hits > 0, acc.argmax(-1), -1), edges[0], edges[1]


def stride_note(tile: int, stride: int, requested: int) -> str:
    """How the title and the CLI say the stride, and why it grew if it did."""
    grew = (f" (grown from {requested} px: at most {MAP_EXTRA_WINDOWS} windows beyond the "
            "tile grid)" if stride != requested else "")
    return f"window {tile} px, stride {stride} px{grew}"


def draw(img: np.ndarray, grid: np.ndarray, ys: np.ndarray, xs: np.ndarray, classes: list,
         title: str, ax=None):
    """The micrograph with its class map overlaid, a colour per class and a legend."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    colours = plt.cm.tab10(np.arange(len(classes)) % 10)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 7 * img.shape[0] / img.shape[1] + 0.6))
    h, w = img.shape
    step = max(1, math.ceil(max(h, w) / 2000))   # more pixels than the figure shows: thin
    ax.imshow(img[::step, ::step], cmap="gray", vmin=0, vmax=255, extent=(0, w, h, 0))
    ax.pcolormesh(xs, ys, np.ma.masked_less(grid, 0), cmap=ListedColormap(colours),
                  vmin=-0.5, vmax=len(classes) - 0.5, alpha=0.4)
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    present = sorted(set(np.unique(grid).tolist()) - {-1})
    ax.legend(handles=[Patch(color=colours[i], label=classes[i], alpha=0.6) for i in present],
              loc="upper center", bbox_to_anchor=(0.5, -0.01),
              ncol=min(3, max(1, len(present))), fontsize=7, frameon=False)
    ax.set_title(title, fontsize=8)
    ax.set_axis_off()
    ax.figure.tight_layout()
    return ax.figure
