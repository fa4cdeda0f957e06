"""Report figures: normalised-UXCost bars, energy-vs-DVR scatter with Pareto front, heatmaps."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib import colormaps, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from dream.analysis.stats import pareto_front

DPI = 110
LEGEND_MAX = 20  # tab20 has 20 distinguishable colours; beyond, front points are named instead


def new_figure(**kwargs) -> Figure:
    """A Figure on the Agg canvas, outside pyplot: no global backend switch, no figure registry."""
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


# file formats a figure is written in, with the metadata that would differ between runs
# (software version, date) left out so reruns are byte-identical
FORMATS: dict[str, dict[str, None]] = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "Creator": None, "Producer": None},
}


def save(fig: Figure, path: str | Path) -> Path:
    """Write a figure (PNG, SVG or PDF by suffix); no software/date metadata, so reruns are byte-identical."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"{path}: unsupported figure format {path.suffix!r}; use one of "
                         f"{', '.join('.' + f for f in FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    # SVG element ids are random unless salted
    with rc_context({"svg.hashsalt": "dream"}):
        fig.savefig(path, dpi=DPI, format=fmt, metadata=FORMATS[fmt])
    return path


def label_colors(labels: Sequence[str]) -> dict[str, tuple]:
    """A fixed colour per label in the given order (tab10, tab20, then viridis)."""
    n = len(labels)
    if n <= 10:
        cmap = colormaps["tab10"]
        return {lab: cmap(i) for i, lab in enumerate(labels)}
    if n <= 20:
        cmap = colormaps["tab20"]
        return {lab: cmap(i) for i, lab in enumerate(labels)}
    cmap = colormaps["viridis"]
    return {lab: cmap(i / (n - 1)) for i, lab in enumerate(labels)}


def _wide_log(values: np.ndarray) -> bool:
    """Whether positive values span enough decades that a log scale reads better."""
    v = values[np.isfinite(values) & (values > 0)]
    return len(v) > 1 and v.max() / v.min() > 20


def clipped_err(mean: np.ndarray | float, ci: np.ndarray | float) -> np.ndarray:
    """Asymmetric error bars (2 x n) for a quantity that cannot be negative.

    The upper bar is the CI half-width; the lower one stops at 0, so a DVR of 0.01 +- 0.05
    is drawn from 0 to 0.06 rather than crossing into impossible negative values.
    """
    m = np.atleast_1d(np.asarray(mean, float))
    h = np.nan_to_num(np.atleast_1d(np.asarray(ci, float)))
    return np.vstack([np.minimum(h, np.clip(np.nan_to_num(m), 0.0, None)), h])


def normalised_bars(table: pd.DataFrame, geomeans: pd.DataFrame, labels: Sequence[str],
                    baseline: str, title: str) -> Figure:
    """Grouped bars: workloads (and the geometric mean) on x, one bar per label, CI whiskers.

    table: rows of stats.normalise for one setting; geomeans: stats.geomean_rows for it.
    Only ratio cells are drawn (a difference is not on the ratio axis).
    """
    workloads = sorted(table["workload"].unique())
    groups = workloads + ["geomean"]
    colors = label_colors(labels)
    width = 0.8 / max(len(labels), 1)
    fig = new_figure(figsize=(max(6.0, 1.1 * len(groups) + 0.12 * len(groups) * len(labels)) + 2.0, 4.2),
                     layout="constrained")
    ax = fig.subplots()
    ratio = table[table["kind"] == "ratio"].set_index(["workload", "label"])
    gm = geomeans.set_index("label")["geomean"] if len(geomeans) else pd.Series(dtype=float)
    heights = []
    for i, lab in enumerate(labels):
        h, err = [], []
        for w in workloads:
            if (w, lab) in ratio.index:
                h.append(ratio.loc[(w, lab), "norm_mean"])
                err.append(ratio.loc[(w, lab), "norm_ci"])
            else:
                h.append(np.nan)
                err.append(np.nan)
        h.append(gm.get(lab, np.nan))
        err.append(np.nan)
        h, err = np.asarray(h, float), clipped_err(h, err)  # a ratio is never below 0
        heights.append(h)
        x = np.arange(len(groups)) - 0.4 + width * (i + 0.5)
        ax.bar(x, h, width, yerr=err, color=colors[lab], label=lab, capsize=1.5,
               error_kw={"elinewidth": 0.7})
    ax.axhline(1.0, color="black", lw=0.8, ls="--")
    if _wide_log(np.concatenate(heights) if heights else np.array([])):
        ax.set_yscale("log")
    ax.set_xticks(np.arange(len(groups)), groups, rotation=20, ha="right")
    ax.axvline(len(workloads) - 0.5, color="grey", lw=0.6)
    ax.set_ylabel("UXCost / baseline (lower is better)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncol=1 if len(labels) <= 20 else 2, loc="upper left", bbox_to_anchor=(1.01, 1),
              frameon=False)
    return fig


def energy_dvr(energy: pd.DataFrame, dvr: pd.DataFrame, labels: Sequence[str], title: str) -> Figure:
    """One panel per workload: mean energy against mean DVR per label, CI bars, Pareto front ringed.

    energy, dvr: rows of stats.normalise (absolute mean and ci columns) for one setting.
    """
    workloads = sorted(energy["workload"].unique())
    n = len(workloads)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    legend = len(labels) <= LEGEND_MAX
    # the legend sits right of the panels, below the title band: leave it room to stand in
    height = max(3.1 * rows + 0.6, 0.16 * len(labels) + 1.2 if legend else 0.0)
    fig = new_figure(figsize=(3.6 * cols + (2.5 if legend else 0), height), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    colors = label_colors(labels)
    e = energy.set_index(["workload", "label"])
    d = dvr.set_index(["workload", "label"])
    for k, w in enumerate(workloads):
        ax = axes[k // cols][k % cols]
        pts = [(lab, d.loc[(w, lab)], e.loc[(w, lab)]) for lab in labels
               if (w, lab) in e.index and (w, lab) in d.index]
        xs = np.array([p[1]["mean"] for p in pts], float)
        ys = np.array([p[2]["mean"] for p in pts], float)
        for (lab, dv, en), x, y in zip(pts, xs, ys):
            # energy and DVR are never negative: the lower bars stop at 0
            ax.errorbar(x, y, xerr=clipped_err(x, dv["ci"]), yerr=clipped_err(y, en["ci"]), fmt="o",
                        ms=5, color=colors[lab], elinewidth=0.7, capsize=1.5, label=lab)
        front = pareto_front(xs, ys)
        if front.any():
            order = np.argsort(xs[front], kind="stable")
            fx, fy = xs[front][order], ys[front][order]
            ax.step(fx, fy, where="post", color="black", lw=0.8, ls="--", zorder=0)
            ax.scatter(fx, fy, s=110, facecolors="none", edgecolors="black", lw=1.0, zorder=3)
            if not legend:  # too many labels to tell colours apart: name the front points
                names = [p[0] for p, f in zip(pts, front) if f]
                for name, x, y in zip(np.asarray(names)[order], fx, fy):
                    ax.annotate(name, (x, y), fontsize=5, xytext=(3, 3), textcoords="offset points")
        ax.set_title(w, fontsize=9)
        ax.set_xlabel("DVR")
        ax.set_ylabel("energy (mJ)")
        ax.tick_params(labelsize=7)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].set_axis_off()
    fig.suptitle(f"{title}: energy vs DVR (ringed: Pareto front, both minimised)", fontsize=10)
    if legend:
        handles = [Line2D([], [], marker="o", ls="", color=colors[lab]) for lab in labels]
        fig.legend(handles, list(labels), loc="outside right center", fontsize=7, frameon=False)
    return fig


def heatmaps(panels: dict[str, pd.DataFrame], x: str, y: str, title: str) -> Figure:
    """Heatmaps of mean UXCost, one panel per facet, sharing one colour scale (log when wide).

    panels: facet title -> DataFrame indexed by y values with x values as columns.
    """
    n = len(panels)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig = new_figure(figsize=(4.4 * cols + 0.8, 3.4 * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    allv = np.concatenate([p.to_numpy(float).ravel() for p in panels.values()]) if panels else np.array([])
    fin = allv[np.isfinite(allv)]
    if _wide_log(fin) and (fin > 0).all():
        norm = LogNorm(fin.min(), fin.max())
    else:
        norm = Normalize(fin.min() if len(fin) else 0, fin.max() if len(fin) else 1)
    image = None
    for k, (name, p) in enumerate(panels.items()):
        ax = axes[k // cols][k % cols]
        z = p.to_numpy(float)
        image = ax.imshow(np.ma.masked_invalid(z), origin="lower", aspect="auto", cmap="viridis",
                          norm=norm)
        ax.set_xticks(range(p.shape[1]), [f"{v:g}" for v in p.columns], fontsize=7)
        ax.set_yticks(range(p.shape[0]), [f"{v:g}" for v in p.index], fontsize=7)
        ax.set_xlabel(x, fontsize=8)
        ax.set_ylabel(y, fontsize=8)
        ax.set_title(name, fontsize=8)
        mid = np.sqrt(norm.vmin * norm.vmax) if isinstance(norm, LogNorm) else (norm.vmin + norm.vmax) / 2
        for (i, j), v in np.ndenumerate(z):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=6,
                        color="white" if v < mid else "black")
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].set_axis_off()
    fig.suptitle(title, fontsize=10)
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), label="mean UXCost", shrink=0.9)
    return fig
