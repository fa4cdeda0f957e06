"""`dream report` and `dream timeline`: argument parsing and exit codes (heavy imports stay lazy)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path


def _fail(cmd: str, exc: Exception) -> None:
    """One clear message, exit status 2 (bad input), as dream.cli does."""
    from dream.cli import _fail as fail  # imported late: dream.cli imports this module

    fail(cmd, exc)


def default_report_dir(dataset: str | Path) -> Path:
    """Where a report goes by default: beside the dataset (<name>-report/), never inside it,
    so every Parquet reader still sees the dataset directory as one table."""
    root = Path(dataset).absolute()
    name = root.name if root.is_dir() else root.stem
    return root.parent / f"{name}-report"


def cmd_report(args: list[str]) -> None:
    """`dream report DATASET [--baseline NAME] [--out DIR]`: tables and figures of a sweep."""
    p = argparse.ArgumentParser(prog="dream report", description=(
        "Summarise a results dataset: metrics normalised to a baseline with 95% CIs over "
        "seeds, geometric means, DREAM's UXCost reduction, figures. Writes report.md, CSV "
        "tables and PNG figures."))
    p.add_argument("dataset", help="dataset directory (or one Parquet file) written by `dream sweep`")
    p.add_argument("--baseline", help="scheduler (or scheduler configuration) to normalise to; "
                   "default: the best non-DREAM scheduler by geometric-mean UXCost")
    p.add_argument("--out", help="output directory (default: DATASET-report/ beside the dataset)")
    a = p.parse_args(args)

    from dream.analysis.load import DatasetError, load_results
    from dream.analysis.report import build_report, write_report

    root = Path(a.dataset)
    out = Path(a.out) if a.out else default_report_dir(root)
    # checked first: a report that cannot be written should not be computed (or warned about)
    blocker = next((p for p in (out, *out.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        _fail("report", f"--out {out}" + (" is a file" if blocker == out else f": {blocker} is a file")
              + "; name a directory for the report")
    from dream.analysis.report_dir import claim_report_dir, finish_report_dir
    from dream.errors import ConfigError

    try:
        previous = claim_report_dir(out)  # before anything is computed: a refusal is quick
        results = load_results(a.dataset)
        rep = build_report(results, a.baseline)
    except (DatasetError, ConfigError) as exc:
        _fail("report", exc)
    if len(results.failed):
        print(f"dream report: warning: {len(results.failed)} failed simulation(s) left out "
              f"(listed in report.md)", file=sys.stderr)
    try:
        files = write_report(rep, a.dataset, out)
    except OSError as exc:  # not writable, disk full: one line, not a traceback
        _fail("report", f"cannot write the report into {out}: {exc.strerror or exc}")
    from dream.analysis.search_report import is_search_dataset, write_search_report

    if is_search_dataset(root):  # a `dream search` dataset: also its Pareto front and convergence
        try:
            files += write_search_report(root, out)
        except ConfigError as exc:
            _fail("report", exc)
        print(f"search report: {out / 'search.md'}")
    try:
        removed = finish_report_dir(out, files, previous)
    except OSError as exc:
        _fail("report", f"cannot write the report into {out}: {exc.strerror or exc}")
    if removed:
        print(f"removed {len(removed)} file(s) of the previous report that this one does not write")
    print(f"baseline: {rep.baseline}")
    if rep.reduction is not None:
        for _, r in rep.reduction.iterrows():
            g = 100 * r["geomean_reduction"]
            print(f"{r['dream']} vs {r['baseline']}: UXCost {abs(g):.1f}% {'lower' if g >= 0 else 'higher'} "
                  f"(geometric mean), at best {100 * r['max_reduction']:.1f}% lower")
    print(f"wrote {out / 'report.md'} and {len(files) - 1} more file(s)")


def cmd_timeline(args: list[str]) -> None:
    """`dream timeline RUN_DIR [--out FILE]`: a Gantt chart of one simulation's block trace."""
    p = argparse.ArgumentParser(prog="dream timeline", description=(
        "Gantt chart of one `dream run ... sim.trace=true output=DIR`: sub-accelerators over "
        "time, blocks coloured by task, late jobs and drops marked."))
    p.add_argument("run_dir", help="run directory with summary.json, jobs.parquet, trace.parquet")
    p.add_argument("--out", help="figure file: .png, .svg or .pdf (default: RUN_DIR/timeline.png)")
    p.add_argument("--start", type=float, default=None, help="window start, ms")
    p.add_argument("--end", type=float, default=None, help="window end, ms")
    a = p.parse_args(args)

    from dream.analysis.figures import FORMATS, save
    from dream.analysis.timeline import TimelineError, load_timeline, plot_timeline

    from dream.errors import ConfigError

    out = Path(a.out) if a.out else Path(a.run_dir) / "timeline.png"
    # checked before drawing: a bad --out must not cost a whole plot first
    if out.suffix.lower().lstrip(".") not in FORMATS:
        _fail("timeline", f"--out {out}: unsupported figure format {out.suffix or '(none)'!r}; "
              f"use one of {', '.join('.' + f for f in FORMATS)}")
    if out.is_dir():
        _fail("timeline", f"--out {out} is a directory; name a file such as {out / 'timeline.png'}")
    for name, v in (("--start", a.start), ("--end", a.end)):
        if v is not None and not math.isfinite(v):
            _fail("timeline", f"{name} must be a finite number of ms, got {v}")
    if a.start is not None and a.end is not None and a.start >= a.end:
        _fail("timeline", f"--start ({a.start:g}) must be before --end ({a.end:g})")
    try:
        jobs, trace = load_timeline(a.run_dir)
    except (TimelineError, ConfigError) as exc:  # ConfigError: a broken file, named
        _fail("timeline", exc)
    fig, _ = plot_timeline(jobs, trace, start_ms=a.start, end_ms=a.end, title=Path(a.run_dir).name)
    try:
        out = save(fig, out)
    except OSError as exc:  # a parent that is a file, no permission, disk full
        _fail("timeline", f"cannot write {out}: {exc.strerror or exc}")
    print(f"wrote {out}")
