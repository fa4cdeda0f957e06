"""No hangs, and kills lose little: unreachable clusters, signals, SIGKILL, fault injection.

Real processes and real signals: `dream sweep` in a subprocess, Ray where Ray is the point.
"""

from __future__ import annotations

import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from dream.dataset import (LOCK_FILE, MARKER_FILE, METADATA_FILE, PART_RE, TIMING_COLUMNS,
                           read_dataset)
from dream.sweep.plan import make_plan
from dream.sweep.spec import load_spec

PY = sys.executable


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([PY, "-m", "dream.cli", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def metrics(out: Path) -> pd.DataFrame:
    df = read_dataset(out, dedupe=False)
    return df[[c for c in df.columns if c not in TIMING_COLUMNS]].sort_values("run_key").reset_index(drop=True)


def descendants(pid: int) -> set[int]:
    """Every live process below pid (by parent links in /proc)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# -- unreachable clusters ---------------------------------------------------------------------

def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize("kind", ["refused", "unresolvable", "silent"])
def test_an_unreachable_cluster_exits_2_within_30_s_naming_it(tmp_path, kind):
    (tmp_path / "s.yaml").write_text("name: s\ngrid:\n  sim.seed: 0,1\n")
    listener = None
    if kind == "refused":
        address = f"127.0.0.1:{_closed_port()}"
    elif kind == "unresolvable":
        address = "no-such-head.invalid:6379"
    else:  # a port that accepts connections and never answers (not a Ray GCS)
        listener = socket.socket()
        listener.bind(("0.0.0.0", 0))
        listener.listen(8)
        address = f"127.0.0.1:{listener.getsockname()[1]}"
    t0 = time.monotonic()
    try:
        res = subprocess.run([PY, "-m", "dream.cli", "sweep", "s.yaml", "--address", address,
                              "--out", "data", "--no-progress"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=60)
    finally:
        if listener is not None:
            listener.close()
    assert time.monotonic() - t0 < 30
    assert res.returncode == 2, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and address in lines[0] and "Traceback" not in res.stderr, res.stderr
    assert not (tmp_path / "data").exists()  # nothing ran, nothing is left behind


# -- signals ---------------------------------------------------------------------------------

RAYSPEC = """name: r
overrides: [sim.duration_ms=200]
grid:
  scheduler: fcfs,latency_greedy
  sim.seed: range(0,40)
"""


@pytest.mark.parametrize("sig,delay", [(signal.SIGTERM, 0.3), (signal.SIGTERM, 2.0), (signal.SIGINT, 1.0)])
def test_a_signal_during_ray_start_up_exits_with_one_line(tmp_path, sig, delay):
    (tmp_path / "r.yaml").write_text(RAYSPEC)
    proc = start(["sweep", "r.yaml", "--out", "data", "--no-progress", "--workers", "1",
                  "--executor", "ray"], tmp_path)
    try:
        # the plan line comes just before Ray starts
        assert proc.stdout.readline().startswith("sweep r:")
        time.sleep(delay)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + sig, out + err
    assert "Traceback" not in err + out, err
    assert err.strip().splitlines()[-1].startswith("dream sweep: ")


def test_a_driver_killed_with_sigkill_leaves_no_ray_process(tmp_path):
    (tmp_path / "r.yaml").write_text(RAYSPEC)
    proc = start(["sweep", "r.yaml", "--out", "data", "--no-progress", "--workers", "1",
                  "--executor", "ray", "--flush-s", "0.2"], tmp_path)
    try:
        deadline = time.monotonic() + 180
        while not list((tmp_path / "data").glob("part-*.parquet")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.1)
        ray_procs = descendants(proc.pid)
        assert len(ray_procs) >= 3  # GCS, raylet, agents, a worker ...
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(alive(p) for p in ray_procs):
        time.sleep(0.2)
    left = [p for p in ray_procs if alive(p)]
    names = [(Path("/proc") / str(p) / "cmdline").read_bytes()[:80] for p in left if alive(p)]
    assert not left, names


def test_the_writer_flushes_at_least_every_five_seconds(tmp_path):
    from dream.dataset import claim
    from dream.sweep.sink import MAX_FLUSH_S, DatasetSink

    assert MAX_FLUSH_S <= 5.0
    claim(tmp_path / "d")
    sink = DatasetSink(tmp_path / "d", {}, first_flush_s=4.0)
    written = []
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < 10.5:
        sink.add([{"run_key": f"k{i}", "status": "ok", "error": None}])
        if len(sink.files) > len(written):
            written.append(time.monotonic() - t0)
        i += 1
        time.sleep(0.02)
    gaps = [b - a for a, b in zip([0.0] + written, written)]
    # the buffer never holds more than MAX_FLUSH_S of finished rows (the first file at 4 s)
    assert len(written) >= 2 and max(gaps) <= MAX_FLUSH_S + 0.5, written


# -- fault injection -------------------------------------------------------------------------

FAULT = """name: fault
overrides: [sim.duration_ms=100]
grid:
  scheduler: fcfs,latency_greedy,edf
  sim.seed: range(0,40)
"""


def _snapshot(root: Path, skip: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size if p.is_file() else -1
            for p in root.rglob("*") if p != skip and skip not in p.parents}


def test_sigkill_at_random_moments_then_rerun_gives_every_point_once_and_identical_metrics(tmp_path):
    """SIGKILL a serial sweep at 10 random moments (also near its end, during the final
    write), rerunning after each: every point is stored once, metrics are bit-identical to
    an uninterrupted run, and nothing outside the dataset is created or removed."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "fault.yaml").write_text(FAULT)
    (work / "notes.txt").write_text("the user's\n")
    args = ["sweep", "fault.yaml", "--executor", "serial", "--no-progress", "--flush-s", "0.3"]

    t0 = time.monotonic()
    ref = subprocess.run([PY, "-m", "dream.cli", *args, "--out", str(tmp_path / "ref")], cwd=work,
                         capture_output=True, text=True, timeout=300)
    full_s = time.monotonic() - t0
    assert ref.returncode == 0, ref.stderr

    out = work / "data"
    before = _snapshot(tmp_path, out)
    rng = random.Random(13)
    # nine moments anywhere in a run's life, one just before its end (the final write)
    moments = sorted(rng.uniform(0.2, full_s) for _ in range(9)) + [max(0.2, full_s - 0.15)]
    killed = 0
    for delay in moments:
        proc = start([*args, "--out", str(out)], work)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.communicate(timeout=60)
        names = {p.name for p in out.iterdir()} if out.exists() else set()
        # only the dataset's own files, and temporary files a killed writer left
        assert all(PART_RE.match(n) or n in (MARKER_FILE, METADATA_FILE, LOCK_FILE)
                   or n.startswith(".tmp-") for n in names), names
    assert killed >= 5
    final = subprocess.run([PY, "-m", "dream.cli", *args, "--out", str(out)], cwd=work,
                           capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    raw = read_dataset(out, dedupe=False)
    keys = make_plan(load_spec(work / "fault.yaml")).keys
    assert len(raw) == len(keys) and raw["run_key"].is_unique and set(raw["run_key"]) == set(keys)
    pd.testing.assert_frame_equal(metrics(out), metrics(tmp_path / "ref"))
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp-")]
    # nothing outside the dataset was created or removed (the reference run's folder aside)
    after = _snapshot(tmp_path, out)
    assert after == before
