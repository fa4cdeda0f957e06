"""The `dream` console command: run, costs, demo (and the commands later modules add)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

from dream.analysis.cli import cmd_report, cmd_timeline
from dream.errors import ConfigError
from dream.sweep.cli import cmd_gather, cmd_submit, cmd_sweep

USAGE = """usage: dream COMMAND [ARGS]

commands:
  run [OVERRIDES]     simulate one config (a Hydra app: --help, --cfg job, -m work)
  costs [OVERRIDES]   per-model latency and energy on the chosen hardware
  demo                the default study in small
  sweep SPEC          run a sweep spec (sweeps/*.yaml) into one Parquet dataset (Ray)
  submit SPEC         submit a sweep to a Ray cluster as a job (--status/--logs ID)
  gather DIR          turn `dream run -m` run dirs into dataset rows (--out DIR)
  report DATASET      tables and figures of a sweep dataset (--baseline NAME, --out DIR)
  timeline RUN_DIR    Gantt chart of one run written with sim.trace=true (--out FILE)
"""


def _fail(cmd: str, exc: Exception) -> None:
    """Print one clear message and exit with status 2 (bad input, nothing ran)."""
    print(f"dream {cmd}: error: {exc}", file=sys.stderr)
    sys.exit(2)


def _is_override(arg: str) -> bool:
    return not arg.startswith("-") and "=" in arg and not arg.startswith("hydra.")


def _quote(value: str) -> str:
    """A value for Hydra's override grammar, quoted (paths may hold = , : or spaces)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _run_dir_overrides(args: list[str], multirun: bool, info_flags: set[str]) -> list[str]:
    """Hydra settings so `dream run` writes where it says and nowhere else.

    output=DIR: DIR must be new, empty or a run directory dream wrote (else exit 2), and
    Hydra makes no run directory of its own (no .hydra/, no log file). Otherwise a new
    directory under outputs/runs/ (outputs/multirun/ with -m), created exclusively, so two
    runs started in the same second never write into the same one.
    """
    from dream.rundir import check_run_dir, new_run_dir

    if info_flags.intersection(args) or any(a.startswith("--cfg") or a == "-c" for a in args):
        return []
    output = None
    for a in args:
        if a.startswith(("output=", "+output=", "++output=")):
            output = a.split("=", 1)[1].strip("'\"") or None
    given = {a.split("=", 1)[0].lstrip("+") for a in args if "=" in a}
    extra = []
    if output and not multirun:
        try:
            check_run_dir(output)
        except ConfigError as exc:
            _fail("run", exc)
        extra += [f"hydra.run.dir={_quote(str(Path(output).absolute()))}", "hydra.output_subdir=null",
                  "hydra/job_logging=none", "hydra/hydra_logging=none"]
    elif multirun and "hydra.sweep.dir" not in given:
        extra.append(f"hydra.sweep.dir={_quote(str(new_run_dir('outputs/multirun').absolute()))}")
    elif not multirun and "hydra.run.dir" not in given:
        extra.append(f"hydra.run.dir={_quote(str(new_run_dir('outputs/runs').absolute()))}")
    return extra


def cmd_run(args: list[str]) -> None:
    """`dream run`: a Hydra app over conf/config.yaml."""
    import hydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import DictConfig

    from dream.api import run_spec
    from dream.config import CONF_DIR, build_spec, compose
    from dream.rundir import format_summary, mark_run_dir, write_run

    # validate the composition before Hydra runs anything, so a bad group choice or
    # value exits 2 with one line instead of Hydra's exit 1
    info_flags = {"--help", "-h", "--hydra-help", "--info", "-i"}
    multirun = any(a in ("-m", "--multirun") for a in args)
    if not info_flags.intersection(args) and not multirun:
        try:
            build_spec(compose([a for a in args if _is_override(a)]))
        except ConfigError as exc:
            _fail("run", exc)

    @hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
    def app(cfg: DictConfig) -> None:
        try:
            spec = build_spec(cfg)
            # cost tables are built before the first event: a table cost model's missing
            # entry is reported here, as bad input, before anything is simulated
            result = run_spec(spec)
        except ConfigError as exc:
            _fail("run", exc)
        out = cfg.get("output")
        if not out:  # Hydra's own job directory (made for this run): ours to write
            out = mark_run_dir(HydraConfig.get().runtime.output_dir)
        try:
            path = write_run(result, out, cfg)
        except ConfigError as exc:
            _fail("run", exc)
        print(format_summary(result.summary, [t.name for t in spec.scenario.tasks],
                             [a.name for a in spec.system.accelerators]))
        print(f"\nwrote {path}/jobs.parquet and {path}/summary.json")

    sys.argv = ["dream run"] + args + _run_dir_overrides(args, multirun, info_flags)
    app()


def cmd_costs(args: list[str]) -> None:
    """`dream costs`: whole-model latency and energy of each task on each sub-accelerator."""
    from dream.config import build_spec, compose
    from dream.costs_report import cost_report

    try:
        table = cost_report(build_spec(compose(args)))
    except ConfigError as exc:
        _fail("costs", exc)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))


def cmd_demo(args: list[str]) -> None:
    """`dream demo`: the default study in small (sweeps/demo.yaml), its report and a timeline."""
    from dream.analysis.load import load_results
    from dream.analysis.report import build_report, write_report
    from dream.analysis.figures import save
    from dream.analysis.timeline import load_timeline, plot_timeline
    from dream.api import run_spec
    from dream.config import build_spec, compose
    from dream.rundir import format_summary, write_run
    from dream.sweep.runner import ExecutorError, SweepOptions, run_sweep

    out = "outputs/demo"
    print("== one run: vr_gaming on dual_4k_ws_os under DREAM, 1 s, block trace on ==")
    try:
        cfg = compose(["scheduler=dream", "sim.trace=true"] + args)
        spec = build_spec(cfg)
    except ConfigError as exc:
        _fail("demo", exc)
    result = run_spec(spec)
    print(format_summary(result.summary, [t.name for t in spec.scenario.tasks],
                         [a.name for a in spec.system.accelerators]))
    run_dir = write_run(result, f"{out}/run", cfg)
    fig, _ = plot_timeline(*load_timeline(run_dir), start_ms=0.0, end_ms=200.0, title="vr_gaming, DREAM")
    print(f"timeline of the first 200 ms: {save(fig, run_dir / 'timeline.png')}")

    print("\n== the study: sweeps/demo.yaml on an embedded Ray instance ==")
    try:
        report = run_sweep(SweepOptions(spec="demo", out=f"{out}/dataset"))
    except (ConfigError, ExecutorError) as exc:
        _fail("demo", exc)
    if report.exit_code != 0:
        sys.exit(report.exit_code)
    rep = build_report(load_results(report.out))
    write_report(rep, report.out, f"{out}/report")
    if rep.reduction is not None:
        for _, r in rep.reduction.iterrows():
            g = 100 * r["geomean_reduction"]
            print(f"{r['dream']} vs {r['baseline']}: UXCost {abs(g):.1f}% {'lower' if g >= 0 else 'higher'} "
                  "(geometric mean over scenarios and settings)")
    print(f"\nreport: {out}/report/report.md")


COMMANDS: dict[str, Callable[[list[str]], None]] = {
    "run": cmd_run,
    "costs": cmd_costs,
    "demo": cmd_demo,
    "sweep": cmd_sweep,
    "submit": cmd_submit,
    "gather": cmd_gather,
    "report": cmd_report,
    "timeline": cmd_timeline,
}


def main(argv: list[str] | None = None) -> None:
    """Dispatch `dream COMMAND ...`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        sys.exit(0 if argv else 2)
    cmd, rest = argv[0], argv[1:]
    if cmd not in COMMANDS:
        print(f"dream: unknown command {cmd!r}\n{USAGE}", file=sys.stderr, end="")
        sys.exit(2)
    _run_interruptible(cmd, COMMANDS[cmd], rest)


def _on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM (a batch scheduler, `kill`) stops a command the way Ctrl-C does."""
    from dream.sweep.executors import Terminated

    raise Terminated()


def _run_interruptible(cmd: str, fn: Callable[[list[str]], None], args: list[str]) -> None:
    """Run a command; Ctrl-C or SIGTERM at any moment ends it with one line and 130 or 143.

    Commands that can stop cleanly (a sweep stores its finished rows) handle the
    interruption themselves and exit with the same codes; this is the last line of defence.
    """
    import signal

    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        fn(args)
    except KeyboardInterrupt as exc:
        signum = int(getattr(exc, "signum", signal.SIGINT))
        name = "terminated (SIGTERM)" if signum == signal.SIGTERM else "interrupted"
        try:
            print(f"dream {cmd}: {name}", file=sys.stderr, flush=True)
        finally:
            os._exit(128 + signum) if _ray_running() else sys.exit(128 + signum)


def _ray_running() -> bool:
    """Whether this process still holds a Ray connection (whose exit hooks could block)."""
    ray = sys.modules.get("ray")
    try:
        return bool(ray is not None and ray.is_initialized())
    except Exception:
        return False


if __name__ == "__main__":
    main()
