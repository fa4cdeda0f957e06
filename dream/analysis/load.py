"""Loading a results dataset for analysis: ok rows, their settings, scheduler labels, seeds."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from dream.config import GROUPS
from dream.errors import ConfigError
from dream.dataset import IDENTITY_COLUMNS, parquet_files, read_dataset

# schedulers in the order tables and figures list them: DREAM first, then the baselines
# in a fixed order (DREAM first, then the baselines); unknown names follow alphabetically
SCHEDULER_ORDER = ("dream", "fcfs", "rr", "edf", "sjf", "latency_greedy", "prema", "planaria",
                   "veltair", "herald")
# replicate columns: statistics run over them, they never define a configuration
SEED_COLUMNS = ("seed", "sim.seed")


class DatasetError(ValueError):
    """The dataset cannot be analysed (missing, empty, no successful rows)."""


@dataclass
class Results:
    """The ok rows of a dataset, with `setting`, `label` and `seed` columns added.

    setting: hardware plus every varied non-scheduler parameter (e.g. hardware.total_pes);
    label: scheduler plus its varied parameters (e.g. "dream alpha=0.5").
    """

    rows: pd.DataFrame
    failed: pd.DataFrame
    params: list[str]                      # varied parameter columns (override keys)
    numeric: list[str]                     # the numeric ones among them
    fixed: dict[str, Any] = field(default_factory=dict)  # parameters with one value
    settings: list[str] = field(default_factory=list)    # by hardware, then parameter values
    labels: list[str] = field(default_factory=list)      # DREAM, baselines in SCHEDULER_ORDER

    @property
    def workloads(self) -> list[str]:
        """Workloads in sorted order."""
        return sorted(self.rows["workload"].unique())


def _sched_rank(name: str) -> int:
    return SCHEDULER_ORDER.index(name) if name in SCHEDULER_ORDER else len(SCHEDULER_ORDER)


def _first_in_order(df: pd.DataFrame, column: str, by: list[str]) -> list[str]:
    """Distinct values of `column` after sorting by `by` (numbers numerically, nulls first)."""
    return df.sort_values(by, na_position="first", kind="stable")[column].drop_duplicates().tolist()


def parameter_columns(df: pd.DataFrame) -> list[str]:
    """Swept override keys among the columns: config-group paths, not identity or seeds."""
    out = []
    for c in df.columns:
        head = c.split(".", 1)[0]
        if c in IDENTITY_COLUMNS or c in SEED_COLUMNS or head not in GROUPS:
            continue
        out.append(c)
    return sorted(out)


def _as_numeric(s: pd.Series) -> pd.Series | None:
    """The column as numbers if every non-null value is one (hive keys arrive as strings)."""
    if s.dtype == bool:
        return None
    num = pd.to_numeric(s, errors="coerce")
    return num if num.notna().sum() == s.notna().sum() and s.notna().any() else None


def _fmt(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _short(key: str) -> str:
    """hardware.total_pes -> total_pes, for compact labels."""
    return key.split(".", 1)[1] if "." in key else key


def describe(row: pd.Series, keys: list[str], nulls: bool = False) -> str:
    """`k=v` pairs of a row, short key names; null values are left out, or shown as k=null."""
    return " ".join(f"{_short(k)}={_fmt(row[k]) if pd.notna(row[k]) else 'null'}" for k in keys
                    if nulls or pd.notna(row[k]))


def load_results(path: str | Path) -> Results:
    """Read a dataset and prepare it for analysis; raise DatasetError when there is nothing to analyse."""
    root = Path(path)
    if not root.exists():
        raise DatasetError(f"no dataset at {root}")
    if not parquet_files(root):
        raise DatasetError(f"no Parquet files under {root}; run `dream sweep` first")
    try:
        df = read_dataset(root)
    except ConfigError as exc:  # a broken part file, named
        raise DatasetError(str(exc)) from None
    missing = [c for c in ("status", "workload", "scheduler") if c not in df.columns]
    if missing:
        raise DatasetError(f"{root} is not a results dataset: columns {missing} are missing")
    ok = df[df["status"] == "ok"].copy()
    failed = df[df["status"] != "ok"].copy()
    if ok.empty:
        raise DatasetError(f"{root} holds no successful simulation ({len(failed)} failed)")
    if "hardware" not in ok.columns:
        ok["hardware"] = "default"
    for c in ("workload", "hardware", "scheduler"):
        ok[c] = ok[c].astype(str)

    params, numeric, fixed = [], [], {}
    for c in parameter_columns(ok):
        num = _as_numeric(ok[c])
        if num is not None:
            ok[c] = num
        values = ok[c].dropna().unique()
        # a swept null (e.g. first_share: null,0.25) is a value of its own: rows with it
        # are another setting, not the same one (which would merge and drop rows)
        if len(values) + bool(ok[c].isna().any()) > 1:
            params.append(c)
            if num is not None:
                numeric.append(c)
        elif len(values) == 1:
            fixed[c] = values[0].item() if hasattr(values[0], "item") else values[0]

    sched_params = [c for c in params if c.startswith("scheduler.")]
    other_params = [c for c in params if c not in sched_params]
    ok["setting"] = ok["hardware"]
    if other_params:
        extra = ok.apply(lambda r: describe(r, other_params, nulls=True), axis=1)
        ok["setting"] = (ok["hardware"] + " " + extra).str.strip()
    ok["label"] = ok["scheduler"]
    if sched_params:
        extra = ok.apply(lambda r: describe(r, sched_params), axis=1)
        ok["label"] = (ok["scheduler"] + " " + extra).str.strip()

    # replicates: the seed column, else sim.seed, else the row's position in its configuration
    seed_col = next((c for c in SEED_COLUMNS if c in ok.columns and ok[c].notna().all()), None)
    if seed_col is not None:
        ok["seed"] = pd.to_numeric(ok[seed_col]).astype(int)
    else:
        ok["seed"] = ok.groupby(["setting", "workload", "label"]).cumcount()
    dup = ok.duplicated(["setting", "workload", "label", "seed"])
    if dup.any():
        # a rerun of the same point: keep the first, so pairing by seed stays one-to-one
        ok = ok[~dup]
    ok = ok.sort_values(["setting", "workload", "label", "seed"], kind="stable").reset_index(drop=True)
    settings = _first_in_order(ok, "setting", ["hardware"] + other_params)
    labels = _first_in_order(ok.assign(_rank=ok["scheduler"].map(_sched_rank)), "label",
                             ["_rank", "scheduler"] + sched_params)
    return Results(rows=ok, failed=failed, params=params, numeric=numeric, fixed=fixed,
                   settings=settings, labels=labels)
