"""Non-dominated sets and hypervolume for minimised objectives (small fronts, exact)."""

from __future__ import annotations

import numpy as np


def non_dominated(points: np.ndarray) -> np.ndarray:
    """Mask of the rows no other row dominates (every column minimised; NaN rows never on it)."""
    pts = np.asarray(points, dtype=float)
    ok = np.isfinite(pts).all(axis=1)
    front = ok.copy()
    for i in np.flatnonzero(ok):
        le = (pts[ok] <= pts[i]).all(axis=1)
        lt = (pts[ok] < pts[i]).any(axis=1)
        front[i] = not (le & lt).any()
    return front


def hypervolume(points: np.ndarray, ref: np.ndarray) -> float:
    """The volume dominated by `points` and bounded by `ref` (all objectives minimised).

    Exact, by slicing along the last objective: a front of n points in d dimensions costs
    O(n^(d-1) log n), plenty for the fronts a search finds.
    """
    pts = np.asarray(points, dtype=float)
    ref = np.asarray(ref, dtype=float)
    pts = pts[np.isfinite(pts).all(axis=1) & (pts < ref).all(axis=1)]
    if len(pts) == 0:
        return 0.0
    pts = pts[non_dominated(pts)]
    if pts.shape[1] == 1:
        return float(ref[0] - pts[:, 0].min())
    order = np.argsort(pts[:, -1])
    pts = pts[order]
    total = 0.0
    for i in range(len(pts)):
        upper = pts[i + 1, -1] if i + 1 < len(pts) else ref[-1]
        depth = upper - pts[i, -1]
        if depth > 0:
            total += depth * hypervolume(pts[: i + 1, :-1], ref[:-1])
    return float(total)
