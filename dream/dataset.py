"""The results dataset: one row per simulation, Parquet files under one directory.

Writers (`dream sweep`, multirun gathering) and readers (`dream report`) share these
names. Files may carry different columns (per-task metrics differ by scenario); the
reader unifies their schemas, filling missing values with nulls.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

# always present in a row, whatever was swept
KEY_COLUMNS = ("run_key", "status", "error")
IDENTITY_COLUMNS = ("workload", "hardware", "scheduler", "seed")
# headline metrics of domain.md section 5 (per-task ones are "task.<T>.<metric>",
# per-sub-accelerator ones "acc.<name>.utilization")
METRIC_COLUMNS = ("jobs", "on_time", "late", "dropped", "unfinished", "dvr", "drop_rate",
                  "energy_mj", "energy_per_job_mj", "uxcost", "xrbench_score", "accuracy_mean",
                  "decisions", "blocks", "layers")
# vary from run to run; excluded when comparing results for determinism
TIMING_COLUMNS = ("wall_s", "decision_time_us_mean", "decision_time_us_p99", "elapsed_s",
                  "worker", "finished_at")


def parquet_files(path: str | Path) -> list[Path]:
    """Every finished Parquet file of a dataset (temporary files are skipped)."""
    root = Path(path)
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*.parquet") if not p.name.startswith((".", "_")))


def _partition_values(root: Path, file: Path) -> dict[str, str]:
    """key=value directory names between the dataset root and a file (hive style)."""
    if root.is_file():
        return {}
    out = {}
    for part in file.relative_to(root).parts[:-1]:
        if "=" in part:
            k, v = part.split("=", 1)
            out[k] = v
    return out


def read_dataset(path: str | Path, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """Read a dataset directory into one DataFrame; hive partition keys become columns.

    Files may have different columns (their schemas are unified, missing values are null).
    """
    root = Path(path)
    files = parquet_files(root)
    if not files:
        return pd.DataFrame(columns=list(KEY_COLUMNS))
    tables = []
    for f in files:
        t = pq.read_table(f)
        for k, v in _partition_values(root, f).items():
            if k not in t.column_names:
                t = t.append_column(k, pa.array([v] * t.num_rows, pa.string()))
        tables.append(t)
    table = pa.concat_tables(tables, promote_options="permissive")
    if columns is not None:
        table = table.select([c for c in list(columns) if c in table.column_names])
    return table.to_pandas()
