"""A cost model that reads per-layer costs from a user's table (MAESTRO, Timeloop, measurements).

File format (CSV or Parquet), one row per (model, layer, sub-accelerator):

    model, layer, accelerator, latency_cycles, energy_nj [, variant]

or, keyed by the sub-accelerator's type (its signature) instead of its name:

    model, layer, dataflow, num_pes, noc_bw, latency_cycles, energy_nj [, variant]

`layer` is the 0-based index of the layer in the model's layer table; `accelerator` is
a sub-accelerator's name in the hardware config. A signature-keyed table matches every
sub-accelerator with that dataflow, PE count and NoC bandwidth, whatever its name, so
one table (MAESTRO's costs per sub-accelerator type) serves every hardware setting.
With a `variant` column, a row applies to that variant only; a row whose variant is
empty (or a table without the column) applies to every variant of the model that has
no row of its own for that layer.

A path is absolute, relative to the working directory, or `pkg:NAME`: a table bundled
with the package (`dream/workload/data/NAME`), found wherever dream is installed, so
`cost=xrbench_maestro` (`pkg:xrbench_maestro_costs.csv`) works from any folder.

Row numbers in error messages count data rows from 1 (the header line is not a row), so
data row N is line N + 1 of a CSV file.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Hashable, Mapping

import numpy as np

from dream.cost.base import CostModel
from dream.errors import ConfigError
from dream.hardware import Accelerator
from dream.hardware.spec import DATAFLOWS
from dream.workload.layers import LayerTable

if TYPE_CHECKING:  # a cost table file is read with pandas, imported when one is read
    import pandas as pd

# `pkg:NAME` names a table shipped in the package, whatever the working directory or install
PKG_PREFIX = "pkg:"
PKG_DATA_DIR = Path(__file__).resolve().parent.parent / "workload" / "data"

REQUIRED_COLUMNS = ("model", "layer", "accelerator", "latency_cycles", "energy_nj")
# the columns that key a row by sub-accelerator type instead of by `accelerator`
SIGNATURE_COLUMNS = ("dataflow", "num_pes", "noc_bw")


def bundled_tables() -> list[str]:
    """The `pkg:` names of the cost tables shipped in the package."""
    return sorted(f"{PKG_PREFIX}{p.name}" for p in PKG_DATA_DIR.glob("*_costs.csv"))


def resolve_table_path(path: str | os.PathLike, where: str) -> Path:
    """The file a table path names: `pkg:NAME` in the package data, else the path itself.

    Raises ConfigError when a `pkg:` name leaves the package data folder or names no
    bundled file (listing the bundled tables).
    """
    text = os.fspath(path)
    if not text.startswith(PKG_PREFIX):
        return Path(text).expanduser().resolve()
    name = text[len(PKG_PREFIX):]
    target = (PKG_DATA_DIR / name).resolve()
    # a pkg: name is a file of the package data, never a way out of it
    if not name or target.parent != PKG_DATA_DIR or not target.is_file():
        raise ConfigError(where, f"{text!r} is not a bundled cost table; allowed: "
                          f"{bundled_tables()} (or a path to your own .csv or .parquet file)")
    return target


def _cell(value: Any) -> str:
    """A table cell as plain text: numbers as written (-1.0, not np.float64(-1.0)), text quoted."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value) if isinstance(value, str) else str(value)


def _read(path: Path, where: str) -> "pd.DataFrame":
    """Read the file or raise ConfigError naming it."""
    import pandas as pd

    if path.is_dir():
        raise ConfigError(where, f"cost table {str(path)!r} is a directory; give a .csv or "
                          ".parquet file")
    if not path.is_file():
        raise ConfigError(where, f"cost table file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            # names stay strings: a model called "NA" or an empty variant is not a NaN
            return pd.read_csv(path, dtype={"model": str, "accelerator": str, "variant": str,
                                            "dataflow": str}, keep_default_na=False)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except Exception as exc:  # malformed file: report it at the edge, not as a traceback
        raise ConfigError(where, f"cannot read cost table {str(path)!r}: {exc}") from None
    raise ConfigError(where, f"cost table {str(path)!r}: use a .csv or .parquet file")


def _numeric(df: "pd.DataFrame", col: str, path: Path, where: str) -> np.ndarray:
    import pandas as pd

    values = pd.to_numeric(df[col], errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ConfigError(
            where, f"cost table {str(path)!r} row {row + 1}: {col} = {_cell(df[col].iloc[row])} "
            "must be a finite number >= 0"
        )
    return values


def _signature(acc: Accelerator) -> str:
    """The key of a sub-accelerator type: dataflow, PEs and NoC bandwidth (e.g. 'WS/4096/256')."""
    return f"{acc.dataflow}/{int(acc.num_pes)}/{float(acc.noc_bw):g}"


def _signature_keys(df: "pd.DataFrame", path: Path, where: str) -> np.ndarray:
    """Validate the signature columns; one key string per row (as `_signature` writes it)."""
    flow = df["dataflow"].astype(str).str.strip().str.upper().to_numpy()
    bad = ~np.isin(flow, DATAFLOWS)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ConfigError(where, f"cost table {str(path)!r} row {row + 1}: dataflow = "
                          f"{_cell(df['dataflow'].iloc[row])}; allowed: {list(DATAFLOWS)}")
    pes = _numeric(df, "num_pes", path, where)
    bw = _numeric(df, "noc_bw", path, where)
    for col, values in (("num_pes", pes), ("noc_bw", bw)):
        bad = (values <= 0) | ((values != np.floor(values)) if col == "num_pes" else False)
        if np.any(bad):
            row = int(np.flatnonzero(bad)[0])
            kind = "a positive integer" if col == "num_pes" else "a number > 0"
            raise ConfigError(where, f"cost table {str(path)!r} row {row + 1}: {col} = "
                              f"{_cell(df[col].iloc[row])} must be {kind}")
    return np.array([f"{f}/{int(p)}/{b:g}" for f, p, b in zip(flow, pes, bw)], dtype=object)


class TableCostModel(CostModel):
    """Per-layer costs looked up by (model, layer index, sub-accelerator name or type)."""

    name = "table"

    def __init__(self, path: str | os.PathLike, where: str = "cost.params.path") -> None:
        """Load and validate the table now, so a bad file fails before any simulation.

        `path` is a file path or `pkg:NAME`, a table bundled with the package.
        """
        import pandas as pd

        self.path = resolve_table_path(path, where)
        self.where = where
        stat = self.path.stat() if self.path.is_file() else None
        df = _read(self.path, where)
        signature_cols = [c for c in SIGNATURE_COLUMNS if c in df.columns]
        # keyed by type when any signature column is given and no `accelerator` column
        self.by_signature = bool(signature_cols) and "accelerator" not in df.columns
        if signature_cols and "accelerator" in df.columns:
            raise ConfigError(
                where, f"cost table {str(self.path)!r} has both an accelerator column and "
                f"{signature_cols}: key rows either by sub-accelerator name (accelerator) or "
                f"by type ({', '.join(SIGNATURE_COLUMNS)}), not both"
            )
        required = (REQUIRED_COLUMNS if not self.by_signature else
                    ("model", "layer") + SIGNATURE_COLUMNS + ("latency_cycles", "energy_nj"))
        missing = [c for c in required if c not in df.columns]
        if missing:
            raise ConfigError(
                where, f"cost table {str(self.path)!r} lacks column(s) {missing}; required: "
                f"{list(REQUIRED_COLUMNS)} or, keyed by sub-accelerator type, "
                f"{['model', 'layer', *SIGNATURE_COLUMNS, 'latency_cycles', 'energy_nj']} "
                "(optional: variant)"
            )
        layer = _numeric(df, "layer", self.path, where)
        if (layer != np.floor(layer)).any():
            row = int(np.flatnonzero(layer != np.floor(layer))[0])
            raise ConfigError(where, f"cost table {str(self.path)!r} row {row + 1}: layer must be "
                              "a 0-based integer index")
        lat = _numeric(df, "latency_cycles", self.path, where)
        en = _numeric(df, "energy_nj", self.path, where)
        if "variant" in df.columns:
            var = df["variant"].astype(object).where(df["variant"].notna(), "").astype(str)
        else:
            var = pd.Series([""] * len(df), dtype=object)
        acc_keys = (_signature_keys(df, self.path, where) if self.by_signature
                    else df["accelerator"].astype(str).to_numpy())
        keys = pd.DataFrame({
            "model": df["model"].astype(str).to_numpy(),
            "variant": var.to_numpy(),
            "accelerator": acc_keys,
            "layer": layer.astype(np.int64),
        })
        dup = keys.duplicated()
        if dup.any():
            row = int(np.flatnonzero(dup.to_numpy())[0])
            m, v, a, i = keys.iloc[row]
            on = f"sub-accelerator type {a!r}" if self.by_signature else f"accelerator {a!r}"
            raise ConfigError(
                where, f"cost table {str(self.path)!r} row {row + 1}: duplicate entry for model "
                f"{m!r}{f' variant {v!r}' if v else ''} layer {i} on {on}"
            )
        # (model, variant, accelerator) -> dense arrays by layer index, NaN where absent
        self._entries: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]] = {}
        groups = keys.groupby(["model", "variant", "accelerator"], sort=False).indices
        for (m, v, a), idx in groups.items():
            layers = keys["layer"].to_numpy()[idx]
            l_arr = np.full(int(layers.max()) + 1, np.nan)
            e_arr = np.full(int(layers.max()) + 1, np.nan)
            l_arr[layers] = lat[idx]
            e_arr[layers] = en[idx]
            self._entries[(m, v, a)] = (l_arr, e_arr)
        # a changed file is a different model: its identity includes size and mtime
        self._key = ("table", str(self.path), stat.st_size, stat.st_mtime_ns) if stat else None

    @classmethod
    def from_params(cls, params: Mapping[str, Any], where: str) -> "TableCostModel":
        """Build from config params ({"path": ...}); ConfigError names the bad param."""
        unknown = sorted(set(params) - {"path"})
        if unknown:
            raise ConfigError(f"{where}.params", f"unknown parameter(s) {unknown} for cost model "
                              "'table'; allowed: ['path']")
        path = params.get("path")
        if not isinstance(path, (str, os.PathLike)) or not str(path):
            raise ConfigError(f"{where}.params.path", "is required: the CSV or Parquet file of "
                              f"per-layer costs, or a bundled table ({', '.join(bundled_tables())})")
        if str(path).startswith(PKG_PREFIX):
            return _bundled(cls, str(path), f"{where}.params.path")
        return cls(path, f"{where}.params.path")

    @property
    def key(self) -> Hashable:
        """The file's resolved path, size and modification time."""
        return self._key

    def acc_key(self, acc: Accelerator) -> Hashable:
        """What rows are matched by: the whole spec (with name), or the type (then also the clock)."""
        return (_signature(acc), acc.clock_ghz) if self.by_signature else acc

    def _acc(self, acc: Accelerator) -> str:
        return _signature(acc) if self.by_signature else acc.name

    def __repr__(self) -> str:
        return f"TableCostModel(path={str(self.path)!r})"

    def _lookup(self, model: str, variant: str, acc: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        lat = np.full(n, np.nan)
        en = np.full(n, np.nan)
        # the variant's own rows win; rows without a variant fill the rest
        for v in ((variant, "") if variant else ("",)):
            entry = self._entries.get((model, v, acc))
            if entry is None:
                continue
            m = min(n, len(entry[0]))
            fill = np.isnan(lat[:m])
            lat[:m][fill] = entry[0][:m][fill]
            en[:m][fill] = entry[1][:m][fill]
        return lat, en

    def costs(
        self,
        layers: LayerTable,
        acc: Accelerator,
        model_name: str,
        variant: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Costs of every layer of the model on `acc`; ConfigError names the first missing entry."""
        lat, en = self._lookup(model_name, variant or "", self._acc(acc), len(layers))
        missing = np.isnan(lat)
        if missing.any():
            i = int(np.flatnonzero(missing)[0])
            var = f" variant {variant!r}" if variant else ""
            on = (f"sub-accelerator {acc.name!r} of type {_signature(acc)!r} (dataflow/num_pes/"
                  "noc_bw)" if self.by_signature else f"accelerator {acc.name!r}")
            raise ConfigError(
                self.where, f"cost table {str(self.path)!r} has no entry for model "
                f"{model_name!r}{var} layer {i} on {on} "
                f"({int(missing.sum())} of {len(lat)} layers missing)"
            )
        return lat, en


@lru_cache(maxsize=16)
def _bundled(cls: type[TableCostModel], path: str, where: str) -> TableCostModel:
    """A bundled (`pkg:`) table, read once per process: package data does not change while
    the package runs, and in a Ray job the package's copy can be unpacked again or cleaned
    up underneath a worker (see dream.hardware.dataflow.builtin_dataflows)."""
    return cls(path, where)
