"""Notebook 05's tables: every arm the run made, scored and compared.

The headline numbers come from the run's sample-grouped k-fold (`kfold/<arm>.csv`): every
micrograph is predicted once by a model that never saw its sample, each micrograph labelled by
the mean score of windows over its whole area (`data.reading`; the capped tiles' mean where a
profile does not read whole). Intervals and paired comparisons resample samples.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.predictions import load_predictions
from ..core.products import ARMS_TABLES
from ..core.schedule import pair_twin
from ..core.results_dir import ResultsDir
from . import intervals, metrics as ev
from .verdicts import FLOOR, NETWORK_KINDS, best_arm, difference_verdict, evaluated


#: sample bootstraps notebook 05 runs for each arm, by the rows they resample: micrographs in
#: `results_table`, `band_table` and (about one pair per arm) `comparisons`; tiles in
#: `results_table`
BOOTSTRAPS_PER_ARM = {"micrographs": 3, "tiles": 1}


def arms_of_run(out: ResultsDir) -> pd.DataFrame:
    """One row per arm of this run (classical and network arms), from the arms tables."""
    return pd.concat([pd.read_csv(out.file("table", t)) for t in ARMS_TABLES if out.has_table(t)],
                     ignore_index=True)


def samples_of(tileset) -> dict[str, str]:
    """micrograph id -> sample key: the unit every interval resamples."""
    m = tileset.micrographs
    return dict(zip(m["micrograph_id"].astype(str), m["sample_key"].astype(str)))


def kfold_micrographs(out: ResultsDir, arms: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    """Every evaluated arm's k-fold predictions, one row per micrograph and arm."""
    return ev.micrograph_predictions(load_predictions(out.root, evaluated(arms), "kfold"), classes)


def results_table(out: ResultsDir, arms: pd.DataFrame, classes: list[str], samples: dict,
                  n_boot: int, seed: int) -> pd.DataFrame:
    """Every evaluated arm under the sample-grouped k-fold: micrograph macro-F1 and balanced
    accuracy with sample-bootstrap intervals first, their mean ± sd over folds, then the tile
    level; the inner score that chooses the best arm, and estimated against actual minutes."""
    preds = load_predictions(out.root, evaluated(arms), "kfold")
    micro, tiles = ev.micrograph_predictions(preds, classes), ev.capped_tiles(preds)
    from_tiles = ev.micrograph_predictions(preds, classes, "tiles")
    info = arms.set_index("arm")
    rows = []
    for model, m in micro.groupby("model", sort=False):
        units = m["micrograph_id"].astype(str).map(samples)
        o = ev.sample_bootstrap(m["true_label"], m["pred_label"], units, classes, n_boot,
                                seed).set_index("metric")
        t = tiles[tiles["model"] == model]
        ot = ev.sample_bootstrap(t["true_label"], t["pred_label"],
                                 t["micrograph_id"].astype(str).map(samples), classes, n_boot,
                                 seed).set_index("metric")
        folds = ev.fold_scores(m, classes)
        capped = from_tiles[from_tiles["model"] == model]
        rows.append({
            "model": model, "kind": info.loc[model, "kind"], "micrographs": len(m),
            "samples": units.nunique(), "folds": len(folds),
            "macro_f1": o.loc["macro_f1", "value"], **intervals.columns(o, "macro_f1"),
            "balanced_accuracy": o.loc["balanced_accuracy", "value"],
            **intervals.columns(o, "balanced_accuracy"),
            "macro_f1_fold_mean": folds["macro_f1"].mean(),
            "macro_f1_fold_sd": folds["macro_f1"].std(ddof=1),
            "read_whole": "reading" in preds and bool(
                (preds.loc[preds["model"] == model, "reading"] == "whole").any()),
            "macro_f1_capped_tiles": float(ev.scores_from_confusions(ev.confusion(
                capped, classes).to_numpy())["macro_f1"]),
            "tile_macro_f1": ot.loc["macro_f1", "value"],
            **intervals.columns(ot, "macro_f1", "tile_macro_f1"),
            "tile_accuracy": ot.loc["accuracy", "value"],
            "inner_score": info.loc[model].get("inner_score"),
            "estimate_minutes": info.loc[model].get("estimate_minutes"),
            "actual_minutes": info.loc[model].get("actual_minutes")})
    return pd.DataFrame(rows).sort_values("macro_f1", ascending=False).reset_index(drop=True)


def per_class(micro: pd.DataFrame, classes: list[str], metric: str, samples: dict) -> pd.DataFrame:
    """One of precision, recall, f1 at the micrograph level: classes as rows with how many
    micrographs and samples hold each, arms as columns (the paper's Tables 2-3)."""
    first = micro[micro["model"] == micro["model"].iloc[0]]
    n = first.assign(sample=first["micrograph_id"].astype(str).map(samples)).groupby(
        "true_label").agg(micrographs=("micrograph_id", "nunique"), samples=("sample", "nunique"))
    table = pd.concat([ev.per_class_scores(m, classes).set_index("class")[metric].rename(model)
                       for model, m in micro.groupby("model", sort=False)], axis=1)
    return n.reindex(classes).join(table).rename_axis("class")


# ---------------------------------------------------------------- paired comparisons

def comparison_pairs(arms: pd.DataFrame) -> list[dict]:
    """The study's family of pairwise questions, each tied to the paper's claim it tests:
    1 pretrained against its scratch twin, 2 deeper against shallower pretrained network (at
    native resolution), 3 the best network against GLCM+SVM; and the best arm against the
    pixel-size floor, fine-tuning against the probe of the same weights."""
    done = set(evaluated(arms))
    pairs = []
    for arch in sorted(arms["architecture"].dropna().unique()):
        scratch = f"{arch}-scratch"
        for pretrained in (pair_twin(scratch, done), f"{arch}-probe"):
            if pretrained and {pretrained, scratch} <= done:
                kind = pretrained.removeprefix(f"{arch}-")
                pairs.append(dict(claim=1, question=f"{arch}: pretrained ({kind}) vs scratch",
                                  a=pretrained, b=scratch))
        if {f"{arch}-TL", f"{arch}-probe"} <= done:
            pairs.append(dict(claim=None, question=f"{arch}: fine-tuned vs frozen probe",
                              a=f"{arch}-TL", b=f"{arch}-probe"))
    for deep, shallow in DEPTH_LADDER:
        for kind in ("TL", "probe"):
            if {f"{deep}-{kind}", f"{shallow}-{kind}"} <= done:
                pairs.append(dict(claim=2, question=f"deeper vs shallower ({kind}): {deep} vs "
                                                    f"{shallow}",
                                  a=f"{deep}-{kind}", b=f"{shallow}-{kind}"))
    best_net = best_arm(arms, NETWORK_KINDS)
    if best_net and "GLCM+SVM" in done:
        pairs.append(dict(claim=3, question="best network (by inner score) vs GLCM+SVM",
                          a=best_net, b="GLCM+SVM"))
    best = best_arm(arms)
    if best and FLOOR in done:
        pairs.append(dict(claim=None, question="best arm (by inner score) vs the pixel-size floor",
                          a=best, b=FLOOR))
    return pairs


# deeper first; the EfficientNet-Lite ladder is the offline stand-in for SE-ResNeXt101 vs 50
DEPTH_LADDER = [("SE-ResNeXt101", "SE-ResNeXt50"), ("EfficientNet-Lite1", "EfficientNet-Lite0"),
                ("EfficientNet-Lite2", "EfficientNet-Lite0"), ("EfficientNet-Lite2", "EfficientNet-Lite1")]


def comparisons(micro: pd.DataFrame, arms: pd.DataFrame, classes: list[str], samples: dict,
                n_boot: int, seed: int) -> pd.DataFrame:
    """Each pair: difference of micrograph macro-F1 (a minus b) with a paired sample-bootstrap
    interval and p-value, Holm-adjusted over the whole family, and its verdict."""
    rows = []
    for pair in comparison_pairs(arms):
        d = ev.paired_bootstrap(micro[micro["model"] == pair["a"]].drop(columns="model"),
                                micro[micro["model"] == pair["b"]].drop(columns="model"),
                                samples, classes, "macro_f1", n_boot, seed)
        rows.append({**pair, **d})
    cols = ["claim", "question", "a", "b", "difference", "ci_low", "ci_high", "p_value",
            "p_holm", "verdict"]
    if not rows:
        return pd.DataFrame(columns=cols)
    t = pd.DataFrame(rows)
    t["p_holm"] = ev.holm(t["p_value"])
    t["verdict"] = [difference_verdict(r.ci_low, r.ci_high, r.p_holm) for r in t.itertuples()]
    return t[cols]


# ---------------------------------------------------------------- magnification

def magnification_band(micrographs: pd.DataFrame, classes: list[str], min_classes: int = 3,
                       quantiles: tuple[float, float] = (0.1, 0.9)) -> dict | None:
    """The widest µm/px interval where the central ranges (10th-90th percentile) of at least
    `min_classes` classes overlap; None if there is none (or no scale). Within it, pixel size
    can no longer tell those classes apart, so only morphology can."""
    m = micrographs[micrographs["label"].astype(str).isin(classes)].dropna(subset=["um_per_px"])
    if m.empty:
        return None
    ranges = m.groupby(m["label"].astype(str))["um_per_px"].quantile(list(quantiles)).unstack()
    edges = np.unique(ranges.to_numpy().ravel())
    best = None
    for i, lo in enumerate(edges):
        for hi in edges[i + 1:]:
            inside = ranges.index[(ranges.iloc[:, 0] <= lo) & (ranges.iloc[:, 1] >= hi)].tolist()
            if len(inside) >= min_classes:
                n = int(((m["um_per_px"] >= lo) & (m["um_per_px"] <= hi)
                         & m["label"].astype(str).isin(inside)).sum())
                if best is None or n > best["micrographs"]:
                    best = {"um_per_px_low": float(lo), "um_per_px_high": float(hi),
                            "classes": inside, "micrographs": n}
    return best


def band_table(micro: pd.DataFrame, micrographs: pd.DataFrame, band: dict | None,
               samples: dict, n_boot: int, seed: int) -> pd.DataFrame:
    """Every arm's micrograph macro-F1 on the micrographs inside the band (its classes only)."""
    cols = ["model", "micrographs", "samples", "macro_f1", "macro_f1_ci_low", "macro_f1_ci_high",
            "chance"]
    if band is None:
        return pd.DataFrame(columns=cols)
    scale = dict(zip(micrographs["micrograph_id"].astype(str), micrographs["um_per_px"]))
    um = micro["micrograph_id"].astype(str).map(scale)
    inside = micro[(um >= band["um_per_px_low"]) & (um <= band["um_per_px_high"])
                   & micro["true_label"].isin(band["classes"])]
    rows = []
    for model, m in inside.groupby("model", sort=False):
        units = m["micrograph_id"].astype(str).map(samples)
        # a prediction outside the band's classes counts as an error (it is never a true class,
        # so it adds no class to the macro average)
        pred = m["pred_label"].where(m["pred_label"].isin(band["classes"]), "(other class)")
        o = ev.sample_bootstrap(m["true_label"], pred, units, band["classes"] + ["(other class)"],
                                n_boot, seed).set_index("metric")
        rows.append({"model": model, "micrographs": len(m), "samples": units.nunique(),
                     "macro_f1": o.loc["macro_f1", "value"], **intervals.columns(o, "macro_f1"),
                     "chance": 1 / len(band["classes"])})
    return pd.DataFrame(rows, columns=cols).sort_values("macro_f1", ascending=False)
