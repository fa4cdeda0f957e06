"""Column tables: equal-length numpy arrays by name, read-only, with pandas and Arrow at the edges.

Layer tables and a simulation's job and block records are column tables. They are built
once, read column by column on the hot paths (cost models, metrics), and never edited in
place; a plain mapping of arrays does that without importing pandas, which alone costs
more than a whole `dream run` should (about 0.25 s). `to_pandas()` and `to_arrow()` give
the DataFrame and the Arrow table a user or a Parquet file wants.

A column may be categorical: integer codes plus the list of names they index (task and
sub-accelerator names in records). Indexing it gives the names; pandas gets a
Categorical and Arrow a dictionary array, so the category order survives a Parquet file.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa


def _frozen(a: Any) -> np.ndarray:
    """A read-only 1-D array of `a`: a private copy unless `a` is a new or read-only array."""
    fresh = isinstance(a, (list, tuple))
    out = np.asarray(a)
    if out.ndim != 1:
        raise ValueError(f"a column must be one-dimensional, got shape {out.shape}")
    if out.flags.writeable:
        if not fresh:  # the caller's array (or a view of one): copied, so its later edits cannot reach us
            out = out.copy()
        out.setflags(write=False)
    return out


class Columns:
    """A read-only table: `table[name]` is a 1-D numpy array of length `len(table)`.

    Args:
        data: column name -> 1-D array-like, all of one length; the order is kept.
        categories: column name -> the names its integer codes index (optional).

    Raises:
        ValueError: columns of different lengths, a non-1-D column, or codes outside
            their categories.
    """

    __slots__ = ("_data", "_cats", "_n", "__weakref__")

    def __init__(self, data: Mapping[str, Any],
                 categories: Mapping[str, Sequence[str]] | None = None) -> None:
        cols = {str(k): _frozen(v) for k, v in data.items()}
        lengths = {len(v) for v in cols.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns of different lengths: { {k: len(v) for k, v in cols.items()} }")
        self._data = cols
        self._n = lengths.pop() if lengths else 0
        self._cats: dict[str, np.ndarray] = {}
        for k, names in (categories or {}).items():
            codes = cols[k]
            names_a = np.asarray(list(names), dtype=object)
            if len(codes) and (codes.min() < 0 or codes.max() >= len(names_a)):
                raise ValueError(f"column {k!r}: codes outside its {len(names_a)} categories")
            self._cats[k] = names_a

    # -- the mapping side ----------------------------------------------------------------

    def __getitem__(self, name: str) -> np.ndarray:
        """The column's values (names for a categorical column); KeyError if absent."""
        values = self._data[name]
        cats = self._cats.get(name)
        return values if cats is None else cats[values]

    def __contains__(self, name: object) -> bool:
        return name in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return self._n

    @property
    def columns(self) -> list[str]:
        """The column names, in order."""
        return list(self._data)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns), as a DataFrame's."""
        return (self._n, len(self._data))

    def codes(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """A categorical column's integer codes and its categories (object array of names)."""
        return self._data[name], self._cats[name]

    def replace(self, **columns: Any) -> "Columns":
        """A new table with some columns replaced (or added at the end)."""
        data = dict(self._data)
        cats = {k: list(v) for k, v in self._cats.items() if k not in columns}
        data.update(columns)
        return type(self)(data, cats)

    def take(self, order: "np.ndarray | Sequence[int]") -> "Columns":
        """The rows in `order` (integer indexes), as a new table."""
        order = np.asarray(order, dtype=np.intp)
        return type(self)({k: v[order] for k, v in self._data.items()},
                          {k: list(v) for k, v in self._cats.items()})

    def copy(self) -> "Columns":
        """A new table object with the same values (columns are read-only, so shared)."""
        return type(self)(self._data, {k: list(v) for k, v in self._cats.items()})

    def equals(self, other: object) -> bool:
        """Same columns in the same order, same values (NaN equal to NaN), same categories."""
        if not isinstance(other, Columns) or other.columns != self.columns or len(other) != len(self):
            return False
        for k in self._data:
            a, b = self[k], other[k]
            if a.dtype.kind == "f" and b.dtype.kind == "f":
                if not np.array_equal(a, b, equal_nan=True):
                    return False
            elif not np.array_equal(a, b):
                return False
        return True

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._n} rows: {', '.join(self._data)})"

    # -- the edges -----------------------------------------------------------------------

    def to_pandas(self) -> "pd.DataFrame":
        """A DataFrame with the same columns (categorical ones as pandas Categoricals)."""
        import pandas as pd

        out: dict[str, Any] = {}
        for k, v in self._data.items():
            cats = self._cats.get(k)
            out[k] = v.copy() if cats is None else pd.Categorical.from_codes(v, categories=list(cats))
        return pd.DataFrame(out, columns=list(self._data))

    def to_arrow(self) -> "pa.Table":
        """An Arrow table: categorical columns as dictionary arrays, strings as strings,
        NaN in a float column as null (as pandas' Parquet writer stores a missing value)."""
        import pyarrow as pa

        arrays = []
        for k, v in self._data.items():
            cats = self._cats.get(k)
            if cats is not None:
                arrays.append(pa.DictionaryArray.from_arrays(_arrow(v.astype(np.int32)),
                                                             _arrow(cats)))
            else:
                arrays.append(_arrow(v))
        return pa.Table.from_arrays(arrays, names=list(self._data))


def _arrow(v: np.ndarray) -> "pa.Array":
    """A numpy column as an Arrow array, built from its buffers.

    pyarrow's own converters (`pa.array`) import pandas to look for pandas objects, which
    costs a `dream run` more than the rest of its write; the buffers are all they need.
    """
    import pyarrow as pa

    n = len(v)
    if v.dtype.kind in "OU":
        encoded = [str(x).encode("utf-8") for x in v.tolist()]
        offsets = np.zeros(n + 1, np.int64)
        offsets[1:] = np.cumsum(np.fromiter(map(len, encoded), np.int64, n))
        # Arrow's string type has 32-bit offsets; past 2 GiB of text, large_string
        kind, offsets = ((pa.string(), offsets.astype(np.int32)) if offsets[-1] < 2**31
                         else (pa.large_string(), offsets))
        return pa.Array.from_buffers(kind, n, [None, pa.py_buffer(offsets),
                                               pa.py_buffer(b"".join(encoded))])
    if v.dtype.kind == "b":
        return pa.Array.from_buffers(pa.bool_(), n, [None, pa.py_buffer(np.packbits(v, bitorder="little"))])
    kinds = {np.dtype(np.int64): pa.int64(), np.dtype(np.int32): pa.int32(),
             np.dtype(np.float64): pa.float64()}
    if v.dtype not in kinds:
        raise TypeError(f"no Arrow conversion for a column of dtype {v.dtype}")
    data = np.ascontiguousarray(v)
    if v.dtype.kind == "f":
        missing = np.isnan(data)
        if missing.any():
            valid = pa.py_buffer(np.packbits(~missing, bitorder="little"))
            return pa.Array.from_buffers(kinds[v.dtype], n, [valid, pa.py_buffer(data)],
                                         null_count=int(missing.sum()))
    return pa.Array.from_buffers(kinds[v.dtype], n, [None, pa.py_buffer(data)])
