"""XRBench's own model encodings, bundled as data, as models a workload can name.

XRBench (XRBench/XRBench-MLSys2023, MIT licence) writes each of its networks as a list of
plain convolutions: N = 1, K output channels, C input channels, Y x X INPUT rows and
columns, R x S kernel, stride 1, no padding, so a layer's output is (Y-R+1) x (X-S+1).
Depthwise and fully connected layers are written the same way (a depthwise layer as a
dense one, an FC layer as a 1x1 convolution over Y tokens). `data/xrbench_layers.csv`
holds those shapes (1439 layers of twelve network names) exactly as XRBench writes them.

`xrbench_models()` turns each network into a ModelDef named after the network (e.g.
`ES_RITNet`), with one variant (`w1.0`, XRBench has no supernets). The models are lazy:
listing them reads only the network names (no pandas); the shapes are read, checked and
turned into layer tables the first time a run builds one of them, so a run that names no
XRBench model pays nothing for them. Its layer table follows dream's convention (Y and X
are OUTPUT sizes):

    op = conv, Y = max(1, Y_in - R + 1), X = max(1, X_in - S + 1), stride = 1

18 layers have Y_in < R or X_in < S, a non-positive output in XRBench's valid-convolution
reading (MAESTRO still gives them positive costs). They are kept, with the kernel as
written and the output clamped to one row or column, as if the input were zero-padded
up to the kernel: layer indices stay aligned with XRBench's (so a MAESTRO cost table
applies row for row) and the analytical model costs them as small, positive layers.
"""

from __future__ import annotations

import csv
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dream.errors import ConfigError
from dream.workload.model import ModelDef, Variant

if TYPE_CHECKING:
    import pandas as pd

DATA_DIR = Path(__file__).resolve().parent / "data"
LAYERS_FILE = DATA_DIR / "xrbench_layers.csv"
SHAPE_COLUMNS = ("model", "layer", "name", "K", "C", "Y", "X", "R", "S")
FULL = (Variant("w1.0", 1.0, 1.0),)


def read_xrbench_shapes(path: str | Path = LAYERS_FILE, where: str = "xrbench layers") -> "pd.DataFrame":
    """XRBench-encoded layer shapes: columns model, layer, name, K, C, Y, X, R, S.

    Y and X are input sizes (stride 1, no padding). Raises ConfigError naming the file,
    the row (1-based data row) and the column when a column is missing or a dimension is
    not a positive integer.
    """
    import pandas as pd

    p = Path(path)
    try:
        df = pd.read_csv(p, dtype={"model": str, "name": str}, keep_default_na=False)
    except Exception as exc:  # unreadable file: one line, not a traceback
        raise ConfigError(where, f"cannot read XRBench layer shapes {str(p)!r}: {exc}") from None
    missing = [c for c in SHAPE_COLUMNS if c not in df.columns]
    if missing:
        raise ConfigError(where, f"{str(p)!r} lacks column(s) {missing}; required: {list(SHAPE_COLUMNS)}")
    for col in ("layer", "K", "C", "Y", "X", "R", "S"):
        v = pd.to_numeric(df[col], errors="coerce")
        bad = v.isna() | (v != np.floor(v)) | (v < (0 if col == "layer" else 1))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ConfigError(where, f"{str(p)!r} row {row + 1}: column {col} = {df[col].iloc[row]} "
                              f"must be a {'non-negative' if col == 'layer' else 'positive'} integer")
        df[col] = v.astype(np.int64)
    return df[list(SHAPE_COLUMNS)]


def to_layer_table(shapes: "pd.DataFrame") -> "pd.DataFrame":
    """One network's XRBench shapes (rows in layer order) as a dream layer table.

    Output sizes are the valid-convolution ones, clamped to >= 1 (see the module notes);
    every layer is a dense `conv` with stride 1.
    """
    import pandas as pd

    from dream.workload.layers import LAYER_COLUMNS, validate_layer_table

    y = shapes["Y"].to_numpy(np.int64) - shapes["R"].to_numpy(np.int64) + 1
    x = shapes["X"].to_numpy(np.int64) - shapes["S"].to_numpy(np.int64) + 1
    table = pd.DataFrame({
        "name": shapes["name"].astype(str).to_numpy(),
        "op": "conv",
        "K": shapes["K"].to_numpy(np.int64),
        "C": shapes["C"].to_numpy(np.int64),
        "Y": np.maximum(y, 1),
        "X": np.maximum(x, 1),
        "R": shapes["R"].to_numpy(np.int64),
        "S": shapes["S"].to_numpy(np.int64),
        "stride": 1,
    })
    return validate_layer_table(table[list(LAYER_COLUMNS)], "xrbench layers")


@lru_cache(maxsize=None)
def _tables() -> "dict[str, pd.DataFrame]":
    """Every network's layer table, read and checked once per process (on first use)."""
    shapes = read_xrbench_shapes()
    out = {}
    for name, rows in shapes.groupby("model", sort=False):
        rows = rows.sort_values("layer")
        if not (rows["layer"].to_numpy() == np.arange(len(rows))).all():
            raise ConfigError("xrbench layers", f"model {name!r}: layer indices must be 0..n-1")
        out[str(name)] = to_layer_table(rows)
    return out


@lru_cache(maxsize=None)
def _names() -> tuple[str, ...]:
    """The network names in file order, read with the csv module: a catalog lists every
    XRBench model on every run, and this keeps that free of pandas and of the checks."""
    try:
        with open(LAYERS_FILE, newline="") as f:
            rows = csv.DictReader(f)
            return tuple(dict.fromkeys(row["model"] for row in rows))
    except (OSError, KeyError, csv.Error) as exc:
        raise ConfigError("xrbench layers", f"cannot read XRBench layer shapes {str(LAYERS_FILE)!r}: "
                          f"{exc!r}") from None


def _build(name: str, _width: float) -> "pd.DataFrame":
    """One network's layer table (one variant: the width is always 1.0)."""
    tables = _tables()
    if name not in tables:  # _names and _tables read the same file: only if it changed meanwhile
        raise ConfigError("xrbench layers", f"model {name!r} is not in {str(LAYERS_FILE)!r}")
    return tables[name]


@lru_cache(maxsize=None)
def _models() -> tuple[tuple[str, ModelDef], ...]:
    return tuple(
        (name, ModelDef(name=name, task=name.split("_")[0], build=partial(_build, name), variants=FULL,
                        source="XRBench model encoding (XRBench/XRBench-MLSys2023, MIT licence)"))
        for name in _names()
    )


def xrbench_models() -> dict[str, ModelDef]:
    """XRBench's networks as models, by XRBench's network name (e.g. 'GE_FBNet_C').

    Built once per process; every call returns a new dict of the same ModelDef objects.
    Their layer tables are read and checked when first built (see the module notes).
    """
    return dict(_models())
