"""A sweep extended with a new grid key: rows stored before it was swept get its value.

The same run key is the same resolved config, so a stored row reused by the new sweep ran
with the point's value of the new key (the default, when the point names the default).
Without this, those rows read null and `dream report` splits one configuration in two.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from dream.dataset import read_dataset

PY = sys.executable
HEAD = "name: grow\noverrides: [sim.duration_ms=50, scheduler=dream]\ngrid:\n  sim.seed: 0\n"


def sweep(tmp: Path, out: Path, grid: str) -> subprocess.CompletedProcess:
    spec = tmp / "grow.yaml"
    spec.write_text(HEAD + grid)
    res = subprocess.run([PY, "-m", "dream.cli", "sweep", str(spec), "--out", str(out),
                          "--executor", "serial", "--no-progress"], capture_output=True, text=True,
                         cwd=tmp, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    return res


def test_a_new_grid_key_is_filled_in_for_reused_rows_and_never_overwritten(tmp_path):
    out = tmp_path / "data"
    sweep(tmp_path, out, "  scheduler.alpha: 0,1\n")
    first = read_dataset(out).set_index("run_key")
    assert "scheduler.tune" not in first.columns

    # tune=true is the default: those two points are the stored rows, reused
    res = sweep(tmp_path, out, "  scheduler.alpha: 0,1\n  scheduler.tune: true,false\n")
    assert "2 already stored, 2 to run" in res.stdout
    df = read_dataset(out).set_index("run_key")
    assert len(df) == 4 and df["scheduler.tune"].notna().all()
    assert df.loc[first.index, "scheduler.tune"].tolist() == [True, True]
    assert sorted(df["scheduler.tune"].tolist()) == [False, False, True, True]
    # the stored metrics are the same rows, not recomputed
    pd.testing.assert_series_equal(df.loc[first.index, "uxcost"], first["uxcost"])
    assert pd.read_parquet(out)["scheduler.tune"].notna().all()

    # a key whose only value is the default: nothing to run, the column still appears, filled
    res = sweep(tmp_path, out, "  scheduler.alpha: 0,1\n  scheduler.tune: true,false\n  sim.block_size: 1\n")
    assert "4 already stored, 0 to run" in res.stdout
    df = read_dataset(out)
    assert df["sim.block_size"].tolist() == [1, 1, 1, 1]
    files = sorted(out.glob("part-*.parquet"))
    assert all(pq.read_schema(f).field("sim.block_size").type == pq.read_schema(files[0]).field(
        "sim.block_size").type for f in files)

    # a narrower sweep leaves stored values alone (nulls only are filled, and only its own points)
    sweep(tmp_path, out, "  scheduler.alpha: 0\n")
    again = read_dataset(out).set_index("run_key").sort_index()
    pd.testing.assert_frame_equal(again[["scheduler.tune", "sim.block_size", "uxcost"]],
                                  df.set_index("run_key").sort_index()[["scheduler.tune", "sim.block_size", "uxcost"]])


def test_report_does_not_split_a_configuration_by_when_its_key_was_swept(tmp_path):
    out = tmp_path / "data"
    sweep(tmp_path, out, "  scheduler.alpha: 0,1\n")
    sweep(tmp_path, out, "  scheduler.alpha: 0,1\n  scheduler.tune: true,false\n")
    res = subprocess.run([PY, "-m", "dream.cli", "report", str(out)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=600)
    assert res.returncode == 0, res.stderr
    report = (tmp_path / "data-report" / "report.md").read_text()
    (line,) = [ln for ln in report.splitlines() if ln.startswith("- schedulers: ")]
    labels = line.removeprefix("- schedulers: ").split(", ")
    # four configurations, each named with its tune value (none as a bare "dream alpha=0")
    assert len(labels) == 4 and all("tune=" in label for label in labels), labels
