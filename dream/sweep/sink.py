"""The driver's Parquet writer: rows stream in, files appear whole (temporary name, then rename).

Rows are buffered and flushed as one file when enough have arrived or enough time has
passed (the first after 2 s, then at most every MAX_FLUSH_S): a killed driver loses at
most the last few seconds of finished rows, which a rerun simulates again. At the end of
a sweep `dream.dataset.unify` gives every file the same schema.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Iterable, Mapping

import pyarrow as pa

from dream.dataset import KEY_COLUMNS, IDENTITY_COLUMNS, TIMING_COLUMNS, write_table_atomic

# a kill loses at most this many seconds of finished work
MAX_FLUSH_S = 5.0

_ARROW_TYPES = {"bool": pa.bool_(), "int": pa.int64(), "float": pa.float64(), "string": pa.string()}
_FIXED_TYPES = {"run_key": pa.string(), "status": pa.string(), "error": pa.string(),
                "workload": pa.string(), "hardware": pa.string(), "scheduler": pa.string(),
                "seed": pa.int64(), "elapsed_s": pa.float64(), "worker": pa.string(),
                "finished_at": pa.float64()}


def _column(name: str, values: list[Any], kind: pa.DataType | None) -> pa.Array:
    """One column; a fixed type where known, else inferred (mixed values fall back to text)."""
    if kind is not None:
        try:
            return pa.array(values, kind)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            pass
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())


def param_types(kinds: Mapping[str, str]) -> dict[str, pa.DataType]:
    """The Arrow type of each parameter column, by its kind (as the sink writes it)."""
    return {k: _ARROW_TYPES[v] for k, v in kinds.items()}


def stable_kinds(kinds: Mapping[str, str], base: Mapping[str, Any]) -> dict[str, str]:
    """Column kinds that stay the same whatever values a later sweep adds.

    A numeric parameter is stored as float unless the config itself holds an integer
    there (seeds, PE counts): integers swept today over a float parameter (alpha 0, 1, 2)
    would otherwise become an int64 column that a later 0.5 cannot join.
    """
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(dict(base))
    out = {}
    for key, kind in kinds.items():
        if kind == "int":
            try:
                current = OmegaConf.select(cfg, key.lstrip("+"), default=None)
            except Exception:  # a key the base config cannot address (a group, @package)
                current = None
            if not (isinstance(current, int) and not isinstance(current, bool)):
                kind = "float"
        out[key] = kind
    return out


def rows_to_table(rows: list[Mapping[str, Any]], param_kinds: Mapping[str, str],
                  metadata: Mapping[str, str] | None = None) -> pa.Table:
    """Rows (dicts, possibly with different keys) to one table in the dataset's column order."""
    lead = list(KEY_COLUMNS) + list(IDENTITY_COLUMNS) + [k for k in param_kinds
                                                         if k not in IDENTITY_COLUMNS]
    tail = [c for c in TIMING_COLUMNS if c in ("elapsed_s", "worker", "finished_at")]
    seen = dict.fromkeys(lead)
    for r in rows:
        for k in r:
            if k not in seen and k not in tail:
                seen[k] = None
    names = list(seen) + tail
    arrays = []
    for name in names:
        kind = _FIXED_TYPES.get(name)
        if name in param_kinds:
            kind = param_types({name: param_kinds[name]})[name]
        arrays.append(_column(name, [r.get(name) for r in rows], kind))
    table = pa.Table.from_arrays(arrays, names=names)
    if metadata:
        table = table.replace_schema_metadata({k: v for k, v in metadata.items()})
    return table


class DatasetSink:
    """Buffers rows and writes them as Parquet files into one dataset directory."""

    def __init__(self, out_dir: str | Path, param_kinds: Mapping[str, str],
                 metadata: Mapping[str, Any] | None = None, flush_rows: int = 1000,
                 first_flush_s: float = 2.0, max_flush_s: float = MAX_FLUSH_S) -> None:
        self.out = Path(out_dir)
        self.param_kinds = dict(param_kinds)
        self.metadata = {"dream.sweep": json.dumps(metadata or {}, sort_keys=True, default=str)}
        self.flush_rows = flush_rows
        self.interval = first_flush_s
        self.max_interval = max_flush_s
        t = time.time()  # sorted names follow write order; the pid keeps writers apart
        self.run_id = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(t))}.{int(t % 1 * 1e6):06d}-{os.getpid()}"
        self.buffer: list[dict[str, Any]] = []
        self.files: list[Path] = []
        self.rows_written = 0
        self._last = time.monotonic()
        self._seq = 0

    def add(self, rows: Iterable[dict[str, Any]]) -> None:
        """Buffer rows; write a file when the buffer is large or old enough."""
        self.buffer.extend(rows)
        if len(self.buffer) >= self.flush_rows or (
                self.buffer and time.monotonic() - self._last >= self.interval):
            self.flush()

    def flush(self) -> Path | None:
        """Write the buffered rows as one file now (nothing if the buffer is empty)."""
        self._last = time.monotonic()
        if not self.buffer:
            return None
        self._seq += 1
        path = self.out / f"part-{self.run_id}-{self._seq:05d}.parquet"
        write_table_atomic(rows_to_table(self.buffer, self.param_kinds, self.metadata), path)
        self.rows_written += len(self.buffer)
        self.buffer = []
        self.files.append(path)
        # the first files come quickly (visible progress), later ones at most MAX_FLUSH_S apart
        self.interval = min(self.max_interval, self.interval * 1.5)
        return path

    def close(self) -> None:
        """Write whatever is buffered."""
        self.flush()
