"""Argument parsing and exit codes of `dream search`."""

from __future__ import annotations

import argparse
import sys

from dream.errors import ConfigError
from dream.sweep.cli import _positive, positive_number

EXIT_BAD_INPUT = 2


def _positive_float(text: str) -> float:
    """argparse type: a positive number."""
    return float(positive_number(text, float))


def _seed(text: str) -> int:
    """argparse type: an integer >= 0."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return int(text)


def search_parser() -> argparse.ArgumentParser:
    """The parser of `dream search`."""
    p = argparse.ArgumentParser(
        prog="dream search",
        description="Search a design space (a spec's search: block) over its grid with Optuna; "
        "every simulation is a row of one Parquet dataset, the study a journal beside it.")
    p.add_argument("spec", help="a spec file with a search: block, or its name in sweeps/")
    p.add_argument("--executor", choices=("auto", "ray", "serial"), default="auto",
                   help="auto (default: Ray with --address or when a batch can keep several CPUs "
                   "busy for long enough, else in this process), ray (a local Ray instance, or a "
                   "cluster with --address) or serial")
    p.add_argument("--address", default=None,
                   help="join an existing Ray cluster: 'auto' or HOST:PORT")
    p.add_argument("--workers", type=_positive, default=None, help="parallel workers (default: all CPUs)")
    p.add_argument("--trials", type=_positive, default=None, help="overrides search.trials")
    p.add_argument("--budget-sim-s", type=_positive_float, default=None,
                   help="overrides search.budget_sim_s: stop asking once the study's distinct "
                   "simulations add up to this many simulated seconds")
    p.add_argument("--seed", type=_seed, default=None, help="overrides search.seed (the sampler's)")
    p.add_argument("--batch", type=_positive, default=None, help="overrides search.batch (trials per ask)")
    p.add_argument("--sampler", default=None, help="overrides search.sampler")
    p.add_argument("--best", action="store_true",
                   help="print the best trial(s) of the stored study as `dream run` overrides; run nothing")
    p.add_argument("--out", default=None, help="dataset directory (default: outputs/<name>/)")
    p.add_argument("--quiet", action="store_true", help="no line per trial")
    return p


def _fail(msg: object) -> None:
    print(f"dream search: error: {msg}", file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)


def cmd_search(args: list[str]) -> None:
    """`dream search SPEC`: 0 done, 1 some simulation failed, 2 bad input, 130 interrupted."""
    from dream.search.study import SearchOptions, best_lines, load_for_best, run_search
    from dream.sweep.runner import ExecutorError

    ns = search_parser().parse_args(args)
    if ns.executor == "serial" and ns.address:
        _fail("--address needs --executor ray or auto")
    opts = SearchOptions(spec=ns.spec, executor=ns.executor, address=ns.address,
                         workers=ns.workers, out=ns.out, trials=ns.trials,
                         budget_sim_s=ns.budget_sim_s, seed=ns.seed, batch=ns.batch,
                         sampler=ns.sampler, progress=not ns.quiet)
    try:
        if ns.best:
            spec, study = load_for_best(opts)
            print("\n".join(best_lines(study, spec)))
            sys.exit(0)
        report = run_search(opts)
    except (ConfigError, ExecutorError) as exc:
        _fail(exc)
    sys.exit(report.exit_code)
