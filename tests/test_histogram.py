"""The fixed-memory timing histogram: quantiles within a bucket of numpy's."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dream.sim.histogram import LogHistogram


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.05, 5e4), min_size=1, max_size=500), st.sampled_from([0.5, 0.9, 0.99]))
def test_quantile_within_one_bucket(values, q):
    h = LogHistogram()
    for v in values:
        h.add(v)
    exact = float(np.quantile(np.asarray(values), q, method="inverted_cdf"))
    assert abs(h.quantile(q) / exact - 1) <= 0.0201
    assert h.mean == np.float64(sum(values)) / len(values) or abs(h.mean / np.mean(values) - 1) < 1e-12


def test_memory_is_fixed_and_extremes_are_clamped():
    h = LogHistogram()
    size = len(h.counts)
    for v in (1e-9, 1e12, 3.0):
        h.add(v)
    assert len(h.counts) == size and h.n == 3
    assert h.quantile(0.0) == h.lo and LogHistogram().quantile(0.99) == 0.0
