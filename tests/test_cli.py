"""End-to-end runs of the `dream` command: run, --cfg, --help, costs, demo, the Python API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import dream

ROOT = Path(__file__).resolve().parent.parent


def _dream(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dream.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_run_writes_jobs_and_summary(tmp_path):
    out = tmp_path / "run"
    p = _dream("run", "workload=vr_gaming", "hardware=dual_4k_ws_os", "scheduler=fcfs",
               "sim.duration_ms=200", "sim.seed=0", f"output={out}")
    assert p.returncode == 0, p.stderr
    assert "UXCost" in p.stdout and "ES" in p.stdout and "utilization" in p.stdout
    jobs = pd.read_parquet(out / "jobs.parquet")
    summary = json.loads((out / "summary.json").read_text())
    assert set(jobs.task) == {"ES", "GE", "HT"}
    assert summary["jobs"] == int(((jobs.deadline_ms <= 200) & (jobs.release_ms >= 0)).sum())
    # the same config through the Python API gives the same metrics
    r = dream.simulate(dream.compose(["sim.duration_ms=200"]))
    for k in ("jobs", "dvr", "energy_mj", "uxcost", "xrbench_score"):
        assert r.summary[k] == pytest.approx(summary[k], rel=1e-12)


def test_run_trace_and_cfg_and_help(tmp_path):
    p = _dream("run", "sim.duration_ms=50", "sim.trace=true", f"output={tmp_path}")
    assert p.returncode == 0, p.stderr
    tr = pd.read_parquet(tmp_path / "trace.parquet")
    assert {"accelerator", "start_ms", "end_ms", "layer_start"} <= set(tr.columns)
    p = _dream("run", "--cfg", "job", "scheduler=latency_greedy")
    assert p.returncode == 0 and "name: latency_greedy" in p.stdout and "duration_ms" in p.stdout
    p = _dream("run", "--help")
    assert p.returncode == 0 and "workload" in p.stdout and "hardware" in p.stdout


def test_multirun(tmp_path):
    p = _dream("run", "-m", "scheduler=fcfs,latency_greedy", "sim.duration_ms=50",
               f"hydra.sweep.dir={tmp_path}")
    assert p.returncode == 0, p.stderr
    assert sorted(x.name for x in tmp_path.iterdir() if x.is_dir()) == ["0", "1"]
    assert (tmp_path / "1" / "summary.json").exists()


def test_costs_and_unknown_command():
    p = _dream("costs", "workload=ar_gaming", "hardware=single_4k_ws")
    assert p.returncode == 0 and "midas_small" in p.stdout and "latency_ms" in p.stdout
    p = _dream("fly")
    assert p.returncode == 2 and "unknown command" in p.stderr


def test_demo_runs_the_small_study_and_reports(tmp_path):
    # from another working directory: specs and configs are found through the package
    p = _dream("demo", cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.strip().endswith("report: outputs/demo/report/report.md")
    report = tmp_path / "outputs/demo/report"
    assert (report / "report.md").read_text().count("| dream |") >= 4
    assert len(list(report.glob("uxcost_normalised_*.png"))) == 2
    assert (tmp_path / "outputs/demo/run/timeline.png").stat().st_size > 10_000


def test_version_and_help_for_every_command():
    p = _dream("--version")
    assert p.returncode == 0 and p.stdout.startswith(f"dream {dream.__version__}")
    from dream.cli import COMMANDS

    for cmd in COMMANDS:
        p = _dream(cmd, "--help")
        assert p.returncode == 0, f"dream {cmd} --help: {p.stderr[-500:]}"
        assert "usage" in p.stdout.lower() and "Traceback" not in p.stderr, cmd


def test_list_shows_options_descriptions_and_sources():
    p = _dream("list", "scheduler")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("scheduler (")
    dream_line = next(line for line in lines if line.split()[0] == "dream")
    assert "DREAM" in dream_line and dream_line.endswith("[built-in]")
    p = _dream("list", "spec")
    assert p.returncode == 0 and any(line.split()[0] == "paper" for line in p.stdout.splitlines()[1:])
    p = _dream("list", "nonsense")
    assert p.returncode == 2 and "invalid choice" in p.stderr


def test_costs_rejects_a_flag_in_one_line():
    p = _dream("costs", "--bogus")
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "--bogus" in p.stderr


def test_a_dry_run_piped_into_head_blames_no_directory(tmp_path):
    """The reader of stdout leaving early is not a write error of the dataset directory."""
    out = tmp_path / "never"
    proc = subprocess.Popen([sys.executable, "-m", "dream.cli", "sweep", "smoke", "--dry-run",
                             "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith("sweep smoke:")
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read()
    assert proc.wait(timeout=120) in (0, 1)
    assert "cannot write" not in err and "Traceback" not in err
    assert not out.exists()
