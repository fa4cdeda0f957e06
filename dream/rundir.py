"""A run directory: what `dream run` writes and what `dream timeline` reads.

A run directory is dream's own: `_dream_run.json` marks it when `dream run` creates it.
`dream run output=DIR` writes into a new or empty directory or one it wrote before, and
refuses anything else (a user's files, a sweep dataset).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dream.errors import ConfigError

# pandas, pyarrow and OmegaConf are imported where they are used: `dream run` writes a plain
# config without OmegaConf (see config_yaml) and its records with pyarrow alone
if TYPE_CHECKING:
    import pandas as pd
    import yaml
    from omegaconf import DictConfig

    from dream.api import SimResult

RUN_MARKER = "_dream_run.json"
# the files write_run (and `dream timeline`'s default) put into a run directory
RUN_FILES = ("jobs.parquet", "trace.parquet", "summary.json", "config.yaml", "timeline.png", RUN_MARKER)


class RunDirError(ConfigError):
    """A run directory cannot be written or read; names the directory or file."""

    def __init__(self, path: str | Path, message: str) -> None:
        super().__init__(str(path), message)


def check_run_dir(out_dir: str | Path) -> None:
    """Raise RunDirError unless `dream run` may write into out_dir.

    Allowed: a path that does not exist (under directories, not a file), an empty
    directory, or a run directory dream wrote (it holds the marker). A dataset, a path
    inside one, or a directory of other files is refused.
    """
    from dream.dataset import MARKER_FILE, DatasetError, check_not_inside_dataset

    d = Path(out_dir)
    try:
        check_not_inside_dataset(d, "output=")
    except DatasetError as exc:
        raise RunDirError(d, exc.message) from None
    blocker = next((p for p in d.absolute().parents if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise RunDirError(d, f"lies under {blocker}, which is a file; output= names a directory")
    if not d.exists():
        return
    if not d.is_dir():
        raise RunDirError(d, "exists and is not a directory; output= names a directory")
    names = sorted(p.name for p in d.iterdir())
    if MARKER_FILE in names:
        raise RunDirError(d, "is a sweep dataset; `dream run` writes only into a new or empty "
                          "directory or one it wrote before: choose another output=")
    if names and RUN_MARKER not in names:
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        raise RunDirError(d, f"holds files `dream run` did not write ({shown}); it writes only "
                          "into a new or empty directory or one it wrote before: choose another output=")


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def mark_run_dir(out_dir: str | Path) -> Path:
    """Create out_dir (if needed) and mark it as a run directory dream writes."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    marker = out / RUN_MARKER
    if not marker.exists():
        marker.write_text(json.dumps({"format": 1, "pid": os.getpid()}) + "\n")
    return out


def new_run_dir(parent: str | Path) -> Path:
    """A directory under parent that no other process has: time to the microsecond, created
    exclusively (mkdir fails if it exists, then a suffix is added), so two runs started in
    the same second never share one."""
    import time

    base = Path(parent)
    base.mkdir(parents=True, exist_ok=True)
    t = time.time()
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S", time.localtime(t)) + f".{int(t % 1 * 1e6):06d}"
    for n in range(1, 1000):
        d = base / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            d.mkdir()
        except FileExistsError:
            continue
        return d
    raise RunDirError(base, "cannot create a new run directory (1000 names taken)")


# OmegaConf writes these strings quoted, since YAML would read them back as booleans
_YAML_BOOLS = frozenset("y Y yes Yes YES n N no No NO true True TRUE false False FALSE "
                        "on On ON off Off OFF".split())


def _plain(node: Any) -> bool:
    """Whether node is plain data OmegaConf would take as it is: string keys, scalars, and
    no string it would read as an interpolation (${...}) or a missing value (???)."""
    if isinstance(node, dict):
        return all(isinstance(k, str) and _plain(k) and _plain(v) for k, v in node.items())
    if isinstance(node, list):
        return all(_plain(v) for v in node)
    if isinstance(node, str):
        return "${" not in node and node != "???"
    return node is None or isinstance(node, (int, float, bool))


def _yaml_dumper() -> "type[yaml.Dumper]":
    """A YAML dumper that writes what OmegaConf.to_yaml writes: strings that YAML would read
    as a boolean or a number are single-quoted (omegaconf._utils.OmegaConfDumper)."""
    import yaml

    def is_number(s: str) -> bool:
        for kind in (int, float):
            try:
                kind(s)
                return True
            except ValueError:
                pass
        return False

    class Dumper(yaml.Dumper):
        pass

    def str_representer(dumper: yaml.Dumper, data: str) -> yaml.ScalarNode:
        quoted = data in _YAML_BOOLS or is_number(data)
        return dumper.represent_scalar(yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG, data,
                                       style="'" if quoted else None)

    Dumper.add_representer(str, str_representer)
    return Dumper


def config_yaml(config: "DictConfig | dict[str, Any]") -> str:
    """The config as YAML, resolved, exactly as OmegaConf.to_yaml(config, resolve=True).

    A plain config (what `dream run` composes) is dumped directly: importing OmegaConf
    would cost a run more than its write. Anything else goes through OmegaConf.
    """
    if type(config) is dict and _plain(config):
        import yaml

        return yaml.dump(config, default_flow_style=False, allow_unicode=True, sort_keys=False,
                         Dumper=_yaml_dumper())
    from omegaconf import OmegaConf

    return OmegaConf.to_yaml(config, resolve=True)


def write_run(result: SimResult, out_dir: str | Path, config: "DictConfig | dict[str, Any] | None" = None) -> Path:
    """Write jobs.parquet, summary.json (and trace.parquet, config.yaml) into out_dir."""
    out = Path(out_dir)
    check_run_dir(out)
    mark_run_dir(out)
    import pyarrow.parquet as pq

    # written from the engine's columns: pandas stays unimported for a `dream run`
    pq.write_table(result.records.to_arrow(), out / "jobs.parquet", write_page_checksum=True)
    if result.trace_records is not None:
        pq.write_table(result.trace_records.to_arrow(), out / "trace.parquet", write_page_checksum=True)
    summary = {k: _jsonable(v) for k, v in result.summary.items()}
    (out / "summary.json").write_text(json.dumps(summary, indent=1, sort_keys=False) + "\n")
    if config is not None:
        (out / "config.yaml").write_text(config_yaml(config))
    return out


def _read_parquet(f: Path) -> "pd.DataFrame":
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(f, page_checksum_verification=True).to_pandas()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise RunDirError(f, f"broken Parquet file ({' '.join(str(exc).split())[:200]})") from None


def read_run(run_dir: str | Path) -> "tuple[dict[str, Any], pd.DataFrame, pd.DataFrame | None]":
    """Read a run directory back: summary, jobs and (if written) the block trace."""
    d = Path(run_dir)
    f = d / "summary.json"
    try:
        summary = json.loads(f.read_bytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise RunDirError(f, f"not valid JSON ({' '.join(str(exc).split())[:200]})") from None
    except OSError as exc:
        raise RunDirError(f, f"cannot be read ({exc.strerror})") from None
    if not isinstance(summary, dict):
        raise RunDirError(f, "not a JSON object")
    jobs = _read_parquet(d / "jobs.parquet")
    trace = _read_parquet(d / "trace.parquet") if (d / "trace.parquet").exists() else None
    return summary, jobs, trace


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "NaN" if math.isnan(v) else f"{v:.3f}"
    return str(v)


def _table(rows: list[dict[str, Any]]) -> str:
    """Rows of equal keys as a plain text table, columns right-aligned (as DataFrame.to_string)."""
    if not rows:
        return ""
    cols = list(rows[0])
    cells = [[_cell(r[c]) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    out = ["  ".join(c.rjust(w) for c, w in zip(cols, widths))]
    out += ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(out)


def format_summary(summary: dict[str, Any], tasks: list[str], accelerators: list[str]) -> str:
    """A human-readable summary: headline metrics, a per-task table, utilisation."""
    head = [
        ("jobs counted", f"{summary['jobs']}"),
        ("on time / late / dropped / unfinished",
         f"{summary['on_time']} / {summary['late']} / {summary['dropped']} / {summary['unfinished']}"),
        ("DVR", f"{summary['dvr']:.4f}"),
        ("energy (mJ)", f"{summary['energy_mj']:.3f}"),
        ("energy per job (mJ)", f"{summary['energy_per_job_mj']:.4f}"),
        ("UXCost", f"{summary['uxcost']:.6g}"),
        ("XRBench score", f"{summary['xrbench_score']:.2f}"),
        ("decisions (mean / p99 us)",
         f"{summary['decisions']} ({summary['decision_time_us_mean']:.1f} / {summary['decision_time_us_p99']:.1f})"),
        ("blocks / layers dispatched", f"{summary['blocks']} / {summary['layers']}"),
        ("wall time (s)", f"{summary['wall_s']:.3f}"),
    ]
    w = max(len(k) for k, _ in head)
    lines = [f"{k:<{w}}  {v}" for k, v in head]
    rows = []
    for t in tasks:
        rows.append({
            "task": t,
            "jobs": summary[f"task.{t}.jobs"],
            "dvr": summary[f"task.{t}.dvr"],
            "dropped": summary[f"task.{t}.dropped"],
            "p50 ms": summary[f"task.{t}.latency_p50_ms"],
            "p95 ms": summary[f"task.{t}.latency_p95_ms"],
            "p99 ms": summary[f"task.{t}.latency_p99_ms"],
            "energy mJ": summary[f"task.{t}.energy_mj"],
            "accuracy": summary[f"task.{t}.accuracy"],
        })
    lines.append("")
    lines.append(_table(rows))
    lines.append("")
    lines.append("utilization: " + ", ".join(
        f"{a} {summary[f'acc.{a}.utilization']:.1%}" for a in accelerators))
    return "\n".join(lines)
