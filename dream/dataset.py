"""The results dataset: one row per simulation, Parquet files under one directory.

Writers (`dream sweep`, multirun gathering) and readers (`dream report`) share these
names. Files may carry different columns (per-task metrics differ by scenario); the
reader unifies their schemas, filling missing values with nulls.

One row per run key. A rerun of failed points (`dream sweep --retry-failed`) writes the
new rows first and then rewrites the older files without the rows they supersede
(`compact`); should the driver die in between, `read_dataset` still returns one row per
run key: an `ok` row over a failed one, then the most recently finished.

Files are written under a temporary name (starting with ".") and renamed, so a reader
never sees half a file; each carries Parquet page checksums, verified whenever a stored
row is read. `_sweep.json` next to the data holds the study's provenance.

A dataset is dream's own directory: the marker `_dream_dataset.json` is written when it
is created, writers hold `.dream-lock` (fcntl.flock) while they write, and clean-up,
compaction and `unify` touch only the top-level files named like dream's own.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import pyarrow as pa
import pyarrow.parquet as pq

from dream.errors import ConfigError

if TYPE_CHECKING:  # imported where a dataset is read: `dream run` only checks a directory
    import pandas as pd

# always present in a row, whatever was swept
KEY_COLUMNS = ("run_key", "status", "error")
IDENTITY_COLUMNS = ("workload", "hardware", "scheduler", "seed")
# headline metrics of docs/metrics.md (per-task ones are "task.<T>.<metric>",
# per-sub-accelerator ones "acc.<name>.utilization")
METRIC_COLUMNS = ("jobs", "on_time", "late", "dropped", "unfinished", "dvr", "drop_rate",
                  "energy_mj", "energy_per_job_mj", "uxcost", "xrbench_score", "accuracy_mean",
                  "decisions", "blocks", "layers")
# vary from run to run; excluded when comparing results for determinism
TIMING_COLUMNS = ("wall_s", "decision_time_us_mean", "decision_time_us_p99", "elapsed_s",
                  "worker", "finished_at")


METADATA_FILE = "_sweep.json"
TEMP_PREFIX = ".tmp-"
# A directory is a dataset when it holds this file, written when dream creates it. Names
# starting with "_" or "." are skipped by pandas and pyarrow.dataset, and names not ending
# in ".parquet" by `dir/**/*.parquet` globs (DuckDB, polars): readers see only the parts.
MARKER_FILE = "_dream_dataset.json"
LOCK_FILE = ".dream-lock"
BROKEN_PREFIX = "_broken."
DATASET_FORMAT = 1
# a `dream search` study beside its rows (dream.search.study.JOURNAL)
SEARCH_JOURNAL = "_search.journal"
# the files dream writes into a dataset, by name; nothing else is ever removed or rewritten
PART_RE = re.compile(r"^part-[A-Za-z0-9_.-]+\.parquet$")
TEMP_RE = re.compile(r"^\.tmp-(part-[A-Za-z0-9_.-]+\.parquet|_sweep\.json|_dream_dataset\.json)\.\d+$")
# what a directory written before markers existed may hold (it is adopted as a dataset)
_LEGACY_RE = re.compile(rf"^({PART_RE.pattern[1:-1]}|_sweep\.json|{TEMP_RE.pattern[1:-1]})$")


class DatasetError(ConfigError):
    """A directory cannot be used as a dataset (foreign files, busy, broken parts)."""

    def __init__(self, path: str | Path, message: str) -> None:
        super().__init__(str(path), message)


def is_dataset(path: str | Path) -> bool:
    """Whether `path` is a directory dream created as a dataset (it holds the marker)."""
    return (Path(path) / MARKER_FILE).is_file()


def enclosing_dataset(path: str | Path) -> Path | None:
    """The dataset directory that `path` lies inside (below, not at it), or None.

    Anything written there would be read as part of that dataset by the Parquet readers
    that walk a directory (pandas, pyarrow.dataset, the `**/*.parquet` glob).
    """
    for parent in Path(path).absolute().parents:
        if is_dataset(parent):
            return parent
    return None


def check_not_inside_dataset(path: str | Path, flag: str) -> None:
    """Raise DatasetError when `path` lies inside a dataset (see enclosing_dataset)."""
    parent = enclosing_dataset(path)
    if parent is not None:
        raise DatasetError(path, f"lies inside the dataset {parent}, whose readers would take it "
                           f"for part of it: choose another {flag}")


def _listing(names: list[str]) -> str:
    shown = ", ".join(sorted(names)[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def check_target(path: str | Path) -> bool:
    """Raise DatasetError unless dream may write a dataset at `path`; True when it is one already.

    Allowed: a path that does not exist yet, an empty directory, a dataset, or a directory
    written by an earlier dream before markers existed (only part files and _sweep.json).
    """
    root = Path(path)
    check_not_inside_dataset(root, "--out")
    if not root.exists():
        return False
    if not root.is_dir():
        raise DatasetError(root, "exists and is not a directory; a dataset is a directory")
    if is_dataset(root):
        return True
    from dream.rundir import RUN_MARKER

    names = [p.name for p in root.iterdir()]
    if RUN_MARKER in names:
        raise DatasetError(root, "is a `dream run` directory, not a dataset; choose another --out")
    if not names:
        return False
    if METADATA_FILE in names and all(_LEGACY_RE.match(n) for n in names):
        return False  # written by dream before markers existed: adopted
    raise DatasetError(root, f"is not a dream dataset and not empty (it holds {_listing(names)}); "
                       "dream writes only into a new or empty directory or an existing dataset: "
                       "choose another --out")


def claim(path: str | Path, kind: str = "sweep") -> Path:
    """Make `path` a dataset (create it, write the marker), after check_target allows it."""
    root = Path(path)
    if check_target(root):
        if kind != "search" and (root / SEARCH_JOURNAL).exists():
            raise DatasetError(root, "holds a `dream search` study, which only `dream search` "
                               "extends: choose another --out")
        return root
    root.mkdir(parents=True, exist_ok=True)
    marker = {"format": DATASET_FORMAT, "created_by": kind, "created_at": time.time()}
    _write_text_atomic(root / MARKER_FILE, json.dumps(marker, sort_keys=True) + "\n")
    return root


def unclaim(path: str | Path, created: bool) -> None:
    """Undo claim() when nothing was stored (a sweep that could not start): remove the
    marker, lock and metadata, and the directory itself if claim() created it."""
    root = Path(path)
    ours = {MARKER_FILE, LOCK_FILE, METADATA_FILE}
    if not root.is_dir() or any(p.name not in ours for p in root.iterdir()):
        return
    for name in ours:
        (root / name).unlink(missing_ok=True)
    if created:
        try:
            root.rmdir()
        except OSError:
            pass


class DatasetLock:
    """An exclusive lock on a dataset while one process writes it (fcntl.flock).

    The kernel drops a flock when its holder exits in any way (SIGKILL included), so a
    dead writer never keeps a dataset locked; the pid in the file is only for the message.
    """

    def __init__(self, path: str | Path) -> None:
        self.root = Path(path)
        self._fd: int | None = None

    def acquire(self) -> "DatasetLock":
        """Take the lock or raise DatasetError naming the process that holds it."""
        fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise DatasetError(self.root, f"another dream process (pid {holder}) is writing this "
                               "dataset; run again when it has finished") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Let go of the lock (the file stays: removing it would race with a new holder)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "DatasetLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def parquet_files(path: str | Path) -> list[Path]:
    """Every finished Parquet file of a dataset (temporary files are skipped).

    In a dream dataset: its own part files (top level only). In any other directory:
    every *.parquet below it (hive-partitioned data written by other tools).
    """
    root = Path(path)
    if root.is_file():
        return [root]
    if is_dataset(root):
        return sorted(p for p in root.iterdir() if PART_RE.match(p.name) and p.is_file())
    return sorted(p for p in root.rglob("*.parquet") if not p.name.startswith((".", "_")))


def read_part(path: Path, columns: list[str] | None = None) -> pa.Table:
    """One Parquet file, page checksums verified; DatasetError naming the file if it is broken."""
    try:
        return pq.read_table(path, columns=columns, page_checksum_verification=True)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DatasetError(path, f"broken Parquet file ({' '.join(str(exc).split())[:200]})") from None


def part_schema(path: Path) -> pa.Schema:
    """A file's schema (footer only); DatasetError naming the file if it is broken."""
    try:
        return pq.read_schema(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DatasetError(path, f"broken Parquet file ({' '.join(str(exc).split())[:200]})") from None


def broken_parts(path: str | Path) -> list[tuple[Path, str]]:
    """Part files that cannot be read whole with verified page checksums, and why."""
    out = []
    for f in parquet_files(path):
        try:
            read_part(f)
        except DatasetError as exc:
            out.append((f, exc.message))
    return out


def move_aside(files: Iterable[Path]) -> list[Path]:
    """Rename broken part files to _broken.<name>.bad (readers skip them; nothing is deleted)."""
    moved = []
    for f in files:
        dest = f.with_name(f"{BROKEN_PREFIX}{f.name}.bad")
        n = 1
        while dest.exists():
            n += 1
            dest = f.with_name(f"{BROKEN_PREFIX}{f.name}.{n}.bad")
        os.rename(f, dest)
        moved.append(dest)
    return moved


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
                 dedupe: bool = True) -> "pd.DataFrame":
    """Read a dataset directory into one DataFrame; hive partition keys become columns.

    Files may have different columns (their schemas are unified, missing values are null).
    With `dedupe` (the default), a run key stored twice yields one row: `ok` over
    `failed`, then the latest `finished_at`.
    """
    import pandas as pd

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
            t = read_part(f)
        else:  # read only the columns asked for (resume scans touch run_key and status)
            names = set(part_schema(f).names)
            t = read_part(f, columns=[c for c in needed if c in names])
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


def _newest_per_key(df: "pd.DataFrame") -> "pd.DataFrame":
    """One row per run key: ok before failed, then the latest finished_at (stable otherwise)."""
    import pandas as pd

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
    """Write a Parquet file (with page checksums) under a temporary name, then rename it.

    On any error (a full disk) the temporary file is removed and the error raised: the
    destination is either the old file or the whole new one, never half a file.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f"{TEMP_PREFIX}{dest.name}.{os.getpid()}")
    try:
        pq.write_table(table, tmp, write_page_checksum=True)
        with open(tmp, "rb") as fh:  # the rename must not land before the bytes do
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _write_text_atomic(dest: Path, text: str) -> None:
    tmp = dest.with_name(f"{TEMP_PREFIX}{dest.name}.{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_temp_files(path: str | Path) -> int:
    """Delete temporary files a killed writer of this dataset left behind; returns how many.

    Only in a dataset, only at its top level, only names dream's writers use.
    """
    root = Path(path)
    if not is_dataset(root):
        return 0
    n = 0
    for p in root.iterdir():
        if TEMP_RE.match(p.name) and p.is_file() and not p.is_symlink():
            p.unlink(missing_ok=True)
            n += 1
    return n


def compact(path: str | Path) -> int:
    """Rewrite part files so each run key is stored once (the row read_dataset keeps); returns rows dropped."""
    import pandas as pd

    root = Path(path)
    if not is_dataset(root):
        return 0
    files = parquet_files(root)
    parts = []
    for i, f in enumerate(files):
        names = part_schema(f).names
        if "run_key" not in names:
            continue
        cols = [c for c in _DEDUPE_COLUMNS if c in names]
        df = read_part(f, columns=cols).to_pandas()
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
        table = read_part(files[i])
        write_table_atomic(table.filter(pa.array(mask)), files[i])
    return dropped


def _merged_type(types: list[pa.DataType]) -> pa.DataType:
    """One column type for values stored as `types` in different files.

    Nulls take the other type; integers and floats become float64 (a parameter swept
    over integers first and 0.5 later); anything else that differs becomes text.
    """
    real = list(dict.fromkeys(t for t in types if not pa.types.is_null(t)))
    if not real:
        return pa.null()
    if len(real) == 1:
        return real[0]
    if all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in real):
        return pa.float64()
    return pa.string()


def _cast(col: pa.ChunkedArray, kind: pa.DataType) -> pa.ChunkedArray:
    if col.type == kind:
        return col
    if pa.types.is_string(kind) and not pa.types.is_string(col.type):
        return pa.chunked_array([pa.array([None if v is None else str(v) for v in col.to_pylist()],
                                          pa.string())])
    return col.cast(kind)


def unify(path: str | Path, known: Mapping[str, Mapping[str, Any]] | None = None,
          known_types: Mapping[str, pa.DataType] | None = None) -> int:
    """Give every part file the same columns, types and order; returns files rewritten.

    Readers that take the schema of one file (pandas, pyarrow.dataset, DuckDB and polars
    over a glob) then see every row and column. Absent columns become nulls, except where
    `known` gives the value: run_key -> {column: value}. A sweep passes the parameter
    values of its points whose rows were stored before a parameter was swept: the same
    run key is the same resolved config, so the row's value of a newly swept key is the
    point's, not unknown. Only nulls are filled; a stored value is never changed.
    `known_types` gives the Arrow type of each such column (dream.sweep.sink.param_types).
    """
    root = Path(path)
    if not is_dataset(root):
        return 0
    files = parquet_files(root)
    schemas = [part_schema(f) for f in files]
    types: dict[str, list[pa.DataType]] = {}
    for sch in schemas:
        for fld in sch:
            types.setdefault(fld.name, []).append(fld.type)
    fill_cols = sorted({c for v in (known or {}).values() for c in v})
    for c in fill_cols:  # also a column only `known` has (every point of it was stored before)
        if (known_types or {}).get(c) is not None:
            types.setdefault(c, []).append(known_types[c])
    target = pa.schema([(c, _merged_type(types[c])) for c in canonical_order(types)])
    rewritten = 0
    for f, sch in zip(files, schemas):
        fills = _fills(f, sch, known, fill_cols) if known else {}
        if not fills and sch.remove_metadata().equals(target):
            continue
        table = read_part(f)
        cols = []
        for c, fld in zip(target.names, target):
            col = (_cast(table[c], fld.type) if c in table.column_names
                   else pa.nulls(table.num_rows, fld.type))
            if c in fills:
                values = col.to_pylist()
                for i, v in fills[c].items():
                    values[i] = v
                col = pa.chunked_array([pa.array(values, type=fld.type)])
            cols.append(col)
        out = pa.Table.from_arrays(cols, schema=target).replace_schema_metadata(sch.metadata)
        write_table_atomic(out, f)
        rewritten += 1
    return rewritten


def _fills(f: Path, sch: pa.Schema, known: Mapping[str, Mapping[str, Any]],
           cols: list[str]) -> dict[str, dict[int, Any]]:
    """column -> {row: value} for the null cells of file f that `known` gives."""
    if "run_key" not in sch.names:
        return {}
    present = [c for c in cols if c in sch.names]
    table = read_part(f, ["run_key", *present])
    keys = table["run_key"].to_pylist()
    rows = [(i, known[k]) for i, k in enumerate(keys) if k in known]
    out: dict[str, dict[int, Any]] = {}
    for c in cols:
        current = table[c].to_pylist() if c in present else [None] * len(keys)
        cells = {i: vals[c] for i, vals in rows
                 if current[i] is None and vals.get(c) is not None}
        if cells:
            out[c] = cells
    return out


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The dataset's provenance (_sweep.json), or {} when there is none."""
    f = Path(path) / METADATA_FILE
    if not f.is_file():
        return {}
    try:
        meta = json.loads(f.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise DatasetError(f, f"not valid JSON ({exc}); move it aside to continue") from None
    if not isinstance(meta, dict):
        raise DatasetError(f, "not a JSON object; move it aside to continue")
    return meta


def write_metadata(path: str | Path, meta: dict[str, Any]) -> Path:
    """Write _sweep.json atomically."""
    f = Path(path) / METADATA_FILE
    f.parent.mkdir(parents=True, exist_ok=True)
    _write_text_atomic(f, json.dumps(meta, indent=1, sort_keys=True, default=str) + "\n")
    return f
