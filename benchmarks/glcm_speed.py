"""GLCM feature extraction: the library's parallel path against a plain per-tile loop.

    SPRING_DATA_ROOT=../shared/data/uhcsdb .venv/bin/python benchmarks/glcm_speed.py [--profile cpu] [--tiles 1800]

Prints both timings, the speed-up and whether the features are identical (bit for bit).
"""
import argparse
import os
import time

import numpy as np
from skimage.feature import graycomatrix, graycoprops

import spring_lib as sl
from spring_lib.glcm.features import PROPERTIES, glcm_features, quantise


def plain_loop(tiles, levels, distances, angles):
    """The textbook way: one tile at a time, skimage's graycomatrix and graycoprops."""
    rows = []
    for t in tiles:
        P = graycomatrix(quantise(t, levels), distances=distances, angles=angles, levels=levels,
                         symmetric=True, normed=True)
        rows.append(np.stack([graycoprops(P, p) for p in PROPERTIES]).mean(axis=2).ravel())
    return np.stack(rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--tiles", type=int, default=1800)
    ap.add_argument("--levels", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tiles = sl.build_tileset(sl.load_config(args.profile)).tiles[: args.tiles]
    distances, angles = [1, 2, 4], [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4]
    best = {}
    for name, fn in [("plain per-tile loop", lambda: plain_loop(tiles, args.levels, distances, angles)),
                     ("spring_lib, 1 thread", lambda: glcm_features(tiles, args.levels, distances, angles, n_jobs=1)),
                     ("spring_lib, 2 threads", lambda: glcm_features(tiles, args.levels, distances, angles, n_jobs=2))]:
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
        best[name] = (min(times), out)
        print(f"{name:24s} {min(times):6.2f} s  ({min(times) / len(tiles) * 1e3:.2f} ms/tile, "
              f"best of {args.repeat})")
    ref_t, ref = best["plain per-tile loop"]
    for name, (t, out) in list(best.items())[1:]:
        print(f"{name}: {ref_t / t:.2f}x faster, identical features: {np.array_equal(out, ref)}")
    print(f"{len(tiles)} tiles of {tiles.shape[1]} px, {args.levels} levels, {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
