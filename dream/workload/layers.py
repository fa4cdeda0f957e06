"""Layer tables: one row per layer with the loop bounds a cost model maps onto PEs.

A layer table is a `LayerTable` (a read-only column table, dream.columns): `name` and
`op` as strings, K, C, Y, X, R, S and stride as int64. Functions that read one also
accept a pandas DataFrame with those columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import numpy as np

from dream.columns import Columns
from dream.errors import ConfigError
from dream.validation import MAX_EXACT_INT

if TYPE_CHECKING:
    import pandas as pd

OPS = ("conv", "dwconv", "fc")
DIM_COLUMNS = ("K", "C", "Y", "X", "R", "S", "stride")
LAYER_COLUMNS = ("name", "op") + DIM_COLUMNS


class LayerTable(Columns):
    """A layer table: columns name, op, K, C, Y, X, R, S, stride (see the module docstring).

    Build one with `make_layer_table` (trusted rows, the zoo) or `validate_layer_table`
    (anything a user gives). `to_pandas()` gives the DataFrame.
    """

    __slots__ = ()


def make_layer_table(rows: Iterable[tuple | dict]) -> LayerTable:
    """Build a layer table from (name, op, K, C, Y, X, R, S, stride) tuples or dicts.

    Y and X are the OUTPUT height and width. For `dwconv` C must equal K (one input
    channel per output channel). An `fc` layer uses Y x X as the number of tokens
    it is applied to (1 x 1 for a classifier) and R = S = 1. A missing or None stride is 1.
    """
    records = [r if isinstance(r, dict) else dict(zip(LAYER_COLUMNS, r)) for r in rows]
    cols: dict[str, Any] = {
        "name": np.array([str(r.get("name")) for r in records], dtype=object),
        "op": np.array([str(r.get("op")) for r in records], dtype=object),
    }
    for col in DIM_COLUMNS:
        default = 1 if col == "stride" else None
        cols[col] = np.array([default if r.get(col) is None else r[col] for r in records],
                             dtype=np.int64) if records else np.zeros(0, np.int64)
    return LayerTable(cols)


def layer_macs(layers: "LayerTable | pd.DataFrame") -> np.ndarray:
    """Multiply-accumulates per layer, shape (L,) int64; depthwise layers reduce over one channel."""
    K, C, Y, X, R, S = (np.asarray(layers[c], np.int64) for c in ("K", "C", "Y", "X", "R", "S"))
    c_eff = np.where(np.asarray(layers["op"]) == "dwconv", 1, C)
    return K * c_eff * Y * X * R * S


def input_extent(out: np.ndarray, kernel: np.ndarray, stride: np.ndarray) -> np.ndarray:
    """Input rows (or columns) a layer reads to produce `out` outputs."""
    return (out - 1) * stride + kernel


def _row(i: int) -> str:
    """Row i (0-based) as messages name it: the 1-based data row (header not counted) and
    the layer index, which is what cost tables and dynamic blocks refer to."""
    return f"row {i + 1} (layer {i})"


def _numbers(values: Any) -> np.ndarray:
    """Values as float64, NaN where a value is not a number (as pandas' to_numeric coerces)."""
    a = np.asarray(values)
    if a.dtype.kind in "biuf":
        return a.astype(np.float64)
    out = np.empty(len(a))
    for i, v in enumerate(a.tolist()):
        try:
            out[i] = float(v) if not isinstance(v, bool) else np.nan
        except (TypeError, ValueError):
            out[i] = np.nan
    return out


def validate_layer_table(df: "LayerTable | pd.DataFrame | Mapping[str, Any]", where: str) -> LayerTable:
    """Check columns, ops and dimensions of a table (LayerTable, DataFrame or mapping of
    columns); return it as a LayerTable or raise ConfigError.

    Messages name a bad row by its 1-based data row and its 0-based layer index.
    """
    names = list(df.columns) if hasattr(df, "columns") else list(df)
    missing = [c for c in LAYER_COLUMNS if c not in names and c not in ("name", "stride")]
    if missing:
        raise ConfigError(
            where,
            f"layer table lacks column(s) {missing}; required: op, K, C, Y, X, R, S "
            "(optional: name, stride)",
        )
    n = len(np.asarray(df["op"]))
    if n == 0:
        raise ConfigError(where, "layer table has no rows")
    ops = np.array([str(v) for v in np.asarray(df["op"]).tolist()], dtype=object)
    bad_ops = sorted(set(ops.tolist()) - set(OPS))
    if bad_ops:
        raise ConfigError(where, f"unknown op(s) {bad_ops}; allowed: {list(OPS)}")
    cols: dict[str, Any] = {
        "name": (np.array([str(v) for v in np.asarray(df["name"]).tolist()], dtype=object)
                 if "name" in names else np.array([f"layer{i}" for i in range(n)], dtype=object)),
        "op": ops,
    }
    for col in DIM_COLUMNS:
        if col == "stride" and col not in names:
            cols[col] = np.ones(n, np.int64)
            continue
        values = _numbers(df[col])
        # inf equals its own floor: refuse it (and NaN) explicitly
        bad = ~np.isfinite(values) | (values != np.floor(values))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ConfigError(where, f"{_row(row)}: column {col} must be a positive integer")
        if (values <= 0).any():
            row = int(np.flatnonzero(values <= 0)[0])
            shown = int(values[row]) if values[row] == int(values[row]) else values[row]
            raise ConfigError(where, f"{_row(row)}: column {col} = {shown} must be a positive integer")
        cols[col] = values.astype(np.int64)
    dw = ops == "dwconv"
    if (cols["C"][dw] != cols["K"][dw]).any():
        row = int(np.flatnonzero(dw & (cols["C"] != cols["K"]))[0])
        raise ConfigError(where, f"{_row(row)}: a dwconv layer needs C == K")
    table = LayerTable(cols)
    _check_sizes(table, where)
    return table


def _check_sizes(df: LayerTable, where: str) -> None:
    """Refuse layers whose MACs or tensor sizes leave int64/float64's exact integer range.

    The cost model multiplies dimensions in int64; a product past 2**63 wraps silently
    (to negative MACs and wrong energy). Products are taken in float64 here, which cannot
    wrap, and must stay at most MAX_EXACT_INT (2**53, about 9.0e15).
    """
    f = {c: np.asarray(df[c], np.float64) for c in DIM_COLUMNS}
    c_eff = np.where(np.asarray(df["op"]) == "dwconv", 1.0, f["C"])
    sizes = {
        "MACs": f["K"] * c_eff * f["Y"] * f["X"] * f["R"] * f["S"],
        "weights": f["K"] * c_eff * f["R"] * f["S"],
        "outputs": f["K"] * f["Y"] * f["X"],
        "inputs": f["C"] * ((f["Y"] - 1) * f["stride"] + f["R"]) * ((f["X"] - 1) * f["stride"] + f["S"]),
    }
    for what, v in sizes.items():
        big = ~(v <= MAX_EXACT_INT)
        if big.any():
            row = int(np.flatnonzero(big)[0])
            raise ConfigError(where, f"{_row(row)}: the layer's {what} ({v[row]:.3g}) exceed "
                              f"{float(MAX_EXACT_INT):.3g} (2**53); dimensions this large overflow "
                              "the cost model's integer arithmetic")


def load_layer_table(path: str | Path, where: str) -> LayerTable:
    """Read a user's layer table from CSV or Parquet and validate it."""
    import pandas as pd

    p = Path(path)
    if p.is_dir():
        raise ConfigError(where, f"layer table {str(p)!r} is a directory; give a .csv or .parquet file")
    if not p.is_file():
        raise ConfigError(where, f"layer table file {str(p)!r} does not exist")
    try:
        if p.suffix.lower() == ".csv":
            df = pd.read_csv(p)
        elif p.suffix.lower() in (".parquet", ".pq"):
            df = pd.read_parquet(p)
        else:
            raise ConfigError(where, f"layer table {str(p)!r}: use a .csv or .parquet file")
    except ConfigError:
        raise
    except Exception as exc:  # a malformed file: report it at the edge, not as a traceback
        raise ConfigError(where, f"cannot read layer table {str(p)!r}: {exc}") from None
    return validate_layer_table(df, where)
