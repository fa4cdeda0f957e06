"""A report directory: what `dream report` may write into, and the figures it leaves behind.

A report directory is dream's own: `_dream_report.json` lists the files the last report
wrote there. `dream report` writes into a new or empty directory or one holding that
marker, and refuses anything else (a folder of the user's files). When it writes again,
the files of the previous report that this one does not write (figures of settings no
longer in the dataset) are removed, and only those: nothing the marker does not list.

Directories written before the marker existed hold only a report's own files, by their
fixed names, including the ones every report writes together (`report.md`,
`normalised.csv` and `geomean.csv`, or `search.md` and `search_trials.csv`); they are
adopted as report directories. A report directory never lies inside a dataset.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from dream.errors import ConfigError

MARKER = "_dream_report.json"
# every name a report writes at the top of its directory (report.py, search_report.py)
_OWN_NAMES = re.compile(
    r"^(report\.md|search\.md|normalised\.csv|geomean\.csv|reduction\.csv|search_trials\.csv"
    r"|search_importance\.csv|search_(pareto|convergence|importance)\.png"
    r"|(uxcost_normalised|energy_dvr|heatmap)_.+\.png|trials)$")


# files every study report (or search report) writes, together
_SIGNATURES = ({"report.md", "normalised.csv", "geomean.csv"}, {"search.md", "search_trials.csv"})


class ReportDirError(ConfigError):
    """The report cannot go into this directory; names it and what is allowed."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(str(path), message)


def claim_report_dir(out: Path) -> set[str]:
    """Check that a report may be written into `out`; return what the last report wrote there.

    Returns paths relative to `out` (empty for a new or empty directory).

    Raises:
        ReportDirError: `out` holds files no report wrote, or its marker is unreadable.
    """
    from dream.dataset import DatasetError, check_not_inside_dataset

    try:
        check_not_inside_dataset(out, "--out")
    except DatasetError as exc:
        raise ReportDirError(out, exc.message) from None
    if not out.exists():
        return set()
    if not out.is_dir():
        raise ReportDirError(out, "is a file; name a directory for the report")
    names = sorted(p.name for p in out.iterdir())
    if not names:
        return set()
    if MARKER in names:
        try:
            listed = json.loads((out / MARKER).read_text())["files"]
            return {str(f) for f in listed if _inside(str(f))}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ReportDirError(out, f"its {MARKER} cannot be read ({exc}); remove the directory "
                                 "or choose another --out") from None
    own = [n for n in names if _OWN_NAMES.match(n)]
    # every report writes these together: a lone report.md of the user's is not one
    if own == names and any(s <= set(names) for s in _SIGNATURES):
        return {n for n in names if (out / n).is_file()}  # written before the marker existed
    foreign = [n for n in names if not _OWN_NAMES.match(n)] or names
    shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
    raise ReportDirError(out, f"holds files `dream report` did not write ({shown}); it writes "
                         "only into a new or empty directory or one it wrote before: choose another --out")


def finish_report_dir(out: Path, written: Iterable[Path], previous: set[str]) -> list[Path]:
    """Record what this report wrote and remove the previous report's files it did not write.

    Returns the files removed. Only files listed by the previous report are touched; a
    directory is never removed or entered beyond those paths.
    """
    now = sorted({str(Path(p).resolve().relative_to(out.resolve())) for p in written})
    removed = []
    for rel in sorted(previous - set(now)):
        f = out / rel
        if f.is_file() and not f.is_symlink():
            f.unlink()
            removed.append(f)
    tmp = out / f".{MARKER}.tmp"
    tmp.write_text(json.dumps({"files": now}, indent=1) + "\n")
    tmp.replace(out / MARKER)
    return removed


def _inside(rel: str) -> bool:
    """A marker entry names a path below the directory (no absolute path, no `..`)."""
    p = Path(rel)
    return not p.is_absolute() and ".." not in p.parts and rel not in ("", ".", MARKER)
