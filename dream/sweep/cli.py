"""Argument parsing for `dream sweep`, `dream submit` and `dream gather`."""

from __future__ import annotations

import argparse
import sys

from dream.errors import ConfigError

EXIT_BAD_INPUT = 2


def positive_number(text: str, kind: type[int] | type[float] = int) -> int | float:
    """argparse type core: a positive integer (kind=int) or positive number (kind=float)."""
    try:
        x = kind(text)
    except ValueError:
        x = 0
    if not x > 0:  # NaN too
        what = "integer" if kind is int else "number"
        raise argparse.ArgumentTypeError(f"must be a positive {what}, got {text!r}")
    return x


def _positive(text: str) -> int:
    """argparse type: a positive integer."""
    return int(positive_number(text, int))


def _chunk_size(text: str) -> int | None:
    """argparse type: a positive integer, or 'auto' (None)."""
    if text == "auto":
        return None
    try:
        return _positive(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"must be a positive integer or 'auto', got {text!r}") from None


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Options shared by `dream sweep` and `dream submit` (passed through to the job)."""
    p.add_argument("--workers", type=_positive, default=None,
                   help="parallel workers (default: all CPUs; on a cluster: its CPUs)")
    p.add_argument("--chunk-size", type=_chunk_size, default=None, metavar="K|auto",
                   help="points per Ray task (default auto: ~1 s of simulation per task)")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                   help="skip points already stored in the dataset (default: on)")
    p.add_argument("--retry-failed", action="store_true",
                   help="rerun points stored as failed (their old rows are superseded)")
    p.add_argument("--fail-fast", action="store_true", help="stop at the first failed point")
    p.add_argument("--max-points", type=_positive, default=None, metavar="N",
                   help="run a spec of up to N points (needed above 200,000; see --dry-run)")
    p.add_argument("--repair", action="store_true",
                   help="move broken part files of the dataset aside (_broken.<name>.bad) and "
                        "simulate their points again, instead of stopping")


def sweep_parser() -> argparse.ArgumentParser:
    """The parser of `dream sweep`."""
    p = argparse.ArgumentParser(
        prog="dream sweep", description="Run every point of a sweep spec into one Parquet dataset.")
    p.add_argument("spec", help="a spec file, or the name of a spec in ./sweeps/ or the built-ins "
                   "(`dream list spec`)")
    p.add_argument("--executor", choices=("auto", "ray", "serial"), default="auto",
                   help="auto (default: in this process when that is estimated faster than "
                        "starting Ray, else Ray), ray (a local Ray instance, or a cluster with "
                        "--address) or serial (in this process)")
    p.add_argument("--address", default=None,
                   help="join an existing Ray cluster: 'auto' or HOST:PORT (default: start a local one)")
    add_run_options(p)
    p.add_argument("--dry-run", action="store_true",
                   help="print points, the executor auto would use, chunks and an estimated "
                        "time (start-up included); run nothing")
    p.add_argument("--out", default=None, help="dataset directory (default: outputs/<name>/)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    # the Parquet writer's first flush interval (tests shorten it)
    p.add_argument("--flush-s", type=float, default=2.0, help=argparse.SUPPRESS)
    return p


def _fail(cmd: str, msg: object) -> None:
    print(f"dream {cmd}: error: {msg}", file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)


def cmd_sweep(args: list[str]) -> None:
    """`dream sweep SPEC`: run a sweep; exit 0 all ok, 1 some failed, 2 bad input."""
    from dream.sweep.runner import ExecutorError, SweepOptions, run_sweep

    ns = sweep_parser().parse_args(args)
    if ns.executor == "serial" and ns.address:
        _fail("sweep", "--address needs --executor ray or auto")
    opts = SweepOptions(spec=ns.spec, executor=ns.executor, address=ns.address, workers=ns.workers,
                        chunk_size=ns.chunk_size, resume=ns.resume, retry_failed=ns.retry_failed,
                        fail_fast=ns.fail_fast, dry_run=ns.dry_run, out=ns.out,
                        progress=not ns.no_progress, flush_s=ns.flush_s, repair=ns.repair,
                        max_points=ns.max_points)
    try:
        report = run_sweep(opts)
    except (ConfigError, ExecutorError) as exc:
        _fail("sweep", exc)
    except BrokenPipeError:  # stdout's reader left (`--dry-run | head`): handled by dream.cli
        raise
    except OSError as exc:  # the dataset directory cannot be written (full disk, read-only)
        where = exc.filename or ns.out or "the dataset directory"
        print(f"dream sweep: error: cannot write {where}: {exc.strerror or exc}", file=sys.stderr)
        sys.exit(1)
    if report.write_error:
        print(f"dream sweep: error: {report.write_error}", file=sys.stderr)
    if report.interrupted:
        how = "terminated (SIGTERM)" if report.signal == 15 else "interrupted"
        print(f"dream sweep: {how}; the rows finished so far are stored, the same command "
              "continues from them", file=sys.stderr)
    sys.exit(report.exit_code)


def cmd_submit(args: list[str]) -> None:
    """`dream submit SPEC --address http://HEAD:8265`: run a sweep as a Ray job; or follow one."""
    from dream.sweep.submit import main as submit_main

    sys.exit(submit_main(args))


def cmd_gather(args: list[str]) -> None:
    """`dream gather MULTIRUN_DIR [--out DIR]`: turn Hydra multirun dirs into dataset rows."""
    from dream.sweep.gather import main as gather_main

    sys.exit(gather_main(args))
