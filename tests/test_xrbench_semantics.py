"""XRBench's runtime semantics as engine options, each on a hand-computed case.

Sources: XRBench-MAESTRO's runtime (lib/include/heterogeneous-space-exploration/
HET_runtime.hpp, HET_load-generator.hpp, HET_timer.hpp, HET_inference-request.hpp in
github.com/XRBench/XRBench-MLSys2023); docs/engine.md describes each option.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from dream.config import build_spec, compose
from dream.cost.base import CostModel
from dream.errors import ConfigError
from dream.hardware import Accelerator
from dream.workload.scenario import TaskSpec
from simkit import make_spec, model_from_ms, scenarios, simulate_spec

XRB = dict(periods="integer_ms", clock="tick", cascades="gated", stop="last_release",
           drop_expired=True, expiry="after_deadline")


def rows(r, task: str) -> pd.DataFrame:
    return r.jobs[r.jobs.task == task].set_index("frame")


# ------------------------------------------------------------------ periods

def test_integer_ms_periods_and_deadlines():
    # 60 fps: floor(1000 / 60) = 16 ms; deadline = the next nominal release
    models = {"m": model_from_ms("m", [1.0])}
    tasks = [TaskSpec("A", "m", 60.0), TaskSpec("B", "m", 60.0, deadline_ms=5.0)]
    r = simulate_spec(make_spec(tasks, models, duration_ms=50.0, periods="integer_ms"))
    a, b = rows(r, "A"), rows(r, "B")
    np.testing.assert_array_equal(a.release_ms, [0, 16, 32, 48])
    np.testing.assert_array_equal(a.deadline_ms, [16, 32, 48, 64])
    np.testing.assert_array_equal(b.deadline_ms, [5, 21, 37, 53])  # an explicit deadline stays
    exact = simulate_spec(make_spec(tasks, models, duration_ms=50.0))
    np.testing.assert_allclose(rows(exact, "A").release_ms, [0, 1000 / 60, 2000 / 60])


# -------------------------------------------------------------------- clock

def test_tick_clock_releases_of_a_45_fps_task():
    # A: 60 fps, 7 ms; H: 45 fps (integer period 22 ms), 0.5 ms; one sub-accelerator.
    # tick = floor(1000 / 60) = 16 ms. H's slot due at t enters at the first tick or
    # completion at or after t: due 22 -> A1 completes at 23; 44 -> tick 48; 66 -> A4
    # completes at 71; 88 -> tick 96; 110 -> tick 112; 132 -> A8 completes at 135;
    # 154 -> tick 160; 176 -> tick 176.
    models = {"a": model_from_ms("a", [7.0]), "h": model_from_ms("h", [0.5])}
    tasks = [TaskSpec("A", "a", 60.0), TaskSpec("H", "h", 45.0)]
    spec = make_spec(tasks, models, scheduler="latency_greedy", duration_ms=190.0,
                     periods="integer_ms", clock="tick")
    h = rows(simulate_spec(spec), "H")
    np.testing.assert_array_equal(h.release_ms, [0, 23, 48, 71, 96, 112, 135, 160, 176])
    np.testing.assert_array_equal(h.deadline_ms, [22, 44, 66, 88, 110, 132, 154, 176, 198])
    # H2 entered at tick 48 with A3 and queues behind it (A3 runs 48-55)
    assert h.loc[2, "start_ms"] == 55.0 and h.loc[2, "finish_ms"] == 55.5
    # the event clock releases at the nominal times
    ev = rows(simulate_spec(make_spec(tasks, models, scheduler="latency_greedy", duration_ms=190.0,
                                      periods="integer_ms")), "H")
    np.testing.assert_array_equal(ev.release_ms, np.arange(9) * 22.0)


def test_tick_clock_needs_rates_up_to_1000_fps():
    models = {"m": model_from_ms("m", [0.1])}
    for field, value in (("clock", "tick"), ("periods", "integer_ms")):
        spec = make_spec([TaskSpec("A", "m", 1500.0)], models, **{field: value})
        with pytest.raises(ConfigError, match=f"sim.{field}: .*<= 1000"):
            simulate_spec(spec)


# ----------------------------------------------------------------- cascades

def _blocked_upstream(cascades: str, **sim):
    # B (1 fps, 15 ms) holds the only sub-accelerator 0-15, so U0 (100 fps, deadline 10)
    # expires at t=10. D runs at 100 fps gated on U.
    models = {"b": model_from_ms("b", [15.0]), "u": model_from_ms("u", [1.0]), "d": model_from_ms("d", [1.0])}
    tasks = [TaskSpec("B", "b", 1.0), TaskSpec("U", "u", 100.0),
             TaskSpec("D", "d", 100.0, upstream="U", trigger_prob=1.0)]
    sim.setdefault("drop_expired", True)
    return simulate_spec(make_spec(tasks, models, scheduler="latency_greedy", duration_ms=60.0,
                                   cascades=cascades, **sim))


def test_gated_dependent_after_an_upstream_drop():
    # D's slot k (released at 10k, deadline 10k + 10) may start once U has completed
    # k + 1 frames. U0 is dropped at 10, so U's k-th completion is frame k, at 10k + 1
    # (U1 at 16): D_k's gate opens only at U_{k+1}'s completion, after D_k's deadline.
    # Every D frame expires while held: D0 at 10, D1 at 20, ..., D4 at 50; D5 is held
    # at the horizon (unfinished).
    r = _blocked_upstream("gated")
    u, d = rows(r, "U"), rows(r, "D")
    assert list(u.status) == ["dropped"] + ["on_time"] * 5
    np.testing.assert_array_equal(u.finish_ms, [10, 16, 21, 31, 41, 51])
    assert list(d.index) == [0, 1, 2, 3, 4, 5]
    np.testing.assert_array_equal(d.release_ms, [0, 10, 20, 30, 40, 50])
    assert list(d.status) == ["dropped"] * 5 + ["unfinished"]
    np.testing.assert_array_equal(d.finish_ms[:5], [10, 20, 30, 40, 50])
    assert d.start_ms.isna().all()


def test_gated_dependent_without_upstream_drop_follows_its_own_stream():
    # no blocker: U_k completes at 10k + 1, D_k starts right after it (1 ms each)
    models = {"u": model_from_ms("u", [1.0]), "d": model_from_ms("d", [1.0])}
    tasks = [TaskSpec("U", "u", 100.0), TaskSpec("D", "d", 50.0, upstream="U")]
    r = simulate_spec(make_spec(tasks, models, scheduler="latency_greedy", duration_ms=60.0, cascades="gated"))
    d = rows(r, "D")
    # D at 50 fps: slot k at 20k needs k + 1 completed U frames (U frames 0..2k are done)
    np.testing.assert_array_equal(d.release_ms, [0, 20, 40])
    np.testing.assert_array_equal(d.start_ms, [1, 21, 41])
    np.testing.assert_array_equal(d.deadline_ms, [20, 40, 60])


def test_gated_slots_use_their_frame_numbers_whether_or_not_the_coin_hits():
    models = {"u": model_from_ms("u", [0.5]), "d": model_from_ms("d", [0.5])}
    tasks = [TaskSpec("U", "u", 100.0), TaskSpec("D", "d", 100.0, upstream="U", trigger_prob=0.5)]
    r = simulate_spec(make_spec(tasks, models, scheduler="latency_greedy", duration_ms=1000.0,
                                cascades="gated", seed=4))
    d = rows(r, "D")
    assert 30 < len(d) < 70  # about half the 100 slots make a job
    assert d.index.max() > len(d)  # frame numbers skip the slots whose coin missed
    np.testing.assert_array_equal(d.release_ms, d.index.to_numpy() * 10.0)


# ------------------------------------------------------------------- expiry

@pytest.mark.parametrize("expiry, dropped_at", [("at_deadline", 10.0), ("after_deadline", 15.0)])
def test_expiry_compares_deadline_with_now(expiry, dropped_at):
    # U0's deadline is 10 while B holds the sub-accelerator until 15. `<=` drops it at the
    # release instant 10; XRBench's `<` keeps it at 10 and drops it at the next event, 15.
    u = rows(_blocked_upstream("on_completion", expiry=expiry), "U")
    assert u.loc[0, "status"] == "dropped" and u.loc[0, "finish_ms"] == dropped_at
    assert u.loc[1, "status"] == "on_time"


# --------------------------------------------------------------------- stop

def test_last_release_stop():
    # A: 45 fps -> 22 ms, 10 ms jobs; B: 10 fps -> 100 ms, 1 ms. Horizon 100:
    # A releases floor(100 / 22) = 4 frames (0, 22, 44, 66), B floor(100 / 100) = 1.
    # The run ends at 66, after that instant's dispatch: A3 (66-76) is not recorded.
    models = {"a": model_from_ms("a", [10.0]), "b": model_from_ms("b", [1.0])}
    tasks = [TaskSpec("A", "a", 45.0), TaskSpec("B", "b", 10.0)]
    kw = dict(scheduler="latency_greedy", duration_ms=100.0, periods="integer_ms")
    r = simulate_spec(make_spec(tasks, models, stop="last_release", **kw))
    assert list(zip(r.jobs.task, r.jobs.frame)) == [("A", 0), ("B", 0), ("A", 1), ("A", 2)]
    assert (r.jobs.status == "on_time").all() and r.summary["jobs"] == 4
    np.testing.assert_array_equal(r.jobs.finish_ms, [10, 11, 32, 54])
    # utilisation counts busy time up to the stop: 10 + 1 + 10 + 10 ms of the 100 ms
    assert r.summary["acc.a0.utilization"] == pytest.approx(31 / 100)
    # to the horizon: A3 finishes (76) and A4 (88, deadline 110) runs but is not counted
    h = simulate_spec(make_spec(tasks, models, **kw))
    assert len(h.jobs) == 6 and h.summary["jobs"] == 5 and h.summary["dvr"] == 0.0


def test_last_release_stop_with_no_frame_to_release():
    # floor(100 / 1000) = 0 frames: nothing runs
    models = {"m": model_from_ms("m", [1.0])}
    r = simulate_spec(make_spec([TaskSpec("A", "m", 1.0)], models, duration_ms=100.0,
                                periods="integer_ms", stop="last_release"))
    assert len(r.jobs) == 0 and r.summary["jobs"] == 0


# -------------------------------------------------------------- queue order

@pytest.mark.parametrize("order, first", [("release", {"Z": "a0", "A": "a1"}), ("task_name", {"A": "a0", "Z": "a1"})])
def test_latency_greedy_queue_order(order, first):
    # M1, M2 hold both sub-accelerators 0-25. Waiting at 25: Z0 (0.5), A0 (1), A1 (11),
    # Z1 (20.5), A2 (21). Release order sends Z0 then A0; task_name visits the queues
    # A, M1, M2, Z once each per pass: A0 then Z0 (not A0, A1).
    models = {"m": model_from_ms("m", [25.0]), "x": model_from_ms("x", [1.0])}
    tasks = [TaskSpec("M1", "m", 1.0), TaskSpec("M2", "m", 1.0), TaskSpec("Z", "x", 50.0, offset_ms=0.5),
             TaskSpec("A", "x", 100.0, offset_ms=1.0)]
    accs = [Accelerator("a0", "WS", 1), Accelerator("a1", "WS", 1)]
    r = simulate_spec(make_spec(tasks, models, accs, scheduler="latency_greedy", duration_ms=30.0,
                                params={"queue_order": order}))
    at25 = r.jobs[r.jobs.start_ms == 25.0]
    assert dict(zip(at25.task.astype(str), at25.accelerators)) == first
    assert set(zip(at25.task.astype(str), at25.frame)) == {("A", 0), ("Z", 0)}


def test_queue_order_is_validated():
    with pytest.raises(ConfigError, match="queue_order"):
        build_spec(compose(["scheduler=latency_greedy", "scheduler.queue_order=alphabetical"]))


# ----------------------------------------------- XRBench's published schedule

# XRBench's own run of VR gaming on Single_4K WS (XRBench-MLSys2023,
# XRbench_evaluation/eval_data/schedule/schedule_VR_gaming__Single_4K__WS.csv): whole-model
# latency (ms) and energy (as logged, nJ / 1e6) of each model, read off its log.
VR_COST = {"ES_RITNet": (1.503136, 35.329716), "GE_FBNet_C": (4.222037, 34.922195),
           "HT_hand_graph_cnn_half": (8.56168, 207.433304)}


class LoggedCost(CostModel):
    """Each model is one layer with XRBench's logged latency and energy."""

    name = "logged"

    @property
    def key(self):
        return ("logged",)

    def costs(self, layers, acc, model_name, variant=None):
        ms, e = VR_COST[model_name]
        return np.array([ms * 1e6]), np.array([e * 1e6])


def test_reproduces_xrbench_vr_gaming_schedule_and_score():
    models = {n: model_from_ms(n, [1.0]) for n in VR_COST}
    es, ge, ht = VR_COST
    tasks = [TaskSpec(es, es, 60.0), TaskSpec(ge, ge, 60.0, upstream=es), TaskSpec(ht, ht, 45.0)]
    spec = make_spec(tasks, models, [Accelerator("a0", "WS", 4096)], scheduler="latency_greedy",
                     params={"queue_order": "task_name"}, cost=LoggedCost(), duration_ms=700.0, **XRB)
    r = simulate_spec(spec)
    # XRBench's log: 42 ES, 42 GE, 31 HT frames (ES/GE 42 is released at 672, the last
    # release, and still running when the run stops)
    assert r.jobs.task.value_counts().to_dict() == {es: 42, ge: 42, ht: 31}
    h = rows(r, ht)
    # HT1 due 22 enters at tick 32, waits for ES2 and GE2, finishes late: 46.286854 vs 44
    assert h.loc[1, "release_ms"] == 32.0 and h.loc[1, "finish_ms"] == pytest.approx(46.286854, abs=1e-4)
    # HT2 due 44 enters at HT1's completion, deadline 66
    assert h.loc[2, "release_ms"] == pytest.approx(46.286854, abs=1e-4) and h.loc[2, "deadline_ms"] == 66.0
    assert rows(r, ge).loc[3, "start_ms"] == pytest.approx(56.351669, abs=1e-4)
    assert list(h.index[h.status == "late"]) == [1, 4, 9, 12, 17, 20, 25, 28]  # as in its log
    # XRBench's summary: overall 86.466141, ES 0.976447, GE 0.976719, HT 0.743658 x 0.861711
    s = r.summary
    assert s["xrbench_score"] == pytest.approx(86.466141, abs=1e-3)
    assert s[f"task.{es}.xrbench_score"] == pytest.approx(0.976447, abs=1e-5)
    assert s[f"task.{ge}.xrbench_score"] == pytest.approx(0.976719, abs=1e-5)
    assert s[f"task.{ht}.xrbench_score"] == pytest.approx(0.743658 * 0.861711, abs=1e-5)


# ------------------------------------------------------------------ overlay

def _changed(overrides: list[str], base: list[str] = ()) -> dict:
    """The flattened keys whose values `overrides` change against `base`."""
    def flat(d, prefix=""):
        out = {}
        for k, v in d.items():
            out.update(flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
        return out

    a = flat(OmegaConf.to_container(compose(list(base)), resolve=True))
    b = flat(OmegaConf.to_container(compose(list(base) + overrides), resolve=True))
    assert set(a) - set(b) == set()
    return {k: b[k] for k in b if a.get(k, "<absent>") != b[k]}


XRB_SIM = {"sim.duration_ms": 700, "sim.periods": "integer_ms", "sim.clock": "tick",
           "sim.cascades": "gated", "sim.stop": "last_release", "sim.drop_expired": True,
           "sim.expiry": "after_deadline"}


def test_experiment_overlay_sets_exactly_the_xrbench_settings():
    assert _changed(["+experiment=xrbench"]) == {
        "scheduler.name": "latency_greedy", "scheduler.queue_order": "task_name", **XRB_SIM}
    spec = build_spec(compose(["+experiment=xrbench", "workload=ar_assistant", "sim.duration_ms=500"]))
    assert spec.sim.clock == "tick" and spec.scenario.name == "ar_assistant"
    assert spec.sim.duration_ms == 500  # the command line still wins


def test_runtime_overlay_keeps_the_scheduler():
    assert _changed(["+experiment=xrbench_runtime"], ["scheduler=dream"]) == XRB_SIM
    assert build_spec(compose(["+experiment=xrbench_runtime", "scheduler=dream"])).scheduler == "dream"


def test_cli_runs_the_overlay(tmp_path):
    out = tmp_path / "run"
    p = subprocess.run([sys.executable, "-m", "dream.cli", "run", "+experiment=xrbench", f"output={out}"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    jobs = pd.read_parquet(out / "jobs.parquet")
    assert jobs.deadline_ms.max() <= 700 and (jobs.deadline_ms % 1 == 0).all()


# --------------------------------------------------------------- properties

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scn=scenarios(), seed=st.integers(0, 1000),
       opts=st.fixed_dictionaries({k: st.sampled_from([True, False]) for k in XRB}))
def test_xrbench_options_keep_engine_invariants(scn, seed, opts):
    tasks, models, accs = scn
    sim = {k: v for k, v in XRB.items() if opts[k]}
    spec = make_spec(tasks, models, accs, scheduler="latency_greedy", params={"queue_order": "task_name"},
                     duration_ms=150.0, seed=seed, trace=True, **sim)
    r = simulate_spec(spec)
    jobs, tr = r.jobs, r.trace
    assert jobs.job.is_unique
    for _, g in tr.groupby("accelerator", observed=True):
        g = g.sort_values("start_ms")
        assert (g.start_ms.to_numpy()[1:] >= g.end_ms.to_numpy()[:-1] - 1e-9).all()
    started = jobs.dropna(subset=["start_ms"])
    assert (started.start_ms >= started.release_ms - 1e-9).all()
    if sim.get("cascades"):
        # a gated job starts only after its upstream task completed frame + 1 frames
        for t in tasks:
            if t.upstream is None:
                continue
            done = np.sort(jobs[(jobs.task == t.upstream) & jobs.status.isin(["on_time", "late"])].finish_ms)
            for _, row in started[started.task == t.name].iterrows():
                assert len(done) > row.frame and done[int(row.frame)] <= row.start_ms + 1e-9
    if sim.get("stop"):
        assert not (jobs.status == "unfinished").any()  # jobs live at the stop are not recorded
    r2 = simulate_spec(spec)
    pd.testing.assert_frame_equal(r.jobs, r2.jobs)
