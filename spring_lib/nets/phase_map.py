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

from ..data import tiling
from ..data.tiling import map_stride  # noqa: F401  (its home is tiling: reading uses it too)


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
    grew = (f" (grown from {requested} px: at most {tiling.MAP_EXTRA_WINDOWS} windows beyond the "
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
