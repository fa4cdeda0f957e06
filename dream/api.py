"""The Python entry points: compose a config, simulate it, get summary and records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from omegaconf import DictConfig

from dream.config import RunSpec, build_spec, compose
from dream.metrics import summarize
from dream.sim.engine import Engine


@dataclass
class SimResult:
    """One simulation's outcome: the flat summary, one row per job, and the block trace."""

    summary: dict[str, Any]
    jobs: pd.DataFrame
    trace: pd.DataFrame | None
    spec: RunSpec


def run_spec(spec: RunSpec) -> SimResult:
    """Simulate a validated RunSpec."""
    engine = Engine(spec.scenario, spec.system, spec.make_policy(), spec.cost_model, spec.sim,
                    dict(spec.catalog))
    raw = engine.run()
    st = raw.stats
    summary = summarize(raw.jobs, raw.busy_ms, raw.accelerators, raw.tasks, spec.sim.warmup_ms,
                        spec.sim.duration_ms, st.decisions, st.decision_us.mean, st.decision_us.quantile(0.99), st.blocks,
                        st.layers, st.wall_s)
    return SimResult(summary=summary, jobs=raw.jobs, trace=raw.trace, spec=spec)


def simulate(config: DictConfig | dict | list[str] | None = None) -> SimResult:
    """Simulate a composed config (or a list of overrides, composed first)."""
    if config is None or isinstance(config, list):
        config = compose(config or [])
    return run_spec(build_spec(config))


__all__ = ["SimResult", "compose", "simulate", "run_spec", "build_spec"]
