"""Where `dream report` writes: never over a user's files, and no stale figures left behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from dream.analysis.report_dir import MARKER, ReportDirError, claim_report_dir, finish_report_dir

PY = sys.executable


def dream(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", "dream.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def sweep(tmp: Path, hardware: str) -> Path:
    (tmp / "s.yaml").write_text("name: s\noverrides: [sim.duration_ms=50]\ngrid:\n"
                                f"  hardware: {hardware}\n  scheduler: fcfs,dream\n")
    res = dream("sweep", "s.yaml", "--out", "data", "--executor", "serial", "--no-progress", cwd=tmp)
    assert res.returncode == 0, res.stdout + res.stderr
    return tmp / "data"


def test_a_second_report_removes_the_first_ones_stale_figures_and_nothing_else(tmp_path):
    data = sweep(tmp_path, "dual_4k_ws_os,single_4k_ws")
    assert dream("report", "data", cwd=tmp_path).returncode == 0
    rep = tmp_path / "data-report"
    assert (rep / "uxcost_normalised_single_4k_ws.png").is_file()
    (rep / "my_notes.md").write_text("mine")  # the user's own file, added afterwards
    # the dataset now holds one setting only: its figures of single_4k_ws are stale
    for f in data.glob("part-*.parquet"):
        f.unlink()
    sweep(tmp_path, "dual_4k_ws_os")
    res = dream("report", "data", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "removed 2 file(s) of the previous report" in res.stdout
    assert not (rep / "uxcost_normalised_single_4k_ws.png").exists()
    assert not (rep / "energy_dvr_single_4k_ws.png").exists()
    assert (rep / "uxcost_normalised_dual_4k_ws_os.png").is_file()
    assert (rep / "my_notes.md").read_text() == "mine"
    listed = json.loads((rep / MARKER).read_text())["files"]
    assert "report.md" in listed and "my_notes.md" not in listed


def test_a_folder_of_the_users_files_is_refused_untouched(tmp_path):
    sweep(tmp_path, "dual_4k_ws_os")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "report.md").write_text("my own report")
    (mine / "data.csv").write_text("a,b\n")
    res = dream("report", "data", "--out", "mine", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "did not write (data.csv)" in res.stderr
    assert "Traceback" not in res.stderr
    assert (mine / "report.md").read_text() == "my own report"


def test_a_report_folder_from_before_the_marker_is_adopted(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    for name in ("report.md", "geomean.csv", "normalised.csv", "uxcost_normalised_x.png",
                 "energy_dvr_x.png"):
        (old / name).write_text("")
    assert claim_report_dir(old) == {"report.md", "geomean.csv", "normalised.csv",
                                     "uxcost_normalised_x.png", "energy_dvr_x.png"}
    # a user's lone report.md is theirs, not an old report
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "report.md").write_text("my notes")
    with pytest.raises(ReportDirError, match="did not write"):
        claim_report_dir(mine)
    # without report.md (or search.md) the same names are not taken for a report's
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "geomean.csv").write_text("")
    with pytest.raises(ReportDirError, match="did not write"):
        claim_report_dir(alone)


def test_only_listed_files_inside_the_directory_are_ever_removed(tmp_path):
    out = tmp_path / "rep"
    out.mkdir()
    outside = tmp_path / "precious.txt"
    outside.write_text("keep")
    (out / "sub").mkdir()
    (out / "report.md").write_text("")
    (out / MARKER).write_text(json.dumps({"files": ["../precious.txt", str(outside), "sub", "report.md"]}))
    previous = claim_report_dir(out)
    assert previous == {"sub", "report.md"}
    removed = finish_report_dir(out, [], previous)
    assert removed == [out / "report.md"]  # the directory is not removed, nothing outside touched
    assert outside.read_text() == "keep" and (out / "sub").is_dir()
    (out / MARKER).write_text("not json")
    with pytest.raises(ReportDirError, match="cannot be read"):
        claim_report_dir(out)


def test_nothing_is_written_inside_a_dataset_or_under_a_file(tmp_path):
    data = sweep(tmp_path, "dual_4k_ws_os")
    (tmp_path / "afile.txt").write_text("mine")
    cases = [("report", "data", "--out", "data/sub"),
             ("sweep", "s.yaml", "--out", "data/nested", "--executor", "serial", "--no-progress"),
             ("run", "sim.duration_ms=20", "output=data/run"),
             ("run", "sim.duration_ms=20", "output=afile.txt/sub")]
    for args in cases:
        res = dream(*args, cwd=tmp_path)
        assert res.returncode == 2, (args, res.stdout + res.stderr)
        assert res.stderr.strip().count("\n") == 0 and "Traceback" not in res.stderr, res.stderr
    assert not (data / "sub").exists() and not (data / "nested").exists() and not (data / "run").exists()
    assert (tmp_path / "afile.txt").read_text() == "mine"
    assert len(pd.read_parquet(data)) == 2  # still one table for pandas


def test_a_sweep_cannot_extend_a_search_dataset(tmp_path):
    from dream.dataset import SEARCH_JOURNAL, claim

    out = claim(tmp_path / "srch", "search")
    (out / SEARCH_JOURNAL).write_text("")
    (tmp_path / "s.yaml").write_text("name: s\noverrides: [sim.duration_ms=50]\ngrid:\n  scheduler: fcfs\n")
    res = dream("sweep", "s.yaml", "--out", "srch", "--executor", "serial", cwd=tmp_path)
    assert res.returncode == 2 and "holds a `dream search` study" in res.stderr, res.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(["_dream_dataset.json", SEARCH_JOURNAL])
