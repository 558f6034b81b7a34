"""Grouped cross-validation: the study's scikit-learn fits run on one BLAS thread (two ran a probe
search 4x slower on a 2-core CPU), and the caller's thread setting comes back after them."""
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from threadpoolctl import threadpool_info, threadpool_limits

from spring_lib.core.grouped_cv import fixed, grouped_search, kfold_predictions


def _blas_threads() -> set[int]:
    return {d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"}


class _ThreadRecorder(ClassifierMixin, BaseEstimator):
    """Records the BLAS threads it is fitted and used with."""
    seen: list = []

    def __init__(self, c: float = 1.0):
        self.c = c

    def fit(self, X, y):
        type(self).seen.append(_blas_threads())
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        type(self).seen.append(_blas_threads())
        return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))

    def predict(self, X):
        type(self).seen.append(_blas_threads())
        return np.repeat(self.classes_[0], len(X))


def test_fits_run_on_one_blas_thread_and_the_callers_setting_returns():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 3)), np.arange(60) % 3
    groups = np.arange(60) % 12
    manifest = pd.DataFrame({"label": pd.Series(y).map({0: "a", 1: "b", 2: "c"}), "group": groups,
                             "micrograph_id": groups, "tile_id": np.arange(60)})
    _ThreadRecorder.seen = []
    with threadpool_limits(2, user_api="blas"):
        grouped_search(_ThreadRecorder(), {"c": [1.0, 2.0]}, X, y, groups, 3, 0)
        kfold_predictions(fixed(_ThreadRecorder()), X, manifest, groups % 2, ["a", "b", "c"], "m")
        after = _blas_threads()
    assert _ThreadRecorder.seen and all(s == {1} for s in _ThreadRecorder.seen)
    assert after == {2}
