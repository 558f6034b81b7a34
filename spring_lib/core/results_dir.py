"""Where a notebook's products go: `results/<profile>/{tables,figures}`.

Tables are written as CSV (for machines) and Markdown (for readers), figures as PNG.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd


class ResultsDir:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        for sub in ("tables", "figures"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def table(self, df: pd.DataFrame, name: str, index: bool = False,
              markdown: bool = True) -> pd.DataFrame:
        """Write CSV (and Markdown, for tables a person reads) and return the frame to show.
        The CSV keeps full precision: rounding happens once, where a number is shown, so a
        shown number is its value rounded, never a rounded value rounded again."""
        df.to_csv(self.root / "tables" / f"{name}.csv", index=index)
        if markdown:
            (self.root / "tables" / f"{name}.md").write_text(
                df.to_markdown(index=index, floatfmt=".4g") + "\n")
        return df

    def figure(self, fig, name: str):
        fig.savefig(self.root / "figures" / f"{name}.png", dpi=120, bbox_inches="tight")
        return fig

    def read_table(self, name: str) -> pd.DataFrame:
        return pd.read_csv(self.root / "tables" / f"{name}.csv", dtype={"micrograph_id": str})

    def has_table(self, name: str) -> bool:
        return (self.root / "tables" / f"{name}.csv").exists()

    def path(self, name: str) -> Path:
        return self.root / name
