"""One dataset that every reader reads: pandas, pyarrow.dataset, DuckDB and polars agree.

A dataset grown by two sweeps (integer values of a float parameter first, then 0.5, a new
grid key that adds per-task columns of another workload, a key the second sweep does not
sweep) reads as the same rows and columns, with stable types, in all four readers and in
dream's own read_dataset; `dream report` writes beside it, so the readers still work.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from dream.dataset import read_dataset

duckdb = pytest.importorskip("duckdb", reason="DuckDB is a test extra (pip install -e '.[test]')")
polars = pytest.importorskip("polars", reason="polars is a test extra (pip install -e '.[test]')")

PY = sys.executable

FIRST = """name: readers
overrides: [sim.duration_ms=50, scheduler=dream]
grid:
  scheduler.alpha: 0,1
  sim.seed: 0,1
  sim.block_size: 1,2
"""
# extends the same dataset: alpha 0.5 over the integers above, a second workload (other
# task columns), no sim.block_size column
SECOND = """name: readers
overrides: [sim.duration_ms=50, scheduler=dream]
grid:
  workload: vr_gaming,ar_gaming
  scheduler.alpha: 0.5
  sim.seed: 0,1
"""


def dream(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", "dream.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def readers(out: Path) -> dict[str, pd.DataFrame]:
    """The dataset as each reader sees it (the one-liners of docs/sweeps.md)."""
    return {
        "pandas": pd.read_parquet(out),
        "pyarrow": pads.dataset(out).to_table().to_pandas(),
        "duckdb": duckdb.sql(f"SELECT * FROM read_parquet('{out}/**/*.parquet')").df(),
        "polars": polars.read_parquet(f"{out}/**/*.parquet").to_pandas(),
        "dream": read_dataset(out),
    }


def canonical(df: pd.DataFrame) -> list[list]:
    """Rows sorted by run key, columns by name, nulls as None (NaN is null in pandas)."""
    df = df[sorted(df.columns)].sort_values("run_key").reset_index(drop=True)
    return [[None if (v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA) else v
             for v in row] for row in df.astype(object).itertuples(index=False)]


@pytest.fixture(scope="module")
def grown(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("readers")
    (tmp / "first.yaml").write_text(FIRST)
    (tmp / "second.yaml").write_text(SECOND)
    out = tmp / "data"
    for spec in ("first.yaml", "second.yaml"):
        res = dream("sweep", spec, "--out", str(out), "--executor", "serial", "--no-progress", cwd=tmp)
        assert res.returncode == 0, res.stdout + res.stderr
    return out


def test_four_readers_see_the_same_rows_and_columns(grown):
    seen = readers(grown)
    ref = seen["dream"]
    assert len(ref) == 8 + 4 and ref["run_key"].is_unique
    for name, df in seen.items():
        assert sorted(df.columns) == sorted(ref.columns), name
        assert canonical(df) == canonical(ref), name
    # the per-task columns of both workloads, the key only the first sweep swept
    cols = set(ref.columns)
    assert {"task.HT.dvr", "sim.block_size", "workload", "scheduler.alpha"} <= cols
    assert seen["pandas"]["sim.block_size"].isna().sum() == 4


def test_types_are_stable(grown):
    schema = pads.dataset(grown).schema
    assert schema.field("scheduler.alpha").type == pa.float64()   # 0, 1 then 0.5: float from the start
    assert schema.field("sim.seed").type == pa.int64()            # an integer in the config: stays one
    assert schema.field("jobs").type == pa.int64()                # counts stay integers
    assert schema.field("dvr").type == pa.float64()
    # every part file carries the same schema, so a reader taking one file's schema sees all
    files = sorted(grown.glob("part-*.parquet"))
    assert len(files) >= 2
    first = pq.read_schema(files[0]).remove_metadata()
    assert all(pq.read_schema(f).remove_metadata().equals(first) for f in files)
    rel = duckdb.sql(f"SELECT * FROM read_parquet('{grown}/**/*.parquet')")
    types = dict(zip(rel.columns, map(str, rel.types)))
    assert types["scheduler.alpha"] == "DOUBLE" and types["jobs"] == "BIGINT"
    pl = polars.read_parquet(f"{grown}/**/*.parquet")
    assert pl.schema["scheduler.alpha"] == polars.Float64 and pl.schema["jobs"] == polars.Int64


def test_report_goes_beside_and_readers_still_read(grown):
    res = dream("report", str(grown), cwd=grown.parent)
    assert res.returncode == 0, res.stderr
    beside = grown.parent / f"{grown.name}-report"
    assert (beside / "report.md").is_file()
    assert not [p for p in grown.iterdir() if p.is_dir()]
    seen = readers(grown)
    assert all(len(df) == 12 for df in seen.values())
