"""Every config is validated at the edge: one clear message naming the path and what is allowed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from dream.config import build_spec, compose
from dream.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def error_of(overrides: list[str]) -> str:
    with pytest.raises(ConfigError) as exc:
        build_spec(compose(overrides))
    return str(exc.value)


def test_default_config_is_valid():
    spec = build_spec(compose([]))
    assert spec.scenario.name == "vr_gaming" and len(spec.system.accelerators) == 2


@pytest.mark.parametrize("workload", sorted(p.stem for p in (ROOT / "dream/conf/workload").glob("*.yaml")))
def test_every_shipped_workload_is_valid(workload):
    build_spec(compose([f"workload={workload}"]))


@pytest.mark.parametrize("hardware", sorted(p.stem for p in (ROOT / "dream/conf/hardware").glob("*.yaml")))
def test_every_shipped_hardware_is_valid(hardware):
    spec = build_spec(compose([f"hardware={hardware}"]))
    assert spec.system.num_pes in (4096, 8192)


def test_unknown_dataflow():
    msg = error_of(["hardware.accelerators.0.dataflow=XS"])
    assert "hardware.accelerators[0].dataflow" in msg and "'XS'" in msg and "['WS', 'OS', 'RS']" in msg


def test_non_positive_pe_count():
    msg = error_of(["hardware.accelerators.1.num_pes=0"])
    assert "hardware.accelerators[1].num_pes" in msg and "> 0" in msg


def test_unknown_model():
    msg = error_of(["workload.tasks.0.model=resnet9000"])
    assert "workload.tasks[0].model" in msg and "resnet9000" in msg and "ritnet" in msg


def test_non_positive_fps():
    msg = error_of(["workload.tasks.2.fps=0"])
    assert "workload.tasks[2].fps" in msg and "> 0" in msg


def test_probability_outside_unit_interval():
    msg = error_of(["workload.tasks.1.trigger_prob=1.5"])
    assert "workload.tasks[1].trigger_prob" in msg and "[0, 1]" in msg


def test_cascade_to_missing_task():
    msg = error_of(["workload.tasks.1.upstream=XX"])
    assert "workload.tasks[1].upstream" in msg and "'XX'" in msg and "ES" in msg


def test_cascade_cycle():
    msg = error_of(["+workload.tasks.0.upstream=GE"])
    assert "cascade cycle" in msg and ("ES -> GE -> ES" in msg or "GE -> ES -> GE" in msg)


def test_unknown_task_in_phase():
    msg = error_of(["workload=drone_mission", "workload.phases.1.active=[DE,XX]"])
    assert "workload.phases[1].active" in msg and "'XX'" in msg


def test_missing_layer_table(tmp_path):
    msg = error_of([f"+workload.models.mine.file={tmp_path}/nope.csv"])
    assert "workload.models.mine.file" in msg and "does not exist" in msg


def test_malformed_layer_table(tmp_path):
    f = tmp_path / "bad.csv"
    pd.DataFrame({"op": ["conv", "pool"], "K": [8, 8], "C": [3, 8], "Y": [4, 4], "X": [4, 4],
                  "R": [3, 3], "S": [3, 3]}).to_csv(f, index=False)
    msg = error_of([f"+workload.models.mine.file={f}"])
    assert "workload.models.mine.file" in msg and "'pool'" in msg and "conv" in msg
    g = tmp_path / "cols.csv"
    pd.DataFrame({"op": ["conv"], "K": [8]}).to_csv(g, index=False)
    assert "lacks column" in error_of([f"+workload.models.mine.file={g}"])
    h = tmp_path / "neg.csv"
    pd.DataFrame({"op": ["conv"], "K": [-8], "C": [3], "Y": [4], "X": [4], "R": [3], "S": [3]}).to_csv(h, index=False)
    assert "row 1 (layer 0): column K = -8 must" in error_of([f"+workload.models.mine.file={h}"])


def test_user_layer_table_model_runs(tmp_path):
    f = tmp_path / "tiny.parquet"
    pd.DataFrame({"name": ["c1", "c2"], "op": ["conv", "fc"], "K": [16, 10], "C": [3, 16],
                  "Y": [32, 1], "X": [32, 1], "R": [3, 1], "S": [3, 1], "stride": [1, 1]}).to_parquet(f)
    spec = build_spec(compose([f"+workload.models.tiny.file={f}", "workload.tasks.2.model=tiny"]))
    assert spec.catalog["tiny"].layers().shape[0] == 2
    assert [v.name for v in spec.catalog["tiny"].variants] == ["w0.5", "w0.75", "w1.0"]


def test_unknown_scheduler_and_parameter():
    assert "allowed: [" in error_of(["scheduler.name=nope"])
    msg = error_of(["+scheduler.speed=3"])
    assert "scheduler.speed" in msg and "unknown parameter" in msg


def test_unknown_group_option_and_sim_values():
    msg = error_of(["workload=nope"])
    assert "overrides" in msg and "nope" in msg and "available options in 'workload': ar_assistant" in msg
    assert "sim.duration_ms" in error_of(["sim.duration_ms=-1"])
    assert "sim.trace" in error_of(["sim.trace=3"])
    assert "sim.bogus" in error_of(["+sim.bogus=1"])


def _dream(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dream.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_cli_bad_value_exits_2_without_traceback():
    p = _dream("run", "workload.tasks.0.fps=-3", "sim.duration_ms=10")
    assert p.returncode == 2
    assert "Traceback" not in p.stderr and "workload.tasks[0].fps" in p.stderr
    assert p.stderr.strip().count("\n") == 0  # one line


def test_cli_unknown_group_option_exits_2():
    p = _dream("run", "hardware=nope")
    assert p.returncode == 2 and "Traceback" not in p.stderr and "nope" in p.stderr


def test_cli_table_cost_model_missing_entry_exits_2(tmp_path):
    f = tmp_path / "costs.csv"
    pd.DataFrame({"model": ["ritnet"], "layer": [0], "accelerator": ["ws0"],
                  "latency_cycles": [1000.0], "energy_nj": [5.0]}).to_csv(f, index=False)
    for cmd in ("run", "costs"):
        p = _dream(cmd, "cost=table", f"cost.params.path={f}", "sim.duration_ms=10", "output=" + str(tmp_path / "o"))
        assert p.returncode == 2 and "Traceback" not in p.stderr
        assert "no entry for model" in p.stderr and "ws0" in p.stderr and str(f) in p.stderr
    assert not (tmp_path / "o" / "jobs.parquet").exists()
