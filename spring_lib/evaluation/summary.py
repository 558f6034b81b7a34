"""Notebook 05's analysis: every arm the run made, compared, with the rules for reading them.

The headline numbers come from the run's sample-grouped k-fold (`kfold/<arm>.csv`): every
micrograph is predicted once by a model that never saw its sample, each micrograph labelled by
the mean of its tiles' scores. Intervals and paired comparisons resample samples. "Best" means
the highest inner-CV (or own-validation) score, never a test score. The rules that turn numbers
into words are functions here, with tests, so the notebook and REPORT.md say the same thing.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.architectures import ARM_KINDS
from ..core.arm_result import EVALUATED, ArmStatus, describe
from ..core.predictions import load_predictions
from ..core.results_dir import ResultsDir
from ..core.products import ARMS_TABLES
from . import metrics as ev

NETWORK_KINDS = ARM_KINDS
FLOOR = "pixel-size"


def arms_of_run(out: ResultsDir) -> pd.DataFrame:
    """One row per arm of this run (classical and network arms), from the arms tables."""
    return pd.concat([pd.read_csv(out.path(t)) for t in ARMS_TABLES if out.path(t).exists()],
                     ignore_index=True)


def evaluated(arms: pd.DataFrame) -> list[str]:
    return arms.loc[arms["status"].isin(EVALUATED), "arm"].tolist()


def not_run(arms: pd.DataFrame) -> pd.DataFrame:
    """Arms without predictions and why: no weights, over budget, or did not learn."""
    return arms.loc[~arms["status"].isin(EVALUATED), ["arm", "status", "note", "weights"]]


def samples_of(tileset) -> dict[str, str]:
    """micrograph id -> sample key: the unit every interval resamples."""
    m = tileset.micrographs
    return dict(zip(m["micrograph_id"].astype(str), m["sample_key"].astype(str)))


def kfold_micrographs(out: ResultsDir, arms: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    """Every evaluated arm's k-fold predictions, one row per micrograph and arm."""
    return ev.micrograph_predictions(load_predictions(out.root, evaluated(arms), "kfold"), classes)


def best_arm(arms: pd.DataFrame, kinds: tuple[str, ...] | None = None) -> str | None:
    """The evaluated arm with the highest inner score (mean over folds of its inner-CV or own
    validation accuracy), among `kinds` if given: the one meaning of "best" in this study. Test
    predictions play no part, so permuting them cannot change the choice."""
    t = arms[arms["arm"].isin(evaluated(arms)) & (arms["arm"] != FLOOR)]
    if kinds is not None:
        t = t[t["kind"].isin(kinds)]
    t = t.dropna(subset=["inner_score"]) if "inner_score" in t else t.iloc[:0]
    if t.empty:
        return None
    return t.sort_values(["inner_score", "arm"], ascending=[False, True])["arm"].iloc[0]


def _ci(o: pd.DataFrame, metric: str) -> str:
    return f"[{o.loc[metric, 'ci_low']:.3f}, {o.loc[metric, 'ci_high']:.3f}]"


def results_table(out: ResultsDir, arms: pd.DataFrame, classes: list[str], samples: dict,
                  n_boot: int, seed: int) -> pd.DataFrame:
    """Every evaluated arm under the sample-grouped k-fold: micrograph macro-F1 and balanced
    accuracy with sample-bootstrap intervals first, their mean ± sd over folds, then the tile
    level; the inner score that chooses the best arm, and estimated against actual minutes."""
    tiles = load_predictions(out.root, evaluated(arms), "kfold")
    micro = ev.micrograph_predictions(tiles, classes)
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
        rows.append({
            "model": model, "kind": info.loc[model, "kind"], "micrographs": len(m),
            "samples": units.nunique(), "folds": len(folds),
            "macro_f1": o.loc["macro_f1", "value"], "macro_f1_ci95": _ci(o, "macro_f1"),
            "balanced_accuracy": o.loc["balanced_accuracy", "value"],
            "balanced_accuracy_ci95": _ci(o, "balanced_accuracy"),
            "macro_f1_fold_mean": folds["macro_f1"].mean(),
            "macro_f1_fold_sd": folds["macro_f1"].std(ddof=1),
            "tile_macro_f1": ot.loc["macro_f1", "value"], "tile_macro_f1_ci95": _ci(ot, "macro_f1"),
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
        for kind in ("TL", "probe"):
            if {f"{arch}-{kind}", f"{arch}-scratch"} <= done:
                pairs.append(dict(claim=1, question=f"{arch}: pretrained ({kind}) vs scratch",
                                  a=f"{arch}-{kind}", b=f"{arch}-scratch"))
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


def difference_verdict(ci_low: float, ci_high: float, p_holm: float, alpha: float = 0.05) -> str:
    """a is better (worse) only when the interval excludes zero and the family-corrected
    p-value is below alpha."""
    if ci_low > 0 and p_holm < alpha:
        return "a better"
    if ci_high < 0 and p_holm < alpha:
        return "a worse"
    return "no clear difference"


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
    cols = ["model", "micrographs", "samples", "macro_f1", "macro_f1_ci95", "chance"]
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
                     "macro_f1": o.loc["macro_f1", "value"], "macro_f1_ci95": _ci(o, "macro_f1"),
                     "chance": 1 / len(band["classes"])})
    return pd.DataFrame(rows, columns=cols).sort_values("macro_f1", ascending=False)


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
    from ..data.figures import add_scale_bar

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


# ---------------------------------------------------------------- the paper's claims

def _paper_gain(model: str) -> str:
    from ..core.paper_numbers import CLAIMS, T_GAIN_ASSIGNMENTS

    t = CLAIMS["t_precision"][2]
    parts = [f"{t - g[model]:.2f} % ({section}: {t} - {g[model]})"
             for section, g in T_GAIN_ASSIGNMENTS.items()]
    return f"T precision {t} % vs {' or '.join(parts)}"


def claims_table(results: pd.DataFrame, comp: pd.DataFrame, arms: pd.DataFrame,
                 differences: dict[int, str]) -> pd.DataFrame:
    """The paper's four claims, each with the paper's number, this run's number and interval,
    and a verdict, all read from this run's tables (a changed table changes the verdict).
    `differences`: one sentence per claim on what differs from the paper's setting."""
    from ..core.paper_numbers import CLAIMS

    rows = []

    def from_pair(claim: int, text: str, paper: str, why_untestable: str):
        c = comp[comp["claim"] == claim]
        if c.empty:
            return {"claim": text, "paper": paper, "this_study": "", "interval": "",
                    "verdict": "not testable here", "why": why_untestable}
        r = c.sort_values("p_holm").iloc[0] if claim != 1 else c.iloc[0]
        verdict = {"a better": "supported", "a worse": "not supported (the opposite)",
                   "no clear difference": "not supported (no clear difference)"}[r["verdict"]]
        return {"claim": text, "paper": paper,
                "this_study": f"{r['a']} minus {r['b']}: {r['difference']:+.3f} micrograph "
                              f"macro-F1 (Holm p {r['p_holm']:.3f})",
                "interval": f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]", "verdict": verdict,
                "why": ""}

    failed = arms[(arms["kind"] == "scratch")
                  & (arms["status"] == ArmStatus.DID_NOT_LEARN.value)]
    rows.append(from_pair(
        1, "1. Transfer learning beats training from scratch (SE-ResNeXt101-TL over SE-ResNeXt101)",
        _paper_gain("SE-ResNeXt101-scratch"),
        ("no scratch twin learned: " + "; ".join(f"{r.arm}: {describe(r.status, r.note)}"
                                                 for r in failed.itertuples()))
        if len(failed) else "no pretrained arm has an evaluated scratch twin"))
    rows.append(from_pair(
        2, "2. A deeper pretrained network beats a shallower one (SE-ResNeXt101 over 50)",
        _paper_gain("SE-ResNeXt50-TL"),
        "no two pretrained networks of different depth were evaluated (no offline SE-ResNeXt "
        "weights, and no EfficientNet-Lite pair)"))
    rows.append(from_pair(3, "3. CNNs beat GLCM+SVM", _paper_gain("GLCM+SVM"),
                          "GLCM+SVM or every network arm is missing from this run"))
    best = best_arm(arms)
    paper_acc = CLAIMS["mean_accuracy"][2]
    if best is None or best not in set(results["model"]):
        rows.append({"claim": "4. About 98 % on five classes", "paper": f"{paper_acc} %",
                     "this_study": "", "interval": "", "verdict": "not testable here",
                     "why": "no arm was evaluated"})
    else:
        r = results.set_index("model").loc[best]
        hi = float(r["balanced_accuracy_ci95"].strip("[]").split(",")[1])
        rows.append({"claim": "4. About 98 % on five classes",
                     "paper": f"{paper_acc} % 'average recognition accuracy' (see the audit: "
                              "mean precision or balanced accuracy)",
                     "this_study": f"best arm by inner score, {best}: balanced accuracy "
                                   f"{r['balanced_accuracy']:.3f}, macro-F1 {r['macro_f1']:.3f}",
                     "interval": r["balanced_accuracy_ci95"],
                     "verdict": "supported" if hi >= paper_acc / 100 else "not supported on open data",
                     "why": ""})
    out = pd.DataFrame(rows)
    out["what_differs"] = [differences.get(i + 1, "") for i in range(len(out))]
    return out


def claims_markdown(claims: pd.DataFrame) -> str:
    """The claims section as a reader quotes it: one paragraph per claim."""
    lines = []
    for r in claims.itertuples():
        lines.append(f"- **{r.claim}** Paper: {r.paper}. This study: "
                     f"{r.this_study or '-'} {r.interval}. **Verdict: {r.verdict}**"
                     + (f" ({r.why})" if r.why else "") + f". {r.what_differs}")
    return "\n".join(lines)


def reading(results: pd.DataFrame, comp: pd.DataFrame, arms: pd.DataFrame, band: dict | None,
            band_scores: pd.DataFrame, ladder: pd.DataFrame) -> str:
    """The results in sentences, each computed from a table above."""
    best = best_arm(arms)
    r = results.set_index("model")
    lines = []
    if best:
        b = r.loc[best]
        lines.append(f"- Best arm, chosen by its inner score ({arms.set_index('arm').loc[best, 'inner_score']:.3f}, "
                     f"never by test data): **{best}**, micrograph macro-F1 {b['macro_f1']:.3f} "
                     f"{b['macro_f1_ci95']} under sample-grouped {int(b['folds'])}-fold "
                     f"(fold mean {b['macro_f1_fold_mean']:.3f} ± {b['macro_f1_fold_sd']:.3f}), "
                     f"balanced accuracy {b['balanced_accuracy']:.3f} {b['balanced_accuracy_ci95']}.")
    if FLOOR in r.index:
        f = r.loc[FLOOR]
        above = [m for m in r.index if m != FLOOR and r.loc[m, "macro_f1"] > f["macro_f1"]]
        lines.append(f"- Pixel size alone (log µm/px, no image) scores micrograph macro-F1 "
                     f"{f['macro_f1']:.3f} {f['macro_f1_ci95']}: this, not chance, is the floor "
                     "an image arm must clear before its number says anything about morphology. "
                     f"Arms above it: {', '.join(above) if above else 'none'} (the paired "
                     "comparison below says whether the margin is clear).")
    for c in comp.itertuples():
        lines.append(f"- {c.question}: {c.difference:+.3f} [{c.ci_low:+.3f}, {c.ci_high:+.3f}], "
                     f"Holm p {c.p_holm:.3f}: {c.verdict}.")
    if band is not None and len(band_scores):
        top = band_scores.iloc[0]
        lines.append(f"- In the band {band['um_per_px_low']:.3g}-{band['um_per_px_high']:.3g} µm/px, "
                     f"where {', '.join(band['classes'])} overlap ({band['micrographs']} "
                     f"micrographs), pixel size cannot separate them: the top arm there is "
                     f"{top['model']} at {top['macro_f1']:.3f} {top['macro_f1_ci95']} "
                     f"(chance {top['chance']:.2f}).")
    if len(ladder):
        for model, l in ladder.groupby("model", sort=False):
            steps = ", ".join(f"{p}: {v:.3f}" for p, v in zip(l["protocol"], l["micrograph_macro_f1"]))
            lines.append(f"- Leakage ladder, {model} (micrograph macro-F1): {steps}.")
    absent = not_run(arms)
    if len(absent):
        lines.append(f"- Without predictions: {', '.join(absent['arm'])} (reasons in the arms "
                     "tables).")
    return "\n".join(lines)


def what_differs(cfg, arms: pd.DataFrame) -> dict[int, str]:
    """One sentence per claim on how this run's setting differs from the paper's."""
    from ..core.paper_numbers import PROTOCOL

    data = ("UHCSDB ultrahigh-carbon steel micrographs, not 51CrMnV spring steel"
            if cfg.data.layout == "uhcsdb" else "this lab's micrographs, not 51CrMnV spring steel")
    split = (f"{cfg.evaluation.kfold}-fold grouped by {cfg.split.group_by}, where the paper's "
             "split is not stated")
    pair = arms[(arms["kind"] == "scratch") & arms["status"].isin(EVALUATED)]
    budget = ("; ".join(f"{r.arm} at {int(r.input_size)} px, at most {int(r.epochs)} epochs "
                        "with early stopping on a CPU" for r in pair.itertuples())
              or "no scratch twin was evaluated")
    return {
        1: f"{data}; {budget}, against {PROTOCOL.epochs} GPU epochs in the paper; {split}.",
        2: ("No SE-ResNeXt ImageNet weights offline: EfficientNet-Lite0/1/2, each at its native "
            "input size, stand in for SE-ResNeXt50 vs 101 where the hub is unreachable; "
            f"{data}; {split}."),
        3: (f"GLCM+SVM tuned by grouped CV inside every training fold, like every other arm; "
            f"{data}; {split}."),
        4: (f"{data}, five classes with heavy imbalance (scored by balanced accuracy and "
            f"macro-F1 of whole micrographs), against the paper's balanced TEST-1000 tile set; "
            f"{split}."),
    }
