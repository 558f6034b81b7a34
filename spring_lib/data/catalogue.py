"""Micrograph catalogues: which images exist, their labels, samples and scale.

Two layouts are read: UHCSDB (labels from its `microstructures.sqlite`, images found by
micrograph id, cropped PNGs or the original NIST TIFFs with their SEM data bar) and any
folder-per-class set of micrographs a lab brings.
"""
from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import StudyConfig
from ..core.paths import project_root

DATA_ROOT_ENV = "SPRING_DATA_ROOT"
IMAGE_SUFFIXES = {".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp"}
CATALOG_COLUMNS = ["micrograph_id", "path", "label", "sample_key", "um_per_px",
                   "magnification", "detector", "has_databar"]
# UHCSDB micrograph ids whose images show the same field (the data README's dHash check).
UHCSDB_NEAR_DUPLICATES = [("447", "1710"), ("597", "1468"), ("1128", "1558")]
_UHCSDB_NAME = re.compile(r"^(cropped)?micrograph(\d+)$", re.IGNORECASE)
_UNIT_TO_UM = {"um": 1.0, "µm": 1.0, "nm": 1e-3, "mm": 1e3}
SCALE_FILE = "scale.csv"   # a folder layout's optional scales, beside the class folders


class DataError(RuntimeError):
    """Data that is missing or unreadable; the message says where to look."""


def resolve_data_root(cfg: StudyConfig) -> Path:
    """Profile value, else $SPRING_DATA_ROOT, else ./data/uhcsdb under the project."""
    if cfg.data.root:
        root, origin = Path(cfg.data.root).expanduser(), f"data.root in {cfg.source}"
        if not root.is_absolute():
            root = project_root() / root
    elif os.environ.get(DATA_ROOT_ENV):
        root, origin = Path(os.environ[DATA_ROOT_ENV]).expanduser(), f"${DATA_ROOT_ENV}"
    else:
        root, origin = project_root() / "data" / "uhcsdb", "the default ./data/uhcsdb"
    if not root.is_dir():
        raise DataError(
            f"no micrographs at {root} (from {origin}). Run `make data` on a machine with "
            f"internet to download UHCSDB, or point the study at a local copy: set "
            f"{DATA_ROOT_ENV}=/path/to/uhcsdb or data.root in {cfg.source}.")
    return root.resolve()



# ---------------------------------------------------------------- catalogues

def _scale_um_per_px(bar, units, bar_px) -> float:
    try:
        bar, bar_px = float(bar), float(bar_px)
    except (TypeError, ValueError):
        return np.nan
    factor = _UNIT_TO_UM.get(str(units).strip().lower())
    if factor is None or not bar_px or np.isnan(bar) or np.isnan(bar_px):
        return np.nan
    return bar * factor / bar_px


def _index_uhcsdb_images(root: Path) -> dict[str, tuple[Path, bool]]:
    """micrograph id -> (image path, carries data bar). Cropped copies win over originals.

    Two files of one kind for one id (say a .png and a .tif, or copies in two folders) would
    leave the choice to the file order, so they are refused.
    """
    found: dict[str, tuple[Path, bool]] = {}
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() not in IMAGE_SUFFIXES or not p.is_file():
            continue
        m = _UHCSDB_NAME.match(p.stem)
        if not m:
            continue
        cropped, mid = bool(m.group(1)), m.group(2)
        if mid in found:
            before, before_cropped = found[mid][0], not found[mid][1]
            if before_cropped == cropped:
                raise DataError(f"{before} and {p} are both micrograph {mid}: keep one of "
                                "them (move the other out of the data folder)")
            if before_cropped:
                continue
        found[mid] = (p, not cropped)
    return found


def load_uhcsdb_catalog(root: Path) -> pd.DataFrame:
    """UHCSDB micrographs with a microstructure label and an image file on disk."""
    db, csv = root / "microstructures.sqlite", root / "labels.csv"
    if db.exists():
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            meta = pd.read_sql_query(
                "SELECT m.micrograph_id, m.primary_microconstituent AS label, m.sample_key, "
                "m.micron_bar, m.micron_bar_units, m.micron_bar_px, m.magnification, m.detector "
                "FROM micrograph m WHERE m.primary_microconstituent IS NOT NULL", con)
    elif csv.exists():
        meta = pd.read_csv(csv)
    else:
        raise DataError(f"{root} has neither microstructures.sqlite nor labels.csv: "
                        "is it a UHCSDB folder? (for one folder per class set data.layout: folders)")
    meta["micrograph_id"] = meta["micrograph_id"].astype(int).astype(str)
    repeated = sorted(set(meta.loc[meta["micrograph_id"].duplicated(), "micrograph_id"]), key=int)
    if repeated:
        raise DataError(f"{db if db.exists() else csv} lists micrograph id(s) {repeated[:10]} "
                        "more than once: one row per micrograph is needed")
    images = _index_uhcsdb_images(root)
    if not images:
        raise DataError(f"no UHCSDB images (micrograph<ID>.tif or Croppedmicrograph<ID>.png) "
                        f"under {root}")
    meta = meta[meta["micrograph_id"].isin(images)].copy()
    meta["path"] = [str(images[m][0]) for m in meta["micrograph_id"]]
    meta["has_databar"] = [images[m][1] for m in meta["micrograph_id"]]
    meta["um_per_px"] = [_scale_um_per_px(b, u, p) for b, u, p in
                         zip(meta["micron_bar"], meta["micron_bar_units"], meta["micron_bar_px"])]
    meta["sample_key"] = meta["sample_key"].astype("Int64").astype(str)
    meta["magnification"] = (meta["magnification"].astype(str).str.extract(r"(\d+)")[0]
                             .astype(float))
    meta["detector"] = meta["detector"].fillna("unrecorded")
    return (meta[CATALOG_COLUMNS].sort_values("micrograph_id", key=lambda s: s.astype(int))
            .reset_index(drop=True))


def read_scale_file(root: Path) -> dict[str, float]:
    """A lab's scales, `scale.csv` beside the class folders (columns `file`, `um_per_px`; file
    is `<class>/<image>` under the root): {file: µm/px}. Without it a folder's micrographs have
    no scale, and what needs one (the pixel-size floor, the magnification band) says so."""
    path = root / SCALE_FILE
    if not path.exists():
        return {}
    try:
        table = pd.read_csv(path, dtype={"file": str})
    except (ValueError, OSError) as exc:
        raise DataError(f"{path} does not read as CSV ({exc}): write it with a header line "
                        "`file,um_per_px` and one row per image") from None
    if list(table.columns) != ["file", "um_per_px"]:
        raise DataError(f"{path} has columns {list(table.columns)}: it needs exactly "
                        "`file,um_per_px` (the image's path under the data root, its µm/px)")
    um = pd.to_numeric(table["um_per_px"], errors="coerce")
    bad = table[~(np.isfinite(um) & (um > 0))]
    if len(bad):
        raise DataError(f"{path}: um_per_px must be a positive number of µm per pixel; row "
                        f"{bad.index[0] + 2} has {bad['um_per_px'].iloc[0]!r} for "
                        f"{bad['file'].iloc[0]!r}")
    files = table["file"].str.replace("\\", "/", regex=False)
    twice = files[files.duplicated()]
    if len(twice):
        raise DataError(f"{path} gives {twice.iloc[0]!r} more than one scale: keep one row")
    return dict(zip(files, um.astype(float)))


def load_folder_catalog(root: Path) -> pd.DataFrame:
    """One sub-folder per class; each image is one micrograph and its own sample, with its
    scale where `scale.csv` gives one (`read_scale_file`).

    A micrograph's id is its path under `root` without the extension (so the same file name
    in two class folders gives two ids); two files differing only in extension would share
    one id, and one would silently replace the other, so they are refused.
    """
    rows, empty = [], []
    seen: dict[str, Path] = {}
    scales = read_scale_file(root)
    real_root = root.resolve()
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if class_dir.is_symlink():   # `ln -s . loop` would list every class again as a class
            raise DataError(f"{class_dir} is a link to {os.path.realpath(class_dir)}, not a "
                            "folder: a class is a real folder; replace the link with the folder "
                            "or remove it")
        images = [p for p in sorted(class_dir.rglob("*"))
                  if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
        if not images:
            empty.append(class_dir)
        for p in images:
            if p.is_symlink() and Path(os.path.realpath(p)).is_relative_to(real_root):
                raise DataError(f"{p} is a link to {os.path.realpath(p)}, inside the data root: "
                                "one image would count twice; remove the link")
            mid = p.relative_to(root).with_suffix("").as_posix()
            if mid in seen:
                raise DataError(f"{seen[mid]} and {p} are one micrograph ({mid}): their names "
                                "differ only in extension. Keep one, or rename the other.")
            seen[mid] = p
            rows.append(dict(micrograph_id=mid, path=str(p), label=class_dir.name,
                             sample_key=mid, um_per_px=scales.pop(p.relative_to(root).as_posix(),
                                                                  np.nan),
                             magnification=np.nan, detector="unrecorded", has_databar=True))
    if scales:
        raise DataError(f"{root / SCALE_FILE} names {len(scales)} file(s) that are not images "
                        f"in a class folder, e.g. {next(iter(scales))!r}: each row's file is an "
                        "image's path under the data root (<class>/<image>); fix or remove it")
    if empty:
        raise DataError(f"class folder(s) without images under {root}: "
                        f"{', '.join(str(d) for d in empty)}. Every sub-folder is a class; add "
                        f"its images ({'|'.join(sorted(IMAGE_SUFFIXES))}) or move it out.")
    if not rows:
        raise DataError(f"no images in class folders under {root} "
                        f"(expected {root}/<class>/<image>.png|tif|jpg)")
    return pd.DataFrame(rows, columns=CATALOG_COLUMNS)


def select_classes(catalog: pd.DataFrame, cfg: StudyConfig) -> list[str]:
    counts = catalog["label"].value_counts()
    if cfg.data.classes is None:
        if len(counts) < cfg.data.n_classes:
            raise cfg.error("data.n_classes", f"{cfg.data.n_classes} classes asked for, the data "
                            f"has {len(counts)}: {', '.join(counts.index)}")
        # most micrographs first, ties by name, so the choice is stable
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return [k for k, _ in ranked[: cfg.data.n_classes]]
    missing = [c for c in cfg.data.classes if c not in counts]
    if missing:
        raise cfg.error("data.classes", f"{missing} not in the data; labels present: "
                        f"{', '.join(f'{k} ({v})' for k, v in counts.items())}")
    return list(cfg.data.classes)


def load_catalog(cfg: StudyConfig) -> pd.DataFrame:
    """The micrographs of the profile's classes, one row each, ordered by class then id."""
    root = resolve_data_root(cfg)
    catalog = (load_uhcsdb_catalog(root) if cfg.data.layout == "uhcsdb"
               else load_folder_catalog(root))
    classes = select_classes(catalog, cfg)
    catalog = catalog[catalog["label"].isin(classes)].copy()
    catalog["label"] = pd.Categorical(catalog["label"], categories=classes)
    if cfg.data.databar != "auto":  # explicit setting overrides what the file names say
        catalog["has_databar"] = cfg.data.databar != "none"
    if cfg.data.micrograph_limit_per_class:
        limit = cfg.data.micrograph_limit_per_class
        keep = [g.sample(min(len(g), limit), random_state=cfg.split.seed).index
                for _, g in catalog.groupby("label", observed=True)]
        catalog = catalog.loc[[i for idx in keep for i in idx]]
    catalog = catalog.sort_values(["label", "micrograph_id"]).reset_index(drop=True)
    catalog.attrs["root"] = str(root)
    return catalog


def databar_setting(cfg: StudyConfig, has_databar: bool) -> str | int:
    if isinstance(cfg.data.databar, int):
        return cfg.data.databar
    return "auto" if has_databar and cfg.data.databar == "auto" else "none"


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def catalog_checksum(catalog: pd.DataFrame) -> str:
    """sha256 over (id, label, content hash) of every micrograph used: the run's data identity."""
    h = hashlib.sha256()
    for mid, label, path in zip(catalog["micrograph_id"], catalog["label"], catalog["path"]):
        h.update(f"{mid}\t{label}\t{file_sha256(path)}\n".encode())
    return h.hexdigest()
