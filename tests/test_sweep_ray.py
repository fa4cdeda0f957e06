"""Sweeps on Ray: an embedded local instance, a two-node cluster by address, `dream submit`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from dream.dataset import TIMING_COLUMNS, read_dataset
from dream.sweep.plan import make_plan
from dream.sweep.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
# unusual ports, so a cluster someone else runs on this machine is left alone
GCS_PORT, DASHBOARD_PORT, CLIENT_PORT = 46391, 48291, 40091
AGENT_PORTS = (52391, 52392)

SPEC = """name: raytest
overrides: [sim.duration_ms=100]
grid:
  scheduler: fcfs,latency_greedy
  sim.seed: range(0,6)
zip:
  workload: [vr_gaming, ar_gaming]
  hardware: [dual_4k_ws_os, dual_4k_ws]
"""


def env() -> dict[str, str]:
    """The project's environment first on PATH (Ray jobs run with the cluster's PATH)."""
    e = dict(os.environ)
    e["PATH"] = f"{VENV_BIN}{os.pathsep}{e.get('PATH', '')}"
    e["RAY_USAGE_STATS_ENABLED"] = "0"
    return e


def dream(*args: str, timeout: float = 300, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dream.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout, env={**env(), **(extra_env or {})})


def rows(out: Path) -> pd.DataFrame:
    """Stored rows without timing columns, sorted by run key."""
    df = read_dataset(out, dedupe=False)
    cols = [c for c in df.columns if c not in TIMING_COLUMNS]
    return df[cols].sort_values("run_key").reset_index(drop=True)


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory) -> Path:
    f = tmp_path_factory.mktemp("spec") / "raytest.yaml"
    f.write_text(SPEC)
    return f


@pytest.fixture(scope="module")
def serial_rows(spec_file, tmp_path_factory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("serial") / "out"
    res = dream("sweep", str(spec_file), "--executor", "serial", "--out", str(out), "--no-progress")
    assert res.returncode == 0, res.stderr
    return rows(out)


@pytest.mark.timeout(300)
def test_local_ray_gives_the_serial_rows(spec_file, serial_rows, tmp_path):
    out = tmp_path / "ray"
    res = dream("sweep", str(spec_file), "--executor", "ray", "--workers", "2", "--chunk-size", "3",
                "--out", str(out), "--no-progress")
    assert res.returncode == 0, res.stderr
    got = rows(out)
    assert len(got) == 24 and got["run_key"].is_unique
    pd.testing.assert_frame_equal(got, serial_rows)
    # both workers took chunks, and a worker process ran several (its caches stay warm); how
    # evenly they share depends on the load of the machine, so no more is asserted
    workers = read_dataset(out)["worker"].value_counts()
    assert len(workers) == 2 and workers.max() > 3


def _ray(*args: str, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "ray"), *args], capture_output=True, text=True,
                          timeout=180, env={**env(), **(extra_env or {})})


@pytest.fixture(scope="module")
def cluster():
    """A head and a second node on this machine, one CPU each; stopped whatever happens."""
    try:
        head = _ray("start", "--head", "--port", str(GCS_PORT), "--num-cpus", "1",
                    "--dashboard-port", str(DASHBOARD_PORT), "--ray-client-server-port",
                    str(CLIENT_PORT), "--dashboard-agent-listen-port", str(AGENT_PORTS[0]),
                    "--disable-usage-stats")
        assert head.returncode == 0, head.stdout + head.stderr
        # with a token on this machine the head turns token authentication on, and a
        # second node must join in token mode (design.md, "Ray 2.60 facts")
        token = (Path.home() / ".ray" / "auth_token").is_file() and \
            "Token authentication is disabled" not in head.stdout + head.stderr
        auth = {"RAY_AUTH_MODE": "token"} if token else {}
        node = _ray("start", "--address", f"127.0.0.1:{GCS_PORT}", "--num-cpus", "1",
                    "--dashboard-agent-listen-port", str(AGENT_PORTS[1]), extra_env=auth)
        assert node.returncode == 0, node.stdout + node.stderr
        deadline = time.time() + 60
        while time.time() < deadline:
            status = _ray("status", "--address", f"127.0.0.1:{GCS_PORT}", extra_env=auth)
            if status.stdout.count(" node_") >= 2:
                break
            time.sleep(1)
        else:
            pytest.fail(f"the second node did not join: {status.stdout}{status.stderr}")
        yield {"address": f"127.0.0.1:{GCS_PORT}", "dashboard": f"http://127.0.0.1:{DASHBOARD_PORT}"}
    finally:
        _ray("stop", "--force")


@pytest.mark.cluster
@pytest.mark.timeout(300)
def test_cluster_sweep_by_address(cluster, spec_file, serial_rows, tmp_path):
    out = tmp_path / "cluster"
    res = dream("sweep", str(spec_file), "--address", cluster["address"], "--chunk-size", "2",
                "--out", str(out), "--no-progress")
    assert res.returncode == 0, res.stdout + res.stderr
    pd.testing.assert_frame_equal(rows(out), serial_rows)
    assert read_dataset(out)["worker"].nunique() == 2  # one worker per node


@pytest.mark.cluster
@pytest.mark.timeout(300)
def test_submit_runs_the_sweep_as_a_job(cluster, tmp_path):
    out = tmp_path / "submitted"
    res = dream("submit", "smoke", "--address", cluster["dashboard"], "--out", str(out))
    assert res.returncode == 0, res.stdout + res.stderr
    job_id = res.stdout.strip().splitlines()[-1]
    assert job_id.startswith("raysubmit_")
    deadline = time.time() + 240
    status = ""
    while time.time() < deadline:
        st = dream("submit", "--status", job_id, "--address", cluster["dashboard"], timeout=60)
        assert st.returncode == 0, st.stderr
        status = st.stdout.strip()
        if status in ("SUCCEEDED", "FAILED", "STOPPED"):
            break
        time.sleep(1)
    logs = dream("submit", "--logs", job_id, "--address", cluster["dashboard"], timeout=60)
    assert status == "SUCCEEDED", logs.stdout
    assert "16 ran" in logs.stdout and "--address auto" in logs.stdout
    df = read_dataset(out)
    assert sorted(df["run_key"]) == sorted(make_plan(load_spec("smoke")).keys)
    assert (df["status"] == "ok").all()


SEARCH_SPEC = """name: subsearch
overrides: [sim.duration_ms=200, workload=vr_gaming, hardware=dual_4k_ws_os, scheduler=dream, scheduler.tune=false]
grid:
  sim.seed: 0,1
search:
  params:
    scheduler.beta: interval(0, 1)
  objectives: [uxcost]
  trials: 2
  sampler: random
"""


def test_submit_runs_a_search_as_a_job(cluster, tmp_path):
    wd = tmp_path / "project"
    (wd / "sweeps").mkdir(parents=True)
    spec = wd / "sweeps" / "subsearch.yaml"
    spec.write_text(SEARCH_SPEC)
    out = tmp_path / "searched"
    # options of `dream sweep` are refused for a search spec before the cluster is contacted
    bad = dream("submit", str(spec), "--chunk-size", "2", "--working-dir", str(wd),
                "--address", cluster["dashboard"], "--out", str(out))
    assert bad.returncode == 2 and "--chunk-size" in bad.stderr and "search spec" in bad.stderr
    res = dream("submit", str(spec), "--working-dir", str(wd), "--address", cluster["dashboard"],
                "--out", str(out), "--wait")
    assert res.returncode == 0, res.stdout + res.stderr
    logs = res.stdout + res.stderr
    assert "dream.cli search sweeps/subsearch.yaml --address auto" in logs or "2 trial(s)" in logs, logs
    df = read_dataset(out)
    assert len(df) == 4 and (df["status"] == "ok").all() and sorted(df["trial"].unique()) == [0, 1]
    assert (out / "_search.journal").is_file()


def test_bad_address_exits_2(tmp_path, spec_file):
    res = dream("submit", "smoke", "--address", "http://127.0.0.1:9", "--out", str(tmp_path / "o"),
                timeout=120)
    assert res.returncode == 2 and "cannot reach the Ray dashboard" in res.stderr
    assert shutil.which("ray", path=str(VENV_BIN))


KILL_SPEC = """name: killtest
overrides: [sim.duration_ms=1500, workload=ar_assistant, hardware=quad_8k_ws_os]
grid:
  scheduler: fcfs,dream
  sim.seed: range(0,14)
"""


def _chunk_workers() -> list[int]:
    """PIDs of Ray worker processes busy running a sweep chunk (their title names the task)."""
    ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return [int(line.split(None, 1)[0]) for line in ps.splitlines() if "ray::run_chunk" in line]


def test_a_worker_killed_mid_chunk_is_retried_and_nothing_is_written_twice(tmp_path):
    spec = tmp_path / "killtest.yaml"
    spec.write_text(KILL_SPEC)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "dream.cli", "sweep", str(spec), "--executor", "ray", "--workers", "2",
                             "--chunk-size", "2", "--out", str(out), "--no-progress"],
                            cwd=ROOT, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and proc.poll() is None:
        busy = _chunk_workers()
        if busy:
            killed = busy[0]
            os.kill(killed, 9)  # the worker dies mid-chunk, as on a lost node
        time.sleep(0.05)
    stdout, stderr = proc.communicate(timeout=300)
    assert killed is not None, "no busy worker was seen to kill"
    assert proc.returncode == 0, stdout + stderr
    got = read_dataset(out, dedupe=False)
    assert len(got) == 28 and got["run_key"].is_unique and (got["status"] == "ok").all()
    # the killed process wrote nothing: its chunk was rerun by another worker
    assert not got["worker"].str.endswith(f":{killed}").any()
