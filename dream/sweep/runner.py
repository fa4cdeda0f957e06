"""Running a sweep: plan, skip what is stored, chunk, execute, stream rows to the dataset."""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, TextIO

from omegaconf import OmegaConf

from dream.dataset import (DatasetError, DatasetLock, broken_parts, check_target, claim, compact,
                           is_dataset, move_aside, parquet_files, unclaim, read_metadata, remove_temp_files,
                           stored_status, unify, write_metadata)
from dream.errors import ConfigError
from dream.sweep.plan import MAX_POINTS, Plan, check_size, make_plan
from dream.sweep.provenance import stamp
from dream.sweep.spec import SweepSpec, load_spec
from dream.sweep.worker import Item, run_point

# a task should simulate about this long, so Ray's ~1 ms per task is noise
CHUNK_TARGET_S = 1.0
# Ray's start-up (ray.init, workers importing the simulator, shutdown) when this machine
# has not measured it yet; measured start-ups are kept in startup_cache_file()
DEFAULT_RAY_STARTUP_S = 8.0
# the in-process executor's cost per point beyond the simulation (row, writer), and Ray's
# parallel efficiency in the execution loop (benchmarks/bench_sweep.py measures both)
SERIAL_OVERHEAD_S = 0.0003
RAY_EFFICIENCY = 0.9
# and each worker should get at least this many chunks, so the tail stays short
CHUNKS_PER_WORKER = 4

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143


@dataclass
class SweepOptions:
    """What `dream sweep` was asked to do."""

    spec: str
    executor: str = "auto"              # auto: in-process or Ray, whichever is estimated faster
    address: str | None = None
    workers: int | None = None
    chunk_size: int | None = None       # None: auto
    resume: bool = True
    retry_failed: bool = False
    fail_fast: bool = False
    dry_run: bool = False
    out: str | None = None
    progress: bool = True
    flush_s: float = 2.0                # first flush interval of the Parquet writer
    repair: bool = False                # move broken part files aside instead of stopping
    max_points: int | None = None       # confirmation to run more than MAX_POINTS points


@dataclass
class SweepReport:
    """What a sweep did: counts, failures, where the rows went."""

    name: str
    out: Path
    points: int
    ran: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    stale_failed: int = 0               # failed rows kept from earlier runs (no --retry-failed)
    interrupted: bool = False
    signal: int | None = None           # the signal that interrupted the sweep (SIGINT, SIGTERM)
    write_error: str | None = None      # the dataset could not be written (a full disk)
    stopped: bool = False               # --fail-fast stopped the sweep
    wall_s: float = 0.0
    sim_s: float = 0.0                  # sum of the points' own time (elapsed_s)
    # phases, for benchmarks: planning, Ray start and calibration; then the execution loop
    startup_s: float = 0.0
    run_s: float = 0.0
    run_sim_s: float = 0.0              # sum of elapsed_s of the points the executor ran
    run_points: int = 0
    workers: int = 1
    chunk_size: int = 1
    executor: str = ""                  # the executor that ran (auto resolved)
    estimate_s: float = 0.0             # the estimated wall time (as --dry-run prints it)
    errors: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 all ok, 1 some failed or a write failed, 130 interrupted (143 by SIGTERM)."""
        if self.interrupted:
            return EXIT_TERMINATED if self.signal == 15 else EXIT_INTERRUPTED
        if self.write_error:
            return EXIT_FAILED
        return EXIT_FAILED if (self.failed or self.stale_failed or self.stopped) else EXIT_OK


def auto_chunk_size(point_s: float, todo: int, workers: int) -> int:
    """Points per task: ~CHUNK_TARGET_S of simulation, but enough chunks to balance workers."""
    by_time = max(1, round(CHUNK_TARGET_S / max(point_s, 1e-6)))
    by_balance = max(1, math.ceil(todo / (CHUNKS_PER_WORKER * max(workers, 1))))
    return max(1, min(by_time, by_balance))


def _item(plan: Plan, i: int) -> Item:
    point = plan.points[i]
    config, _, _ = plan.resolver.resolve(point)
    return plan.keys[i], config, plan.resolver.row_base(point, config)


def _chunks(plan: Plan, todo: list[int], size: int) -> Iterator[list[Item]]:
    # configs are built as chunks are submitted: the driver never holds the whole study
    for start in range(0, len(todo), size):
        yield [_item(plan, i) for i in todo[start:start + size]]


def calibrate(plan: Plan, todo: list[int], budget_s: float = 1.0,
              samples: int = 3) -> tuple[float, list[dict[str, Any]]]:
    """Seconds per point, measured on a few points in this process, and their rows.

    The first point warms the cost-table cache and is not timed unless it alone exceeds
    the budget. The rows are real results: the caller keeps them.
    """
    if not todo:
        return 0.0, []
    picks = [todo[0]] + [todo[round(j * (len(todo) - 1) / samples)] for j in range(1, samples + 1)]
    picks = list(dict.fromkeys(picks))
    rows = [run_point(*_item(plan, picks[0]))]
    if rows[0]["elapsed_s"] > budget_s or len(picks) == 1:
        return rows[0]["elapsed_s"], rows
    times = []
    spent = rows[0]["elapsed_s"]
    for i in picks[1:]:
        rows.append(run_point(*_item(plan, i)))
        times.append(rows[-1]["elapsed_s"])
        spent += times[-1]
        if spent > budget_s:
            break
    return statistics.median(times), rows


def default_out(spec: SweepSpec) -> Path:
    """outputs/<name>/ under the current directory."""
    return Path("outputs") / spec.name


def _metadata(plan: Plan, out: Path, opts: SweepOptions, base: dict[str, Any]) -> dict[str, Any]:
    meta = read_metadata(out)
    info = stamp()
    runs = list(meta.get("runs", []))[-49:]
    runs.append({"started_at": info["time"], "executor": opts.executor,
                 "address": opts.address, "git_revision": info["git_revision"],
                 "version": info["version"]})
    return {
        "name": plan.spec.name,
        "spec": plan.spec.raw,
        "spec_path": plan.spec.path,
        "swept": list(plan.spec.keys),
        "points": len(plan),
        "base_config": base,
        "version": info["version"],
        "git_revision": info["git_revision"],
        "created_at": meta.get("created_at", info["time"]),
        "updated_at": info["time"],
        "runs": runs,
    }


def _file_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """What each Parquet file carries: enough to trace it without _sweep.json."""
    keep = ("name", "spec", "base_config", "version", "git_revision", "updated_at")
    return {k: meta[k] for k in keep}


def _select(plan: Plan, stored: dict[str, str], opts: SweepOptions,
            report: SweepReport) -> tuple[list[int], bool]:
    """Indices of the points to run, and whether any of them is already stored (a rerun)."""
    todo: list[int] = []
    rerun_stored = False
    for i, k in enumerate(plan.keys):
        st = stored.get(k)
        if st is None or not opts.resume or (st != "ok" and opts.retry_failed):
            todo.append(i)
            rerun_stored |= st is not None
        else:
            report.skipped += 1
            report.stale_failed += st != "ok"
    return todo, rerun_stored


def startup_cache_file() -> Path:
    """Where measured Ray start-ups are kept (per user, under the XDG cache directory)."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "dream" / "ray_startup.json"


def ray_startup_estimate(address: str | None) -> float:
    """Ray's start-up here: the median of the last measured ones, else DEFAULT_RAY_STARTUP_S."""
    import json

    try:
        seen = json.loads(startup_cache_file().read_text()).get("cluster" if address else "local", [])
        values = [float(v) for v in seen if float(v) > 0]
    except (OSError, ValueError, AttributeError, TypeError):
        values = []
    return statistics.median(values) if values else DEFAULT_RAY_STARTUP_S


def record_ray_startup(address: str | None, seconds: float, keep: int = 5) -> None:
    """Remember a measured Ray start-up (the last `keep` per kind); never fails the sweep."""
    import json

    path = startup_cache_file()
    kind = "cluster" if address else "local"
    try:
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                data = {}
        except (OSError, ValueError):
            data = {}
        data[kind] = (list(data.get(kind, [])) + [round(seconds, 3)])[-keep:]
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data) + "\n")
        tmp.replace(path)
    except OSError:  # a read-only home: the default estimate stays
        pass


@dataclass
class Estimate:
    """The executor a sweep will use and its estimated wall time."""

    executor: str
    workers: int
    chunk_size: int
    serial_s: float          # the run in this process
    ray_s: float             # Ray: start-up plus the run on its workers
    startup_s: float         # Ray's start-up alone

    @property
    def run_s(self) -> float:
        """The estimate of the chosen executor."""
        return self.serial_s if self.executor == "serial" else self.ray_s


def estimate(opts: SweepOptions, point_s: float, todo: int, calibrated: int = 0) -> Estimate:
    """Both executors' wall times for `todo` points of `point_s` each; auto picks the shorter.

    `calibrated` points were already simulated here (their rows kept), so neither
    executor runs them again. Ray's estimate includes its start-up and shutdown.
    """
    left = max(todo - calibrated, 0)
    workers_ray = opts.workers or os.cpu_count() or 1
    startup = ray_startup_estimate(opts.address)
    serial_s = left * (point_s + SERIAL_OVERHEAD_S)
    ray_s = startup + left * point_s / (workers_ray * RAY_EFFICIENCY) if left else 0.0
    if opts.executor == "auto":
        kind = "ray" if opts.address or ray_s < serial_s else "serial"
    else:
        kind = opts.executor
    workers = 1 if kind == "serial" else workers_ray
    size = opts.chunk_size or (1 if kind == "serial" else auto_chunk_size(point_s, left, workers))
    return Estimate(kind, workers, size, serial_s, ray_s, startup)


def _dry_run(plan: Plan, todo: list[int], opts: SweepOptions, say: Any, planned_s: float,
             total_points: int | None = None) -> float:
    """Print the plan: executor, chunks and an estimated time from a few points simulated here.

    The estimate is what a real run would take: planning (measured), calibration (the
    points simulated here, which a run keeps), and the chosen executor's run including
    Ray's start-up. Returns it. total_points: the points to run when `todo` is a sample.
    """
    t0 = time.perf_counter()
    point_s, rows = calibrate(plan, todo)
    calib_s = time.perf_counter() - t0
    n = len(todo) if total_points is None else total_points
    est = estimate(opts, point_s, n, len(rows))
    chunks = math.ceil(max(n - len(rows), 0) / est.chunk_size) if todo else 0
    total = planned_s + calib_s + est.run_s if todo else planned_s
    why = ""
    if opts.executor == "auto":
        why = (" (auto: " + ("a cluster address was given" if opts.address else
                             f"in-process {est.serial_s:.1f} s vs Ray {est.ray_s:.1f} s with "
                             f"{est.startup_s:.1f} s start-up") + ")")
    say(f"executor {est.executor}" + (f" at {opts.address}" if opts.address else "") + why
        + f", {est.workers} worker(s), chunk size {est.chunk_size} -> {chunks} chunks"
        + (f" (after {len(rows)} point(s) simulated here to time them, which the run keeps)"
           if rows else ""))
    say(f"estimated time: {total:.1f} s ({point_s * 1e3:.1f} ms per point, measured on a few points; "
        + (f"Ray start-up {est.startup_s:.1f} s; " if est.executor == "ray" else "")
        + f"planning {planned_s:.1f} s)")
    for p in plan.spec.params:
        shown = ", ".join(map(str, p.values[:8])) + (", ..." if len(p.values) > 8 else "")
        say(f"  {p.key}: {len(p.values)} value(s): {shown}")
    return total


def _dry_run_large(spec: SweepSpec, opts: SweepOptions, say: Any, t_start: float) -> SweepReport:
    """--dry-run of a spec above MAX_POINTS: count arithmetically, validate and time a sample.

    Nothing is expanded: the count is the product of the value counts, and the points
    planned are plan.sample_positions' (every value of every key once, long ranges sampled).
    """
    n = len(spec)
    plan = make_plan(spec, sample=True)
    out = (Path(opts.out) if opts.out else default_out(spec)).absolute()
    check_target(out)
    report = SweepReport(spec.name, out, n)
    say(f"sweep {spec.name}: {n:,} points (counted, not expanded: above the limit of "
        f"{MAX_POINTS:,}); every key's values checked (long ranges sampled) on {len(plan):,} "
        f"points -> {out}/")
    say("duplicates and points already stored are not counted at this size; a real run "
        + ("is confirmed by --max-points" if (opts.max_points or 0) >= n
           else f"needs --max-points {n}"))
    report.estimate_s = _dry_run(plan, list(range(len(plan))), opts, say,
                                 time.perf_counter() - t_start, total_points=n)
    report.wall_s = time.perf_counter() - t_start
    return report


def _start_executor(opts: SweepOptions, kind: str) -> Any:
    from dream.sweep.executors import make_executor

    try:
        return make_executor(kind, opts.workers, opts.address)
    except Exception as exc:  # no cluster at that address, Ray cannot start, ...
        raise ExecutorError(f"cannot start the {kind} executor"
                            + (f" at {opts.address}" if opts.address else "")
                            + f": {' '.join(str(exc).split())[:500]}") from None


def _prepare(out: Path, opts: SweepOptions, say: Any) -> None:
    """Before anything runs: clear our temporary files, check every stored part, finish compaction.

    A part that cannot be read whole with verified checksums stops the sweep (its rows
    cannot be trusted as stored) unless --repair moves it aside, nothing is deleted.
    """
    remove_temp_files(out)
    broken = broken_parts(out)
    if broken and not opts.repair:
        f, why = broken[0]
        more = f" (and {len(broken) - 1} more)" if len(broken) > 1 else ""
        raise DatasetError(f, f"{why}{more}; run again with --repair to move broken parts aside "
                           "(renamed _broken.<name>.bad; their points are simulated again)")
    for (f, why), dest in zip(broken, move_aside(f for f, _ in broken)):
        say(f"moved aside {f.name} -> {dest.name}: {why}")
    compact(out)  # a driver killed between writing and compacting left duplicates


def run_sweep(opts: SweepOptions, out_stream: TextIO = sys.stdout) -> SweepReport:
    """Run (or dry-run) a sweep; ConfigError/ExecutorError when it cannot start (nothing written).

    The dataset directory must be new, empty or a dataset (dream.dataset.check_target);
    one process writes it at a time (DatasetLock), a second one is refused.
    """
    def say(msg: str) -> None:
        print(msg, file=out_stream, flush=True)

    t_start = time.perf_counter()
    spec = load_spec(opts.spec)
    if opts.dry_run and len(spec) > MAX_POINTS:
        return _dry_run_large(spec, opts, say, t_start)
    if not opts.dry_run:
        check_size(spec, opts.max_points)  # before expanding: a huge spec is refused at once
    plan = make_plan(spec)
    for note in plan.resolver.shadow_notes():
        print(f"dream: {note}", file=sys.stderr)
    out = (Path(opts.out) if opts.out else default_out(spec)).absolute()
    if opts.dry_run:
        check_target(out)
        return _run(plan, out, opts, say, t_start)
    created = not out.exists()
    fresh = created or not is_dataset(out)
    claim(out, "sweep")
    lock = DatasetLock(out).acquire()  # a second writer is refused here, before it touches anything
    try:
        _prepare(out, opts, say)
        return _run(plan, out, opts, say, t_start)
    except (ConfigError, ExecutorError, KeyboardInterrupt):
        if fresh:  # nothing was stored: leave no empty dataset behind (we hold the lock)
            unclaim(out, created)
        raise
    finally:
        lock.release()


def _run(plan: Plan, out: Path, opts: SweepOptions, say: Any, t_start: float) -> SweepReport:
    from tqdm import tqdm

    from dream.config import compose
    from dream.sweep.sink import DatasetSink, param_types, stable_kinds

    spec = plan.spec
    report = SweepReport(spec.name, out, len(plan))
    base = OmegaConf.to_container(compose(list(spec.overrides)), resolve=True)
    plan.resolver.kinds = stable_kinds(plan.resolver.kinds, base)
    stored = stored_status(out) if is_dataset(out) else {}
    todo, rerun_stored = _select(plan, stored, opts, report)
    say(f"sweep {spec.name}: {len(plan)} points"
        + (f" ({plan.duplicates} duplicates collapsed)" if plan.duplicates else "")
        + f", {len(plan.resolver.combinations)} group combinations; "
        f"{report.skipped} already stored, {len(todo)} to run -> {out}/")
    if opts.dry_run:
        report.estimate_s = _dry_run(plan, todo, opts, say, time.perf_counter() - t_start)
        report.wall_s = time.perf_counter() - t_start
        return report
    # rows stored before a key was swept hold null for it; for this sweep's points their
    # value is the point's (same run key, same config): unify fills it in
    known = {k: plan.resolver.param_columns(plan.points[i])
             for i, k in enumerate(plan.keys) if k in stored}
    if not todo:
        write_metadata(out, _metadata(plan, out, opts, base))
        unify(out, known, param_types(plan.resolver.kinds))
        report.wall_s = time.perf_counter() - t_start
        _summarise(report, plan, say)
        return report

    # before Ray starts: in a Ray job the working directory (our cwd) can be unpacked again
    # underneath us once Ray runs, and Hydra's compose needs a valid cwd
    meta = _metadata(plan, out, opts, base)
    kind = "ray" if opts.address else opts.executor
    executor = None
    startup_s = 0.0  # Ray's start-up as measured here (ray.init, waiting for workers, shutdown)
    if kind == "ray":
        # Ray starts (and its workers import the simulator) while this process calibrates
        t0 = time.perf_counter()
        executor = _start_executor(opts, kind)
        startup_s += time.perf_counter() - t0
    sink = DatasetSink(out, plan.resolver.kinds, _file_metadata(meta), first_flush_s=opts.flush_s)
    bar = tqdm(total=len(todo), desc=spec.name, unit="pt", disable=not opts.progress,
               mininterval=0.5 if sys.stderr.isatty() else 5.0, dynamic_ncols=True)
    bar.set_postfix(failed=0, refresh=False)
    seen: set[str] = set()

    def take(rows: list[dict[str, Any]]) -> bool:
        """Record rows; True when --fail-fast must stop now."""
        fresh = [r for r in rows if r["run_key"] not in seen]  # a retried task may repeat
        seen.update(r["run_key"] for r in fresh)
        sink.add(fresh)
        for r in fresh:
            report.ran += 1
            report.sim_s += r.get("elapsed_s") or 0.0
            if r["status"] == "ok":
                report.ok += 1
            else:
                report.failed += 1
                err = str(r["error"])[:300]
                report.errors[err] += 1
                report.examples.setdefault(err, r["run_key"])
        bar.update(len(fresh))
        bar.set_postfix(failed=report.failed, refresh=False)
        return opts.fail_fast and report.failed > 0

    t_loop = None
    try:
        write_metadata(out, meta)
        remaining = todo
        size = opts.chunk_size or (1 if kind == "serial" else 0)
        if not size or kind == "auto":
            point_s, rows = calibrate(plan, todo)
            done = {r["run_key"] for r in rows}
            remaining = [i for i in todo if plan.keys[i] not in done]
            if take(rows):
                raise _Stop
            if kind == "auto":
                est = estimate(opts, point_s, len(todo), len(rows))
                kind = est.executor
                report.estimate_s = est.run_s
                meta["runs"][-1]["executor"] = kind
                write_metadata(out, meta)
            if executor is None:
                t0 = time.perf_counter()
                executor = _start_executor(opts, kind)
                startup_s += time.perf_counter() - t0
            size = opts.chunk_size or (1 if kind == "serial" else
                                       auto_chunk_size(point_s, len(remaining), executor.workers))
        if executor is None:
            executor = _start_executor(opts, kind)
        t0 = time.perf_counter()
        executor.ready()
        startup_s += time.perf_counter() - t0
        report.executor = kind
        report.workers, report.chunk_size = executor.workers, size
        t_loop = time.perf_counter()
        report.startup_s = t_loop - t_start
        ran_before, sim_before = report.ran, report.sim_s
        for rows in executor.run(_chunks(plan, remaining, size)):
            if take(rows):
                raise _Stop
        report.run_points, report.run_sim_s = report.ran - ran_before, report.sim_s - sim_before
    except _Stop:
        report.stopped = True
    except KeyboardInterrupt as exc:
        report.interrupted = True
        from dream.sweep.executors import signal_of

        report.signal = signal_of(exc)
    except OSError as exc:  # the dataset cannot be written (a full disk, a lost mount)
        report.write_error = _write_error(out, exc)
    finally:
        # every step runs even when one fails: rows received are written if the disk
        # lets us, and Ray is always shut down
        try:
            sink.close()
        except OSError as exc:
            report.write_error = report.write_error or _write_error(out, exc)
        if t_loop is not None:
            report.run_s = time.perf_counter() - t_loop
        try:
            if executor is not None:
                t0 = time.perf_counter()
                executor.close()
                startup_s += time.perf_counter() - t0
                if kind == "ray" and t_loop is not None:
                    record_ray_startup(opts.address, startup_s)
        finally:
            bar.close()
    if not report.write_error:
        try:
            if rerun_stored:
                compact(out)  # drop the rows the reruns superseded
            unify(out, known, param_types(plan.resolver.kinds))  # one schema in every file: any Parquet reader sees one table
        except OSError as exc:
            report.write_error = _write_error(out, exc)
    report.wall_s = time.perf_counter() - t_start
    _summarise(report, plan, say)
    return report


def _write_error(out: Path, exc: OSError) -> str:
    return (f"cannot write to {out}: {exc.strerror or exc}; the rows stored so far are intact "
            "and the same command continues from them")


class ExecutorError(RuntimeError):
    """The executor could not start (bad address, Ray failed to start)."""


class _Stop(Exception):
    """--fail-fast: a point failed."""


def _summarise(report: SweepReport, plan: Plan, say: Any) -> None:
    files = len(parquet_files(report.out)) if report.out.exists() else 0
    how = ""
    if report.executor:
        how = " in this process" if report.executor == "serial" else f" on Ray ({report.workers} workers)"
    say(f"{report.ran} ran in {report.wall_s:.1f} s{how} ({report.ok} ok, {report.failed} failed), "
        f"{report.skipped} already stored; dataset {report.out}/ ({files} files)")
    if report.interrupted:
        say("interrupted: rows finished so far are stored; run the same command again to continue")

    if report.stopped:
        say("stopped at the first failure (--fail-fast)")
    if report.errors:
        wanted = set(report.examples.values())
        index = {k: i for i, k in enumerate(plan.keys) if k in wanted}
        say(f"{report.failed} point(s) failed:")
        for err, n in report.errors.most_common(10):
            key = report.examples[err]
            say(f"  {n} x {err}")
            say(f"      e.g. {plan.resolver.describe(plan.points[index[key]])} (run_key {key})")
        if len(report.errors) > 10:
            say(f"  ... and {len(report.errors) - 10} other error(s)")
    if report.stale_failed:
        say(f"{report.stale_failed} point(s) failed in an earlier run; rerun them with --retry-failed")
