"""Balanced training for the study's linear heads: every tile, every class or every sample
counts the same.

UHCSDB's samples are its independent units, yet one sample may hold fifty micrographs and a rare
class three samples: with every tile weighted alike, the head learns the big samples best. The
weighting is a hyperparameter like C, chosen by the grouped inner search (`grouped_cv`), which
hands each fit its rows' groups:

- none: every tile weighs the same;
- class: each class weighs the same in total (scikit-learn's "balanced");
- sample: each sample (group) weighs the same in total;
- class+sample: each sample the same within its class, each class the same in total.

Weights are scaled to a mean of 1, so C means what it means without them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

WEIGHTINGS = ("none", "class", "sample", "class+sample")


def tile_weights(labels: np.ndarray, groups: np.ndarray | None, weighting: str) -> np.ndarray:
    """Each row's weight under `weighting` (mean 1)."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    n = len(labels)
    w = np.ones(n)
    if "sample" in weighting:
        if groups is None:
            raise ValueError(f"weighting {weighting!r} needs each row's sample (group): fit it "
                             "through grouped_cv.grouped_search, which passes them")
        g = pd.Series(np.asarray(groups))
        w = 1.0 / g.map(g.value_counts()).to_numpy(float)
    if "class" in weighting:
        w = w / pd.Series(w).groupby(np.asarray(labels)).transform("sum").to_numpy()
    return w * n / w.sum()


class BalancedLogisticRegression(ClassifierMixin, BaseEstimator):
    """A logistic regression fitted under one of `WEIGHTINGS`; `fit(X, y, groups=...)`."""

    def __init__(self, weighting: str = "none", C: float = 1.0, max_iter: int = 3000,
                 random_state: int | None = None):
        self.weighting, self.C, self.max_iter, self.random_state = (weighting, C, max_iter,
                                                                    random_state)

    def fit(self, X, y, groups=None):
        w = None if self.weighting == "none" else tile_weights(y, groups, self.weighting)
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter,
                                         random_state=self.random_state).fit(X, y, sample_weight=w)
        self.classes_, self.coef_, self.intercept_ = (self.model_.classes_, self.model_.coef_,
                                                      self.model_.intercept_)
        return self

    def predict(self, X):
        return self.model_.predict(X)

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def decision_function(self, X):
        return self.model_.decision_function(X)
