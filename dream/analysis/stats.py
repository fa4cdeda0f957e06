"""Statistics for reports: Student-t confidence intervals, geometric means, paired normalisation, Pareto fronts."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

CELL = ["setting", "workload"]          # one scenario on one hardware setting
CONFIG = CELL + ["label"]               # ... under one scheduler configuration


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularised incomplete beta function (modified Lentz)."""
    tiny, c, d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(lbeta + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """Student t cumulative distribution function."""
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


@lru_cache(maxsize=None)
def t_quantile(p: float, df: float) -> float:
    """Student t quantile, by bisection on the CDF (scipy is not a dependency)."""
    if not 0.0 < p < 1.0 or df <= 0:
        raise ValueError(f"need 0 < p < 1 and df > 0, got p={p}, df={df}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-13 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


def mean_ci(values: Iterable[float], level: float = 0.95) -> tuple[float, float, int]:
    """Mean, half-width of its Student-t confidence interval, and n (NaNs ignored).

    half-width = t_{(1+level)/2, n-1} x s / sqrt(n) with s the sample standard deviation;
    NaN when n < 2.
    """
    x = np.asarray([v for v in values if v is not None], dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return float("nan"), float("nan"), 0
    mean = float(x.mean())
    if n < 2:
        return mean, float("nan"), n
    half = t_quantile(0.5 + level / 2.0, n - 1) * float(x.std(ddof=1)) / math.sqrt(n)
    return mean, half, n


def geomean(values: Iterable[float]) -> float:
    """Geometric mean of the finite values; 0 if one is 0, NaN if none or one is negative."""
    x = np.asarray(list(values), dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0 or (x < 0).any():
        return float("nan")
    if (x == 0).any():
        return 0.0
    return float(np.exp(np.log(x).mean()))


def normalise(rows: pd.DataFrame, metric: str, baseline: str, level: float = 0.95) -> pd.DataFrame:
    """Per configuration: absolute and baseline-normalised mean and CI of one metric over seeds.

    Each seed's value is compared with the baseline label's value for the same setting,
    workload and seed. In a cell (setting, workload) where the baseline's value is positive
    and finite for every paired seed the comparison is the ratio value / baseline ("ratio"),
    otherwise the difference value - baseline ("diff"), so a baseline DVR of 0 never
    divides. Mean and Student-t CI are then taken over the per-seed comparisons.
    Columns: setting, workload, label, scheduler, n, mean, ci, kind, norm_n, norm_mean, norm_ci.
    """
    cols = CONFIG + ["scheduler", "seed", metric]
    data = rows[cols].copy()
    data[metric] = pd.to_numeric(data[metric], errors="coerce")
    base = (data[data["label"] == baseline][CELL + ["seed", metric]]
            .rename(columns={metric: "_base"}))
    paired = data.merge(base, on=CELL + ["seed"], how="left")
    ok_base = paired["_base"].notna() & np.isfinite(paired["_base"])
    usable = paired[ok_base & paired[metric].notna()]
    positive = (usable.assign(_pos=usable["_base"] > 0).groupby(CELL)["_pos"].all()
                .rename("_ratio").reset_index())
    paired = paired.merge(positive, on=CELL, how="left")
    paired["_ratio"] = paired["_ratio"].fillna(False).astype(bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        paired["_norm"] = np.where(paired["_ratio"], paired[metric] / paired["_base"],
                                   paired[metric] - paired["_base"])
    out = []
    for key, g in paired.groupby(CONFIG, sort=True):
        mean, ci, n = mean_ci(g[metric], level)
        nmean, nci, nn = mean_ci(g["_norm"], level)
        has_base = bool(g["_base"].notna().any())
        out.append({**dict(zip(CONFIG, key)), "scheduler": g["scheduler"].iloc[0], "n": n,
                    "mean": mean, "ci": ci,
                    "kind": ("ratio" if g["_ratio"].iloc[0] else "diff") if has_base else "none",
                    "norm_n": nn, "norm_mean": nmean, "norm_ci": nci})
    return pd.DataFrame(out, columns=CONFIG + ["scheduler", "n", "mean", "ci", "kind", "norm_n",
                                               "norm_mean", "norm_ci"])


def geomean_rows(table: pd.DataFrame, by: Sequence[str] = ("setting",)) -> pd.DataFrame:
    """Geometric mean over workloads of the normalised means, ratio cells only.

    Columns: *by, label, geomean, cells (ratio cells used), excluded (diff or missing cells).
    """
    out = []
    for key, g in table.groupby(list(by) + ["label"], sort=True):
        use = g[(g["kind"] == "ratio") & np.isfinite(g["norm_mean"])]
        key = key if isinstance(key, tuple) else (key,)
        out.append({**dict(zip(list(by) + ["label"], key)), "geomean": geomean(use["norm_mean"]),
                    "cells": len(use), "excluded": len(g) - len(use)})
    return pd.DataFrame(out, columns=list(by) + ["label", "geomean", "cells", "excluded"])


def pareto_front(x: Sequence[float], y: Sequence[float]) -> np.ndarray:
    """Mask of the points no other point dominates, both coordinates minimised (NaNs never on it)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    front = ok.copy()
    for i in np.flatnonzero(ok):
        dominated = ok & (x <= x[i]) & (y <= y[i]) & ((x < x[i]) | (y < y[i]))
        front[i] = not dominated.any()
    return front
