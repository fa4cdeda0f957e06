"""The results dataset: one row per simulation, Parquet files under one directory.

Writers (`dream sweep`, multirun gathering) and readers (`dream report`) share these
names. Files may carry different columns (per-task metrics differ by scenario); the
reader unifies their schemas, filling missing values with nulls.

One row per run key. A rerun of failed points (`dream sweep --retry-failed`) writes the
new rows first and then rewrites the older files without the rows they supersede
(`compact`); should the driver die in between, `read_dataset` still returns one row per
run key: an `ok` row over a failed one, then the most recently finished.

Files are written under a temporary name (starting with ".") and renamed, so a reader
never sees half a file. `_sweep.json` next to the data holds the study's provenance.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

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


METADATA_FILE = "_sweep.json"
TEMP_PREFIX = ".tmp-"


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


def read_dataset(path: str | Path, columns: Iterable[str] | None = None, *,
                 dedupe: bool = True) -> pd.DataFrame:
    """Read a dataset directory into one DataFrame; hive partition keys become columns.

    Files may have different columns (their schemas are unified, missing values are null).
    With `dedupe` (the default), a run key stored twice yields one row: `ok` over
    `failed`, then the latest `finished_at`.
    """
    root = Path(path)
    files = parquet_files(root)
    if not files:
        return pd.DataFrame(columns=list(columns) if columns is not None else list(KEY_COLUMNS))
    wanted = list(columns) if columns is not None else None
    needed = None
    if wanted is not None:
        needed = wanted + [c for c in _DEDUPE_COLUMNS if dedupe and c not in wanted]
    tables = []
    for f in files:
        if needed is None:
            t = pq.read_table(f)
        else:  # read only the columns asked for (resume scans touch run_key and status)
            names = set(pq.read_schema(f).names)
            t = pq.read_table(f, columns=[c for c in needed if c in names])
        for k, v in _partition_values(root, f).items():
            if k not in t.column_names:
                t = t.append_column(k, pa.array([v] * t.num_rows, pa.string()))
        tables.append(t)
    table = pa.concat_tables(tables, promote_options="permissive")
    if needed is not None:
        table = table.select([c for c in needed if c in table.column_names])
    df = table.to_pandas()
    if dedupe:
        df = _newest_per_key(df)
    if wanted is not None:
        return df[[c for c in wanted if c in df.columns]]
    return df[canonical_order(df.columns)]


def canonical_order(columns: Iterable[str]) -> list[str]:
    """Key, identity, parameter and headline metric columns first, then the rest by name.

    Files written in completion order carry different column sets; a fixed order keeps
    the same dataset looking the same whichever executor or chunking wrote it.
    """
    cols = list(columns)
    first = [c for c in KEY_COLUMNS + IDENTITY_COLUMNS if c in cols]
    metrics = [c for c in METRIC_COLUMNS if c in cols]
    rest = [c for c in cols if c not in first and c not in metrics]
    params = sorted(c for c in rest if not c.startswith(("task.", "acc.")) and c not in TIMING_COLUMNS)
    tail = sorted(c for c in rest if c not in params)
    return first + params + metrics + tail


_DEDUPE_COLUMNS = ("run_key", "status", "finished_at")


def _newest_per_key(df: pd.DataFrame) -> pd.DataFrame:
    """One row per run key: ok before failed, then the latest finished_at (stable otherwise)."""
    if "run_key" not in df.columns or not df["run_key"].duplicated().any():
        return df
    rank = pd.DataFrame({
        "ok": (df["status"] == "ok").to_numpy() if "status" in df.columns else False,
        "t": pd.to_numeric(df["finished_at"], errors="coerce").fillna(-1.0).to_numpy()
        if "finished_at" in df.columns else 0.0,
        "pos": range(len(df)),
    }, index=df.index)
    order = rank.sort_values(["ok", "t", "pos"], kind="stable").index
    keys = df.loc[order, "run_key"]
    keep = (~keys.duplicated(keep="last") | keys.isna()).to_numpy()
    return df[df.index.isin(order[keep])].reset_index(drop=True)


def stored_status(path: str | Path) -> dict[str, str]:
    """run_key -> status of every row stored in a dataset (after dedupe)."""
    if not Path(path).exists():
        return {}
    df = read_dataset(path, columns=["run_key", "status"])
    if "run_key" not in df.columns or df.empty:
        return {}
    df = df[df["run_key"].notna()]
    return dict(zip(df["run_key"].astype(str), df["status"].astype(str)))


def write_table_atomic(table: pa.Table, path: str | Path) -> Path:
    """Write a Parquet file under a temporary name in the same directory, then rename it."""
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f"{TEMP_PREFIX}{dest.name}.{os.getpid()}")
    pq.write_table(table, tmp)
    with open(tmp, "rb") as fh:  # the rename must not land before the bytes do
        os.fsync(fh.fileno())
    os.replace(tmp, dest)
    return dest


def remove_temp_files(path: str | Path) -> int:
    """Delete temporary files a killed writer left behind; returns how many."""
    root = Path(path)
    if not root.is_dir():
        return 0
    n = 0
    for p in root.rglob(f"{TEMP_PREFIX}*"):
        p.unlink(missing_ok=True)
        n += 1
    return n


def compact(path: str | Path) -> int:
    """Rewrite files so each run key is stored once (the row read_dataset keeps); returns rows dropped."""
    root = Path(path)
    files = parquet_files(root) if root.exists() else []
    parts = []
    for i, f in enumerate(files):
        names = pq.read_schema(f).names
        if "run_key" not in names:
            continue
        cols = [c for c in _DEDUPE_COLUMNS if c in names]
        df = pq.read_table(f, columns=cols).to_pandas()
        df["_file"] = i
        df["_row"] = range(len(df))
        parts.append(df)
    if not parts:
        return 0
    all_rows = pd.concat(parts, ignore_index=True)
    if not all_rows["run_key"].dropna().duplicated().any():
        return 0
    kept = _newest_per_key(all_rows)
    keep = set(zip(kept["_file"], kept["_row"]))
    dropped = 0
    for i in sorted(set(all_rows["_file"])):
        rows = all_rows[all_rows["_file"] == i]
        mask = [(i, r) in keep for r in rows["_row"]]
        if all(mask):
            continue
        dropped += len(mask) - sum(mask)
        if not any(mask):
            files[i].unlink()
            continue
        table = pq.read_table(files[i])
        write_table_atomic(table.filter(pa.array(mask)), files[i])
    return dropped


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The dataset's provenance (_sweep.json), or {} when there is none."""
    f = Path(path) / METADATA_FILE
    return json.loads(f.read_text()) if f.is_file() else {}


def write_metadata(path: str | Path, meta: dict[str, Any]) -> Path:
    """Write _sweep.json atomically."""
    f = Path(path) / METADATA_FILE
    f.parent.mkdir(parents=True, exist_ok=True)
    tmp = f.with_name(f"{TEMP_PREFIX}{f.name}.{os.getpid()}")
    tmp.write_text(json.dumps(meta, indent=1, sort_keys=True, default=str) + "\n")
    os.replace(tmp, f)
    return f
