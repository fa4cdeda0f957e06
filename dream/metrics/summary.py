"""From job records to the flat summary of one simulation (domain.md section 5)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

VIOLATIONS = ("late", "dropped", "unfinished")


def counted_mask(jobs: pd.DataFrame, warmup_ms: float, duration_ms: float) -> np.ndarray:
    """Jobs released after the warm-up whose deadline falls inside the horizon."""
    return ((jobs["release_ms"] >= warmup_ms) & (jobs["deadline_ms"] <= duration_ms + 1e-9)).to_numpy()


def uxcost(energy_per_job_mj: float, dvr: float, counted: int) -> float:
    """Energy per counted job x max(DVR, 1 / (2 x counted)); the floor keeps ratios finite."""
    if counted == 0:
        return float("nan")
    return energy_per_job_mj * max(dvr, 1.0 / (2 * counted))


def xrbench_score(jobs: pd.DataFrame) -> tuple[float, dict[str, float]]:
    """XRBench's real-time x energy score, overall (0..100 scale) and per task.

    Per completed inference RT = 1 / (1 + exp(15 (finish - deadline) in ms)) and
    EN = (1500 - E) / 1500 with E = energy in nJ / 1e6; per model the sum of RT x EN over
    completed frames divided by completed + dropped frames, times (1 - drop rate).
    """
    per_task: dict[str, float] = {}
    for task, g in jobs.groupby("task", observed=True, sort=False):
        done = g[g["status"].isin(("on_time", "late"))]
        n_drop = int((g["status"] == "dropped").sum())
        frames = len(done) + n_drop
        if frames == 0:
            continue
        z = np.clip(15.0 * (done["finish_ms"] - done["deadline_ms"]).to_numpy(), -700, 700)
        rt = 1.0 / (1.0 + np.exp(z))
        en = (1500.0 - done["energy_nj"].to_numpy() / 1e6) / 1500.0
        per_task[str(task)] = float((rt * en).sum() / frames * (1.0 - n_drop / frames))
    overall = 100.0 * float(np.mean(list(per_task.values()))) if per_task else float("nan")
    return overall, per_task


def summarize(jobs: pd.DataFrame, busy_ms: list[float], accelerators: list[str], tasks: list[str],
              warmup_ms: float, duration_ms: float, decisions: int, decision_us_mean: float, decision_us_p99: float,
              blocks: int, layers: int, wall_s: float) -> dict[str, Any]:
    """The flat summary: one scalar per metric, per-task and per-accelerator keys dotted."""
    mask = counted_mask(jobs, warmup_ms, duration_ms)
    c = jobs[mask]
    n = len(c)
    status = c["status"].to_numpy()
    n_on = int((status == "on_time").sum())
    n_late = int((status == "late").sum())
    n_drop = int((status == "dropped").sum())
    n_unf = int((status == "unfinished").sum())
    dvr = (n_late + n_drop + n_unf) / n if n else float("nan")
    energy_mj = float(c["energy_nj"].sum()) / 1e6
    e_per_job = energy_mj / n if n else float("nan")
    score, score_task = xrbench_score(c)
    window = duration_ms - warmup_ms
    out: dict[str, Any] = {
        "jobs": n,
        "on_time": n_on,
        "late": n_late,
        "dropped": n_drop,
        "unfinished": n_unf,
        "dvr": dvr,
        "drop_rate": n_drop / n if n else float("nan"),
        "energy_mj": energy_mj,
        "energy_per_job_mj": e_per_job,
        "uxcost": uxcost(e_per_job, dvr, n),
        "xrbench_score": score,
        "accuracy_mean": float(c["accuracy"].mean()) if c["accuracy"].notna().any() else float("nan"),
    }
    lat = (c["finish_ms"] - c["release_ms"]).where(c["status"].isin(("on_time", "late")))
    for name in tasks:
        sel = (c["task"] == name).to_numpy()
        t = c[sel]
        nt = len(t)
        st = t["status"].to_numpy()
        tl = lat[sel].dropna().to_numpy()
        p50, p95, p99 = (np.percentile(tl, [50, 95, 99]) if len(tl) else (np.nan,) * 3)
        out.update({
            f"task.{name}.jobs": nt,
            f"task.{name}.dvr": float(np.isin(st, VIOLATIONS).sum() / nt) if nt else float("nan"),
            f"task.{name}.dropped": int((st == "dropped").sum()),
            f"task.{name}.energy_mj": float(t["energy_nj"].sum()) / 1e6,
            f"task.{name}.latency_p50_ms": float(p50),
            f"task.{name}.latency_p95_ms": float(p95),
            f"task.{name}.latency_p99_ms": float(p99),
            f"task.{name}.accuracy": float(t["accuracy"].mean()) if t["accuracy"].notna().any() else float("nan"),
            f"task.{name}.xrbench_score": score_task.get(name, float("nan")),
        })
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
