"""The Python entry points: compose a config, simulate it, get summary and records."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from dream.columns import Columns
from dream.config import RunSpec, SearchPath, build_spec, compose, compose_plain

if TYPE_CHECKING:
    import pandas as pd
    from omegaconf import DictConfig


@dataclass
class SimResult:
    """One simulation's outcome: the flat summary, one row per job, and the block trace.

    `records` and `trace_records` are the engine's column tables (dream.sim.engine's
    JOB_COLUMNS and TRACE_COLUMNS); `jobs` and `trace` give them as DataFrames, built on
    first access (pandas is imported then, not for a run that never asks).
    """

    summary: dict[str, Any]
    records: Columns
    trace_records: Columns | None
    spec: RunSpec
    _frames: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def jobs(self) -> "pd.DataFrame":
        """One row per job (by job id): task, frame, variant, times in ms, status, energy in nJ, ..."""
        if "jobs" not in self._frames:
            self._frames["jobs"] = self.records.to_pandas()
        return self._frames["jobs"]

    @property
    def trace(self) -> "pd.DataFrame | None":
        """One row per block run (with sim.trace=true), else None."""
        if self.trace_records is None:
            return None
        if "trace" not in self._frames:
            self._frames["trace"] = self.trace_records.to_pandas()
        return self._frames["trace"]


def run_spec(spec: RunSpec) -> SimResult:
    """Simulate a validated RunSpec."""
    from dream.metrics import summarize
    from dream.sim.engine import Engine

    engine = Engine(spec.scenario, spec.system, spec.make_policy(), spec.cost_model, spec.sim,
                    dict(spec.catalog))
    raw = engine.run()
    st = raw.stats
    summary = summarize(raw.jobs, raw.busy_ms, raw.accelerators, raw.tasks, spec.sim.warmup_ms,
                        spec.sim.duration_ms, st.decisions, st.decision_us.mean, st.decision_us.quantile(0.99), st.blocks,
                        st.layers, st.wall_s)
    return SimResult(summary=summary, records=raw.jobs, trace_records=raw.trace, spec=spec)


def simulate(config: "DictConfig | dict | list[str] | None" = None,
             config_dirs: Sequence[str | Path] | SearchPath | None = None) -> SimResult:
    """Simulate a composed config, or a list of overrides (composed first, from `config_dirs`
    then ./conf and the built-ins; the composed base of each group combination is reused)."""
    if config is None or isinstance(config, list):
        config, _ = compose_plain(config or [], config_dirs)
    return run_spec(build_spec(config))


__all__ = ["SimResult", "compose", "simulate", "run_spec", "build_spec"]
