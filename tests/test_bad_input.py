"""Non-finite and wrong-typed config values: refused before anything runs, one line naming the key."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dream.config import build_spec, compose
from dream.errors import ConfigError
from dream.validation import MAX_EXACT_INT, finite_number

ROOT = Path(__file__).resolve().parent.parent


def error_of(overrides: list[str]) -> str:
    with pytest.raises(ConfigError) as exc:
        build_spec(compose(overrides))
    return str(exc.value)


def _dream(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dream.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def _one_line_exit_2(p: subprocess.CompletedProcess, *needles: str) -> None:
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr
    assert p.stderr.strip().count("\n") == 0, p.stderr
    for n in needles:
        assert n in p.stderr, (n, p.stderr)


# -- the shared helper ---------------------------------------------------------------

@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.booleans(),
                 st.text(max_size=3), st.none()),
       st.one_of(st.none(), st.floats(-10, 10)), st.booleans(), st.booleans())
def test_finite_number_never_lets_a_non_finite_or_out_of_range_value_through(value, lo, lo_open, integer):
    try:
        out = finite_number("k.x", value, lo, None if lo is None else lo + 5, lo_open=lo_open,
                            integer=integer)
    except ConfigError as exc:
        assert exc.path == "k.x" and "got" in exc.message
        return
    assert not isinstance(value, (bool, str)) and value is not None
    assert math.isfinite(out) and out == value
    assert isinstance(out, int) if integer else isinstance(out, float)
    if lo is not None:
        assert (out > lo if lo_open else out >= lo) and out <= lo + 5


# -- non-finite numbers (in-process: the validators the CLI and sweeps share) ------------

@pytest.mark.parametrize("override, where", [
    ("hardware.accelerators.1.num_pes=nan", "hardware.accelerators[1].num_pes"),
    ("hardware.accelerators.0.num_pes=inf", "hardware.accelerators[0].num_pes"),
    ("hardware.offchip_bw=nan", "hardware.offchip_bw"),
    ("hardware.accelerators.0.clock_ghz=inf", "hardware.accelerators[0].clock_ghz"),
    ("workload.tasks.0.fps=inf", "workload.tasks[0].fps"),
    ("workload.tasks.0.fps=nan", "workload.tasks[0].fps"),
    ("+workload.tasks.0.deadline_ms=inf", "workload.tasks[0].deadline_ms"),
    ("workload.tasks.1.trigger_prob=nan", "workload.tasks[1].trigger_prob"),
    ("+workload.tasks.0.priority=-inf", "workload.tasks[0].priority"),
    ("+workload.tasks.0.offset_ms=inf", "workload.tasks[0].offset_ms"),
])
def test_non_finite_numbers_are_refused(override, where):
    msg = error_of([override])
    assert msg.startswith(where + ":") and ("finite number" in msg or "integer" in msg), msg


@pytest.mark.parametrize("overrides, where", [
    (["scheduler=prema", "scheduler.threshold=inf"], "scheduler.threshold"),
    (["scheduler=planaria", "scheduler.min_slack_ms=inf"], "scheduler.min_slack_ms"),
    (["scheduler=planaria", "scheduler.max_fuse=nan"], "scheduler.max_fuse"),
    (["scheduler=veltair", "scheduler.max_block=inf"], "scheduler.max_block"),
    (["scheduler=veltair", "scheduler.max_block=1.5"], "scheduler.max_block"),
    (["scheduler=dream", "scheduler.window_ms=inf"], "scheduler.window_ms"),
    (["scheduler=dream", "scheduler.tune_step=nan"], "scheduler.tune_step"),
    (["scheduler=herald", "scheduler.balance=1"], "scheduler.balance"),
])
def test_scheduler_parameters_must_be_finite_and_of_their_type(overrides, where):
    msg = error_of(overrides)
    assert msg.startswith(where + ":"), msg


def test_pe_budget_first_share_must_be_a_number():
    msg = error_of(["hardware=pe_budget", "hardware.first_share=abc"])
    assert msg.startswith("hardware.first_share:") and "finite number" in msg


# -- scalars where a list or mapping is meant -------------------------------------------

@pytest.mark.parametrize("override, where", [
    ("workload.tasks=5", "workload.tasks"),
    ("workload.tasks=abc", "workload.tasks"),
    ("++workload.tasks.0.variants=w0.5", "workload.tasks[0].variants"),
    ("++workload.phases=3", "workload.phases"),
    ("++workload.phases=[{at_ms: 0, active: ES}]", "workload.phases[0].active"),
    ("++workload.phases=[{at_ms: 0, fps: 3}]", "workload.phases[0].fps"),
    ("++workload.models=5", "workload.models"),
    ("hardware.accelerators=5", "hardware.accelerators"),
    ("sim=5", "overrides"),
    ("workload=[1]", "overrides"),
])
def test_scalar_where_a_list_is_meant_names_the_key(override, where):
    msg = error_of([override])
    assert msg.startswith(where + ":"), msg


def test_file_model_variants_and_dynamic_blocks_are_checked(tmp_path):
    f = tmp_path / "m.csv"
    pd.DataFrame({"op": ["conv"] * 3, "K": [8] * 3, "C": [8] * 3, "Y": [4] * 3, "X": [4] * 3,
                  "R": [1] * 3, "S": [1] * 3}).to_csv(f, index=False)
    base = [f"+workload.models.m.file={f}", "workload.tasks=[{name: T, model: m, fps: 10}]"]
    cases = {
        "+workload.models.m.variants=[{width: nan, accuracy: 0.9}]": "workload.models.m.variants[0].width",
        "+workload.models.m.variants=5": "workload.models.m.variants",
        "+workload.models.m.dynamic=[{start: 0, stop: nan, kind: probability}]":
            "workload.models.m.dynamic[0].stop",
        "+workload.models.m.dynamic=[{start: 0, stop: 2, kind: repeat, mean: inf}]":
            "workload.models.m.dynamic[0].mean",
        "+workload.models.m.dynamic=[{start: 0, stop: 2, kind: repeat, max_repeat: 1000000000}]":
            "workload.models.m.dynamic[0].max_repeat",
        "+workload.models.m.dynamic=[{start: 0, stop: 2, kind: probability, p: nan}]":
            "workload.models.m.dynamic[0].p",
    }
    for extra, where in cases.items():
        msg = error_of(base + [extra])
        assert msg.startswith(where + ":"), (extra, msg)


# -- layers too large for the cost model's integers ------------------------------------

def _layer_csv(tmp_path: Path, **dims: float) -> Path:
    row = {"name": "big", "op": "conv", "K": 1, "C": 1, "Y": 1, "X": 1, "R": 1, "S": 1, "stride": 1}
    row.update(dims)
    f = tmp_path / "layers.csv"
    pd.DataFrame([row]).to_csv(f, index=False)
    return f


def test_layer_whose_macs_overflow_int64_is_refused(tmp_path):
    # a 4e6 x 4e6 output of a 1x1 conv with 1000 channels in and out: 1.6e19 MACs wrap int64
    f = _layer_csv(tmp_path, K=1000, C=1000, Y=4_000_000, X=4_000_000)
    p = _dream("costs", f"+workload.models.m.file={f}", "workload.tasks=[{name: T, model: m, fps: 1}]")
    _one_line_exit_2(p, "workload.models.m.file", "row 1 (layer 0)", "MACs")


def test_layer_limits_are_exact(tmp_path):
    from dream.workload.layers import load_layer_table

    n = 2**26  # K * C * Y = 2**52 * 2 = 2**53: the largest allowed
    ok = load_layer_table(_layer_csv(tmp_path, K=n, C=n, Y=2), "w")
    assert int(ok["K"][0]) == n
    with pytest.raises(ConfigError, match="MACs"):
        load_layer_table(_layer_csv(tmp_path, K=n, C=n, Y=2, X=2), "w")
    with pytest.raises(ConfigError, match="inputs"):
        load_layer_table(_layer_csv(tmp_path, Y=2**14, X=2**14, stride=2**13), "w")
    with pytest.raises(ConfigError, match="column K"):
        load_layer_table(_layer_csv(tmp_path, K=float("inf")), "w")
    assert MAX_EXACT_INT == 2**53


# -- end to end: the examples ----------------------------------------------------

def test_cli_nan_pe_count_is_one_line_exit_2():
    p = _dream("costs", "hardware.accelerators.1.num_pes=nan")
    _one_line_exit_2(p, "hardware.accelerators[1].num_pes", "nan")


def test_cli_scalar_task_list_names_the_key():
    p = _dream("costs", "workload.tasks=5")
    _one_line_exit_2(p, "workload.tasks:", "list")


def test_cli_fps_inf_is_refused_before_running(tmp_path):
    p = _dream("run", "workload.tasks.0.fps=inf", "sim.duration_ms=10", f"output={tmp_path / 'o'}")
    _one_line_exit_2(p, "workload.tasks[0].fps", "inf")
    assert not (tmp_path / "o").exists()


def test_cli_table_cost_model_without_path_names_it():
    p = _dream("costs", "cost=table")
    _one_line_exit_2(p, "cost.params.path")
