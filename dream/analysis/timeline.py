"""The timeline of one simulation: a Gantt chart of its block trace."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from dream.analysis.figures import new_figure
from dream.rundir import read_run

BAR_HEIGHT = 0.8
LATE_COLOR = "red"


class TimelineError(ValueError):
    """The run directory cannot be drawn (missing, or written without the block trace)."""


def load_timeline(run_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Jobs and block trace of a run directory; the trace rows carry the system's accelerator order."""
    d = Path(run_dir)
    if not (d / "jobs.parquet").exists() or not (d / "summary.json").exists():
        raise TimelineError(f"{d} is not a run directory (no jobs.parquet / summary.json); "
                            "write one with `dream run ... sim.trace=true output=NEW_DIR`")
    summary, jobs, trace = read_run(d)
    if trace is None:
        raise TimelineError(f"{d} has no trace.parquet: rerun with the block trace on, e.g. "
                            f"`dream run ... sim.trace=true output={d}`")
    # the summary lists every sub-accelerator (idle ones too) in the system's order
    accs = [k[4:-len(".utilization")] for k in summary if k.startswith("acc.") and k.endswith(".utilization")]
    if accs:
        trace = trace.assign(accelerator=pd.Categorical(trace["accelerator"].astype(str), categories=accs))
    return jobs, trace


def merged_bars(trace: pd.DataFrame, merge: bool = True) -> pd.DataFrame:
    """Bars to draw: one per block, or (merge) one per run of back-to-back blocks of a job on a sub-accelerator.

    Columns: accelerator, job, task, start_ms, end_ms.
    """
    t = trace[["accelerator", "job", "task", "start_ms", "end_ms"]].copy()
    t["accelerator"] = t["accelerator"].astype(str)
    t["task"] = t["task"].astype(str)
    t = t.sort_values(["accelerator", "start_ms", "job"], kind="stable").reset_index(drop=True)
    if not merge or t.empty:
        return t
    # a new bar starts where the job changes or there is a gap (a preemption or a wait)
    same = ((t["accelerator"] == t["accelerator"].shift()) & (t["job"] == t["job"].shift())
            & np.isclose(t["start_ms"], t["end_ms"].shift(), rtol=0, atol=1e-9))
    run = (~same).cumsum()
    return (t.groupby(run, sort=True)
            .agg(accelerator=("accelerator", "first"), job=("job", "first"), task=("task", "first"),
                 start_ms=("start_ms", "first"), end_ms=("end_ms", "last"))
            .reset_index(drop=True))


def _ordered(values: pd.Series) -> list[str]:
    """Category order if the column has one, else order of first appearance."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return [str(c) for c in values.cat.categories]
    return list(dict.fromkeys(values.astype(str)))


def plot_timeline(jobs: pd.DataFrame, trace: pd.DataFrame, start_ms: float | None = None,
                  end_ms: float | None = None, merge: bool = True, title: str = "") -> tuple[Figure, Axes]:
    """Gantt chart: sub-accelerators top to bottom, bars coloured by task, late and dropped jobs marked.

    A late job's bars get a red edge and a red x at its finish; a dropped job a black
    triangle at its drop time on a "dropped" row. Rows are y = 0, 1, ... in accelerator
    order (axis inverted), bars span y +- BAR_HEIGHT / 2.
    """
    accs = _ordered(trace["accelerator"])
    tasks = _ordered(jobs["task"]) if len(jobs) else _ordered(trace["task"])
    cmap = colormaps["tab10" if len(tasks) <= 10 else "tab20"]
    color = {t: cmap(i % cmap.N) for i, t in enumerate(tasks)}
    row = {a: i for i, a in enumerate(accs)}
    lo = 0.0 if start_ms is None else float(start_ms)
    hi_data = float(max(trace["end_ms"].max() if len(trace) else 0.0,
                        jobs["finish_ms"].max() if len(jobs) and jobs["finish_ms"].notna().any() else 0.0))
    hi = hi_data if end_ms is None else float(end_ms)

    bars = merged_bars(trace, merge)
    bars = bars[(bars["end_ms"] > lo) & (bars["start_ms"] < hi)]
    status = jobs.set_index("job")["status"].astype(str) if len(jobs) else pd.Series(dtype=str)
    late = set(status.index[status == "late"])

    fig = new_figure(figsize=(12, 1.2 + 0.55 * (len(accs) + 1)), layout="constrained")
    ax = fig.subplots()
    for task, g in bars.groupby("task", sort=False):
        is_late = g["job"].isin(late).to_numpy()
        ax.barh([row[a] for a in g["accelerator"]], (g["end_ms"] - g["start_ms"]).to_numpy(),
                left=g["start_ms"].to_numpy(), height=BAR_HEIGHT, color=color[task],
                edgecolor=[LATE_COLOR if x else "white" for x in is_late],  # white: job boundaries
                linewidth=[1.2 if x else 0.4 for x in is_late])

    handles = [Patch(color=color[t], label=t) for t in tasks]
    # late jobs: an x where they finished, on the row of their last block
    last = trace.sort_values("end_ms", kind="stable").groupby("job").last()
    lj = jobs[(jobs["status"] == "late") & jobs["finish_ms"].between(lo, hi)]
    lj = lj[lj["job"].isin(last.index)]
    if len(lj):
        ax.scatter(lj["finish_ms"], [row[str(last.loc[j, "accelerator"])] for j in lj["job"]],
                   marker="x", color=LATE_COLOR, s=30, zorder=4)
        handles.append(Line2D([], [], marker="x", ls="", color=LATE_COLOR, label="late (at finish)"))
    dropped = jobs[(jobs["status"] == "dropped") & jobs["finish_ms"].between(lo, hi)]
    yticks = accs
    if len(dropped):
        ax.scatter(dropped["finish_ms"], [len(accs)] * len(dropped), marker="v",
                   color=[color.get(str(t), "black") for t in dropped["task"]], edgecolor="black",
                   s=30, zorder=4)
        yticks = accs + ["dropped"]
        handles.append(Line2D([], [], marker="v", ls="", color="grey", markeredgecolor="black",
                              label="dropped (at drop)"))
    ax.set_yticks(range(len(yticks)), yticks)
    ax.set_ylim(len(yticks) - 0.5, -0.5)  # first sub-accelerator on top
    ax.set_xlim(lo, hi if hi > lo else lo + 1.0)
    ax.set_xlabel("time (ms)")
    counts = status.value_counts()
    summary = ", ".join(f"{counts.get(s, 0)} {s}" for s in ("on_time", "late", "dropped", "unfinished"))
    ax.set_title(f"{title + ': ' if title else ''}{len(jobs)} jobs ({summary})", fontsize=10)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1), fontsize=8, frameon=False)
    ax.grid(axis="x", lw=0.3, alpha=0.5)
    return fig, ax
