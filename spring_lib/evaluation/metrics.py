"""Metrics from the common prediction files, with uncertainty that respects micrographs.

Tiles of one micrograph are not independent evidence, so intervals come from a bootstrap that
resamples whole micrographs (within each class), never single tiles.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

MACRO_F1 = "macro-F1 = (1/K) Σ_k F1_k, the unweighted mean of the per-class F1 scores"


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


def _micrograph_counts(preds: pd.DataFrame, classes: list[str]):
    """Per micrograph: its class and its tile confusion counts [n_micrographs, K, K]."""
    k = {c: i for i, c in enumerate(classes)}
    t = preds["true_label"].map(k).to_numpy()
    p = preds["pred_label"].map(k).to_numpy()
    ids, inv = np.unique(preds["micrograph_id"].astype(str).to_numpy(), return_inverse=True)
    counts = np.zeros((len(ids), len(classes), len(classes)))
    np.add.at(counts, (inv, t, p), 1)
    micro_class = counts.sum(axis=2).argmax(axis=1)
    return ids, micro_class, counts


def bootstrap_weights(micro_class: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Multiplicity of each micrograph in each replicate [n_boot, n_micrographs], resampling
    micrographs with replacement within each class (class composition kept)."""
    rng = np.random.default_rng(seed)
    W = np.zeros((n_boot, len(micro_class)))
    for c in np.unique(micro_class):
        members = np.flatnonzero(micro_class == c)
        draws = rng.integers(0, len(members), size=(n_boot, len(members)))
        for b in range(n_boot):
            np.add.at(W[b], members[draws[b]], 1)
    return W


def _metrics_from_confusions(cm: np.ndarray) -> dict[str, np.ndarray]:
    """cm [..., K, K] -> accuracy, macro_f1 and per-class recall/precision/F1 [..., K]."""
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    support, predicted = cm.sum(-1), cm.sum(-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, tp / support, 0.0)
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {"accuracy": tp.sum(-1) / cm.sum((-2, -1)), "macro_f1": f1.mean(-1),
            "recall": recall, "precision": precision, "f1": f1}


def bootstrap_ci(preds: pd.DataFrame, classes: list[str], n_boot: int = 1000, seed: int = 0,
                 level: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """95 % percentile intervals of accuracy, macro-F1 and per-class metrics, by micrograph."""
    _, micro_class, counts = _micrograph_counts(preds, classes)
    W = bootstrap_weights(micro_class, n_boot, seed)
    cms = np.einsum("bm,mij->bij", W, counts)
    boot = _metrics_from_confusions(cms)
    point = _metrics_from_confusions(counts.sum(0))
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    overall = pd.DataFrame([{"metric": m, "value": float(point[m]),
                             "ci_low": float(np.percentile(boot[m], lo)),
                             "ci_high": float(np.percentile(boot[m], hi))}
                            for m in ("accuracy", "macro_f1")])
    rows = []
    for m in ("precision", "recall", "f1"):
        for i, c in enumerate(classes):
            rows.append({"class": c, "metric": m, "value": float(point[m][i]),
                         "ci_low": float(np.percentile(boot[m][:, i], lo)),
                         "ci_high": float(np.percentile(boot[m][:, i], hi))})
    return overall, pd.DataFrame(rows)


def paired_difference_ci(a: pd.DataFrame, b: pd.DataFrame, classes: list[str], n_boot: int = 1000,
                         seed: int = 0, level: float = 0.95) -> dict:
    """Accuracy of a minus accuracy of b on the same test tiles, with a micrograph bootstrap
    that uses the same resample for both (a paired interval)."""
    merged = a.merge(b, on=["tile_id", "micrograph_id", "true_label"], suffixes=("_a", "_b"))
    if len(merged) != len(a) or len(merged) != len(b):
        raise ValueError("the two arms were not evaluated on the same test tiles")
    ids, inv = np.unique(merged["micrograph_id"].astype(str), return_inverse=True)
    hit_a = (merged["pred_label_a"] == merged["true_label"]).to_numpy(float)
    hit_b = (merged["pred_label_b"] == merged["true_label"]).to_numpy(float)
    n = np.bincount(inv, minlength=len(ids))
    da = np.bincount(inv, hit_a, minlength=len(ids))
    db = np.bincount(inv, hit_b, minlength=len(ids))
    cls = {c: i for i, c in enumerate(classes)}
    micro_class = np.zeros(len(ids), int)
    micro_class[inv] = merged["true_label"].map(cls).to_numpy()
    W = bootstrap_weights(micro_class, n_boot, seed)
    diff = (W @ da - W @ db) / (W @ n)
    lo, hi = np.percentile(diff, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return {"difference": float(hit_a.mean() - hit_b.mean()), "ci_low": float(lo),
            "ci_high": float(hi)}


def mcnemar(a: pd.DataFrame, b: pd.DataFrame) -> dict:
    """Exact McNemar test: do a and b err on the same test tiles equally often?"""
    merged = a.merge(b, on=["tile_id", "true_label"], suffixes=("_a", "_b"))
    if len(merged) != len(a) or len(merged) != len(b):
        raise ValueError("McNemar needs both arms' predictions on the same test tiles")
    ok_a = merged["pred_label_a"] == merged["true_label"]
    ok_b = merged["pred_label_b"] == merged["true_label"]
    only_a, only_b = int((ok_a & ~ok_b).sum()), int((~ok_a & ok_b).sum())
    p = binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    return {"only_first_right": only_a, "only_second_right": only_b, "p_value": float(p)}


def micrograph_predictions(preds: pd.DataFrame, classes: list[str], how: str = "mean") -> pd.DataFrame:
    """One prediction per micrograph: mean tile score (how="mean") or majority vote ("vote")."""
    cols = score_columns(preds, classes)
    g = preds.groupby(["model", "micrograph_id", "true_label"], sort=False)
    if how == "mean":
        scores = g[cols].mean()
        pred = np.asarray(classes, dtype=object)[scores.to_numpy().argmax(1)]
    elif how == "vote":
        votes = g["pred_label"].agg(lambda s: s.value_counts().reindex(classes, fill_value=0)
                                    .to_numpy())
        # ties go to the class with the higher mean score
        means = g[cols].mean().to_numpy()
        v = np.stack(votes.to_numpy())
        pred = np.asarray(classes, dtype=object)[(v + means * 1e-6).argmax(1)]
        scores = votes
    else:
        raise ValueError(f"how must be 'mean' or 'vote', got {how!r}")
    out = scores.index.to_frame(index=False)
    out["pred_label"] = pred
    out["n_tiles"] = g.size().to_numpy()
    return out


def results_table(preds: pd.DataFrame, classes: list[str], n_boot: int, seed: int) -> pd.DataFrame:
    """One row per arm: tile accuracy and macro-F1 with CIs, micrograph accuracy (mean, vote)."""
    rows = []
    for model, p in preds.groupby("model", sort=False):
        overall, _ = bootstrap_ci(p, classes, n_boot, seed)
        o = overall.set_index("metric")
        micro = {how: (lambda m: float((m["pred_label"] == m["true_label"]).mean()))(
            micrograph_predictions(p, classes, how)) for how in ("mean", "vote")}
        rows.append({"model": model, "test_tiles": len(p),
                     "test_micrographs": p["micrograph_id"].nunique(),
                     "tile_accuracy": o.loc["accuracy", "value"],
                     "tile_accuracy_ci95": f"[{o.loc['accuracy', 'ci_low']:.3f}, "
                                           f"{o.loc['accuracy', 'ci_high']:.3f}]",
                     "macro_f1": o.loc["macro_f1", "value"],
                     "macro_f1_ci95": f"[{o.loc['macro_f1', 'ci_low']:.3f}, "
                                      f"{o.loc['macro_f1', 'ci_high']:.3f}]",
                     "micrograph_accuracy_mean": micro["mean"],
                     "micrograph_accuracy_vote": micro["vote"]})
    return pd.DataFrame(rows).sort_values("tile_accuracy", ascending=False).reset_index(drop=True)
