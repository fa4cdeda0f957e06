"""DREAM: hand-computed cases for every term and switch, tuning, and engine invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dream
from dream.errors import ConfigError
from dream.hardware import Accelerator
from dream.schedulers import make_policy
from dream.schedulers.dream import Dream
from dream.schedulers.dream_tuner import LIN, LOG, Coordinate, WindowTuner
from dream.sim.engine import Engine
from dream.workload.model import ModelDef, Variant
from dream.workload.scenario import Phase, TaskSpec
from simkit import LinearCost, check_invariants, make_spec, model_from_ms, ms_layers, scenarios, simulate_spec

OFF = {"tune": False}  # most cases pin the parameters


def run(spec):
    """Run a spec with a policy object we keep, to inspect its state afterwards."""
    policy = spec.make_policy()
    raw = Engine(spec.scenario, spec.system, policy, spec.cost_model, spec.sim, dict(spec.catalog)).run()
    return raw.jobs.to_pandas().set_index("job"), policy


def by_task(jobs, task):
    return jobs[jobs.task == task].iloc[0]


def supernet_model(name: str, full_ms: float) -> ModelDef:
    """One layer whose latency scales with the width: w0.5 takes half of w1.0.

    (simkit.model_from_ms builds 1-channel layers, which width scaling leaves alone, so
    its variants all cost the same; here the build function scales the milliseconds.)
    """
    return ModelDef(name=name, task=name, build=lambda w: ms_layers([full_ms * w]),
                    variants=(Variant("w0.5", 0.5, 0.9), Variant("w1.0", 1.0, 1.0)))


# ------------------------------------------------------------------- frame drop

def _hopeless_spec(scheduler: str, params: dict | None = None):
    # one sub-accelerator. t=0: H (9 ms, deadline 100) and U (6 ms, deadline 5) released;
    # U cannot make its deadline even alone (0 + 6 > 5). U -> D cascades with p = 1.
    models = {"h": model_from_ms("h", [9.0]), "u": model_from_ms("u", [6.0]),
              "d": model_from_ms("d", [1.0])}
    tasks = [TaskSpec("H", "h", 10.0), TaskSpec("U", "u", 10.0, deadline_ms=5.0),
             TaskSpec("D", "d", 10.0, deadline_ms=5.0, upstream="U", trigger_prob=1.0)]
    return make_spec(tasks, models, scheduler=scheduler, params=params, duration_ms=50.0)


def test_drops_hopeless_frame_and_its_child_never_appears():
    jobs, pol = run(_hopeless_spec("dream", OFF))
    u, h = by_task(jobs, "U"), by_task(jobs, "H")
    assert u.status == "dropped" and u.finish_ms == pytest.approx(0.0) and u.energy_nj == 0
    assert (jobs.task == "D").sum() == 0  # the cascaded child never exists
    assert (h.start_ms, h.finish_ms, h.status) == (0.0, pytest.approx(9.0), "on_time")
    # the saved work counts the child: U's 6 ms + p=1 x D's 1 ms
    assert pol.drops == 1 and pol.saved_ms == pytest.approx(7.0)
    # FCFS runs H [0, 9], then U [9, 15] late, then its child D [15, 16] late
    f = simulate_spec(_hopeless_spec("fcfs")).jobs.set_index("job")
    assert by_task(f, "U").status == "late" and by_task(f, "U").finish_ms == pytest.approx(15.0)
    assert by_task(f, "D").status == "late" and by_task(f, "D").finish_ms == pytest.approx(16.0)


def test_drop_switch_off_runs_the_hopeless_frame():
    jobs, pol = run(_hopeless_spec("dream", {**OFF, "drop": False}))
    assert (jobs.status == "dropped").sum() == 0 and pol.drops == 0
    # urgency: U (6 / 5 -> 1) goes before H (9 / 100): U [0, 6] late, D [6, 7] late, H [7, 16]
    u, d, h = by_task(jobs, "U"), by_task(jobs, "D"), by_task(jobs, "H")
    assert u.status == "late" and u.finish_ms == pytest.approx(6.0)
    assert d.status == "late" and d.finish_ms == pytest.approx(7.0)
    assert h.finish_ms == pytest.approx(16.0)


def test_drop_threshold_tolerates_small_predicted_lateness():
    # predicted lateness of U = 1 ms = 0.2 relative deadlines: kept with threshold 0.25
    jobs, _ = run(_hopeless_spec("dream", {**OFF, "drop_threshold": 0.25}))
    assert by_task(jobs, "U").status == "late"


# --------------------------------------------------------------------- supernet

def _supernet_spec(with_load: bool, params: dict):
    # S: 6 ms full / 3 ms half, deadline 10. Q: 5 ms, deadline 9.5 (earlier than S's).
    # At t=0 S scores higher (U = 6/10 > 5/9.5) and starts first; Q is queued ahead of
    # it by deadline, so S's slack left is 10 - 5 = 5 ms: only w0.5 (3 ms) fits.
    models = {"s": supernet_model("s", 6.0), "q": model_from_ms("q", [5.0])}
    tasks = [TaskSpec("S", "s", 10.0, deadline_ms=10.0)]
    if with_load:
        tasks.append(TaskSpec("Q", "q", 10.0, deadline_ms=9.5))
    return make_spec(tasks, models, scheduler="dream", params=params, duration_ms=50.0)


def test_supernet_full_variant_when_idle():
    jobs, _ = run(_supernet_spec(False, OFF))
    s = by_task(jobs, "S")
    assert (s.variant, s.accuracy, s.finish_ms) == ("w1.0", 1.0, pytest.approx(6.0))


def test_supernet_smaller_variant_under_load():
    jobs, _ = run(_supernet_spec(True, OFF))
    s, q = by_task(jobs, "S"), by_task(jobs, "Q")
    assert (s.variant, s.accuracy) == ("w0.5", 0.9)
    assert s.finish_ms == pytest.approx(3.0) and q.finish_ms == pytest.approx(8.0)
    assert s.status == q.status == "on_time"


def test_supernet_switch_off_runs_the_full_variant():
    jobs, _ = run(_supernet_spec(True, {**OFF, "supernet": False}))
    s, q = by_task(jobs, "S"), by_task(jobs, "Q")
    assert s.variant == "w1.0" and s.finish_ms == pytest.approx(6.0)
    # at t=6 Q (5 ms) can no longer make 9.5: dropped
    assert q.status == "dropped" and q.finish_ms == pytest.approx(6.0)


# ------------------------------------------------------------------ score terms

def test_urgency_nearly_due_job_beats_earlier_request():
    # R (task 0, earlier request): 2 ms, deadline 100; N: 2 ms, deadline 3. Both at t=0.
    models = {"m": model_from_ms("m", [2.0])}
    tasks = [TaskSpec("R", "m", 10.0, deadline_ms=100.0), TaskSpec("N", "m", 10.0, deadline_ms=3.0)]
    jobs, _ = run(make_spec(tasks, models, scheduler="dream", params=OFF, duration_ms=50.0))
    r, n = by_task(jobs, "R"), by_task(jobs, "N")
    assert r.name < n.name  # R is the earlier request
    assert (n.start_ms, n.finish_ms, n.status) == (0.0, pytest.approx(2.0), "on_time")
    assert r.start_ms == pytest.approx(2.0)
    # FCFS serves the earlier request first and N misses its deadline
    f = simulate_spec(make_spec(tasks, models, duration_ms=50.0)).jobs
    assert by_task(f, "N").status == "late"


def test_ties_go_to_the_earliest_request():
    models = {"m": model_from_ms("m", [2.0])}
    tasks = [TaskSpec("A", "m", 10.0), TaskSpec("B", "m", 10.0)]
    jobs, _ = run(make_spec(tasks, models, scheduler="dream", params=OFF, duration_ms=50.0))
    assert by_task(jobs, "A").start_ms == 0.0 and by_task(jobs, "B").start_ms == pytest.approx(2.0)


@pytest.mark.parametrize("order", [("ws", "os"), ("os", "ws")])
@pytest.mark.parametrize("params", [{}, {"use_preference": False}, {"beta": 0.0},
                                    {"alpha": 0.0, "beta": 0.0}])
def test_preference_sends_a_job_where_its_layer_is_faster(params, order):
    # a 4 ms layer on WS runs in 1 ms on OS. With beta > 0 the Preference term sends the
    # job to OS. Without it both pairs score U alone (no wait yet): the tie goes to the
    # higher Preference, OS again, not to whichever sub-accelerator is listed first
    # (the tie rule that made beta = 0 jump away from beta -> 0+, docs/dream.md "Beta")
    accs = [Accelerator(n, n.upper(), 1) for n in order]
    models = {"m": model_from_ms("m", [4.0])}
    spec = make_spec([TaskSpec("A", "m", 10.0)], models, accs, scheduler="dream",
                     params={**OFF, **params},
                     cost=LinearCost(speed={"WS": 1.0, "OS": 4.0, "RS": 1.0}), duration_ms=50.0)
    a = by_task(run(spec)[0], "A")
    assert a.accelerators == "os"
    assert a.finish_ms == pytest.approx(1.0)


class ModelSpeedCost(LinearCost):
    """LinearCost with a speed per (model, dataflow): jobs can prefer different dataflows."""

    def __init__(self, speed: dict[tuple[str, str], float]) -> None:
        super().__init__()
        self.by_model = speed

    @property
    def key(self):
        return ("model_speed", tuple(sorted(self.by_model.items())))

    def costs(self, layers, acc, model_name, variant=None):
        lat, en = super().costs(layers, acc, model_name, variant)
        return lat / self.by_model.get((model_name, acc.dataflow), 1.0), en


@pytest.mark.parametrize("offset", [0.0, 0.5])  # 0: several idle (pair sort); 0.5: one idle
@pytest.mark.parametrize("beta", [0.0, 0.5])
def test_equal_scores_go_to_the_higher_preference_not_the_earlier_request(beta, offset):
    # X (10 ms on OS, 40 on WS, urgent) takes OS at t=0. A and B (1 ms on their best
    # sub-accelerator, same deadline: equal U, and F = 0 at release) are released at
    # `offset` and compete for WS, where A is 4x slower (P = 0.25) and B as fast (P = 1).
    # beta > 0: B's Preference term wins. beta = 0: the scores tie and the higher
    # Preference still sends B, although A is the earlier request.
    accs = [Accelerator("os", "OS", 1), Accelerator("ws", "WS", 1)]
    models = {n: model_from_ms(n, [4.0 if n == "x" else 1.0]) for n in ("x", "a", "b")}
    cost = ModelSpeedCost({("x", "OS"): 0.4, ("x", "WS"): 0.1, ("a", "WS"): 0.25})
    tasks = [TaskSpec("X", "x", 10.0, deadline_ms=20.0),
             TaskSpec("A", "a", 10.0, deadline_ms=50.0, offset_ms=offset),
             TaskSpec("B", "b", 10.0, deadline_ms=50.0, offset_ms=offset)]
    jobs, _ = run(make_spec(tasks, models, accs, scheduler="dream", cost=cost, duration_ms=60.0,
                            params={**OFF, "beta": beta, "supernet": False}))
    x, a, b = (by_task(jobs, t) for t in "XAB")
    assert a.name < b.name  # A is the earlier request
    assert (x.accelerators, x.start_ms, x.finish_ms) == ("os", 0.0, pytest.approx(10.0))
    assert (b.accelerators, b.start_ms, b.finish_ms) == ("ws", offset, pytest.approx(offset + 1.0))
    assert a.start_ms >= b.finish_ms


def test_preference_pairs_two_jobs_by_score():
    # two jobs, two idle sub-accelerators: the more urgent job takes the fast OS one
    accs = [Accelerator("ws", "WS", 1), Accelerator("os", "OS", 1)]
    models = {"m": model_from_ms("m", [4.0])}
    tasks = [TaskSpec("R", "m", 10.0, deadline_ms=100.0), TaskSpec("N", "m", 10.0, deadline_ms=5.0)]
    spec = make_spec(tasks, models, accs, scheduler="dream", params=OFF,
                     cost=LinearCost(speed={"WS": 1.0, "OS": 4.0, "RS": 1.0}), duration_ms=50.0)
    jobs, _ = run(spec)
    assert by_task(jobs, "N").accelerators == "os" and by_task(jobs, "R").accelerators == "ws"


@pytest.mark.parametrize("use_fairness, w_start", [(True, 2.0), (False, 4.0)])
def test_fairness_lets_a_waiting_job_in(use_fairness, w_start):
    # L: two 2 ms layers, deadline 100; W: one 1 ms layer, deadline 200; both at t=0.
    # t=0: L is more urgent (4/100 > 1/200) and runs a layer. t=2: L has just run
    # (F = 0), W has waited 2 ms = 2 of its layers (F = 2): with alpha = 1, W goes first.
    models = {"l": model_from_ms("l", [2.0, 2.0]), "w": model_from_ms("w", [1.0])}
    tasks = [TaskSpec("L", "l", 5.0, deadline_ms=100.0), TaskSpec("W", "w", 5.0, deadline_ms=200.0)]
    jobs, _ = run(make_spec(tasks, models, scheduler="dream", duration_ms=50.0,
                            params={**OFF, "use_fairness": use_fairness}))
    l, w = by_task(jobs, "L"), by_task(jobs, "W")
    assert l.start_ms == 0.0 and w.start_ms == pytest.approx(w_start)
    assert l.preemptions == (1 if use_fairness else 0)
    assert l.finish_ms == pytest.approx(5.0 if use_fairness else 4.0)


def test_block_size_parameter_sets_the_dispatch_unit():
    models = {"m": model_from_ms("m", [1.0, 1.0, 1.0, 1.0])}
    for size, blocks in ((None, 4), (2, 2), (0, 1)):
        jobs, _ = run(make_spec([TaskSpec("A", "m", 10.0)], models, scheduler="dream",
                                params={**OFF, "block_size": size}, duration_ms=50.0))
        assert by_task(jobs, "A").blocks == blocks


# ---------------------------------------------------------------------- tuning

def _phase_spec(params: dict):
    # phase 0: T1 alone (4 ms every 5 ms, no violation); from t=300 T2 joins: overload
    models = {"m": model_from_ms("m", [2.0, 2.0])}
    tasks = [TaskSpec("T1", "m", 200.0), TaskSpec("T2", "m", 200.0)]
    phases = [Phase(0.0, ("T1",)), Phase(300.0, ("T1", "T2"))]
    return make_spec(tasks, models, scheduler="dream", params=params, phases=phases, duration_ms=600.0)


def test_tuner_moves_alpha_or_beta_within_a_few_windows_after_a_phase_change():
    jobs, pol = run(_phase_spec({"window_ms": 50.0}))
    hist = pol.history
    t0, a0, b0, _ = hist[0]
    assert t0 == 0.0 and (a0, b0) == (1.0, 0.5)
    # phase 0 has no violation: the tuner does not explore
    assert all(t > 300.0 for t, *_ in hist[1:])
    # the first window after the phase (300-350) is measured, then alpha moves
    moved = [(t, a, b) for t, a, b, _ in hist[1:] if (a, b) != (a0, b0)]
    assert moved and 300.0 < moved[0][0] <= 300.0 + 3 * 50.0
    assert moved[0][1] == pytest.approx(1.5)  # x (1 + tune_step)
    assert pol.tuner.costs and all(c > 0 for _, c in pol.tuner.costs)


def test_tune_switch_off_keeps_parameters():
    _, pol = run(_phase_spec({"window_ms": 50.0, "tune": False}))
    assert pol.history == [(0.0, 1.0, 0.5, 0.0)] and pol.tuner is None


def test_tuner_rule_keeps_improvements_and_undoes_failures():
    c = [Coordinate("alpha", 1.0, LOG, np.log(2.0), 1e-6, 1e6),
         Coordinate("thr", 0.0, LIN, 0.1, -1.0, 10.0)]
    t = WindowTuner(c, 10.0)

    def window(n, viol, energy_nj, now):
        for i in range(n):
            t.observe(energy_nj, i < viol)
        return t.close(now)

    assert window(10, 5, 1e6, 10.0)  # base cost 1 mJ x 0.5; then alpha x 2
    assert c[0].value == pytest.approx(2.0) and t.trial == (0, 1.0)
    assert window(10, 2, 1e6, 20.0)  # better: kept, alpha x 2 again
    assert c[0].value == pytest.approx(4.0) and t.base == pytest.approx(0.2)
    assert window(10, 8, 1e6, 30.0)  # worse: undo to 2, reverse, halve; try thr + 0.1
    assert c[0].value == pytest.approx(2.0) and c[0].direction == -1.0
    assert c[0].step == pytest.approx(np.log(2.0) / 2)
    assert c[1].value == pytest.approx(0.1)
    assert not window(0, 0, 0.0, 40.0)  # no job ended: nothing compared, nothing moves
    assert c[1].value == pytest.approx(0.1)
    t.reset(45.0)
    assert t.base is None and c[0].step == c[0].step0 and t.window_end == 55.0
    assert c[0].value == pytest.approx(2.0)  # the search restarts from where it is


# ------------------------------------------------------------------ validation

@pytest.mark.parametrize("params", [
    {"alpha": -0.1}, {"beta": float("nan")}, {"drop_threshold": -2.0}, {"window_ms": 0.0},
    {"tune_step": 0.0}, {"block_size": -1}, {"block_size": 1.5}, {"drop": 1},
])
def test_out_of_range_parameters_are_rejected(params):
    with pytest.raises(ValueError):
        Dream(**params)
    with pytest.raises(ConfigError):
        make_policy("dream", params)


def test_config_group_composes_with_every_parameter():
    cfg = dream.compose(["scheduler=dream", "scheduler.alpha=0.5", "scheduler.block_size=2"])
    pol = make_policy("dream", {k: v for k, v in cfg.scheduler.items() if k != "name"})
    assert pol.params() == {"alpha": 0.5, "beta": 0.5, "drop_threshold": 0.0, "use_fairness": True,
                            "use_preference": True, "drop": True, "supernet": True, "tune": True,
                            "window_ms": 100.0, "tune_step": 0.5, "block_size": 2}
    assert pol.preemptive


# ------------------------------------------------------------------ properties

def _check_dream_invariants(r, spec):
    """The engine's invariants, plus DREAM's: drops only after release, known variants."""
    check_invariants(r, spec)
    jobs = r.jobs
    dropped = jobs[jobs.status == "dropped"]
    assert (dropped.finish_ms >= dropped.release_ms - 1e-9).all()
    assert set(jobs.variant.dropna()) <= {"", "w0.5", "w1.0"}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scn=scenarios(), block=st.integers(0, 3), seed=st.integers(0, 1000),
       flags=st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans()),
       dream_block=st.sampled_from([None, 0, 1, 2]), threshold=st.sampled_from([-0.5, 0.0, 0.5]))
def test_dream_engine_invariants_and_determinism(scn, block, seed, flags, dream_block, threshold):
    tasks, models, accs = scn
    drop, supernet, tune, fair = flags
    params = {"drop": drop, "supernet": supernet, "tune": tune, "use_fairness": fair,
              "window_ms": 15.0, "block_size": dream_block, "drop_threshold": threshold}
    spec = make_spec(tasks, models, accs, scheduler="dream", params=params, duration_ms=120.0,
                     seed=seed, block_size=block, trace=True, context_switch_us=5.0)
    r = simulate_spec(spec)
    _check_dream_invariants(r, spec)
    if not drop:
        assert (r.jobs.status != "dropped").all()
    r2 = simulate_spec(spec)
    pd.testing.assert_frame_equal(r.jobs, r2.jobs)
    pd.testing.assert_frame_equal(r.trace, r2.trace)
