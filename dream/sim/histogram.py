"""A fixed-memory histogram for timings: log-spaced buckets, quantiles to about 1%."""

from __future__ import annotations

import math


class LogHistogram:
    """Counts positive values in buckets whose bounds grow by `ratio` from `lo` to `hi`.

    Memory does not grow with the number of values (a simulation makes a decision per
    block, millions in a long run); a quantile is exact to within one bucket.
    """

    __slots__ = ("counts", "n", "total", "lo", "inv_log_ratio", "ratio")

    def __init__(self, lo: float = 1e-2, hi: float = 1e7, ratio: float = 1.02) -> None:
        self.lo = lo
        self.ratio = ratio
        self.inv_log_ratio = 1.0 / math.log(ratio)
        self.counts = [0] * (int(math.log(hi / lo) * self.inv_log_ratio) + 2)
        self.n = 0
        self.total = 0.0

    def add(self, x: float) -> None:
        """Count one value (values below `lo` go to the first bucket, above `hi` to the last)."""
        self.n += 1
        self.total += x
        i = int(math.log(x / self.lo) * self.inv_log_ratio) + 1 if x > self.lo else 0
        counts = self.counts
        counts[i if i < len(counts) else -1] += 1

    @property
    def mean(self) -> float:
        """Exact mean of the values added (0 when empty)."""
        return self.total / self.n if self.n else 0.0

    def quantile(self, q: float) -> float:
        """The q-quantile (0..1), as the geometric middle of its bucket (0 when empty)."""
        if not self.n:
            return 0.0
        rank = max(1, math.ceil(q * self.n))  # the smallest value with CDF >= q
        seen = 0
        for i, c in enumerate(self.counts):
            seen += c
            if seen >= rank:
                if i == 0:
                    return self.lo
                return self.lo * self.ratio ** (i - 0.5)
        return self.lo * self.ratio ** (len(self.counts) - 1.5)
