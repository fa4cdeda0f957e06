"""The `dream` console command: run, costs, demo (and the commands later modules add)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

from dream.errors import ConfigError

# OpenBLAS starts a thread per core when numpy is imported, and they spin for a moment:
# about 60 ms of CPU per process, a fifth of a whole `dream run`. dream's hot paths are
# element-wise numpy (no BLAS), and a sweep runs a worker per core already, so its
# workers (which inherit this environment) gain nothing from more threads either.
# A value the user set is kept. numpy is not imported yet at this point.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# the subcommands import what they need when they run: `dream run` must not pay for Ray,
# matplotlib or the report code
USAGE = """usage: dream [--version] [--config-dir DIR ...] COMMAND [ARGS]

commands:
  run [OVERRIDES]     simulate one config (a Hydra app: --help, --cfg job, -m work)
  costs [OVERRIDES]   per-model latency and energy on the chosen hardware
  demo                the default study in small
  list [GROUP|spec]   config options (workload, hardware, scheduler, cost, sim) and sweep specs
  sweep SPEC          run a sweep spec (sweeps/*.yaml) into one Parquet dataset
  search SPEC         design-space search over a spec's grid (Optuna; --best prints the best)
  submit SPEC         submit a sweep to a Ray cluster as a job (--status/--logs ID)
  gather DIR          turn `dream run -m` run dirs into dataset rows (--out DIR)
  report DATASET      tables and figures of a sweep dataset (--baseline NAME, --out DIR)
  timeline RUN_DIR    Gantt chart of one run written with sim.trace=true (--out FILE)
  validate xrbench    reproduce XRBench-MAESTRO's scores on the bundled set (docs/validation.md)

Config groups are searched in every --config-dir DIR given (before or after COMMAND),
then ./conf, then the built-ins; `dream COMMAND --help` describes each command.
"""


def _fail(cmd: str, exc: Exception) -> None:
    """Print one clear message and exit with status 2 (bad input, nothing ran)."""
    print(f"dream{' ' + cmd if cmd else ''}: error: {exc}", file=sys.stderr)
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


def _note(notes: list[str]) -> None:
    """Shadowing notes, one line each, on stderr (stdout stays the command's output)."""
    for line in notes:
        print(f"dream: {line}", file=sys.stderr)


RUN_HELP = """usage: dream run [OVERRIDES] [Hydra flags]

Simulate one config and write jobs.parquet and summary.json (output=DIR, default
outputs/runs/<time>/). OVERRIDES as in Hydra: workload=ar_gaming sim.seed=3 ...
Hydra's flags work too: --cfg job (print the composed config), -m (multirun),
--hydra-help. `dream list` shows the options of every config group.
"""


def cmd_run(args: list[str]) -> None:
    """`dream run`: one simulation; a plain list of overrides takes the fast path.

    Plain overrides are composed through dream.config (the same compose, without Hydra's
    app machinery: no logging set-up, no .hydra/ folder), which keeps a whole `dream run`
    short. Hydra's own flags (--cfg, -m, --help, hydra.* settings) run the Hydra app.
    """
    if all(_is_override(a) for a in args):
        _run_fast(args)
        return
    if any(a in ("-h", "--help") for a in args):
        print(RUN_HELP)  # then Hydra's own help: the config groups and their options
    _run_hydra_app(args)


def _run_fast(args: list[str]) -> None:
    from dream.config import build_spec, compose_remembered, config_dirs, shadow_notes

    from dream.rundir import check_run_dir, format_summary, new_run_dir, write_run

    try:
        sp = config_dirs()
        # a composition seen before (same overrides, same config files) is read back
        # instead of composed: no Hydra import, no compose
        config, choices = compose_remembered(args, sp)
        _note(shadow_notes(sp, choices))
        spec = build_spec(config)
        out = config.get("output")
        if out:  # refused before anything runs when it holds files dream did not write
            check_run_dir(out)
        from dream.api import run_spec

        # cost tables are built before the first event: a table cost model's missing
        # entry is reported here, as bad input, before anything is simulated
        result = run_spec(spec)
        # a fresh directory per run (microsecond name, created exclusively), made only now
        # so a failed run leaves no empty directory behind
        path = write_run(result, out or new_run_dir(os.path.join("outputs", "runs")), config)
    except ConfigError as exc:
        _fail("run", exc)
    print(format_summary(result.summary, [t.name for t in spec.scenario.tasks],
                         [a.name for a in spec.system.accelerators]))
    print(f"\nwrote {path}/jobs.parquet and {path}/summary.json")


def _run_hydra_app(args: list[str]) -> None:
    """`dream run` as a Hydra app over the config search path (for Hydra's own flags)."""
    import hydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import DictConfig

    from dream.api import run_spec
    from dream.config import CONF_DIR, build_spec, compose, register_search_path_plugin
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

    # the built-ins are Hydra's primary dir; the user's dirs go before it (Hydra would put
    # its own --config-dir after it, where a built-in would shadow the user's option)
    register_search_path_plugin()

    @hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
    def app(cfg: DictConfig) -> None:
        try:
            spec = build_spec(cfg)
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


def _help(args: list[str], usage: str) -> bool:
    """Print `usage` and say so when the arguments ask for help (-h, --help)."""
    if any(a in ("-h", "--help") for a in args):
        print(usage)
        return True
    return False


def cmd_costs(args: list[str]) -> None:
    """`dream costs`: whole-model latency and energy of each task on each sub-accelerator."""
    if _help(args, "usage: dream costs [OVERRIDES]\n\nWhole-model latency (ms) and energy (mJ) of "
             "each task's model variants on each sub-accelerator of the chosen hardware,\n"
             "from the chosen cost model. OVERRIDES as for `dream run`, e.g. "
             "workload=ar_gaming hardware=quad_4k_ws_os."):
        return
    bad = [a for a in args if not _is_override(a)]
    if bad:
        _fail("costs", ConfigError("arguments", f"{bad[0]!r} is not an override KEY=VALUE "
                                   "(see dream costs --help)"))
    from dream.config import build_spec, compose_plain, config_dirs, shadow_notes
    from dream.costs_report import cost_report

    try:
        sp = config_dirs()
        config, choices = compose_plain(args, sp)
        _note(shadow_notes(sp, choices))
        table = cost_report(build_spec(config))
    except ConfigError as exc:
        _fail("costs", exc)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))


def cmd_demo(args: list[str]) -> None:
    """`dream demo`: the default study in small (sweeps/demo.yaml), its report and a timeline."""
    if _help(args, "usage: dream demo [OVERRIDES]\n\nSimulates one second of VR gaming under DREAM "
             "with its block trace and timeline (outputs/demo/run/),\nthen runs the built-in "
             "sweep spec demo.yaml and its report (outputs/demo/report/report.md).\n"
             "OVERRIDES change the one run, e.g. workload=ar_gaming."):
        return
    from dream.analysis.load import load_results
    from dream.analysis.report import build_report, write_report
    from dream.analysis.report_dir import claim_report_dir, finish_report_dir
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

    print("\n== the study: sweeps/demo.yaml (executor auto: this process, or local Ray when that is faster) ==")
    try:
        report = run_sweep(SweepOptions(spec="demo", out=f"{out}/dataset"))
    except (ConfigError, ExecutorError) as exc:
        _fail("demo", exc)
    if report.exit_code != 0:
        sys.exit(report.exit_code)
    rep = build_report(load_results(report.out))
    try:
        previous = claim_report_dir(Path(f"{out}/report"))
    except ConfigError as exc:
        _fail("demo", exc)
    finish_report_dir(Path(f"{out}/report"), write_report(rep, report.out, f"{out}/report"), previous)
    if rep.reduction is not None:
        for _, r in rep.reduction.iterrows():
            g = 100 * r["geomean_reduction"]
            print(f"{r['dream']} vs {r['baseline']}: UXCost {abs(g):.1f}% {'lower' if g >= 0 else 'higher'} "
                  "(geometric mean over scenarios and settings)")
    print(f"\nreport: {out}/report/report.md")


def cmd_list(args: list[str]) -> None:
    """`dream list [GROUP|spec]`: options with their one-line descriptions and where each comes from."""
    from dream.listing import main as list_main

    sys.exit(list_main(args))


def _lazy(module: str, name: str) -> Callable[[list[str]], None]:
    """A command that imports its module only when it runs (start-up stays small)."""
    def run(args: list[str]) -> None:
        import importlib

        getattr(importlib.import_module(module), name)(args)

    run.__doc__ = f"`dream {name.removeprefix('cmd_')}`: see {module}."
    return run


COMMANDS: dict[str, Callable[[list[str]], None]] = {
    "run": cmd_run,
    "costs": cmd_costs,
    "demo": cmd_demo,
    "list": cmd_list,
    "sweep": _lazy("dream.sweep.cli", "cmd_sweep"),
    "search": _lazy("dream.search.cli", "cmd_search"),
    "submit": _lazy("dream.sweep.cli", "cmd_submit"),
    "gather": _lazy("dream.sweep.cli", "cmd_gather"),
    "report": _lazy("dream.analysis.cli", "cmd_report"),
    "timeline": _lazy("dream.analysis.cli", "cmd_timeline"),
    "validate": _lazy("dream.validate", "cmd_validate"),
}
# the commands that compose configs, and so take --config-dir
_CONFIG_COMMANDS = {"run", "costs", "demo", "list", "sweep", "submit"}


def split_config_dirs(argv: list[str]) -> tuple[list[str], list[str]]:
    """(--config-dir / -cd values in order, the other arguments); ConfigError on a missing value."""
    dirs: list[str] = []
    rest: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg in ("--config-dir", "-cd"):
            value = next(it, None)
            if value is None or value.startswith("-"):
                raise ConfigError(arg, "needs a directory")
            dirs.append(value)
        elif arg.startswith("--config-dir="):
            dirs.append(arg.split("=", 1)[1])
        else:
            rest.append(arg)
    return dirs, rest


def main(argv: list[str] | None = None) -> None:
    """Dispatch `dream COMMAND ...`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("--version", "-V"):
        from dream import __version__

        print(f"dream {__version__} ({Path(__file__).resolve().parent})")
        sys.exit(0)
    try:
        dirs, argv = split_config_dirs(argv)
    except ConfigError as exc:
        _fail(argv[0] if argv and argv[0] in COMMANDS else "", exc)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        sys.exit(0 if argv else 2)
    cmd, rest = argv[0], argv[1:]
    if cmd not in COMMANDS:
        print(f"dream: unknown command {cmd!r}\n{USAGE}", file=sys.stderr, end="")
        sys.exit(2)
    if dirs or cmd in _CONFIG_COMMANDS:
        from dream.config import use_config_dirs

        try:
            # also what Ray workers started from here see (they inherit the environment)
            use_config_dirs(dirs)
        except ConfigError as exc:
            _fail(cmd, exc)
    try:
        _run_interruptible(cmd, COMMANDS[cmd], rest)
    except BrokenPipeError:  # `dream list | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


def _on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM (a batch scheduler, `kill`) stops a command the way Ctrl-C does."""
    from dream.sweep.executors import Terminated, note_sigterm

    note_sigterm()
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
        from dream.sweep.executors import signal_of

        signum = signal_of(exc)
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
