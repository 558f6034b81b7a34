"""Fetching UHCSDB with every file checked against its pinned sha256 before use.

NIST's record (https://hdl.handle.net/11256/940) publishes no checksums, so the study
downloads the labelled, cropped subset it was built on from mirrors pinned by commit,
with the sha256 of each file listed in `sources/uhcsdb.tsv`.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd
import pooch
from tqdm.auto import tqdm

from .catalogue import file_sha256


class DownloadError(RuntimeError):
    """A file could not be fetched intact."""


def uhcsdb_sources() -> pd.DataFrame:
    with resources.files("spring_lib").joinpath("data/sources/uhcsdb.tsv").open() as f:
        return pd.read_csv(f, sep="\t", comment="#")


def fetch_files(sources: pd.DataFrame, root: str | Path, progress: bool = True) -> Path:
    """Download each (dest, url, sha256) row under `root`; verified files are kept as they are.

    A file already there with another checksum is an error, not a silent overwrite.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for row in tqdm(list(sources.itertuples()), desc="downloading", disable=not progress):
        dest = root / row.dest
        if dest.exists():
            got = file_sha256(dest)
            if got == row.sha256:
                continue
            raise DownloadError(f"{dest} exists with sha256 {got}, expected {row.sha256}. "
                                "Move it aside (it is not the pinned file) and run again.")
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            pooch.retrieve(row.url, known_hash=f"sha256:{row.sha256}", fname=dest.name,
                           path=dest.parent, progressbar=False)
        except ValueError as exc:  # pooch's hash mismatch
            raise DownloadError(f"checksum mismatch for {row.url}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - network errors of every kind
            raise DownloadError(
                f"could not download {row.url} ({type(exc).__name__}: {exc}). Without internet, "
                "copy UHCSDB from another machine and set SPRING_DATA_ROOT (or data.root in "
                "the profile) to it, e.g. ../shared/data/uhcsdb.") from None
    return root


def download_uhcsdb(root: str | Path, progress: bool = True) -> Path:
    return fetch_files(uhcsdb_sources(), root, progress)
