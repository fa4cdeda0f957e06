"""The `dream` console command: run, costs, demo (and the commands later modules add)."""

from __future__ import annotations

import sys
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


def cmd_run(args: list[str]) -> None:
    """`dream run`: a Hydra app over conf/config.yaml."""
    import hydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import DictConfig

    from dream.api import run_spec
    from dream.config import CONF_DIR, build_spec, compose
    from dream.rundir import format_summary, write_run

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
        except ConfigError as exc:
            _fail("run", exc)
        result = run_spec(spec)
        out = cfg.get("output") or HydraConfig.get().runtime.output_dir
        path = write_run(result, out, cfg)
        print(format_summary(result.summary, [t.name for t in spec.scenario.tasks],
                             [a.name for a in spec.system.accelerators]))
        print(f"\nwrote {path}/jobs.parquet and {path}/summary.json")

    sys.argv = ["dream run"] + args
    app()


def cmd_costs(args: list[str]) -> None:
    """`dream costs`: whole-model latency and energy of each task on each sub-accelerator."""
    from dream.config import build_spec, compose
    from dream.costs_report import cost_report

    try:
        spec = build_spec(compose(args))
    except ConfigError as exc:
        _fail("costs", exc)
    print(cost_report(spec).to_string(index=False, float_format=lambda x: f"{x:.3f}"))


def cmd_demo(args: list[str]) -> None:
    """`dream demo`: the composed default config, its cost table and a short simulation."""
    from omegaconf import OmegaConf

    from dream.api import run_spec
    from dream.config import build_spec, compose
    from dream.costs_report import cost_report
    from dream.rundir import format_summary, write_run

    try:
        cfg = compose(["sim.duration_ms=1000"] + args)
        spec = build_spec(cfg)
    except ConfigError as exc:
        _fail("demo", exc)
    print("== composed config (defaults: conf/config.yaml) ==")
    print(OmegaConf.to_yaml({k: cfg[k] for k in ("scheduler", "cost", "sim")}), end="")
    print(f"workload: {spec.scenario.name} ({', '.join(f'{t.name}:{t.model}@{t.fps:g}' for t in spec.scenario.tasks)})")
    print(f"hardware: {spec.system.name} ({', '.join(f'{a.name} {a.dataflow} {a.num_pes}' for a in spec.system.accelerators)})")
    print("\n== whole-model costs on each sub-accelerator ==")
    print(cost_report(spec).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print(f"\n== simulation: {spec.scheduler}, {spec.sim.duration_ms:g} ms, seed {spec.sim.seed} ==")
    result = run_spec(spec)
    print(format_summary(result.summary, [t.name for t in spec.scenario.tasks],
                         [a.name for a in spec.system.accelerators]))
    path = write_run(result, "outputs/demo", cfg)
    print(f"\nwrote {path}/jobs.parquet and {path}/summary.json")


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
    COMMANDS[cmd](rest)


if __name__ == "__main__":
    main()
