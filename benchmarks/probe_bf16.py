"""Probe features in bf16 against fp32, on the same real tiles: extraction rate and accuracy.

    SPRING_DATA_ROOT=../shared/data/uhcsdb .venv/bin/python benchmarks/probe_bf16.py [--profile cpu] [--arch EfficientNet-Lite0]

Embeds the profile's training and validation tiles (and its test tiles) once per precision,
fits the probe (scaling + logistic regression, C chosen by grouped CV with whole samples held
out together), and prints both CV accuracies, both test accuracies and both extraction rates.
bf16 is worth having only where it keeps the accuracy: within 0.5 points of fp32.
"""
import argparse
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import spring_lib as sl
from spring_lib.core.machine import cpu_info
from spring_lib.nets.probe import FrozenFeatures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--arch", default="EfficientNet-Lite0")
    ap.add_argument("--pooling", default="texture", choices=["head", "texture"])
    args = ap.parse_args()
    cfg = sl.load_config(args.profile)
    ts = sl.build_tileset(cfg)
    m = ts.manifest
    pool = m["split"].isin(["train", "val"]).to_numpy()
    test = (m["split"] == "test").to_numpy()
    y = ts.labels(m)
    groups = m["sample_key"].to_numpy()
    print(f"{cpu_info()}\n{args.arch}, {ts.tiles.shape[1]} px tiles: {pool.sum()} for CV "
          f"({len(set(groups[pool]))} samples), {test.sum()} test")
    cv = list(StratifiedGroupKFold(cfg.probe.cv_folds, shuffle=True, random_state=0)
              .split(np.zeros(pool.sum()), y[pool], groups[pool]))
    results = {}
    for precision in ("fp32", "bf16"):
        feats = FrozenFeatures(args.arch, cfg.weights_for(args.arch), pooling=args.pooling,
                               batch_size=cfg.probe.batch_size, cache_dir=None, precision=precision)
        feats.texture_features(ts.tiles[:8])        # load the weights and warm up, untimed
        t0 = time.perf_counter()
        X = feats.fit(ts.tiles[:1]).transform(ts.tiles)
        rate = len(ts.tiles) / (time.perf_counter() - t0)
        search = GridSearchCV(Pipeline([("scale", StandardScaler()),
                                        ("clf", LogisticRegression(max_iter=3000, random_state=0))]),
                              {"clf__C": cfg.probe.C}, cv=cv, n_jobs=1).fit(X[pool], y[pool])
        test_acc = float((search.predict(X[test]) == y[test]).mean())
        results[precision] = (search.best_score_, test_acc, rate)
        print(f"{precision}: {rate:6.1f} img/s extraction; grouped-CV accuracy "
              f"{100 * search.best_score_:.2f} % (C={search.best_params_['clf__C']}), test "
              f"{100 * test_acc:.2f} %", flush=True)
    (cv32, te32, r32), (cv16, te16, r16) = results["fp32"], results["bf16"]
    print(f"bf16 - fp32: CV {100 * (cv16 - cv32):+.2f} points, test {100 * (te16 - te32):+.2f} "
          f"points; extraction x{r16 / r32:.2f}")


if __name__ == "__main__":
    main()
