"""Confidence intervals as numbers: every interval a table holds is two float columns,
`<value>_ci_low` and `<value>_ci_high`, and becomes the text "[a, b]" only where a person reads
it (the tables' Markdown copies, REPORT.md, the reading's sentences), so nothing ever parses a
number out of text.
"""
from __future__ import annotations

import pandas as pd

LOW, HIGH, SHOWN = "_ci_low", "_ci_high", "_ci95"


def columns(boot: pd.DataFrame, metric: str, name: str | None = None) -> dict[str, float]:
    """`metric`'s interval from a `metrics.sample_bootstrap` frame indexed by metric, as the two
    columns `<name>_ci_low`, `<name>_ci_high` (name: the metric's own unless given)."""
    name = name or metric
    return {name + LOW: float(boot.loc[metric, "ci_low"]),
            name + HIGH: float(boot.loc[metric, "ci_high"])}


def text(low: float, high: float, signed: bool = False) -> str:
    """'[0.654, 0.822]'; a difference keeps its sign, '[-0.067, +0.023]'."""
    f = "+.3f" if signed else ".3f"
    return f"[{low:{f}}, {high:{f}}]"


def of(row, name: str, signed: bool = False) -> str:
    """The interval of `name` in a table row (a Series or a dict), as text."""
    return text(row[name + LOW], row[name + HIGH], signed)


def for_people(df: pd.DataFrame) -> pd.DataFrame:
    """A copy with each pair `<value>_ci_low`, `<value>_ci_high` as one column `<value>_ci95`
    reading '[a, b]', where the pair stood; an empty cell stays empty."""
    out = df.copy()
    for low in [c for c in df.columns if str(c).endswith(LOW) and len(c) > len(LOW)]:
        name = low[: -len(LOW)]
        if name + HIGH not in df:
            continue
        shown = [text(lo, hi) if pd.notna(lo) and pd.notna(hi) else ""
                 for lo, hi in zip(df[low], df[name + HIGH])]
        out.insert(out.columns.get_loc(low), name + SHOWN, shown)
        out = out.drop(columns=[low, name + HIGH])
    return out


def write_table(out, df: pd.DataFrame, name: str, index: bool = False, shown=for_people):
    """Write `df` with `out.table`: its CSV keeps the floats, its Markdown copy shows `shown(df)`,
    the intervals as text. Returns `df`."""
    return out.table(df, name, index=index, shown=shown)
