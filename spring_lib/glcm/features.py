"""Grey-level co-occurrence (GLCM) texture features as a scikit-learn transformer.

GLCM counts how often grey level i sits at distance d and angle θ from grey level j; Haralick's
properties of that matrix (contrast, homogeneity, energy, ...) summarise a texture in a few numbers.
It is the paper's classical baseline, and the floor every network has to beat.
"""
from __future__ import annotations

import numpy as np
from joblib import Memory, Parallel, delayed
from skimage.feature import graycomatrix, graycoprops
from sklearn.base import BaseEstimator, TransformerMixin

from ..config.schema import GLCM_PROPERTIES as PROPERTIES
from ..data.tileset import tile_digests

PARALLEL_MIN_TILES = 32  # below this, one thread is as quick


def check_tiles(X) -> np.ndarray:
    """Tiles must be uint8 and shaped (n, height, width); anything else is named, not guessed."""
    if not isinstance(X, np.ndarray):
        raise TypeError(f"GLCM features need a numpy array of tiles, got {type(X).__name__}")
    if X.dtype != np.uint8:
        raise ValueError(f"GLCM features need uint8 tiles (0-255 grey levels), got {X.dtype}; "
                         "pass the tiles from the tile set, not normalised arrays")
    if X.ndim != 3 or X.shape[1] < 2 or X.shape[2] < 2:
        raise ValueError(f"GLCM features need tiles shaped (n, height, width), got {X.shape}")
    return X


def quantise(tiles: np.ndarray, levels: int) -> np.ndarray:
    """Map 0..255 onto 0..levels-1 in equal bins (floor(x * levels / 256))."""
    return ((tiles.astype(np.uint16) * levels) >> 8).astype(np.uint8)


def tile_features(tile_q: np.ndarray, levels: int, distances, angles, properties,
                  rotation: str) -> np.ndarray:
    """Features of one quantised tile: properties x distances (x angles if per_angle)."""
    P = graycomatrix(tile_q, distances=distances, angles=angles, levels=levels,
                     symmetric=True, normed=True)
    props = np.stack([graycoprops(P, p) for p in properties])  # (props, distances, angles)
    if rotation == "average":
        props = props.mean(axis=2)
    return props.ravel()


def _graycoprops_many(P: np.ndarray, properties) -> np.ndarray:
    """skimage's `graycoprops` for several properties at once, normalising P once, not per
    property (that repeated normalisation is most of graycoprops' cost). Same operations in
    the same order, so the values equal graycoprops' bit for bit (tests/test_glcm.py checks)."""
    L = P.shape[0]
    P = P.astype(np.float64)
    sums = np.sum(P, axis=(0, 1), keepdims=True)
    sums[sums == 0] = 1
    P /= sums
    I, J = np.ogrid[0:L, 0:L]
    out = []
    for prop in properties:
        if prop in ("contrast", "dissimilarity", "homogeneity"):
            w = {"contrast": (I - J) ** 2, "dissimilarity": np.abs(I - J),
                 "homogeneity": 1.0 / (1.0 + (I - J) ** 2)}[prop]
            out.append(np.sum(P * w.reshape((L, L, 1, 1)), axis=(0, 1)))
        elif prop in ("ASM", "energy"):
            asm = np.sum(P**2, axis=(0, 1))
            out.append(asm if prop == "ASM" else np.sqrt(asm))
        elif prop == "correlation":
            Ii = np.arange(L).reshape((L, 1, 1, 1))
            Jj = np.arange(L).reshape((1, L, 1, 1))
            diff_i = Ii - np.sum(Ii * P, axis=(0, 1))
            diff_j = Jj - np.sum(Jj * P, axis=(0, 1))
            std_i = np.sqrt(np.sum(P * diff_i**2, axis=(0, 1)))
            std_j = np.sqrt(np.sum(P * diff_j**2, axis=(0, 1)))
            cov = np.sum(P * (diff_i * diff_j), axis=(0, 1))
            flat = (std_i < 1e-15) | (std_j < 1e-15)
            res = np.ones(cov.shape)
            res[~flat] = cov[~flat] / (std_i[~flat] * std_j[~flat])
            out.append(res)
        else:
            raise ValueError(f"unknown GLCM property {prop!r}; known: {PROPERTIES}")
    return np.stack(out)


def _block(tiles_q, levels, distances, angles, properties, rotation) -> np.ndarray:
    """`tile_features` for many tiles: the co-occurrence matrices of a chunk of tiles are laid
    side by side on the angle axis and their properties computed in one pass."""
    nd, na, n_props = len(distances), len(angles), len(properties)
    chunk = max(1, (4 << 20) // (levels * levels * nd * na * 8))  # ~4 MB of matrices: stays in cache
    out = []
    for s in range(0, len(tiles_q), chunk):
        part = tiles_q[s:s + chunk]
        P = np.concatenate([graycomatrix(t, distances=distances, angles=angles, levels=levels,
                                         symmetric=True, normed=True) for t in part], axis=3)
        props = _graycoprops_many(P, properties)  # (props, d, tiles*angles)
        props = props.reshape(n_props, nd, len(part), na).transpose(2, 0, 1, 3)
        if rotation == "average":
            props = props.mean(axis=3)
        out.append(props.reshape(len(part), -1))
    return np.concatenate(out) if out else np.empty((0, 0))


def glcm_features(tiles: np.ndarray, levels: int = 64, distances=(1, 2, 4),
                  angles=(0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4), properties=PROPERTIES,
                  rotation: str = "average", n_jobs: int = 1) -> np.ndarray:
    """Feature matrix (n_tiles, n_features), equal to `tile_features` tile by tile.

    With n_jobs > 1 the tiles are split into one block per worker thread.
    """
    tiles = check_tiles(tiles)
    q = quantise(tiles, levels)
    args = (levels, list(distances), list(angles), list(properties), rotation)
    if n_jobs == 1 or len(q) < PARALLEL_MIN_TILES:
        return _block(q, *args)
    blocks = np.array_split(q, n_jobs)
    # threads: graycomatrix and numpy release the GIL, and threads start in microseconds
    parts = Parallel(n_jobs=n_jobs, backend="threading")(
        delayed(_block)(b, *args) for b in blocks if len(b))
    return np.concatenate(parts)


_ROWS: dict[str, dict[str, np.ndarray]] = {}   # parameters -> tile digest -> feature row


class GLCMFeatures(TransformerMixin, BaseEstimator):
    """GLCM texture features of uint8 tiles, for use first in a `Pipeline`.

    rotation="average" averages each property over the angles (rotation-tolerant texture);
    "per_angle" keeps one feature per angle (directional structure such as Widmanstätten plates).
    `cache_dir` caches features on disk (joblib.Memory), keyed by the tiles and the parameters.
    """

    def __init__(self, levels: int = 64, distances=(1, 2, 4), angles_deg=(0, 45, 90, 135),
                 properties=PROPERTIES, rotation: str = "average", n_jobs: int = 1,
                 cache_dir: str | None = None):
        self.levels = levels
        self.distances = distances
        self.angles_deg = angles_deg
        self.properties = properties
        self.rotation = rotation
        self.n_jobs = n_jobs
        self.cache_dir = cache_dir

    def _validate_params(self):
        if not 2 <= int(self.levels) <= 256:
            raise ValueError(f"levels must be in 2..256, got {self.levels}")
        if self.rotation not in ("average", "per_angle"):
            raise ValueError(f"rotation must be 'average' or 'per_angle', got {self.rotation!r}")
        unknown = set(self.properties) - set(PROPERTIES)
        if unknown:
            raise ValueError(f"unknown GLCM properties {sorted(unknown)}; known: {PROPERTIES}")
        if not self.distances or min(self.distances) < 1:
            raise ValueError(f"distances must be positive integers, got {self.distances}")

    def fit(self, X, y=None):
        self._validate_params()
        X = check_tiles(X)
        self.n_features_out_ = len(self.transform(X[:1])[0]) if len(X) else 0
        self.tile_shape_ = X.shape[1:]
        return self

    def transform(self, X):
        self._validate_params()
        X = check_tiles(X)
        kwargs = dict(levels=int(self.levels), distances=tuple(self.distances),
                      angles=tuple(np.deg2rad(self.angles_deg)), properties=tuple(self.properties),
                      rotation=self.rotation)
        # nested tuning asks for many overlapping subsets of the same tiles: each tile's row is
        # computed once per parameter set in this process (and kept on disk per batch computed)
        memo = _ROWS.setdefault(repr(sorted(kwargs.items())), {})
        keys = tile_digests(X)
        missing = sorted({k: i for i, k in enumerate(keys) if k not in memo}.values())
        if missing:
            compute = glcm_features
            if self.cache_dir and len(missing) > 1:
                compute = Memory(self.cache_dir, verbose=0).cache(glcm_features, ignore=["n_jobs"])
            rows = compute(X[missing], n_jobs=self.n_jobs, **kwargs)
            memo.update(zip((keys[i] for i in missing), rows))
        return np.stack([memo[k] for k in keys])

    def get_feature_names_out(self, input_features=None):
        names = [f"{p}_d{d}" for p in self.properties for d in self.distances]
        if self.rotation == "per_angle":
            names = [f"{n}_a{a}" for n in names for a in self.angles_deg]
        return np.array(names, dtype=object)


def feature_table(tiles: np.ndarray, manifest, **params):
    """Features of `tiles` as a DataFrame, one named column each, plus the tiles' labels."""
    import pandas as pd

    t = GLCMFeatures(**params)
    table = pd.DataFrame(t.fit_transform(tiles), columns=t.get_feature_names_out())
    table["label"] = manifest["label"].astype(str).to_numpy()
    return table
