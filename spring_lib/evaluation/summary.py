"""Notebook 05's analysis: every arm the run made, compared, with the rules for reading them.

Each function takes this run's tables and prediction files and returns a DataFrame (or text);
the rules that turn numbers into words ("transfer helps when the interval's lower bound is above
0") are functions here, with tests, so the notebook and REPORT.md say the same thing.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..nets.registry import ARM_KINDS
from ..predictions import load_predictions, load_seed_predictions
from ..results import ResultsDir
from ..stages import ARMS_TABLES
from . import metrics as ev

EVALUATED = ("trained", "probed", "fitted")   # statuses of arms with predictions
NETWORK_KINDS = ARM_KINDS


def arms_of_run(out: ResultsDir) -> pd.DataFrame:
    """One row per arm of this run (GLCM+SVM and every network arm), from the arms tables."""
    return pd.concat([pd.read_csv(out.path(t)) for t in ARMS_TABLES if out.path(t).exists()],
                     ignore_index=True)


def evaluated(arms: pd.DataFrame) -> list[str]:
    return arms.loc[arms["status"].str.startswith(EVALUATED), "arm"].tolist()


def not_run(arms: pd.DataFrame) -> pd.DataFrame:
    return arms.loc[~arms["status"].str.startswith(EVALUATED), ["arm", "status", "weights"]]


def best_arm(table: pd.DataFrame, kinds: tuple[str, ...] | None = None) -> str | None:
    """The arm with the highest test macro-F1 (ties: accuracy), among `kinds` if given:
    the one meaning of "best" in this study."""
    t = table if kinds is None else table[table["kind"].isin(kinds)]
    if t.empty:
        return None
    return t.sort_values(["macro_f1", "tile_accuracy"], ascending=False)["model"].iloc[0]


def seed_spread(out: ResultsDir, arms: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    """Mean and standard deviation over training seeds of tile accuracy and macro-F1."""
    rows = []
    for r in arms[arms["seeds"].fillna(1).gt(1) & arms["status"].str.startswith("trained")].itertuples():
        preds = load_seed_predictions(out.root, r.arm, [int(x) for x in str(r.seed_values).split()])
        per_seed = [ev.tile_metrics(p, classes)[0] for _, p in preds.groupby("seed")]
        acc = [m["accuracy"] for m in per_seed]
        f1 = [m["macro_f1"] for m in per_seed]
        rows.append({"model": r.arm, "seeds": len(per_seed),
                     "accuracy_seed_mean": np.mean(acc), "accuracy_seed_sd": np.std(acc, ddof=1),
                     "macro_f1_seed_mean": np.mean(f1), "macro_f1_seed_sd": np.std(f1, ddof=1)})
    return pd.DataFrame(rows, columns=["model", "seeds", "accuracy_seed_mean", "accuracy_seed_sd",
                                       "macro_f1_seed_mean", "macro_f1_seed_sd"])


def results_table(out: ResultsDir, arms: pd.DataFrame, classes: list[str], n_boot: int,
                  seed: int) -> pd.DataFrame:
    """Every evaluated arm: test metrics with micrograph-bootstrap intervals, the spread over
    training seeds beside them, and the arm's estimated against its actual minutes."""
    preds = load_predictions(out.root, evaluated(arms))
    table = ev.results_table(preds, classes, n_boot, seed)
    info = arms.set_index("arm")[["kind", "estimate_minutes", "actual_minutes"]]
    table = table.join(info, on="model").merge(seed_spread(out, arms, classes), on="model",
                                               how="left")
    return table.sort_values(["macro_f1", "tile_accuracy"], ascending=False).reset_index(drop=True)


def per_class(preds: pd.DataFrame, classes: list[str], metric: str) -> pd.DataFrame:
    """One of precision, recall, f1: classes as rows, arms as columns (the paper's Tables 2-3)."""
    rows = [ev.tile_metrics(p, classes)[1].assign(model=m) for m, p in preds.groupby("model", sort=False)]
    return (pd.concat(rows).pivot(index="class", columns="model", values=metric)
            .reindex(classes))


def mcnemar_table(preds: pd.DataFrame, best: str) -> pd.DataFrame:
    rows = [{"best_arm": best, "other": other,
             **ev.mcnemar(preds[preds["model"] == best], preds[preds["model"] == other])}
            for other in preds["model"].unique() if other != best]
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- pictures of one arm

def gradcam_figure(out: ResultsDir, tileset, arm: str, per_class: int, seed: int):
    """Grad-CAM of a few test tiles per class (drawn at random, seeded) for the arm's model."""
    from ..nets.gradcam import gradcam_panel
    from ..nets.predict import Predictor

    if arm is None:   # no network arm was evaluated in this run
        return None
    predictor = Predictor.from_checkpoint(out.path(f"models/{arm}.pt"))
    te_x, te_m = tileset.split("test")
    pred = load_predictions(out.root, [arm]).set_index("tile_id").loc[te_m["tile_id"], "pred_label"]
    rng = np.random.default_rng(seed)
    pick = np.concatenate([rng.choice(np.flatnonzero(te_m["label"] == c),
                                      min(per_class, int((te_m["label"] == c).sum())), replace=False)
                           for c in tileset.classes])
    return gradcam_panel(predictor.model, arm, te_x[pick], te_m["label"].iloc[pick].astype(str).tolist(),
                         pred.iloc[pick].tolist(), tileset.classes, predictor.transform,
                         te_m["um_per_px"].iloc[pick].tolist())


def phase_maps(out: ResultsDir, tileset, arm: str, map_classes: list[str], per_class: int = 2,
               stride_fraction: float = 0.5):
    """Phase maps of the first test micrographs of each mixed class, with the arm's model."""
    import matplotlib.pyplot as plt

    from ..nets.predict import Predictor
    from ..plots import add_scale_bar

    if arm is None:
        return None
    predictor = Predictor.from_checkpoint(out.path(f"models/{arm}.pt"))
    micro = tileset.micrographs
    chosen = [r for c in map_classes if c in tileset.classes
              for r in micro[(micro["label"] == c) & (micro["split"] == "test")]
              .head(per_class).itertuples()]
    if not chosen:
        return None
    ncol = 2
    nrow = int(np.ceil(len(chosen) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(6 * ncol, 5 * nrow), squeeze=False)
    for ax, r in zip(axes.flat, chosen):
        predictor.phase_map(r.path, r.um_per_px, stride_fraction, ax=ax,
                            title=f"micrograph {r.micrograph_id}, labelled {r.label}")
        # the map shows the micrograph as the model saw it: resampled to the checkpoint's scale
        add_scale_bar(ax, predictor.um_per_px or r.um_per_px, fontsize=8)
    for ax in list(axes.flat)[len(chosen):]:
        ax.set_axis_off()
    fig.suptitle(f"Phase maps by {arm}: window {predictor.tile_size} px, stride "
                 f"{int(predictor.tile_size * stride_fraction)} px", fontsize=10)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- rules for reading

def transfer_verdict(ci_low: float, ci_high: float) -> str:
    """A difference helps (or hurts) only when its whole interval lies above (below) zero."""
    if ci_low > 0:
        return "helps"
    if ci_high < 0:
        return "hurts"
    return "makes no clear difference"


def finetune_verdict(tl_val: float, probe_val: float) -> str:
    """Fine-tuning earns its cost only if it beats the frozen probe of the same weights on the
    validation split; the report says so plainly either way."""
    if np.isnan(tl_val) or np.isnan(probe_val):
        return "cannot be compared (no validation split)"
    if tl_val > probe_val:
        return "beats the frozen probe"
    return "does NOT beat the frozen probe of the same weights"


def transfer_gain(out: ResultsDir, arms: pd.DataFrame, classes: list[str], n_boot: int,
                  seed: int) -> pd.DataFrame:
    """Pretrained (TL or probe) minus scratch twin, per architecture: paired micrograph
    bootstrap of the tile-accuracy difference on the same test tiles."""
    done = set(evaluated(arms))
    rows = []
    for arch in sorted(arms["architecture"].dropna().unique()):
        scratch = f"{arch}-scratch"
        for kind in ("TL", "probe"):
            pre = f"{arch}-{kind}"
            if pre in done and scratch in done:
                preds = load_predictions(out.root, [pre, scratch])
                d = ev.paired_difference_ci(preds[preds["model"] == pre],
                                            preds[preds["model"] == scratch], classes, n_boot, seed)
                rows.append({"architecture": arch, "pretrained_arm": pre,
                             "weights": arms.set_index("arm").loc[pre, "weights"],
                             "minus_scratch": d["difference"], "ci95_low": d["ci_low"],
                             "ci95_high": d["ci_high"],
                             "verdict": transfer_verdict(d["ci_low"], d["ci_high"])})
    return pd.DataFrame(rows, columns=["architecture", "pretrained_arm", "weights", "minus_scratch",
                                       "ci95_low", "ci95_high", "verdict"])


def finetune_vs_probe(arms: pd.DataFrame) -> pd.DataFrame:
    """Per architecture with both: the fine-tuned arm's validation accuracy (best epoch, mean
    over seeds) against the probe tuned and fitted on the training micrographs alone, on the
    same validation tiles (the fine-tuned head starts from such a fit)."""
    a = arms.set_index("arm")
    rows = []
    for arch in sorted(arms["architecture"].dropna().unique()):
        tl, probe = f"{arch}-TL", f"{arch}-probe"
        if tl in a.index and probe in a.index and str(a.loc[tl, "status"]).startswith("trained") \
                and a.loc[probe, "status"] == "probed":
            tl_val, probe_val = float(a.loc[tl, "val_acc_seed_mean"]), float(a.loc[probe, "val_acc"])
            rows.append({"architecture": arch, "fine_tuned_val_acc": tl_val,
                         "probe_val_acc": probe_val, "difference": tl_val - probe_val,
                         "verdict": f"fine-tuning {finetune_verdict(tl_val, probe_val)}"})
    return pd.DataFrame(rows, columns=["architecture", "fine_tuned_val_acc", "probe_val_acc",
                                       "difference", "verdict"])


def kfold_table(out: ResultsDir, arms: pd.DataFrame, classes: list[str], n_micrographs: int,
                n_boot: int, seed: int) -> pd.DataFrame:
    """Cheap arms over all micrographs: per-fold and pooled accuracy and macro-F1, with a
    micrograph-bootstrap interval on the pooled predictions."""
    models = [m for m in evaluated(arms) if out.path(f"kfold/{m}.csv").exists()]
    rows = []
    for model, p in load_predictions(out.root, models, "kfold").groupby("model", sort=False):
        for fold, pf in p.groupby("fold"):
            m, _ = ev.tile_metrics(pf, classes)
            rows.append({"model": model, "fold": str(fold), "micrographs": pf["micrograph_id"].nunique(),
                         "tiles": len(pf), "accuracy": m["accuracy"], "macro_f1": m["macro_f1"]})
        overall, _ = ev.bootstrap_ci(p, classes, n_boot, seed)
        o = overall.set_index("metric")
        rows.append({"model": model, "fold": "pooled", "micrographs": p["micrograph_id"].nunique(),
                     "tiles": len(p), "accuracy": o.loc["accuracy", "value"],
                     "macro_f1": o.loc["macro_f1", "value"],
                     "accuracy_ci95": _ci(o, "accuracy"), "macro_f1_ci95": _ci(o, "macro_f1"),
                     "micrographs_of_study": n_micrographs})
    return pd.DataFrame(rows)


def _ci(o: pd.DataFrame, metric: str) -> str:
    return f"[{o.loc[metric, 'ci_low']:.3f}, {o.loc[metric, 'ci_high']:.3f}]"


def reading(table: pd.DataFrame, gain: pd.DataFrame, ft: pd.DataFrame, kfold: pd.DataFrame,
            leak: pd.DataFrame, absent: pd.DataFrame) -> str:
    """The results in sentences, each computed from a table above."""
    top = table.iloc[0]
    lines = [f"- Best arm on the test micrographs: **{top['model']}**, macro-F1 "
             f"{top['macro_f1']:.3f} {top['macro_f1_ci95']}, tile accuracy "
             f"{top['tile_accuracy']:.3f} {top['tile_accuracy_ci95']}, micrograph accuracy "
             f"{top['micrograph_accuracy_mean']:.3f}" + (
                 f"; over its {int(top['seeds'])} training seeds macro-F1 "
                 f"{top['macro_f1_seed_mean']:.3f} ± {top['macro_f1_seed_sd']:.3f}"
                 if top.get("seeds", 1) > 1 else "") + "."]
    if "GLCM+SVM" in set(table["model"]):
        g = table.set_index("model").loc["GLCM+SVM"]
        above = table.loc[table["macro_f1"] > g["macro_f1"], "model"].tolist()
        lines.append(f"- GLCM+SVM reaches macro-F1 {g['macro_f1']:.3f} {g['macro_f1_ci95']}; arms "
                     f"above it: {', '.join(above) if above else 'none'}.")
    for r in ft.itertuples():
        lines.append(f"- {r.architecture}: {r.verdict} on the validation split "
                     f"({r.fine_tuned_val_acc:.3f} vs {r.probe_val_acc:.3f}).")
    for r in gain.itertuples():
        lines.append(f"- {r.pretrained_arm} minus its scratch twin: {r.minus_scratch:+.3f} "
                     f"[{r.ci95_low:+.3f}, {r.ci95_high:+.3f}]: transfer {r.verdict}.")
    for r in kfold[kfold["fold"] == "pooled"].itertuples():
        lines.append(f"- {r.model} over all {r.micrographs} micrographs (grouped {len(kfold[kfold['model'] == r.model]) - 1}-fold): "
                     f"macro-F1 {r.macro_f1:.3f} {r.macro_f1_ci95}.")
    if len(leak):
        lk = leak.pivot(index="model", columns="split", values="test_tile_accuracy")
        leaky = [c for c in lk.columns if "LEAKY" in c][0]
        grouped = [c for c in lk.columns if c != leaky][0]
        for model, r in lk.iterrows():
            lines.append(f"- Leakage: {model} scores {r[leaky]:.3f} on a random tile split vs "
                         f"{r[grouped]:.3f} on the grouped split.")
    if len(absent):
        lines.append(f"- Not run: {', '.join(absent['arm'])} (reasons in the arms table).")
    return "\n".join(lines)
