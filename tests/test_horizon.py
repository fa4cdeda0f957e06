"""Events at the horizon, and the bounds on sim values (no run that never ends)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dream.config import build_spec, compose
from dream.errors import ConfigError
from dream.workload.scenario import TaskSpec
from simkit import make_spec, model_from_ms, scenarios, simulate_spec


def test_job_finishing_exactly_at_the_horizon_is_on_time():
    # 100 fps, one 10 ms layer, 100 ms: frame 9 runs 90-100 with deadline 100
    r = simulate_spec(make_spec([TaskSpec("T", "m", 100.0)], {"m": model_from_ms("m", [10.0])},
                                duration_ms=100.0, trace=True))
    assert r.summary["jobs"] == 10 and r.summary["on_time"] == 10 and r.summary["dvr"] == 0.0
    last = r.jobs.iloc[-1]
    assert (last.frame, last.finish_ms, last.status) == (9, 100.0, "on_time")
    assert r.summary["acc.a0.utilization"] == 1.0
    assert r.summary["energy_mj"] == pytest.approx(10 * 10e6 * 1e-3 / 1e6)


def _two_blocks_and_child(duration_ms: float):
    # T: 50 fps, layers 5 + 5 ms (one block each); C: cascaded from T, 1 ms. One
    # sub-accelerator: T_k runs 20k..20k+10, C_k 20k+10..20k+11.
    models = {"m": model_from_ms("m", [5.0, 5.0]), "c": model_from_ms("c", [1.0])}
    tasks = [TaskSpec("T", "m", 50.0), TaskSpec("C", "c", 50.0, upstream="T")]
    return simulate_spec(make_spec(tasks, models, duration_ms=duration_ms, trace=True))


def test_no_cascaded_release_at_the_horizon():
    # T4 finishes exactly at the horizon 90: it completes; its child would be released at
    # 90 and is not (nothing is released at or after the horizon)
    r = _two_blocks_and_child(90.0)
    t4 = r.jobs[(r.jobs.task == "T") & (r.jobs.frame == 4)].iloc[0]
    assert (t4.finish_ms, t4.status) == (90.0, "on_time")
    assert list(r.jobs[r.jobs.task == "C"].frame) == [0, 1, 2, 3]


def test_block_ending_at_the_horizon_completes_but_nothing_starts():
    # horizon 85: T4's first block (80-85) completes and its energy counts; the second
    # block does not start, so T4 is unfinished with one layer done
    r = _two_blocks_and_child(85.0)
    t4 = r.jobs[(r.jobs.task == "T") & (r.jobs.frame == 4)].iloc[0]
    assert (t4.status, t4.layers, t4.blocks) == ("unfinished", 1, 1)
    assert t4.energy_nj == pytest.approx(5e6 * 1e-3)
    assert r.trace.start_ms.max() == 80.0 and r.trace.end_ms.max() == 85.0


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scn=scenarios(), scheduler=st.sampled_from(["fcfs", "edf", "latency_greedy"]),
       horizon=st.sampled_from([10.0, 25.0, 40.0]), seed=st.integers(0, 100))
def test_nothing_happens_after_the_horizon(scn, scheduler, horizon, seed):
    tasks, models, accs = scn
    r = simulate_spec(make_spec(tasks, models, accs, scheduler=scheduler, duration_ms=horizon,
                                seed=seed, trace=True))
    j, tr = r.jobs, r.trace
    assert (j.release_ms < horizon).all()
    assert (j.start_ms.dropna() < horizon).all()
    assert (tr.start_ms < horizon).all() and (tr.end_ms <= horizon + 1e-9).all()
    done = j[j.status.isin(["on_time", "late"])]
    assert (done.finish_ms <= horizon + 1e-9).all()
    assert (j[j.status == "dropped"].finish_ms < horizon).all()
    # utilisation never exceeds the window
    assert all(r.summary[f"acc.{a.name}.utilization"] <= 1 + 1e-9 for a in accs)


@pytest.mark.parametrize("override, message", [
    ("sim.duration_ms=inf", "sim.duration_ms: must be > 0 and <= 3600000 ms"),
    ("sim.duration_ms=1e12", "sim.duration_ms: must be > 0 and <= 3600000 ms"),
    ("sim.duration_ms=nan", "sim.duration_ms: must be > 0 and <= 3600000 ms"),
    ("sim.duration_ms=0", "sim.duration_ms: must be > 0 and <= 3600000 ms"),
    ("sim.warmup_ms=nan", "sim.warmup_ms: must lie in [0, duration_ms)"),
    ("sim.warmup_ms=inf", "sim.warmup_ms: must lie in [0, duration_ms)"),
    ("sim.context_switch_us=nan", "sim.context_switch_us: must be >= 0 and <= 1000000 us"),
    ("sim.context_switch_us=inf", "sim.context_switch_us: must be >= 0 and <= 1000000 us"),
    ("sim.context_switch_us=-1", "sim.context_switch_us: must be >= 0 and <= 1000000 us"),
    ("sim.seed=-1", "sim.seed: must lie in [0, 2**63)"),
    ("sim.clock=ticks", "sim.clock: must be one of ['event', 'tick']"),
    ("sim.periods=true", "sim.periods: must be one of ['exact', 'integer_ms']"),
    ("sim.stop=end", "sim.stop: must be one of ['horizon', 'last_release']"),
    ("sim.cascades=gate", "sim.cascades: must be one of ['on_completion', 'gated']"),
    ("sim.expiry=0", "sim.expiry: must be one of ['at_deadline', 'after_deadline']"),
])
def test_sim_values_are_bounded(override, message):
    with pytest.raises(ConfigError) as exc:
        build_spec(compose([override]))
    assert str(exc.value).startswith(message)


def test_largest_horizon_is_accepted():
    assert build_spec(compose(["sim.duration_ms=3600000"])).sim.duration_ms == 3600000


def test_cli_infinite_horizon_exits_2_with_one_line(tmp_path):
    p = subprocess.run([sys.executable, "-m", "dream.cli", "run", "sim.duration_ms=inf", f"output={tmp_path / 'o'}"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "sim.duration_ms" in lines[0] and "3600000" in lines[0]
    assert "Traceback" not in p.stderr
