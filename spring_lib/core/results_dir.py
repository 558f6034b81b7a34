"""Where a notebook's products go: `results/<profile>/` (or the run's staging folder).

Every write goes by a name the product catalogue (`core.products`) holds, so a product cannot
appear, or be renamed, without the catalogue knowing: an unknown name is an error. Tables are
written as CSV (for machines) and Markdown (for readers), figures as PNG.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import products


class ResultsDir:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        for sub in ("tables", "figures"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def file(self, kind: str, name: str) -> Path:
        """Where the catalogued product `name` of `kind` (table, figure, text) lands."""
        return self.root / products.product_path(kind, name)

    def table(self, df: pd.DataFrame, name: str, index: bool = False,
              shown=None) -> pd.DataFrame:
        """Write CSV (and Markdown, for tables a person reads) and return the frame to show.
        The CSV keeps full precision: rounding happens once, where a number is shown, so a
        shown number is its value rounded, never a rounded value rounded again. `shown(df)`:
        the frame a person reads in the Markdown copy (intervals as text), where it differs."""
        product, _ = products.product("table", name)
        path = self.file("table", name)
        df.to_csv(path, index=index)
        if product.markdown:
            md = (shown(df) if shown else df).to_markdown(index=index, floatfmt=".4g")
            path.with_suffix(".md").write_text(md + "\n")
        return df

    def figure(self, fig, name: str):
        fig.savefig(self.file("figure", name), dpi=120, bbox_inches="tight")
        return fig

    def text(self, text: str, name: str) -> str:
        """Write Markdown prose (e.g. `reading`) and return it to show."""
        self.file("text", name).write_text(text + "\n")
        return text

    def read_table(self, name: str) -> pd.DataFrame:
        return pd.read_csv(self.file("table", name), dtype={"micrograph_id": str})

    def read_text(self, name: str) -> str:
        return self.file("text", name).read_text()

    def has_table(self, name: str) -> bool:
        return self.file("table", name).exists()

    def arm_file(self, what: str, arm: str, seed: int | None = None,
                 protocol: str | None = None) -> Path:
        """An arm's model or prediction file (see `products.arm_file`)."""
        return self.root / products.arm_file(what, arm, seed, protocol)

    def path(self, rel: str) -> Path:
        """A catalogued file by its path relative to the folder (e.g. `run.json`)."""
        if products.file_product(rel) is None:
            raise products.ProductError(f"{rel} is not in the product catalogue: add it to "
                                        f"{products.HOME} (PRODUCTS)")
        return self.root / rel
