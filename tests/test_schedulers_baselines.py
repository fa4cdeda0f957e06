"""The baseline policies (rr, edf, sjf, prema, planaria, veltair, herald): hand-computed
timelines showing each one's defining behaviour, and engine invariants over random
small scenarios."""

from __future__ import annotations

from typing import Hashable

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dream.cost.base import CostModel
from dream.errors import ConfigError
from dream.hardware import Accelerator
from dream.schedulers import make_policy, registry
from dream.workload.layers import make_layer_table
from dream.workload.model import DynamicBlock, ModelDef, Variant
from dream.workload.scenario import TaskSpec
from simkit import check_invariants, make_spec, model_from_ms, scenarios, simulate_spec

BASELINES = ["rr", "edf", "sjf", "prema", "planaria", "veltair", "herald"]
WS = Accelerator("ws", "WS", 1)
OS = Accelerator("os", "OS", 1)


def run(tasks, models, accs=None, scheduler="fcfs", params=None, cost=None, **sim):
    sim.setdefault("trace", True)
    return simulate_spec(make_spec(tasks, models, accs or [WS], scheduler=scheduler, params=params,
                                   cost=cost, **sim))


def blocks(r, job):
    """(start, end, layer_start, layer_end, accelerators) of each block of a job."""
    tr = r.trace[r.trace.job == job]
    out = []
    for (s, e, l0, l1), g in tr.groupby(["start_ms", "end_ms", "layer_start", "layer_end"], sort=True):
        out.append((round(s, 9), round(e, 9), int(l0), int(l1), "+".join(sorted(map(str, g.accelerator)))))
    return out


def block_order(r):
    """Task of each block, in start order (one row per block even when fused)."""
    tr = r.trace.drop_duplicates(["job", "start_ms"]).sort_values(["start_ms", "job"])
    return list(tr.task.astype(str))


def test_registered_with_yaml_parameters():
    import yaml
    from pathlib import Path

    conf = Path(__file__).parent.parent / "dream" / "conf" / "scheduler"
    for name in BASELINES:
        cls = registry()[name]
        assert cls.name == name
        cfg = yaml.safe_load((conf / f"{name}.yaml").read_text())
        assert cfg.pop("name") == name
        policy = make_policy(name, cfg)
        assert policy.params() == cfg  # the YAML lists every parameter with its default
        assert policy.preemptive


@pytest.mark.parametrize("name,params", [
    ("prema", {"threshold": -1.0}),
    ("planaria", {"max_fuse": -1}),
    ("planaria", {"min_slack_ms": 0.0}),
    ("veltair", {"min_block": 0}),
    ("veltair", {"max_block": 2, "min_block": 3}),
    ("herald", {"balance": 1}),
    ("edf", {"foo": 1}),
])
def test_bad_parameters_are_rejected(name, params):
    with pytest.raises(ConfigError):
        make_policy(name, params)


class TableCost(CostModel):
    """Per-layer latency in ms given per (model, dataflow); energy 1000 nJ per ms."""

    name = "table"

    def __init__(self, table: dict[tuple[str, str], list[float]]) -> None:
        self.table = table

    @property
    def key(self) -> Hashable:
        return ("table", tuple(sorted((k, tuple(v)) for k, v in self.table.items())))

    def costs(self, layers, acc, model_name, variant=None):
        ms = np.asarray(self.table[(model_name, acc.dataflow)], dtype=float)
        return ms * 1e6 * acc.clock_ghz, ms * 1000.0


def tiny_model(name: str, n: int, dynamic=()) -> ModelDef:
    table = make_layer_table([(f"l{i}", "fc", 1, 1, 1, 1, 1, 1, 1) for i in range(n)])
    return ModelDef(name=name, task=name, build=lambda w: table, variants=(Variant("w1.0", 1.0, 1.0),),
                    dynamic=tuple(dynamic))


# ------------------------------------------------------------------------ EDF

def test_edf_runs_earlier_deadline_first_and_preempts_at_block_boundary():
    # A: 3 layers x 2 ms, deadline 20; B: 2 layers x 1 ms released at t=1, deadline 6.
    # EDF, 1-layer blocks: A [0,2]; at the boundary B (deadline 6) overtakes: B [2,3][3,4];
    # A resumes [4,6][6,8]. FCFS would finish B at 8 (late).
    models = {"a": model_from_ms("a", [2.0, 2.0, 2.0]), "b": model_from_ms("b", [1.0, 1.0])}
    tasks = [TaskSpec("A", "a", 50.0), TaskSpec("B", "b", 50.0, deadline_ms=5.0, offset_ms=1.0)]
    r = run(tasks, models, scheduler="edf", duration_ms=15.0)
    assert blocks(r, 0) == [(0, 2, 0, 1, "ws"), (4, 6, 1, 2, "ws"), (6, 8, 2, 3, "ws")]
    assert blocks(r, 1) == [(2, 3, 0, 1, "ws"), (3, 4, 1, 2, "ws")]
    j = r.jobs.set_index("job")
    assert list(j.status) == ["on_time", "on_time"]
    assert j.loc[0, "preemptions"] == 1 and j.loc[1, "preemptions"] == 0
    # never inside a block: with whole-model blocks B waits for A to end at 6
    r = run(tasks, models, scheduler="edf", duration_ms=15.0, block_size=0)
    assert blocks(r, 0) == [(0, 6, 0, 3, "ws")]
    assert blocks(r, 1) == [(6, 8, 0, 2, "ws")]
    assert r.jobs.set_index("job").loc[1, "status"] == "late"


# ------------------------------------------------------------------------- RR

def test_rr_alternates_tasks_block_by_block():
    # three tasks of 3 x 1 ms layers released together: one block each per turn
    models = {"m": model_from_ms("m", [1.0, 1.0, 1.0])}
    tasks = [TaskSpec(name, "m", 20.0) for name in ("A", "B", "C")]
    r = run(tasks, models, scheduler="rr", duration_ms=20.0)
    assert block_order(r) == ["A", "B", "C"] * 3
    tr = r.trace.sort_values("start_ms")
    np.testing.assert_allclose(tr.start_ms, np.arange(9.0))
    assert list(r.jobs.finish_ms) == [7.0, 8.0, 9.0]
    # FCFS on the same case runs each job to completion
    r = run(tasks, models, scheduler="fcfs", duration_ms=20.0)
    assert block_order(r) == ["A"] * 3 + ["B"] * 3 + ["C"] * 3


def test_rr_pointer_skips_tasks_without_ready_jobs():
    # B is released at 2.5: it gets its turn at the first boundary after that
    models = {"a": model_from_ms("a", [1.0] * 6), "b": model_from_ms("b", [1.0, 1.0])}
    tasks = [TaskSpec("A", "a", 20.0), TaskSpec("B", "b", 20.0, offset_ms=2.5)]
    r = run(tasks, models, scheduler="rr", duration_ms=20.0)
    assert block_order(r) == ["A", "A", "A", "B", "A", "B", "A", "A"]


# ------------------------------------------------------------------------ SJF

def test_sjf_picks_shorter_job_and_preempts_for_shorter_arrival():
    # A: 3 x 2 ms (6 ms); C: 1.5 ms, both at 0; B: 1 ms at t=3.
    # SJF: C [0,1.5]; A [1.5,3.5]; at 3.5 B (1 ms) < A's remaining 4 ms: B [3.5,4.5];
    # A [4.5,6.5][6.5,8.5].
    models = {"a": model_from_ms("a", [2.0, 2.0, 2.0]), "b": model_from_ms("b", [1.0]),
              "c": model_from_ms("c", [1.5])}
    tasks = [TaskSpec("A", "a", 50.0), TaskSpec("B", "b", 50.0, offset_ms=3.0), TaskSpec("C", "c", 50.0)]
    r = run(tasks, models, scheduler="sjf", duration_ms=15.0)
    j = r.jobs.set_index("job")  # ids: A=0, C=1 (released at 0), B=2
    assert blocks(r, 1) == [(0, 1.5, 0, 1, "ws")]
    assert blocks(r, 0) == [(1.5, 3.5, 0, 1, "ws"), (4.5, 6.5, 1, 2, "ws"), (6.5, 8.5, 2, 3, "ws")]
    assert blocks(r, 2) == [(3.5, 4.5, 0, 1, "ws")]
    assert j.loc[0, "preemptions"] == 1


def test_sjf_measures_work_on_the_best_sub_accelerator():
    # W (WS 100, OS 5) takes OS at 0. At t=1, with only WS idle, X (WS 8, OS 2) and Y
    # (3 on both) arrive: X's best (2) beats Y's (3), so X takes WS although Y is
    # shorter there; Y waits for OS.
    cost = TableCost({("w", "WS"): [100], ("w", "OS"): [5], ("x", "WS"): [8], ("x", "OS"): [2],
                      ("y", "WS"): [3], ("y", "OS"): [3]})
    models = {n: tiny_model(n, 1) for n in ("w", "x", "y")}
    tasks = [TaskSpec("W", "w", 5.0), TaskSpec("X", "x", 5.0, offset_ms=1.0),
             TaskSpec("Y", "y", 5.0, offset_ms=1.0)]
    r = run(tasks, models, [WS, OS], scheduler="sjf", cost=cost, duration_ms=50.0)
    assert blocks(r, 0) == [(0, 5, 0, 1, "os")]
    assert blocks(r, 1) == [(1, 9, 0, 1, "ws")]
    assert blocks(r, 2) == [(5, 8, 0, 1, "os")]


# ---------------------------------------------------------------------- PREMA

def _prema_case(params):
    # H (priority 3): 2 x 1 ms, a frame every 2 ms (keeps the accelerator busy);
    # L (priority 1): one 1 ms layer at t=0. Isolated latencies: H 2 ms, L 1 ms.
    models = {"h": model_from_ms("h", [1.0, 1.0]), "l": model_from_ms("l", [1.0])}
    tasks = [TaskSpec("H", "h", 500.0, deadline_ms=10.0, priority=3.0),
             TaskSpec("L", "l", 50.0, priority=1.0)]
    return run(tasks, models, scheduler="prema", params=params, duration_ms=9.0)


@pytest.mark.parametrize("params", [{}, {"threshold": 3.0}])
def test_prema_tokens_grow_until_low_priority_job_beats_fresh_high_priority(params):
    # tokens: L = 1 x (1 + waited / 1 ms), H = 3 x (1 + waited / 2 ms). Threshold 3
    # (PREMA's rule: the highest priority level the largest token reaches, here 3).
    # t=0: L 1 < 3, H0 3 -> H0 [0,1]; t=1: L 2 -> H0 [1,2]; t=2: L 3 = fresh H1 3, both
    # candidates, L is shorter -> L [2,3]; then H1 [3,4][4,5].
    r = _prema_case(params)
    j = r.jobs.set_index(["task", "frame"])
    assert j.loc[("L", 0), "start_ms"] == 2.0 and j.loc[("L", 0), "finish_ms"] == 3.0
    assert j.loc[("H", 0), "finish_ms"] == 2.0
    assert j.loc[("H", 1), "start_ms"] == 3.0 and j.loc[("H", 1), "finish_ms"] == 5.0
    assert block_order(r)[:5] == ["H", "H", "L", "H", "H"]


def test_prema_threshold_matters():
    # threshold 1: every job is a candidate from the start, so the shortest (L) runs first
    r = _prema_case({"threshold": 1.0})
    j = r.jobs.set_index(["task", "frame"])
    assert j.loc[("L", 0), "start_ms"] == 0.0
    assert block_order(r)[:3] == ["L", "H", "H"]
    # a threshold above every token: only the largest token qualifies; at t=2 L's token 3
    # ties the fresh H1's, so L still wins there on length
    r = _prema_case({"threshold": 100.0})
    assert r.jobs.set_index(["task", "frame"]).loc[("L", 0), "start_ms"] == 2.0


def test_prema_token_growth_rescues_a_long_low_priority_job():
    # H (priority 3, 1 ms) arrives every 1 ms and would starve L (priority 1, 3 ms, longer
    # than any H job) under priority order. L's token is 1 + t/3: at t=6 it reaches 3 and
    # ties the fresh H6 (both qualify, H6 is shorter); at t=7 it is 3.33, the only token
    # above 3, so with a threshold of 3.5 (capped at the largest token) L alone qualifies.
    models = {"h": model_from_ms("h", [1.0]), "l": model_from_ms("l", [3.0])}
    tasks = [TaskSpec("H", "h", 1000.0, deadline_ms=10.0, priority=3.0),
             TaskSpec("L", "l", 50.0, priority=1.0)]
    r = run(tasks, models, scheduler="prema", params={"threshold": 3.5}, duration_ms=12.0)
    j = r.jobs.set_index(["task", "frame"])
    assert j.loc[("L", 0), "start_ms"] == 7.0 and j.loc[("L", 0), "finish_ms"] == 10.0
    assert block_order(r)[:8] == ["H"] * 7 + ["L"]
    # PREMA's adaptive threshold is the highest priority level reached, 3: the fresh H jobs
    # (token 3) always qualify and are shorter, so L is still waiting at the horizon
    r = run(tasks, models, scheduler="prema", duration_ms=12.0)
    assert r.jobs.set_index(["task", "frame"]).loc[("L", 0), "status"] == "unfinished"
    assert set(block_order(r)) == {"H"}


# ------------------------------------------------------------------- Planaria

def test_planaria_fuses_idle_sub_accelerators_for_a_job_that_would_miss():
    # X: one 4 ms layer, deadline 3 ms: alone it misses; fused on two equal sub-accelerators
    # it takes 1 / (1/4 + 1/4) = 2 ms
    models = {"x": model_from_ms("x", [4.0])}
    tasks = [TaskSpec("X", "x", 10.0, deadline_ms=3.0)]
    accs = [Accelerator("a0", "WS", 1), Accelerator("a1", "WS", 1)]
    r = run(tasks, models, accs, scheduler="planaria", duration_ms=50.0)
    assert blocks(r, 0) == [(0, 2, 0, 1, "a0+a1")]
    tr = r.trace[r.trace.job == 0]
    assert sorted(map(str, tr.accelerator)) == ["a0", "a1"]
    j = r.jobs.set_index("job")
    assert j.loc[0, "status"] == "on_time" and j.loc[0, "accelerators"] == "a0+a1"
    # max_fuse: 1 forbids fusion: the job runs alone and is late
    r = run(tasks, models, accs, scheduler="planaria", params={"max_fuse": 1}, duration_ms=50.0)
    assert blocks(r, 0) == [(0, 4, 0, 1, "a0")]
    # a job that fits on one sub-accelerator is not fused
    tasks = [TaskSpec("X", "x", 10.0, deadline_ms=5.0)]
    r = run(tasks, models, accs, scheduler="planaria", duration_ms=50.0)
    assert blocks(r, 0) == [(0, 4, 0, 1, "a0")]


def test_planaria_prefers_higher_priority_over_slack_times_resources():
    # U: 4 ms, deadline 3 (needs both sub-accelerators): score = p_U / (3 x 2);
    # V: 1 ms, deadline 5 (needs one): score = 1 / (5 x 1) = 0.2.
    models = {"u": model_from_ms("u", [4.0]), "v": model_from_ms("v", [1.0])}
    accs = [Accelerator("a0", "WS", 1), Accelerator("a1", "WS", 1)]

    def case(p_u):
        tasks = [TaskSpec("U", "u", 10.0, deadline_ms=3.0, priority=p_u),
                 TaskSpec("V", "v", 10.0, deadline_ms=5.0)]
        return run(tasks, models, accs, scheduler="planaria", duration_ms=50.0)

    # p_U = 1: 1/6 < 0.2, V goes first (to a0), U gets only a1 and misses; EDF would
    # have started U first
    r = case(1.0)
    assert blocks(r, 1) == [(0, 1, 0, 1, "a0")]
    assert blocks(r, 0) == [(0, 4, 0, 1, "a1")]
    assert list(r.jobs.status) == ["late", "on_time"]
    # p_U = 2: 2/6 > 0.2, U goes first, fused on both; V follows at 2
    r = case(2.0)
    assert blocks(r, 0) == [(0, 2, 0, 1, "a0+a1")]
    assert blocks(r, 1) == [(2, 3, 0, 1, "a0")]
    assert list(r.jobs.status) == ["on_time", "on_time"]


# -------------------------------------------------------------------- Veltair

def test_veltair_block_size_follows_the_queue():
    # A: 8 x 1 ms layers. max_block 4: size = max(1, 4 // (1 + jobs left waiting))
    models = {"a": model_from_ms("a", [1.0] * 8), "s": model_from_ms("s", [1.0])}
    params = {"max_block": 4, "min_block": 1}

    # alone: nobody waits, blocks of 4 layers
    r = run([TaskSpec("A", "a", 10.0)], models, scheduler="veltair", params=params, duration_ms=50.0)
    assert [(b[2], b[3]) for b in blocks(r, 0)] == [(0, 4), (4, 8)]

    # A has the least slack while three short jobs wait: 1-layer blocks throughout
    tasks = [TaskSpec("A", "a", 10.0, deadline_ms=10.0)] + [
        TaskSpec(f"S{i}", "s", 10.0, deadline_ms=50.0) for i in range(3)]
    r = run(tasks, models, scheduler="veltair", params=params, duration_ms=50.0)
    assert [(b[2], b[3]) for b in blocks(r, 0)] == [(i, i + 1) for i in range(8)]
    assert block_order(r) == ["A"] * 8 + ["S0", "S1", "S2"]

    # the short jobs have less slack: they go first, and A's blocks grow as the queue
    # empties; its first block starts when it runs alone: 4 layers
    tasks = [TaskSpec("A", "a", 10.0, deadline_ms=50.0)] + [
        TaskSpec(f"S{i}", "s", 10.0, deadline_ms=5.0) for i in range(3)]
    r = run(tasks, models, scheduler="veltair", params=params, duration_ms=50.0)
    assert block_order(r) == ["S0", "S1", "S2", "A", "A"]
    assert blocks(r, 0) == [(3, 7, 0, 4, "ws"), (7, 11, 4, 8, "ws")]


def test_veltair_block_size_rule():
    v = make_policy("veltair", {"max_block": 8, "min_block": 2})
    assert [v.block_size(ready, 1) for ready in (1, 2, 3, 4, 5, 9)] == [8, 4, 2, 2, 2, 2]
    assert v.block_size(3, 3) == 8  # enough sub-accelerators: nobody waits


# --------------------------------------------------------------------- Herald

def test_herald_keeps_layers_on_their_mapped_sub_accelerator():
    # layers 0-1 are 10x faster on OS, layers 2-3 10x faster on WS
    cost = TableCost({("m", "OS"): [1, 1, 10, 10], ("m", "WS"): [10, 10, 1, 1]})
    models = {"m": tiny_model("m", 4)}
    tasks = [TaskSpec("A", "m", 10.0), TaskSpec("B", "m", 10.0)]
    r = run(tasks, models, [WS, OS], scheduler="herald", cost=cost, duration_ms=50.0, migration=False)
    # A runs layers 0-1 on OS as one block while WS is idle and B waits for OS; then A
    # moves to WS for its run 2-4 and B takes OS
    assert blocks(r, 0) == [(0, 2, 0, 2, "os"), (2, 4, 2, 4, "ws")]
    assert blocks(r, 1) == [(2, 4, 0, 2, "os"), (4, 6, 2, 4, "ws")]
    tr = r.trace
    assert set(tr[tr.layer_start == 0].accelerator.astype(str)) == {"os"}
    assert set(tr[tr.layer_start == 2].accelerator.astype(str)) == {"ws"}
    # a greedy policy uses the idle WS for B at once
    r = run(tasks, models, [WS, OS], scheduler="edf", cost=cost, duration_ms=50.0, migration=False)
    assert r.trace[r.trace.job == 1].start_ms.min() == 0.0


def test_herald_runs_follow_the_drawn_layer_sequence():
    # layers 1-2 repeat exactly twice: sequence 0 1 2 1 2 3; 0,1 map to OS, 2,3 to WS,
    # so the runs are [0 1] [2] [1] [2 3] (positions 0-2, 2-3, 3-4, 4-6)
    cost = TableCost({("m", "OS"): [1, 1, 10, 10], ("m", "WS"): [10, 10, 1, 1]})
    rep = DynamicBlock("b", 1, 3, "repeat", mean=2.0, min_repeat=2, max_repeat=2)
    models = {"m": tiny_model("m", 4, (rep,))}
    r = run([TaskSpec("A", "m", 10.0)], models, [WS, OS], scheduler="herald", cost=cost,
            duration_ms=50.0, migration=False)
    assert blocks(r, 0) == [(0, 2, 0, 2, "os"), (2, 3, 2, 3, "ws"), (3, 4, 3, 4, "os"), (4, 6, 4, 6, "ws")]


def test_herald_balances_load_across_sub_accelerators():
    # three tasks whose single layer is a little faster on OS (1 ms) than on WS (1.2 ms):
    # all on OS is a load of 3 (per frame period); moving one to WS gives max(2, 1.2)
    cost = TableCost({(f"m{i}", df): [v] for i in range(3) for df, v in (("OS", 1.0), ("WS", 1.2))})
    models = {f"m{i}": tiny_model(f"m{i}", 1) for i in range(3)}
    tasks = [TaskSpec(f"T{i}", f"m{i}", 10.0) for i in range(3)]
    r = run(tasks, models, [WS, OS], scheduler="herald", cost=cost, duration_ms=50.0)
    acc = r.jobs.groupby("task", observed=True).accelerators.agg(set)
    assert acc.to_dict() == {"T0": {"ws"}, "T1": {"os"}, "T2": {"os"}}
    r = run(tasks, models, [WS, OS], scheduler="herald", params={"balance": False}, cost=cost,
            duration_ms=50.0)
    assert set(r.jobs.accelerators) == {"os"}
    # FCFS per sub-accelerator: T1 and T2 queue on OS even though WS is idle
    j = r.jobs.set_index("job")
    assert list(j.start_ms.iloc[:3]) == [0.0, 1.0, 2.0]


# ----------------------------------------------------------------- properties

PARAMS = {
    "rr": st.just({}),
    "edf": st.just({}),
    "sjf": st.just({}),
    "prema": st.fixed_dictionaries({"threshold": st.sampled_from([0.0, 1.0, 4.0, 50.0])}),
    "planaria": st.fixed_dictionaries({"max_fuse": st.integers(0, 3)}),
    "veltair": st.integers(1, 6).flatmap(
        lambda lo: st.fixed_dictionaries({"min_block": st.just(lo), "max_block": st.integers(lo, 12)})),
    "herald": st.fixed_dictionaries({"balance": st.booleans()}),
}


def _check_herald_runs(r, spec):
    """Herald: each block of a static model is one maximal run of layers mapped to its sub-accelerator."""
    from dream.sim.engine import Engine

    eng = Engine(spec.scenario, spec.system, spec.make_policy(), spec.cost_model, spec.sim, dict(spec.catalog))
    pol = eng.policy
    pol.setup(spec.system, eng.tasks, spec.sim)
    names = [a.name for a in spec.system.accelerators]
    for row in r.trace.itertuples():
        rt = eng.tasks[[t.name for t in eng.tasks].index(str(row.task))]
        if rt.dynamic:
            continue
        m = pol.mapping[rt.index]
        a = names.index(str(row.accelerator))
        assert all(m[i] == a for i in range(row.layer_start, row.layer_end))
        assert row.layer_end == len(m) or m[row.layer_end] != a


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scn=scenarios(), scheduler=st.sampled_from(BASELINES), block=st.integers(0, 3),
       seed=st.integers(0, 1000), drop=st.booleans(), data=st.data())
def test_baselines_keep_engine_invariants(scn, scheduler, block, seed, drop, data):
    tasks, models, accs = scn
    params = data.draw(PARAMS[scheduler])
    spec = make_spec(tasks, models, accs, scheduler=scheduler, params=params, duration_ms=120.0,
                     seed=seed, block_size=block, trace=True, context_switch_us=5.0, drop_expired=drop)
    r = simulate_spec(spec)
    check_invariants(r, spec)
    if scheduler == "herald":
        _check_herald_runs(r, spec)
    if scheduler != "planaria":  # only Planaria fuses
        assert not r.trace.duplicated(["job", "start_ms"]).any()
    r2 = simulate_spec(spec)
    pd.testing.assert_frame_equal(r.jobs, r2.jobs)
    pd.testing.assert_frame_equal(r.trace, r2.trace)
