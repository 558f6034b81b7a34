"""The linear heads' weighting: each tile, class or sample counting the same, chosen in the fold."""
import numpy as np
import pytest

from spring_lib.core.grouped_cv import grouped_search
from spring_lib.core.weighting import BalancedLogisticRegression, tile_weights

LABELS = np.array([0, 0, 0, 0, 1, 1])
GROUPS = np.array(["a", "a", "a", "b", "c", "c"])


def _totals(w, keys):
    return {k: round(float(w[keys == k].sum()), 6) for k in np.unique(keys)}


def test_each_weighting_gives_what_it_says_the_same_total():
    assert np.array_equal(tile_weights(LABELS, GROUPS, "none"), np.ones(6))
    for weighting, keys in [("class", LABELS), ("sample", GROUPS)]:
        w = tile_weights(LABELS, GROUPS, weighting)
        assert len(set(_totals(w, keys).values())) == 1, weighting
        assert np.isclose(w.mean(), 1.0)
    w = tile_weights(LABELS, GROUPS, "class+sample")
    assert len(set(_totals(w, LABELS).values())) == 1                   # classes equal
    assert _totals(w, GROUPS)["a"] == _totals(w, GROUPS)["b"]            # samples within a class
    with pytest.raises(ValueError, match="needs each row's sample"):
        tile_weights(LABELS, None, "sample")
    with pytest.raises(ValueError, match="weighting must be one of"):
        tile_weights(LABELS, GROUPS, "balanced")


def test_the_grouped_search_hands_each_fit_its_rows_samples():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(12), 5)
    y = groups % 2
    X = rng.normal(size=(60, 3)) + y[:, None]
    seen = []
    fit = BalancedLogisticRegression.fit

    class Spy(BalancedLogisticRegression):
        def fit(self, X, y, groups=None):
            seen.append(None if groups is None else len(groups))
            return fit(self, X, y, groups)
    from sklearn.pipeline import Pipeline
    search = grouped_search(Pipeline([("clf", Spy())]),
                            {"clf__weighting": ["none", "sample"]}, X, y, groups, 3, 0)
    assert None not in seen and len(seen) == 2 * 3 + 1
    assert search.best_params_["clf__weighting"] in ("none", "sample")
    assert search.predict_proba(X).shape == (60, 2)
