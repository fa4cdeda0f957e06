"""Layer tables: one row per layer with the loop bounds a cost model maps onto PEs."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from dream.errors import ConfigError
from dream.validation import MAX_EXACT_INT

OPS = ("conv", "dwconv", "fc")
DIM_COLUMNS = ("K", "C", "Y", "X", "R", "S", "stride")
LAYER_COLUMNS = ("name", "op") + DIM_COLUMNS


def make_layer_table(rows: Iterable[tuple | dict]) -> pd.DataFrame:
    """Build a layer table from (name, op, K, C, Y, X, R, S, stride) tuples or dicts.

    Y and X are the OUTPUT height and width. For `dwconv` C must equal K (one input
    channel per output channel). An `fc` layer uses Y x X as the number of tokens
    it is applied to (1 x 1 for a classifier) and R = S = 1.
    """
    records = [r if isinstance(r, dict) else dict(zip(LAYER_COLUMNS, r)) for r in rows]
    df = pd.DataFrame.from_records(records, columns=list(LAYER_COLUMNS))
    if "stride" in df and df["stride"].isna().any():
        df["stride"] = df["stride"].fillna(1)
    for col in DIM_COLUMNS:
        df[col] = df[col].astype(np.int64)
    df["op"] = df["op"].astype(str)
    df["name"] = df["name"].astype(str)
    return df


def layer_macs(layers: pd.DataFrame) -> np.ndarray:
    """Multiply-accumulates per layer (int64); depthwise layers reduce over one channel."""
    K = layers["K"].to_numpy(np.int64)
    C = layers["C"].to_numpy(np.int64)
    c_eff = np.where(layers["op"].to_numpy() == "dwconv", 1, C)
    return K * c_eff * layers["Y"].to_numpy(np.int64) * layers["X"].to_numpy(np.int64) * layers[
        "R"
    ].to_numpy(np.int64) * layers["S"].to_numpy(np.int64)


def input_extent(out: np.ndarray, kernel: np.ndarray, stride: np.ndarray) -> np.ndarray:
    """Input rows (or columns) a layer reads to produce `out` outputs."""
    return (out - 1) * stride + kernel


def _row(i: int) -> str:
    """Row i (0-based) as messages name it: the 1-based data row (header not counted) and
    the layer index, which is what cost tables and dynamic blocks refer to."""
    return f"row {i + 1} (layer {i})"


def validate_layer_table(df: pd.DataFrame, where: str) -> pd.DataFrame:
    """Check columns, ops and dimensions; return a normalised copy or raise ConfigError.

    Messages name a bad row by its 1-based data row and its 0-based layer index.
    """
    missing = [c for c in LAYER_COLUMNS if c not in df.columns and c not in ("name", "stride")]
    if missing:
        raise ConfigError(
            where,
            f"layer table lacks column(s) {missing}; required: op, K, C, Y, X, R, S "
            "(optional: name, stride)",
        )
    if len(df) == 0:
        raise ConfigError(where, "layer table has no rows")
    out = df.copy()
    if "name" not in out:
        out["name"] = [f"layer{i}" for i in range(len(out))]
    if "stride" not in out:
        out["stride"] = 1
    bad_ops = sorted(set(out["op"].astype(str)) - set(OPS))
    if bad_ops:
        raise ConfigError(where, f"unknown op(s) {bad_ops}; allowed: {list(OPS)}")
    for col in DIM_COLUMNS:
        values = pd.to_numeric(out[col], errors="coerce")
        # inf equals its own floor: refuse it (and NaN) explicitly
        bad = values.isna() | ~np.isfinite(values.astype(float)) | (values != np.floor(values))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ConfigError(where, f"{_row(row)}: column {col} must be a positive integer")
        if (values <= 0).any():
            row = int(np.flatnonzero(values <= 0)[0])
            raise ConfigError(
                where, f"{_row(row)}: column {col} = {values.iloc[row]} must be a positive integer"
            )
        out[col] = values.astype(np.int64)
    dw = out["op"] == "dwconv"
    if (out.loc[dw, "C"] != out.loc[dw, "K"]).any():
        row = int(np.flatnonzero(dw & (out["C"] != out["K"]))[0])
        raise ConfigError(where, f"{_row(row)}: a dwconv layer needs C == K")
    _check_sizes(out, where)
    return out[list(LAYER_COLUMNS)].reset_index(drop=True)


def _check_sizes(df: pd.DataFrame, where: str) -> None:
    """Refuse layers whose MACs or tensor sizes leave int64/float64's exact integer range.

    The cost model multiplies dimensions in int64; a product past 2**63 wraps silently
    (to negative MACs and wrong energy). Products are taken in float64 here, which cannot
    wrap, and must stay at most MAX_EXACT_INT (2**53, about 9.0e15).
    """
    f = {c: df[c].to_numpy(np.float64) for c in DIM_COLUMNS}
    c_eff = np.where(df["op"].to_numpy() == "dwconv", 1.0, f["C"])
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


def load_layer_table(path: str | Path, where: str) -> pd.DataFrame:
    """Read a user's layer table from CSV or Parquet and validate it."""
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
