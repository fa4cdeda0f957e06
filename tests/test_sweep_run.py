"""Running sweeps serially: rows and metadata, failures, resume, retry, a killed driver, gather."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from dream.config import build_spec, compose
from dream.dataset import (TIMING_COLUMNS, compact, parquet_files, read_dataset, read_metadata,
                           stored_status)
from dream.sweep.plan import make_plan
from dream.sweep.runner import SweepOptions, run_sweep
from dream.sweep.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def write_spec(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def sweep(spec: Path | str, out: Path, *extra: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`dream sweep` in a subprocess (serial unless told otherwise)."""
    args = [PY, "-m", "dream.cli", "sweep", str(spec), "--out", str(out), "--no-progress", *extra]
    if "--executor" not in extra:
        args += ["--executor", "serial"]
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=timeout)


def raw_rows(out: Path) -> pd.DataFrame:
    """Every stored row, without read_dataset's one-row-per-key guarantee."""
    return read_dataset(out, dedupe=False)


def cost_tables(tmp: Path) -> tuple[Path, Path]:
    """A complete per-layer cost table for vr_gaming on dual_4k_ws_os, and one missing an entry."""
    spec = build_spec(compose([]))
    rows = []
    for task in spec.scenario.tasks:
        model = spec.catalog[task.model]
        for v in model.variants:
            layers = model.layers(v.name)
            for acc in spec.system.accelerators:
                lat, en = spec.cost_model.costs(layers, acc, model.name, v.name)
                rows += [{"model": model.name, "variant": v.name, "layer": i, "accelerator": acc.name,
                          "latency_cycles": lat[i], "energy_nj": en[i]} for i in range(len(layers))]
    full = pd.DataFrame(rows).drop_duplicates(["model", "variant", "layer", "accelerator"])
    good, bad = tmp / "good.csv", tmp / "missing.csv"
    full.to_csv(good, index=False)
    hand = full["model"] == "hand_graph_cnn"
    full[~(hand & (full["layer"] == 3) & (full["accelerator"] == "os0"))].to_csv(bad, index=False)
    return good, bad


SMALL = """name: small
overrides: [sim.duration_ms=100]
grid:
  scheduler: fcfs,latency_greedy
  sim.seed: range(0,3)
  sim.context_switch_us: 1.0,2.5
"""


def test_serial_sweep_rows_and_metadata(tmp_path):
    spec = write_spec(tmp_path / "small.yaml", SMALL)
    out = tmp_path / "out"
    res = sweep(spec, out)
    assert res.returncode == 0, res.stderr
    df = read_dataset(out)
    plan = make_plan(load_spec(spec))
    assert sorted(df["run_key"]) == sorted(plan.keys) and len(df) == 12
    assert (df["status"] == "ok").all() and df["error"].isna().all()
    for col in ("workload", "hardware", "scheduler", "seed", "sim.seed", "sim.context_switch_us",
                "jobs", "dvr", "energy_mj", "uxcost", "task.ES.dvr", "acc.ws0.utilization", "wall_s"):
        assert col in df.columns, col
    assert set(df["workload"]) == {"vr_gaming"} and set(df["hardware"]) == {"dual_4k_ws_os"}
    assert (df["seed"] == df["sim.seed"]).all()
    assert df["sim.context_switch_us"].dtype == float and df["sim.seed"].dtype == "int64"
    # a row's metrics are exactly what simulating its config alone gives
    from dream.api import simulate

    row = df[(df["scheduler"] == "latency_greedy") & (df["seed"] == 2)
             & (df["sim.context_switch_us"] == 2.5)].iloc[0]
    alone = simulate(["sim.duration_ms=100", "scheduler=latency_greedy", "sim.seed=2",
                      "sim.context_switch_us=2.5"]).summary
    for k in ("jobs", "dvr", "energy_mj", "uxcost", "task.HT.latency_p99_ms"):
        assert row[k] == alone[k], k
    meta = read_metadata(out)
    assert meta["name"] == "small" and meta["spec"]["grid"]["sim.seed"] == "range(0,3)"
    assert meta["version"] and meta["git_revision"] and meta["base_config"]["sim"]["duration_ms"] == 100
    kv = pq.read_schema(parquet_files(out)[0]).metadata[b"dream.sweep"]
    assert json.loads(kv)["name"] == "small"
    # no temporary files left behind
    assert not [p for p in out.rglob("*") if p.name.startswith(".tmp-")]


def test_resume_skips_stored_points(tmp_path):
    spec = write_spec(tmp_path / "small.yaml", SMALL)
    out = tmp_path / "out"
    assert sweep(spec, out).returncode == 0
    files = parquet_files(out)
    again = sweep(spec, out)
    assert again.returncode == 0 and "0 ran" in again.stdout and "12 already stored" in again.stdout
    assert parquet_files(out) == files
    # growing the spec runs only the new points
    grown = write_spec(tmp_path / "small.yaml", SMALL.replace("range(0,3)", "range(0,4)"))
    more = sweep(grown, out)
    assert more.returncode == 0 and "4 ran" in more.stdout
    assert len(raw_rows(out)) == 16 and raw_rows(out)["run_key"].is_unique


def test_no_resume_reruns_and_keeps_one_row_per_key(tmp_path):
    spec = write_spec(tmp_path / "small.yaml", SMALL)
    out = tmp_path / "out"
    assert sweep(spec, out).returncode == 0
    res = sweep(spec, out, "--no-resume")
    assert res.returncode == 0 and "12 ran" in res.stdout
    raw = raw_rows(out)
    assert len(raw) == 12 and raw["run_key"].is_unique


def test_failing_points_become_rows_and_exit_1(tmp_path):
    good, bad = cost_tables(tmp_path)
    spec = write_spec(tmp_path / "costs.yaml", f"""name: costs
overrides: [sim.duration_ms=100, cost=table]
grid:
  cost.params.path: ["{good}", "{bad}"]
  sim.seed: 0,1
""")
    out = tmp_path / "out"
    res = sweep(spec, out)
    assert res.returncode == 1, res.stderr
    df = read_dataset(out)
    assert len(df) == 4
    failed = df[df["status"] == "failed"]
    assert set(failed["cost.params.path"]) == {str(bad)} and len(failed) == 2
    assert failed["error"].str.startswith("ConfigError: ").all()
    assert failed["error"].str.contains("no entry for model 'hand_graph_cnn'").all()
    assert failed["jobs"].isna().all()
    ok = df[df["status"] == "ok"]
    assert len(ok) == 2 and ok["error"].isna().all() and (ok["jobs"] > 0).all()
    assert "2 point(s) failed" in res.stdout and "2 x ConfigError" in res.stdout
    assert "Traceback" not in res.stderr

    # a rerun keeps the failed rows and still says the study is incomplete
    again = sweep(spec, out)
    assert again.returncode == 1 and "0 ran" in again.stdout and "--retry-failed" in again.stdout

    # fix the table (same path, so the same run keys) and retry only the failed points
    bad.write_text(good.read_text())
    retry = sweep(spec, out, "--retry-failed")
    assert retry.returncode == 0, retry.stdout + retry.stderr
    assert "2 ran" in retry.stdout
    raw = raw_rows(out)
    assert len(raw) == 4 and raw["run_key"].is_unique and (raw["status"] == "ok").all()


def test_fail_fast_stops_at_the_first_failure(tmp_path):
    good, bad = cost_tables(tmp_path)
    spec = write_spec(tmp_path / "ff.yaml", f"""name: ff
overrides: [sim.duration_ms=100, cost=table]
grid:
  cost.params.path: ["{bad}", "{good}"]
  sim.seed: range(0,6)
""")
    out = tmp_path / "out"
    res = sweep(spec, out, "--fail-fast")
    assert res.returncode == 1 and "--fail-fast" in res.stdout
    df = read_dataset(out)
    assert len(df) == 1 and df["status"].tolist() == ["failed"]


def test_reader_keeps_ok_then_newest_and_compact_rewrites(tmp_path):
    from dream.sweep.sink import rows_to_table
    from dream.dataset import claim, write_table_atomic

    claim(tmp_path)  # compaction rewrites only a marked dataset's own part files
    base = {"workload": "w", "hardware": "h", "scheduler": "s", "seed": 0}
    old = [{"run_key": "a", "status": "failed", "error": "E: x", **base, "finished_at": 1.0},
           {"run_key": "b", "status": "ok", "error": None, **base, "jobs": 3, "finished_at": 1.0}]
    new = [{"run_key": "a", "status": "ok", "error": None, **base, "jobs": 5, "finished_at": 2.0},
           {"run_key": "b", "status": "failed", "error": "E: y", **base, "finished_at": 3.0}]
    write_table_atomic(rows_to_table(old, {}), tmp_path / "part-1.parquet")
    write_table_atomic(rows_to_table(new, {}), tmp_path / "part-2.parquet")
    (tmp_path / ".tmp-part-3.parquet.1").write_bytes(b"half a file")
    df = read_dataset(tmp_path).set_index("run_key")
    assert len(df) == 2 and df.loc["a", "jobs"] == 5 and df.loc["b", "jobs"] == 3
    assert len(read_dataset(tmp_path, dedupe=False)) == 4
    assert read_dataset(tmp_path, columns=["jobs"]).sort_values("jobs")["jobs"].tolist() == [3, 5]
    assert compact(tmp_path) == 2
    assert len(read_dataset(tmp_path, dedupe=False)) == 2
    assert stored_status(tmp_path) == {"a": "ok", "b": "ok"}


KILL = """name: kill
overrides: [sim.duration_ms=200]
grid:
  scheduler: fcfs,latency_greedy
  sim.seed: range(0,150)
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_driver_then_rerun_gives_every_point_once(tmp_path, sig):
    spec = write_spec(tmp_path / "kill.yaml", KILL)
    out = tmp_path / "out"
    proc = subprocess.Popen([PY, "-m", "dream.cli", "sweep", str(spec), "--out", str(out),
                             "--executor", "serial", "--no-progress", "--flush-s", "0.2"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            n = len(raw_rows(out)) if out.exists() else 0
            if n >= 10:
                break
            assert proc.poll() is None, "the sweep finished before it could be killed"
            time.sleep(0.05)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == (-signal.SIGKILL if sig == signal.SIGKILL else 130), stdout + stderr
    stored = len(raw_rows(out))
    assert 10 <= stored < 300
    res = sweep(spec, out)
    assert res.returncode == 0, res.stderr
    raw = raw_rows(out)
    keys = make_plan(load_spec(spec)).keys
    assert len(raw) == 300 and raw["run_key"].is_unique and sorted(raw["run_key"]) == sorted(keys)
    assert (raw["status"] == "ok").all()
    assert f"{300 - stored} ran" in res.stdout


def test_multirun_gather_gives_the_same_rows_as_a_sweep(tmp_path):
    multirun = tmp_path / "multirun"
    run = subprocess.run([PY, "-m", "dream.cli", "run", "-m", "workload=vr_gaming,ar_gaming",
                          "scheduler=fcfs,latency_greedy", "sim.duration_ms=100",
                          f"hydra.sweep.dir={multirun}"], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr
    gathered = tmp_path / "gathered"
    res = subprocess.run([PY, "-m", "dream.cli", "gather", str(multirun), "--out", str(gathered)],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "gathered 4 run(s)" in res.stdout
    spec = write_spec(tmp_path / "mr.yaml", """name: mr
overrides: [sim.duration_ms=100]
grid:
  workload: vr_gaming,ar_gaming
  scheduler: fcfs,latency_greedy
""")
    swept = tmp_path / "swept"
    assert sweep(spec, swept).returncode == 0
    a = read_dataset(gathered).sort_values("run_key").reset_index(drop=True)
    b = read_dataset(swept).sort_values("run_key").reset_index(drop=True)
    assert list(a.columns) == list(b.columns)
    cols = [c for c in b.columns if c not in TIMING_COLUMNS]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    # gathering again adds nothing; into the sweep's dataset it finds every key stored
    again = subprocess.run([PY, "-m", "dream.cli", "gather", str(multirun), "--out", str(swept)],
                           capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert again.returncode == 0 and "gathered 0 run(s)" in again.stdout


def test_run_sweep_in_process(tmp_path, capsys):
    spec = write_spec(tmp_path / "small.yaml", SMALL)
    report = run_sweep(SweepOptions(spec=str(spec), executor="serial", out=str(tmp_path / "o"),
                                    progress=False))
    assert report.exit_code == 0 and report.ok == 12 and report.sim_s > 0
    assert os.path.isdir(tmp_path / "o")


VANISHING_MODULE = """
import sys, threading
from pathlib import Path
copy = Path(sys.argv[1])
sys.path.insert(0, str(copy))
import dream.sweep.worker as worker
from dream.config import compose_plain
assert Path(worker.__file__).is_relative_to(copy)
engine = copy / "dream" / "sim" / "engine.py"
away = engine.with_name("engine.away")
config, _ = compose_plain(["sim.duration_ms=20"])
ok = worker.run_point("k", config, {})
engine.rename(away)  # the job's copy being removed and unpacked again by another node
for m in [m for m in sys.modules if m.startswith("dream.sim.engine")]:
    del sys.modules[m]  # as in a worker that had not imported it yet
threading.Timer(0.6, lambda: away.rename(engine)).start()
row = worker.run_point("k", config, {})
gone = dict(config, sim=dict(config["sim"], duration_ms=30))
engine.rename(away)
for m in [m for m in sys.modules if m.startswith("dream.sim.engine")]:
    del sys.modules[m]
worker.PACKAGE_WAIT_S = 0.5  # and a module that stays away fails the point, within the bound
lost = worker.run_point("k2", gone, {})
print(row["status"], row["uxcost"] == ok["uxcost"], row["elapsed_s"] >= 0.6, lost["status"], lost["error"])
"""


def test_a_point_waits_for_dreams_own_modules_to_come_back(tmp_path):
    import shutil

    copy = tmp_path / "pkg"
    shutil.copytree(ROOT / "dream", copy / "dream", ignore=shutil.ignore_patterns("__pycache__"))
    res = subprocess.run([sys.executable, "-c", VANISHING_MODULE, str(copy)], capture_output=True,
                         text=True, cwd=tmp_path, timeout=120)
    assert res.returncode == 0, res.stderr
    out = res.stdout.split()
    assert out[:4] == ["ok", "True", "True", "failed"], res.stdout
    assert "ModuleNotFoundError" in res.stdout and "dream.sim.engine" in res.stdout
