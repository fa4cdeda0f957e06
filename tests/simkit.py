"""Building small simulations directly from specs, for engine and scheduler tests."""

from __future__ import annotations

from typing import Hashable, Sequence

import numpy as np
import pandas as pd
import pytest
from hypothesis import strategies as st

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


@st.composite
def scenarios(draw) -> tuple[list[TaskSpec], dict[str, ModelDef], list[Accelerator]]:
    """Random small scenarios: 1-3 tasks (cascades, dynamic blocks, variants), 1-3 sub-accelerators."""
    n_tasks = draw(st.integers(1, 3))
    models, tasks = {}, []
    for i in range(n_tasks):
        n_layers = draw(st.integers(1, 5))
        ms = draw(st.lists(st.floats(0.05, 3.0), min_size=n_layers, max_size=n_layers))
        dyn = ()
        if n_layers >= 3 and draw(st.booleans()):
            kind = draw(st.sampled_from(["probability", "repeat"]))
            dyn = (DynamicBlock("b", 1, n_layers - 1, kind, p=0.5, mean=1.5, min_repeat=0, max_repeat=3),)
        variants = (Variant("w0.5", 0.5, 0.9), Variant("w1.0", 1.0, 1.0))
        models[f"m{i}"] = model_from_ms(f"m{i}", ms, dyn, variants)
        upstream = None
        if i > 0 and draw(st.booleans()):
            upstream = f"T{draw(st.integers(0, i - 1))}"
        tasks.append(TaskSpec(f"T{i}", f"m{i}", draw(st.floats(20.0, 200.0)), upstream=upstream,
                              trigger_prob=draw(st.sampled_from([0.3, 0.5, 1.0])),
                              deadline_ms=draw(st.sampled_from([None, 2.0, 5.0])),
                              priority=draw(st.sampled_from([1.0, 3.0, 9.0]))))
    n_acc = draw(st.integers(1, 3))
    accs = [Accelerator(f"a{k}", draw(st.sampled_from(["WS", "OS", "RS"])), draw(st.sampled_from([1, 2])))
            for k in range(n_acc)]
    return tasks, models, accs


def check_invariants(r: SimResult, spec: RunSpec) -> None:
    """The engine's invariants on a run with the block trace on."""
    jobs, tr = r.jobs, r.trace
    # every released job ends in exactly one status
    assert jobs.job.is_unique
    assert set(jobs.status) <= {"on_time", "late", "dropped", "unfinished"}
    # no sub-accelerator runs two blocks at once
    for _, g in tr.groupby("accelerator", observed=True):
        g = g.sort_values("start_ms")
        assert (g.start_ms.to_numpy()[1:] >= g.end_ms.to_numpy()[:-1] - 1e-9).all()
    # a job's blocks run in layer order, contiguously, one at a time, never before release
    rel = jobs.set_index("job").release_ms
    for jid, g in tr.groupby("job"):
        g = g.drop_duplicates(["start_ms", "layer_start"]).sort_values("start_ms")
        assert g.layer_start.iloc[0] == 0
        assert (g.layer_start.to_numpy()[1:] == g.layer_end.to_numpy()[:-1]).all()
        assert (g.start_ms.to_numpy()[1:] >= g.end_ms.to_numpy()[:-1] - 1e-9).all()
        assert g.start_ms.iloc[0] >= rel[jid] - 1e-9
    # a downstream job is released when its upstream job of the same frame completes
    for t in spec.scenario.tasks:
        if t.upstream is None:
            continue
        d = jobs[jobs.task == t.name].set_index("frame")
        u = jobs[jobs.task == t.upstream].set_index("frame")
        for f, row in d.iterrows():
            assert u.loc[f, "status"] in ("on_time", "late")
            assert row.release_ms == pytest.approx(u.loc[f, "finish_ms"])
    # energy equals the sum over executed blocks (every job may be dropped before it runs)
    e = tr.groupby("job")["energy_nj"].sum().astype(float)
    je = jobs.set_index("job").energy_nj
    np.testing.assert_allclose(je.reindex(e.index).to_numpy(), e.to_numpy(), rtol=1e-9, atol=1e-6)
    assert (je[~je.index.isin(e.index)] == 0).all()
    # finished jobs ran layers, after their release
    fin = jobs[jobs.status.isin(["on_time", "late"])]
    assert (fin.finish_ms >= fin.release_ms).all()
    assert (fin.layers > 0).all()


__all__ = ["scenarios", "check_invariants", "LinearCost", "make_spec", "model_from_ms", "ms_layers", "simulate_spec",
           "per_job_trace_energy", "np"]
