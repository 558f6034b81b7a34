"""Metrics from the common prediction files, with uncertainty that respects samples.

The independent unit of UHCSDB is the sample: tiles of one micrograph are near copies, and
micrographs of one sample are near-relatives. So a micrograph's label is scored once (the mean
of its tiles' scores), and intervals come from a bootstrap that resamples whole samples, never
tiles or micrographs. Paired comparisons resample the same samples for both arms, and a family
of them is corrected with Holm's method.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

MACRO_F1 = ("macro-F1 = (1/K) Σ_k F1_k, the unweighted mean of the per-class F1 scores over the "
            "K classes present in the truth being scored")
LEVEL = 0.95


def score_columns(preds: pd.DataFrame, classes: list[str]) -> list[str]:
    return [f"score:{c}" for c in classes]


def tile_metrics(preds: pd.DataFrame, classes: list[str]) -> tuple[dict, pd.DataFrame]:
    """Accuracy and macro-F1, and per-class precision, recall, F1 and support."""
    y, p = preds["true_label"], preds["pred_label"]
    prec, rec, f1, sup = precision_recall_fscore_support(y, p, labels=classes, zero_division=0)
    per_class = pd.DataFrame({"class": classes, "precision": prec, "recall": rec, "f1": f1,
                              "support": sup})
    return {"accuracy": float((y == p).mean()), "macro_f1": float(f1.mean())}, per_class


def confusion(preds: pd.DataFrame, classes: list[str], normalize: str | None = None) -> pd.DataFrame:
    cm = confusion_matrix(preds["true_label"], preds["pred_label"], labels=classes,
                          normalize=normalize)
    return pd.DataFrame(cm, index=pd.Index(classes, name="true"),
                        columns=pd.Index(classes, name="predicted"))


def capped_tiles(preds: pd.DataFrame) -> pd.DataFrame:
    """The rows of the capped tiles alone (a k-fold file also holds micrographs read whole)."""
    return preds[preds["reading"] != "whole"] if "reading" in preds else preds


def micrograph_predictions(preds: pd.DataFrame, classes: list[str],
                           reading: str = "whole") -> pd.DataFrame:
    """One prediction per micrograph (and model): the class with the highest mean score, the
    way a lab would label a whole micrograph. `reading` "whole": a model's micrographs read
    whole where its file holds them (`core.predictions.whole_frame`), else the mean of their
    capped tiles; "tiles": the capped tiles alone. Keeps `fold` where the file has one, and
    the mean scores."""
    if reading not in ("whole", "tiles"):
        raise ValueError(f"reading must be 'whole' or 'tiles', got {reading!r}")
    if "reading" in preds:
        whole = (preds["reading"] == "whole").to_numpy()
        read = preds["model"].isin(set(preds.loc[whole, "model"])).to_numpy() & (
            reading == "whole")
        preds = preds[np.where(read, whole, ~whole)]
    cols = score_columns(preds, classes)
    keys = ["model", "micrograph_id", "true_label"] + (["fold"] if "fold" in preds else [])
    g = preds.groupby(keys, sort=False)
    scores = g[cols].mean()
    out = scores.reset_index()   # the keys, then each class's mean score
    out["pred_label"] = np.asarray(classes, dtype=object)[scores.to_numpy().argmax(1)]
    out["n_tiles"] = (g["n_windows"].sum() if "n_windows" in preds and reading == "whole"
                      and preds["n_windows"].notna().all() else g.size()).to_numpy()
    return out


# ---------------------------------------------------------------- scores from confusion counts

def scores_from_confusions(cm: np.ndarray) -> dict[str, np.ndarray]:
    """cm [..., K, K] (true x predicted counts) -> accuracy, macro_f1, balanced_accuracy and
    per-class recall, precision and F1 [..., K]. Macro averages run over the classes present in
    the truth of that confusion, so a resample that lacks a rare class is not scored as if the
    class had been missed."""
    cm = np.asarray(cm, float)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    support, predicted = cm.sum(-1), cm.sum(-2)
    present = support > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(present, tp / support, 0.0)
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        n_present = present.sum(-1)
        return {"accuracy": tp.sum(-1) / cm.sum((-2, -1)),
                "macro_f1": (f1 * present).sum(-1) / n_present,
                "balanced_accuracy": (recall * present).sum(-1) / n_present,
                "recall": recall, "precision": precision, "f1": f1}


def confusions_by_unit(true: pd.Series, pred: pd.Series, units: pd.Series,
                       classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(unit ids, counts [n_units, K, K]): the confusion each unit (sample) contributes."""
    k = {c: i for i, c in enumerate(classes)}
    t, p = true.map(k).to_numpy(), pred.map(k).to_numpy()
    if np.isnan(t.astype(float)).any() or np.isnan(p.astype(float)).any():
        raise ValueError(f"labels outside the classes {classes}")
    ids, inv = np.unique(units.astype(str).to_numpy(), return_inverse=True)
    counts = np.zeros((len(ids), len(classes), len(classes)))
    np.add.at(counts, (inv, t.astype(int), p.astype(int)), 1)
    return ids, counts


def bootstrap_weights(n_units: int, n_boot: int, seed: int) -> np.ndarray:
    """Multiplicity of each unit in each replicate [n_boot, n_units]: units drawn with
    replacement, as many as there are."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_units, size=(n_boot, n_units))
    W = np.zeros((n_boot, n_units))
    np.add.at(W, (np.repeat(np.arange(n_boot), n_units), draws.ravel()), 1)
    return W


def _interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    v = values[~np.isnan(values)]
    lo, hi = np.percentile(v, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(lo), float(hi)


def sample_bootstrap(true: pd.Series, pred: pd.Series, samples: pd.Series, classes: list[str],
                     n_boot: int = 1000, seed: int = 0, level: float = LEVEL) -> pd.DataFrame:
    """Point value and percentile interval of accuracy, macro-F1 and balanced accuracy, the
    samples resampled with replacement (every row of a drawn sample comes along)."""
    _, counts = confusions_by_unit(true, pred, samples, classes)
    point = scores_from_confusions(counts.sum(0))
    boot = scores_from_confusions(np.einsum("bs,sij->bij", bootstrap_weights(len(counts), n_boot,
                                                                               seed), counts))
    rows = []
    for m in ("macro_f1", "balanced_accuracy", "accuracy"):
        lo, hi = _interval(boot[m], level)
        rows.append({"metric": m, "value": float(point[m]), "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)


def paired_bootstrap(a: pd.DataFrame, b: pd.DataFrame, samples: dict, classes: list[str],
                     metric: str = "macro_f1", n_boot: int = 1000, seed: int = 0,
                     level: float = LEVEL) -> dict:
    """`metric` of a minus that of b on the same micrographs, both resampled by the same
    samples: the difference, its interval and a two-sided bootstrap p-value (the share of
    replicates on the other side of zero, doubled; at least 1/n_boot)."""
    merged = a.merge(b, on=["micrograph_id", "true_label"], suffixes=("_a", "_b"))
    if len(merged) != len(a) or len(merged) != len(b):
        raise ValueError("the two arms were not scored on the same micrographs")
    units = merged["micrograph_id"].astype(str).map(samples)
    if units.isna().any():
        raise ValueError("micrographs without a sample: pass every micrograph's sample_key")
    _, ca = confusions_by_unit(merged["true_label"], merged["pred_label_a"], units, classes)
    _, cb = confusions_by_unit(merged["true_label"], merged["pred_label_b"], units, classes)
    W = bootstrap_weights(len(ca), n_boot, seed)
    diff = (scores_from_confusions(np.einsum("bs,sij->bij", W, ca))[metric]
            - scores_from_confusions(np.einsum("bs,sij->bij", W, cb))[metric])
    point = float(scores_from_confusions(ca.sum(0))[metric]
                  - scores_from_confusions(cb.sum(0))[metric])
    lo, hi = _interval(diff, level)
    d = diff[~np.isnan(diff)]
    p = min(1.0, max(2 * min((d <= 0).mean(), (d >= 0).mean()), 1 / len(d)))
    return {"difference": point, "ci_low": lo, "ci_high": hi, "p_value": float(p)}


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (same order as given)."""
    p = np.asarray(p_values, float)
    order = np.argsort(p)
    m = len(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def fold_scores(micro: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    """Micrograph macro-F1 and balanced accuracy of each fold (classes present in the fold)."""
    rows = []
    for fold, f in micro.groupby("fold"):
        cm = confusion_matrix(f["true_label"], f["pred_label"], labels=classes)
        s = scores_from_confusions(cm)
        rows.append({"fold": fold, "micrographs": len(f), "macro_f1": float(s["macro_f1"]),
                     "balanced_accuracy": float(s["balanced_accuracy"])})
    return pd.DataFrame(rows)


def per_class_scores(micro: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    """Micrograph-level precision, recall and F1 of every class."""
    s = scores_from_confusions(confusion_matrix(micro["true_label"], micro["pred_label"],
                                                labels=classes))
    return pd.DataFrame({"class": classes, "precision": s["precision"], "recall": s["recall"],
                         "f1": s["f1"]})
