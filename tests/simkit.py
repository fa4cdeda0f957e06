"""Building small simulations directly from specs, for engine and scheduler tests."""

from __future__ import annotations

from typing import Hashable, Sequence

import numpy as np
import pandas as pd

from dream.api import SimResult, run_spec
from dream.config import RunSpec
from dream.cost.base import CostModel
from dream.hardware import Accelerator, System
from dream.sim.spec import SimSpec
from dream.workload.layers import layer_macs, make_layer_table
from dream.workload.model import DynamicBlock, ModelDef, Variant, width_scaled
from dream.workload.scenario import Phase, Scenario, TaskSpec


class LinearCost(CostModel):
    """A plug-in cost model whose numbers are easy to compute by hand.

    latency = MACs / (PEs x speed[dataflow]) cycles; energy = MACs x 1e-3 nJ.
    """

    name = "linear"

    def __init__(self, speed: dict[str, float] | None = None) -> None:
        self.speed = speed or {"WS": 1.0, "OS": 1.0, "RS": 1.0}

    @property
    def key(self) -> Hashable:
        return ("linear", tuple(sorted(self.speed.items())))

    def costs(self, layers, acc, model_name, variant=None):
        macs = layer_macs(layers).astype(float)
        return macs / (acc.num_pes * self.speed[acc.dataflow]), macs * 1e-3


def ms_layers(ms: Sequence[float], pes: int = 1) -> pd.DataFrame:
    """A layer table whose layers take exactly `ms` milliseconds each under LinearCost at 1 GHz."""
    # MACs = ms * 1e6 * pes; written as an fc layer over ms*1e6 positions with K = pes
    rows = [(f"l{i}", "fc", pes, 1, int(round(m * 1e6)), 1, 1, 1, 1) for i, m in enumerate(ms)]
    return make_layer_table(rows)


def model_from_ms(name: str, ms: Sequence[float], dynamic: tuple[DynamicBlock, ...] = (),
                  variants: tuple[Variant, ...] = (Variant("w1.0", 1.0, 1.0),)) -> ModelDef:
    """A model whose layers take the given milliseconds on a 1-PE sub-accelerator."""
    table = ms_layers(ms)
    return ModelDef(name=name, task=name, build=lambda w: width_scaled(table, w) if w != 1.0 else table,
                    variants=variants, dynamic=dynamic)


def make_spec(tasks: Sequence[TaskSpec], models: dict[str, ModelDef], accs: Sequence[Accelerator] | None = None,
              scheduler: str = "fcfs", params: dict | None = None, phases: Sequence[Phase] = (),
              cost: CostModel | None = None, **sim) -> RunSpec:
    """A RunSpec from plain specs (LinearCost, one 1-PE WS sub-accelerator by default)."""
    accs = tuple(accs or (Accelerator("a0", "WS", 1),))
    phases = tuple(phases) or (Phase(0.0, tuple(t.name for t in tasks)),)
    sim.setdefault("context_switch_us", 0.0)
    return RunSpec(Scenario("test", tuple(tasks), phases), System("sys", accs), scheduler,
                   params or {}, cost or LinearCost(), SimSpec(**sim), models)


def simulate_spec(spec: RunSpec) -> SimResult:
    """Run a RunSpec."""
    return run_spec(spec)


def per_job_trace_energy(result: SimResult) -> pd.Series:
    """Energy per job summed over its trace blocks."""
    return result.trace.groupby("job")["energy_nj"].sum()


__all__ = ["LinearCost", "make_spec", "model_from_ms", "ms_layers", "simulate_spec",
           "per_job_trace_energy", "np"]
