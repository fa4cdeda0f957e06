"""A run directory: what `dream run` writes and what `dream timeline` reads."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from dream.api import SimResult


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def write_run(result: SimResult, out_dir: str | Path, config: DictConfig | None = None) -> Path:
    """Write jobs.parquet, summary.json (and trace.parquet, config.yaml) into out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result.jobs.to_parquet(out / "jobs.parquet", index=False)
    if result.trace is not None:
        result.trace.to_parquet(out / "trace.parquet", index=False)
    summary = {k: _jsonable(v) for k, v in result.summary.items()}
    (out / "summary.json").write_text(json.dumps(summary, indent=1, sort_keys=False) + "\n")
    if config is not None:
        (out / "config.yaml").write_text(OmegaConf.to_yaml(config, resolve=True))
    return out


def read_run(run_dir: str | Path) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame | None]:
    """Read a run directory back: summary, jobs and (if written) the block trace."""
    d = Path(run_dir)
    summary = json.loads((d / "summary.json").read_text())
    jobs = pd.read_parquet(d / "jobs.parquet")
    trace = pd.read_parquet(d / "trace.parquet") if (d / "trace.parquet").exists() else None
    return summary, jobs, trace


def format_summary(summary: dict[str, Any], tasks: list[str], accelerators: list[str]) -> str:
    """A human-readable summary: headline metrics, a per-task table, utilisation."""
    head = [
        ("jobs counted", f"{summary['jobs']}"),
        ("on time / late / dropped / unfinished",
         f"{summary['on_time']} / {summary['late']} / {summary['dropped']} / {summary['unfinished']}"),
        ("DVR", f"{summary['dvr']:.4f}"),
        ("energy (mJ)", f"{summary['energy_mj']:.3f}"),
        ("energy per job (mJ)", f"{summary['energy_per_job_mj']:.4f}"),
        ("UXCost", f"{summary['uxcost']:.6g}"),
        ("XRBench score", f"{summary['xrbench_score']:.2f}"),
        ("decisions (mean / p99 us)",
         f"{summary['decisions']} ({summary['decision_time_us_mean']:.1f} / {summary['decision_time_us_p99']:.1f})"),
        ("blocks / layers dispatched", f"{summary['blocks']} / {summary['layers']}"),
        ("wall time (s)", f"{summary['wall_s']:.3f}"),
    ]
    w = max(len(k) for k, _ in head)
    lines = [f"{k:<{w}}  {v}" for k, v in head]
    rows = []
    for t in tasks:
        rows.append({
            "task": t,
            "jobs": summary[f"task.{t}.jobs"],
            "dvr": summary[f"task.{t}.dvr"],
            "dropped": summary[f"task.{t}.dropped"],
            "p50 ms": summary[f"task.{t}.latency_p50_ms"],
            "p95 ms": summary[f"task.{t}.latency_p95_ms"],
            "p99 ms": summary[f"task.{t}.latency_p99_ms"],
            "energy mJ": summary[f"task.{t}.energy_mj"],
            "accuracy": summary[f"task.{t}.accuracy"],
        })
    lines.append("")
    lines.append(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    lines.append("")
    lines.append("utilization: " + ", ".join(
        f"{a} {summary[f'acc.{a}.utilization']:.1%}" for a in accelerators))
    return "\n".join(lines)
