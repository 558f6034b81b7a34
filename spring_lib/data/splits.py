"""Train/validation/test splits made on micrographs or samples, never on tiles.

Tiles of one micrograph are near copies of each other; a split that scatters them
over train and test measures memory, not recognition. Near-duplicate micrographs
(the same field imaged twice) are joined into one group for the same reason.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from skimage.transform import resize

from ..config import StudyConfig
from ..core.grouped_cv import grouped_folds

SPLITS = ("train", "val", "test")


class SplitError(ValueError):
    """The data cannot be split as the profile asks."""


def dhash(image: np.ndarray, size: tuple[int, int] = (16, 15)) -> np.ndarray:
    """Difference hash: signs of horizontal gradients on a tiny thumbnail (rows x cols+1)."""
    rows, cols = size[1], size[0]
    k = max(1, min(image.shape[:2]) // 512)
    if k > 1:   # block means first: smoothing a 12000 px micrograph whole takes minutes
        h, w = image.shape[0] // k * k, image.shape[1] // k * k
        image = image[:h, :w].reshape(h // k, k, w // k, k).mean(axis=(1, 3), dtype=np.float32)
    small = resize(image.astype(np.float32), (rows, cols + 1), anti_aliasing=True)
    return (small[:, 1:] > small[:, :-1]).ravel()


def identical_across_labels(hashes: dict[str, np.ndarray], labels: dict[str, str]
                            ) -> list[tuple[str, str]]:
    """Pairs of ids with the same hash (the same picture) but different labels."""
    first: dict[bytes, str] = {}
    pairs = []
    for m, h in hashes.items():
        key = np.packbits(h).tobytes()
        if key in first and labels[first[key]] != labels[m]:
            pairs.append((first[key], m))
        first.setdefault(key, m)
    return pairs


def near_duplicate_pairs(hashes: dict[str, np.ndarray], max_distance: int) -> list[tuple[str, str]]:
    """Pairs of ids whose hashes differ in at most `max_distance` bits."""
    ids = list(hashes)
    if len(ids) < 2:
        return []
    bits = np.stack([hashes[i] for i in ids]).astype(np.uint8)
    dist = (bits[:, None, :] != bits[None, :, :]).sum(-1)
    a, b = np.nonzero(np.triu(dist <= max_distance, k=1))
    return [(ids[i], ids[j]) for i, j in zip(a, b)]


def group_ids(catalog: pd.DataFrame, group_by: str,
              linked: list[tuple[str, str]] = ()) -> pd.Series:
    """Group id per micrograph: its own id or its sample, merged across linked pairs."""
    base = catalog["micrograph_id"] if group_by == "micrograph" else "s" + catalog["sample_key"]
    parent = {g: g for g in base}

    def find(g):
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    by_id = dict(zip(catalog["micrograph_id"], base))
    for a, b in linked:
        if a in by_id and b in by_id:
            ra, rb = find(by_id[a]), find(by_id[b])
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return pd.Series([find(g) for g in base], index=catalog.index, name="group")


def hold_out_groups(labels, groups, fraction: float, seed: int, key: str) -> np.ndarray:
    """Boolean mask of one stratified group fold of about `fraction` of the data."""
    n_splits = max(2, int(round(1 / fraction)))
    n_groups = len(set(groups))
    if n_groups < n_splits:
        raise SplitError(f"only {n_groups} groups to split; cannot hold out 1/{n_splits} of them "
                         f"(split.{key}={fraction}): lower it, or group by micrograph")
    try:
        folds = [held for _, held in grouped_folds(labels, groups, n_splits, seed, key)]
    except ValueError as exc:  # e.g. a class with fewer members than folds
        raise SplitError(f"cannot hold out 1/{n_splits} of the groups (split.{key}={fraction}): "
                         f"{exc}; raise split.{key} or use more micrographs") from None
    # a class held in a few samples misses some folds: hold out the first fold that has every
    # class (decided by labels and groups alone, never by any result)
    every = set(labels)
    held = next((f for f in folds if set(labels[f]) == every), folds[0])
    mask = np.zeros(len(labels), bool)
    mask[held] = True
    return mask


def assign_splits(catalog: pd.DataFrame, cfg: StudyConfig,
                  linked: list[tuple[str, str]] = ()) -> pd.DataFrame:
    """Catalog with `group` and `split` columns; every class present in train and test."""
    sc = cfg.split
    out = catalog.copy()
    out["group"] = group_ids(out, sc.group_by, linked)
    labels = out["label"].astype(str).to_numpy()
    groups = out["group"].to_numpy()
    try:
        test = hold_out_groups(labels, groups, sc.test_fraction, sc.seed, "test_fraction")
        split = np.where(test, "test", "train").astype(object)
        if sc.val_fraction > 0:
            rest = ~test
            val_rest = hold_out_groups(labels[rest], groups[rest], sc.val_fraction, sc.seed + 1,
                                     "val_fraction")
            split[np.flatnonzero(rest)[val_rest]] = "val"
    except SplitError as exc:
        raise cfg.error("split", f"{exc} (group_by={sc.group_by})") from None
    out["split"] = pd.Categorical(split, categories=list(SPLITS))
    _check_coverage(out, cfg)
    return out


def _check_coverage(df: pd.DataFrame, cfg: StudyConfig) -> None:
    counts = pd.crosstab(df["label"], df["split"]).reindex(columns=list(SPLITS), fill_value=0)
    for needed in ("train", "test"):
        missing = counts.index[counts[needed] == 0].tolist()
        if missing:
            n_groups = df.groupby("label", observed=True)["group"].nunique()
            detail = ", ".join(f"{c}: {n_groups[c]} {cfg.split.group_by}s" for c in missing)
            raise cfg.error("split", f"class(es) {missing} get no {needed} micrographs "
                            f"with group_by={cfg.split.group_by} ({detail}). Use "
                            "group_by: micrograph, another seed, or leave the class out "
                            "(data.classes).")


def kfold_assignment(micrographs: pd.DataFrame, k: int, seed: int) -> pd.Series:
    """Fold (0..k-1) of every micrograph for the k-fold evaluation: stratified by label and
    grouped like the split, so no sample (and no near-duplicate pair) is in two folds. Every arm
    of a run uses these same folds, so in one fold every arm sees the same training micrographs."""
    labels = micrographs["label"].astype(str).to_numpy()
    groups = micrographs["group"].to_numpy()
    n_groups = len(set(groups))
    if n_groups < k:
        raise SplitError(f"only {n_groups} groups for {k} folds: lower evaluation.kfold")
    fold = np.empty(len(micrographs), int)
    for f, (_, held) in enumerate(grouped_folds(labels, groups, k, seed, "evaluation.kfold")):
        fold[held] = f
    return pd.Series(fold, index=micrographs.index, name="fold")


def assert_disjoint(df: pd.DataFrame, column: str) -> None:
    """Raise if any value of `column` (micrograph_id, sample_key, group) is in two splits."""
    per = df.groupby(column, observed=True)["split"].nunique()
    bad = per[per > 1]
    if len(bad):
        raise AssertionError(f"{len(bad)} {column}(s) in more than one split: "
                             f"{list(bad.index[:5])}")


def split_table(df: pd.DataFrame) -> pd.DataFrame:
    """Micrographs, samples and groups per class and split."""
    agg = (df.groupby(["label", "split"], observed=False)
             .agg(micrographs=("micrograph_id", "nunique"), samples=("sample_key", "nunique"),
                  groups=("group", "nunique")))
    wide = agg.unstack("split").fillna(0).astype(int)
    wide.columns = [f"{what} {split}" for what, split in wide.columns]
    return wide


def leaky_tile_split(n_tiles: int, labels: np.ndarray, cfg: StudyConfig) -> np.ndarray:
    """Random, stratified, tile-level split: LEAKY (tiles of one micrograph on both sides).

    Exists only to show how much such a split inflates accuracy.
    """
    from sklearn.model_selection import train_test_split

    idx = np.arange(n_tiles)
    rest, test = train_test_split(idx, test_size=cfg.split.test_fraction, stratify=labels,
                                  random_state=cfg.split.seed)
    split = np.array(["train"] * n_tiles, dtype=object)
    split[test] = "test"
    if cfg.split.val_fraction > 0:
        _, val = train_test_split(rest, test_size=cfg.split.val_fraction, stratify=labels[rest],
                                  random_state=cfg.split.seed)
        split[val] = "val"
    return split
