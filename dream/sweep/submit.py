"""`dream submit`: run a sweep on a Ray cluster as a Ray job, and follow it.

The current directory (your project: its conf/ and sweeps/, or a clone of dream) is
shipped as the job's working directory (without .venv, outputs, .git, caches), together
with the --config-dir directories inside it; the job runs `python -m dream.cli sweep SPEC
--address auto --out OUT` with the Python on the PATH the cluster was started with (start
`ray start` from the environment dream is installed in, or pass --python). OUT is a path
on the head node, where the driver runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
import time
from pathlib import Path

from dream.config import ENV_CONFIG_DIRS, SWEEPS_DIR, config_dirs
from dream.sweep.cli import add_run_options
from dream.sweep.provenance import REVISION_ENV, git_revision

EXCLUDES = [".venv", "venv", "outputs", "multirun", ".git", "**/__pycache__", "*.egg-info",
            ".pytest_cache", ".hypothesis", ".mypy_cache", ".ruff_cache", "build", "dist"]
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")


def _address(given: str | None) -> str:
    return given or os.environ.get("RAY_API_SERVER_ADDRESS") or "http://127.0.0.1:8265"


def submit_parser() -> argparse.ArgumentParser:
    """The parser of `dream submit`."""
    p = argparse.ArgumentParser(
        prog="dream submit",
        description="Submit a sweep to a Ray cluster as a job, or follow a submitted job.")
    p.add_argument("spec", nargs="?", help="a spec file inside the shipped directory, or a name "
                   "in ./sweeps/ or the built-ins")
    p.add_argument("--address", default=None,
                   help="the cluster's dashboard, e.g. http://HEAD:8265 (default: "
                        "$RAY_API_SERVER_ADDRESS or http://127.0.0.1:8265)")
    p.add_argument("--status", metavar="ID", help="print a job's status")
    p.add_argument("--logs", metavar="ID", help="print a job's logs")
    p.add_argument("--follow", action="store_true", help="with --logs: keep printing until the job ends")
    p.add_argument("--stop", metavar="ID", help="stop a job")
    p.add_argument("--wait", action="store_true",
                   help="after submitting, wait for the job and exit 0 only if it succeeded")
    p.add_argument("--out", default=None,
                   help="dataset directory on the head node (default: outputs/<name>/ here, absolute)")
    p.add_argument("--python", default="python",
                   help="the cluster's Python that runs the job (default: python on the cluster's PATH)")
    p.add_argument("--working-dir", default=".",
                   help="the directory to ship as the job's working directory (default: the "
                        "current one, with its conf/ and sweeps/)")
    add_run_options(p)
    return p


def entrypoint(spec: str, out: str, python: str, passthrough: list[str], command: str = "sweep") -> str:
    """The job's shell command: `dream sweep` (or `dream search` for a spec with a search: block)."""
    quiet = ["--no-progress"] if command == "sweep" else []
    cmd = [python, "-m", "dream.cli", command, spec, "--address", "auto", "--out", out,
           *quiet, *passthrough]
    return shlex.join(cmd)


# `dream sweep` options a search does not take (it resumes by itself; its size is its trials)
_SWEEP_ONLY = {"chunk_size": "--chunk-size", "retry_failed": "--retry-failed",
               "fail_fast": "--fail-fast", "max_points": "--max-points"}


def _passthrough(ns: argparse.Namespace) -> list[str]:
    out = []
    if ns.workers:
        out += ["--workers", str(ns.workers)]
    if ns.chunk_size:
        out += ["--chunk-size", str(ns.chunk_size)]
    if not ns.resume:
        out.append("--no-resume")
    if ns.retry_failed:
        out.append("--retry-failed")
    if ns.fail_fast:
        out.append("--fail-fast")
    if ns.max_points:
        out += ["--max-points", str(ns.max_points)]
    if ns.repair:
        out.append("--repair")
    return out


def _spec_in_working_dir(spec: str, wd: Path) -> str:
    """The spec as the job will see it: a path relative to the shipped directory, or a built-in's name."""
    from dream.sweep.spec import find_spec

    path = find_spec(spec, [Path.cwd() / "sweeps", wd / "sweeps", SWEEPS_DIR]).resolve()
    if path.parent == SWEEPS_DIR.resolve() and not path.is_relative_to(wd.resolve()):
        return path.stem  # a built-in: the job's installed dream has it
    try:
        return str(path.relative_to(wd.resolve()))
    except ValueError:
        from dream.errors import ConfigError

        raise ConfigError("spec", f"{str(path)!r} is outside the shipped directory {str(wd)!r}; "
                          "put it in sweeps/ (or pass --working-dir)") from None


def _config_dirs_in_working_dir(wd: Path) -> str:
    """The --config-dir dirs (and ./conf) as paths relative to the shipped directory, for the job."""
    from dream.errors import ConfigError

    rel = []
    for d in config_dirs().user_dirs:
        try:
            rel.append(str(d.relative_to(wd.resolve())))
        except ValueError:
            raise ConfigError("--config-dir", f"{str(d)!r} is outside the shipped directory "
                              f"{str(wd)!r}: the job could not see it; move it inside (or pass "
                              "--working-dir)") from None
    return os.pathsep.join(rel)


def follow(client: object, job_id: str, poll_s: float = 1.0, stream: object = sys.stdout) -> str:
    """Print a job's new log lines until it ends; returns its final status."""
    printed = 0
    while True:
        status = str(client.get_job_status(job_id)).split(".")[-1]  # type: ignore[attr-defined]
        logs = client.get_job_logs(job_id)  # type: ignore[attr-defined]
        if len(logs) > printed:
            print(logs[printed:], end="", file=stream, flush=True)  # type: ignore[arg-type]
            printed = len(logs)
        if status in TERMINAL:
            return status
        time.sleep(poll_s)


def main(args: list[str]) -> int:
    """Run `dream submit`; returns the exit code."""
    from dream.errors import ConfigError

    ns = submit_parser().parse_args(args)
    address = _address(ns.address)
    actions = [a for a in ("status", "logs", "stop") if getattr(ns, a)]
    if len(actions) > 1 or (actions and ns.spec):
        print("dream submit: error: give a SPEC, or one of --status/--logs/--stop ID", file=sys.stderr)
        return 2
    if not actions and not ns.spec:
        print("dream submit: error: a SPEC to submit (or --status/--logs/--stop ID) is required",
              file=sys.stderr)
        return 2
    if ns.spec:
        # the spec and the config dirs are checked before the cluster is contacted:
        # bad input exits 2 here, not on the cluster
        wd = Path(ns.working_dir)
        try:
            from dream.sweep.plan import check_size
            from dream.sweep.spec import load_spec, read_spec

            path, raw = read_spec(ns.spec)
            if isinstance(raw, dict) and "search" in raw:  # a design-space search runs as the job
                from dream.search.spec import load_search_spec

                command = "search"
                given = [flag for key, flag in _SWEEP_ONLY.items() if getattr(ns, key, None)]
                if given or not ns.resume:
                    raise ConfigError(given[0] if given else "--no-resume",
                                      f"is an option of `dream sweep`; {path} is a search spec")
                spec = load_search_spec(ns.spec).sweep
            else:
                command = "sweep"
                spec = load_spec(ns.spec)
                check_size(spec, ns.max_points)
            spec_arg = _spec_in_working_dir(ns.spec, wd)
            job_dirs = _config_dirs_in_working_dir(wd)
        except ConfigError as exc:
            print(f"dream submit: error: {exc}", file=sys.stderr)
            return 2
    try:
        from dream.sweep.executors import use_token_auth_if_available

        use_token_auth_if_available()
        from ray.job_submission import JobSubmissionClient

        # Ray logs every packaging step of the working directory at INFO
        logging.getLogger("ray").setLevel(logging.ERROR)
        client = JobSubmissionClient(address)
    except Exception as exc:  # nothing listening, wrong scheme, ...
        print(f"dream submit: error: cannot reach the Ray dashboard at {address}: "
              f"{' '.join(str(exc).split())[:300]}", file=sys.stderr)
        return 2
    try:
        if ns.status:
            print(str(client.get_job_status(ns.status)).split(".")[-1])
            return 0
        if ns.logs:
            if ns.follow:
                return 0 if follow(client, ns.logs) == "SUCCEEDED" else 1
            print(client.get_job_logs(ns.logs), end="")
            return 0
        if ns.stop:
            client.stop_job(ns.stop)
            print(f"stopping {ns.stop}")
            return 0
    except RuntimeError as exc:  # unknown job id
        print(f"dream submit: error: {' '.join(str(exc).split())[:300]}", file=sys.stderr)
        return 2

    out = str(Path(ns.out or Path("outputs") / spec.name).resolve())
    runtime_env = {"working_dir": str(wd), "excludes": EXCLUDES,
                   "env_vars": {REVISION_ENV: git_revision(wd), ENV_CONFIG_DIRS: job_dirs}}
    job_id = client.submit_job(entrypoint=entrypoint(spec_arg, out, ns.python, _passthrough(ns), command),
                               runtime_env=runtime_env,
                               metadata={"dream.sweep": spec.name})
    print(job_id)
    print(f"dataset: {out}/ (on the head node); follow with: dream submit --logs {job_id} --follow "
          f"--address {address}", file=sys.stderr)
    if ns.wait:
        return 0 if follow(client, job_id, stream=sys.stderr) == "SUCCEEDED" else 1
    return 0
