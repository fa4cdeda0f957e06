"""From job records to the flat summary of one simulation (the metrics of docs/metrics.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

# job records: a dream.columns.Columns from the engine, or its DataFrame (SimResult.jobs);
# read column by column, as numpy arrays
Records = "Mapping[str, Any] | pd.DataFrame"

VIOLATIONS = ("late", "dropped", "unfinished")


def counted_mask(jobs: Records, warmup_ms: float, duration_ms: float) -> np.ndarray:
    """Jobs released after the warm-up whose deadline falls inside the horizon (bool, shape (N,))."""
    return ((np.asarray(jobs["release_ms"]) >= warmup_ms)
            & (np.asarray(jobs["deadline_ms"]) <= duration_ms + 1e-9))


def uxcost(energy_per_job_mj: float, dvr: float, counted: int) -> float:
    """Energy per counted job x max(DVR, 1 / (2 x counted)); the floor keeps ratios finite."""
    if counted == 0:
        return float("nan")
    return energy_per_job_mj * max(dvr, 1.0 / (2 * counted))


def _task_score(finish: np.ndarray, deadline: np.ndarray, energy_nj: np.ndarray, n_drop: int) -> float:
    """XRBench's score of one task from its completed jobs and its drop count (NaN if no frame)."""
    frames = len(finish) + n_drop
    if frames == 0:
        return float("nan")
    z = np.clip(15.0 * (finish - deadline), -700, 700)
    rt = 1.0 / (1.0 + np.exp(z))
    en = (1500.0 - energy_nj / 1e6) / 1500.0
    return float((rt * en).sum() / frames * (1.0 - n_drop / frames))


def xrbench_score(jobs: Records) -> tuple[float, dict[str, float]]:
    """XRBench's real-time x energy score, overall (0..100 scale) and per task.

    Per completed inference RT = 1 / (1 + exp(15 (finish - deadline) in ms)) and
    EN = (1500 - E) / 1500 with E = energy in nJ / 1e6; per model the sum of RT x EN over
    completed frames divided by completed + dropped frames, times (1 - drop rate).
    """
    status = np.asarray(jobs["status"])
    task = np.asarray(jobs["task"]).astype(str)
    done = (status == "on_time") | (status == "late")
    per_task: dict[str, float] = {}
    for name in dict.fromkeys(task):  # tasks in order of first appearance
        sel = task == name
        d = sel & done
        score = _task_score(np.asarray(jobs["finish_ms"])[d], np.asarray(jobs["deadline_ms"])[d],
                            np.asarray(jobs["energy_nj"])[d], int((sel & (status == "dropped")).sum()))
        if not np.isnan(score):
            per_task[name] = score
    overall = 100.0 * float(np.mean(list(per_task.values()))) if per_task else float("nan")
    return overall, per_task


def _mean_or_nan(x: np.ndarray) -> float:
    ok = x[~np.isnan(x)]
    return float(ok.mean()) if len(ok) else float("nan")


def summarize(jobs: Records, busy_ms: list[float], accelerators: list[str], tasks: list[str],
              warmup_ms: float, duration_ms: float, decisions: int, decision_us_mean: float,
              decision_us_p99: float, blocks: int, layers: int, wall_s: float) -> dict[str, Any]:
    """The flat summary: one scalar per metric, per-task and per-accelerator keys dotted.

    Plain numpy over the record columns: this runs once per simulation, thousands of times
    in a sweep, so it must cost little next to the simulation itself.
    """
    mask = counted_mask(jobs, warmup_ms, duration_ms)
    status = np.asarray(jobs["status"])[mask]
    task = np.asarray(jobs["task"]).astype(str)[mask]
    release = np.asarray(jobs["release_ms"])[mask]
    deadline = np.asarray(jobs["deadline_ms"])[mask]
    finish = np.asarray(jobs["finish_ms"])[mask]
    energy = np.asarray(jobs["energy_nj"], dtype=float)[mask]
    accuracy = np.asarray(jobs["accuracy"], dtype=float)[mask]
    n = len(status)
    on_time, late = status == "on_time", status == "late"
    dropped, unfinished = status == "dropped", status == "unfinished"
    done = on_time | late
    violated = late | dropped | unfinished
    dvr = float(violated.sum() / n) if n else float("nan")
    energy_mj = float(energy.sum()) / 1e6
    e_per_job = energy_mj / n if n else float("nan")
    out: dict[str, Any] = {
        "jobs": n,
        "on_time": int(on_time.sum()),
        "late": int(late.sum()),
        "dropped": int(dropped.sum()),
        "unfinished": int(unfinished.sum()),
        "dvr": dvr,
        "drop_rate": float(dropped.sum() / n) if n else float("nan"),
        "energy_mj": energy_mj,
        "energy_per_job_mj": e_per_job,
        "uxcost": uxcost(e_per_job, dvr, n),
        "xrbench_score": float("nan"),
        "accuracy_mean": _mean_or_nan(accuracy),
    }
    scores = []
    for name in tasks:
        sel = task == name
        nt = int(sel.sum())
        d = sel & done
        lat = finish[d] - release[d]
        p50, p95, p99 = np.percentile(lat, [50, 95, 99]) if len(lat) else (np.nan,) * 3
        score = _task_score(finish[d], deadline[d], energy[d], int((sel & dropped).sum()))
        if not np.isnan(score):
            scores.append(score)
        out.update({
            f"task.{name}.jobs": nt,
            f"task.{name}.dvr": float(violated[sel].sum() / nt) if nt else float("nan"),
            f"task.{name}.dropped": int((sel & dropped).sum()),
            f"task.{name}.energy_mj": float(energy[sel].sum()) / 1e6,
            f"task.{name}.latency_p50_ms": float(p50),
            f"task.{name}.latency_p95_ms": float(p95),
            f"task.{name}.latency_p99_ms": float(p99),
            f"task.{name}.accuracy": _mean_or_nan(accuracy[sel]),
            f"task.{name}.xrbench_score": score,
        })
    out["xrbench_score"] = 100.0 * float(np.mean(scores)) if scores else float("nan")
    window = duration_ms - warmup_ms
    for name, b in zip(accelerators, busy_ms):
        out[f"acc.{name}.utilization"] = b / window
    out.update({
        "decisions": decisions,
        "decision_time_us_mean": decision_us_mean,
        "decision_time_us_p99": decision_us_p99,
        "blocks": blocks,
        "layers": layers,
        "wall_s": wall_s,
    })
    return out
