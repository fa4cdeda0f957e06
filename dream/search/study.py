"""Running a search: Optuna proposes (ask), dream's executors simulate, results go back (tell).

A trial is its parameter values as overrides on every point of the spec's grid. Batches
of trials are resolved by the sweep's Resolver (one compose per group combination, then
scalar patches), keyed by run key, and simulated through the sweep's executors (serial,
local Ray, a Ray cluster); every simulation is one row of the Parquet dataset, written by
the sweep's DatasetSink. A run key already stored is never simulated again: a repeated
parameter set, a trial re-evaluated after a kill, and the seeds a cheaper rung already
ran all reuse their rows.

The study itself lives in Optuna's journal file (`_search.journal`) in the dataset
folder. Trials asked but not told when the driver died are evaluated again on the next
run (their finished simulations come from the dataset). The sampler is re-seeded before
each batch from the spec's seed and the number of trials so far, so a resumed search asks
the same trials as an uninterrupted one, and a Ray run the same as a serial one.
"""

from __future__ import annotations

import itertools
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TextIO

from dream.dataset import (SEARCH_JOURNAL, DatasetLock, claim, read_dataset, read_metadata,
                           remove_temp_files, write_metadata)
from dream.errors import ConfigError
from dream.search.spec import SearchSpec, load_search_spec
from dream.sweep.plan import make_plan
from dream.sweep.resolve import Resolver
from dream.sweep.spec import Param, SweepSpec

if TYPE_CHECKING:
    from dream.search.journal import AtomicJournal

JOURNAL = SEARCH_JOURNAL  # the study, beside the rows
TRIAL_COLUMN = "trial"
# user attributes of a trial in the journal
ATTR_ROWS = "dream.rows"          # [[run_key, simulated seconds], ...] every row it used
ATTR_RUNG = "dream.rung"          # the last rung it was evaluated on
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


@dataclass
class SearchOptions:
    """What `dream search` was asked to do."""

    spec: str
    executor: str = "auto"             # auto, ray or serial
    address: str | None = None
    workers: int | None = None
    out: str | None = None
    trials: int | None = None           # overrides search.trials
    budget_sim_s: float | None = None   # overrides search.budget_sim_s
    seed: int | None = None             # overrides search.seed
    batch: int | None = None            # overrides search.batch
    sampler: str | None = None          # overrides search.sampler
    progress: bool = True


@dataclass
class SearchReport:
    """What a search did."""

    name: str
    out: Path
    trials: int = 0                     # trials in the study at the end
    told: int = 0                       # trials finished in this run
    simulated: int = 0                  # simulations run in this run
    reused: int = 0                     # rows a trial needed that were already stored
    failed_sims: int = 0
    spent_sim_s: float = 0.0            # simulated seconds of every distinct row the study used
    interrupted: bool = False
    wall_s: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 done, 1 some simulation failed, 130 interrupted."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_FAILED if self.failed_sims else EXIT_OK


def default_out(spec: SearchSpec) -> Path:
    """outputs/<name>/ under the current directory."""
    return Path("outputs") / spec.name


def with_overrides(spec: SearchSpec, opts: SearchOptions) -> SearchSpec:
    """The spec with the command line's --trials/--seed/--batch/--sampler/--budget applied."""
    from dataclasses import replace

    from dream.search.spec import SAMPLERS

    changes: dict[str, Any] = {}
    for name in ("trials", "seed", "batch", "budget_sim_s"):
        if getattr(opts, name) is not None:
            changes[name] = getattr(opts, name)
    if opts.sampler is not None:
        if opts.sampler not in SAMPLERS:
            raise ConfigError("--sampler", f"unknown sampler {opts.sampler!r}; allowed: {list(SAMPLERS)}")
        if opts.sampler == "grid" and any(p.kind != "choice" for p in spec.params):
            raise ConfigError("--sampler", "grid needs every parameter as choice(...)")
        changes["sampler"] = opts.sampler
    return replace(spec, **changes) if changes else spec


# -- Optuna objects --------------------------------------------------------------------

def make_sampler(spec: SearchSpec, n_before: int) -> Any:
    """The spec's sampler, seeded from its seed and the number of trials already asked.

    Samplers keep a random state; seeding per batch makes a batch depend only on the
    stored history, so a resumed or distributed search asks what an uninterrupted serial
    one would.
    """
    import optuna

    seed = (spec.seed * 1_000_003 + n_before) % (2**31 - 1)
    name = spec.sampler
    if name == "tpe":
        # multivariate TPE models the weights jointly: they interact (DREAM's MapScore).
        # A trial costs a whole grid of simulations: fewer random start-up trials than
        # Optuna's 10 leave more of a small budget to the model
        return optuna.samplers.TPESampler(seed=seed, multivariate=True,
                                          n_startup_trials=min(6, max(2, spec.trials // 5)))
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=max(4, min(20, spec.trials // 4)))
    if name == "nsga3":
        return optuna.samplers.NSGAIIISampler(seed=seed, population_size=max(4, min(20, spec.trials // 4)))
    if name == "qmc":
        return optuna.samplers.QMCSampler(seed=spec.seed, scramble=True)
    if name == "grid":
        space = {p.key: list(p.choices) for p in spec.params}
        return optuna.samplers.GridSampler(space, seed=spec.seed)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed)
    raise ConfigError("search.sampler", f"unknown sampler {name!r}")


def make_pruner(spec: SearchSpec) -> Any:
    """A pruner over rungs reported at steps eta**i (successive halving's promotion steps)."""
    import optuna

    eta = spec.reduction_factor
    if spec.pruner == "sha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=eta,
                                                      min_early_stopping_rate=0)
    if spec.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, reduction_factor=eta,
                                              max_resource=eta ** max(1, spec.rungs - 1))
    if spec.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=spec.batch, n_warmup_steps=0)
    return optuna.pruners.NopPruner()


def open_study(spec: SearchSpec, out: Path, create: bool = True,
               journal: AtomicJournal | None = None) -> Any:
    """The study in `out/_search.journal` (created, or loaded to continue).

    `journal`, when given, is the backend to use (an `AtomicJournal` over that file), so
    the caller can write a batch of asks as one append.
    """
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from dream.search.journal import AtomicJournal

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    path = out / JOURNAL
    if not create and not path.is_file():
        raise ConfigError(str(out), f"has no search journal ({JOURNAL}); run `dream search` first")
    out.mkdir(parents=True, exist_ok=True)
    try:
        storage = JournalStorage(journal or AtomicJournal(JournalFileBackend(str(path))))
        # an existing study is loaded: create_study would append a line on every rerun
        existing = path.is_file() and path.stat().st_size > 0
        if create and not existing:
            directions = ["maximize" if o.maximize else "minimize" for o in spec.objectives]
            study = optuna.create_study(study_name=spec.name, storage=storage, directions=directions,
                                        load_if_exists=True, sampler=make_sampler(spec, 0),
                                        pruner=make_pruner(spec))
        else:  # and reading (reports, --best) writes nothing
            study = optuna.load_study(study_name=spec.name, storage=storage,
                                      sampler=make_sampler(spec, 0), pruner=make_pruner(spec))
    except KeyError:
        raise ConfigError(str(path), f"holds no search named {spec.name!r}") from None
    except ValueError as exc:  # a damaged line (JSONDecodeError is a ValueError)
        raise ConfigError(str(path), f"is damaged ({' '.join(str(exc).split())[:160]}); "
                          "`dream search` repairs a cut last line, not this") from None
    stored = study.user_attrs.get("dream.identity")
    if stored is None:
        study.set_user_attr("dream.identity", spec.identity())
        study.set_user_attr("dream.objectives", [o.label for o in spec.objectives])
        study.set_user_attr("dream.params", [p.key for p in spec.params])
    elif stored != spec.identity():
        raise ConfigError(str(out / JOURNAL), "holds a search over another space, grid, objectives "
                          "or fidelity than this spec's; use --out for a new search")
    return study


# -- evaluation ------------------------------------------------------------------------

def _master_spec(spec: SearchSpec) -> SweepSpec:
    """The spec's grid plus one zip parameter per searched key (and the fidelity key).

    The Resolver is built once from it: group combinations are composed once for the
    whole search, and a trial's point is the grid point's values followed by the trial's.
    """
    extra = [Param(key=p.key, element=p.element, is_group=p.is_group, values=tuple(p.probes()))
             for p in spec.params]
    f = spec.fidelity
    if f is not None and f.mode == "values":
        from dream.sweep.spec import parse_param

        fp = parse_param("search.fidelity", f.key, list(f.values))
        extra.append(fp)
    # zip lists must have equal lengths: pad with each list's first value
    n = max(len(p.values) for p in extra)
    extra = [Param(p.key, p.element, p.is_group, p.values + (p.values[0],) * (n - len(p.values)))
             for p in extra]
    s = spec.sweep
    return SweepSpec(name=s.name, overrides=s.overrides, grid=s.grid, zip=tuple(extra),
                     raw=s.raw, path=s.path)


def validate(spec: SearchSpec) -> None:
    """Resolve and validate the grid with every parameter at both ends of its range and
    every choice (and every fidelity rung): a bad value fails here, before anything runs."""
    make_plan(_master_spec(spec))


def _kinds(spec: SearchSpec, master: SweepSpec, base: dict[str, Any] | None) -> dict[str, str]:
    """Column types: a searched parameter's from its space, made stable as a sweep's are."""
    from dream.sweep.resolve import param_type
    from dream.sweep.sink import stable_kinds

    kinds = {p.key: param_type(p) for p in master.params}
    kinds.update({p.key: p.column_kind() for p in spec.params})
    if base is not None:
        kinds = stable_kinds(kinds, base)
    kinds[TRIAL_COLUMN] = "int"
    return kinds


class Evaluator:
    """Turns trials' parameter values into rows: resolve, skip what is stored, simulate."""

    def __init__(self, spec: SearchSpec, out: Path, executor: Any, sink: Any,
                 say: Callable[[str], None], report: SearchReport,
                 base_config: dict[str, Any] | None = None) -> None:
        self.spec = spec
        self.master = _master_spec(spec)
        self.resolver = Resolver(self.master)
        self.resolver.kinds = _kinds(spec, self.master, base_config)
        self.executor = executor
        self.sink = sink
        self.say = say
        self.report = report
        self.n_grid = len(spec.sweep.grid)
        self.grid_points = [pt for pt in _grid_points(spec.sweep)]
        # run_key -> {"status", objective metrics...}: the stored rows, then each new one
        self.rows: dict[str, dict[str, Any]] = {}
        self._cost: dict[str, float] = {}   # run_key -> simulated seconds
        searched = {p.key for p in spec.params}
        metrics = [o.metric for o in spec.objectives if o.metric not in searched]
        if out.exists():
            df = read_dataset(out, columns=["run_key", "status"] + metrics)
            for rec in df.to_dict("records"):
                self.rows[str(rec["run_key"])] = rec

    def compose_reachable(self, limit: int = 2000) -> None:
        """Compose every combination of group options the grid and the searched choices
        can reach (their product), unless there are more than `limit` of them."""
        res = self.resolver
        options = [tuple(dict.fromkeys(res.params[i].values)) for i in res.group_idx]
        if math.prod(len(o) for o in options) <= limit:
            res.compose_all(list(itertools.product(*options)))

    def points(self, values: dict[str, Any], rung: int) -> list[tuple]:
        """The points of one trial at one rung: grid points x (trial values, rung value)."""
        f = self.spec.fidelity
        grid = self.grid_points
        if f is not None and f.mode == "count":
            idx = [p.key for p in self.spec.sweep.grid].index(f.key)
            allowed = set(map(repr, self.spec.sweep.grid[idx].values[:f.values[rung]]))
            grid = [g for g in grid if repr(g[idx]) in allowed]
        tail = tuple(values[p.key] for p in self.spec.params)
        if f is not None and f.mode == "values":
            tail += (f.values[rung],)
        return [g + tail for g in grid]

    def run(self, wanted: list[tuple[int, list[tuple]]]) -> dict[int, list[str]]:
        """Simulate what the trials need and is not stored; their run keys per trial number."""
        keys: dict[int, list[str]] = {}
        todo: dict[str, tuple] = {}
        first_trial: dict[str, int] = {}
        for number, pts in wanted:
            ks = []
            for pt in pts:
                config, key, _ = self.resolver.resolve(pt)
                ks.append(key)
                if key in self.rows or key in todo:  # stored, or a batch-mate's
                    self.report.reused += 1
                else:
                    todo[key] = pt
                    first_trial[key] = number
                self._cost.setdefault(key, _sim_s(config))
            keys[number] = ks
        if todo:
            items = []
            for key, pt in todo.items():
                config, _, _ = self.resolver.resolve(pt)
                base = self.resolver.row_base(pt, config)
                base[TRIAL_COLUMN] = first_trial[key]  # the trial that first needed it
                items.append((key, config, base))
            workers = getattr(self.executor, "workers", 1)
            size = 1 if workers <= 1 else max(1, math.ceil(len(items) / (3 * workers)))
            chunks = [items[i:i + size] for i in range(0, len(items), size)]
            for rows in self.executor.run(chunks):
                rows = [r for r in rows if r["run_key"] not in self.rows]
                # every chunk goes to disk as it arrives: a kill loses only running simulations
                self.sink.add(rows)
                self.sink.flush()
                for r in rows:
                    self.rows[r["run_key"]] = r
                    self.report.simulated += 1
                    self.report.failed_sims += r["status"] != "ok"
        return keys

    def value(self, keys: list[str], params: dict[str, Any]) -> tuple[list[float] | None, str | None]:
        """The objectives over a trial's rows (geometric or arithmetic mean), or why not."""
        recs = [self.rows[k] for k in keys]
        bad = [r for r in recs if r.get("status") != "ok"]
        if bad:
            return None, f"{len(bad)} simulation(s) failed"
        out = []
        for o in self.spec.objectives:
            if o.metric in params:  # a searched parameter: the design's own cost
                out.append(float(params[o.metric]))
                continue
            vals = [r.get(o.metric) for r in recs]
            if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in vals):
                return None, f"metric {o.metric!r} missing from a summary"
            vals = [float(v) for v in vals]
            if self.spec.aggregate == "geomean":
                if min(vals) <= 0:
                    return None, f"{o.metric} <= 0 in a point: the geometric mean needs positive values (aggregate: mean)"
                out.append(math.exp(sum(math.log(v) for v in vals) / len(vals)))
            else:
                out.append(sum(vals) / len(vals))
        return out, None


def _sim_s(config: dict) -> float:
    """A simulation's simulated seconds (what a budget counts)."""
    sim = config.get("sim") or {}
    return float(sim.get("duration_ms") or 0.0) / 1000.0


def _grid_points(sweep: SweepSpec) -> list[tuple]:
    from dream.sweep.spec import iter_points

    only_grid = SweepSpec(name=sweep.name, overrides=sweep.overrides, grid=sweep.grid, zip=sweep.zip)
    return list(iter_points(only_grid))


def trial_values(spec: SearchSpec, trial: Any) -> dict[str, Any]:
    """A trial's parameter values by key, in the spec's order."""
    return {p.key: trial.params[p.key] for p in spec.params}


def spent(study: Any) -> tuple[float, int]:
    """Simulated seconds and number of the distinct rows every trial so far has used."""
    seen: dict[str, float] = {}
    for t in study.get_trials(deepcopy=False):
        for key, s in t.user_attrs.get(ATTR_ROWS, []):
            seen[key] = s
    return sum(seen.values()), len(seen)


def describe(spec: SearchSpec, values: dict[str, Any], exact: bool = False) -> str:
    """A trial's parameters as override text (floats to 6 digits unless exact)."""
    from hydra.core.override_parser.types import Override

    out = []
    for p in spec.params:
        v = values[p.key]
        if isinstance(v, float) and not exact:
            v = float(f"{v:.6g}")
        out.append(f"{p.element}={Override._get_value_element_as_str(v)}")
    return " ".join(out)


# -- the loop --------------------------------------------------------------------------

def _write_metadata(spec: SearchSpec, out: Path, opts: SearchOptions) -> dict[str, Any]:
    import yaml
    from omegaconf import OmegaConf

    from dream.config import compose
    from dream.sweep.provenance import stamp

    meta = read_metadata(out)
    if meta and "search" not in meta:
        raise ConfigError(str(out), "holds a sweep dataset, not a search's; use --out for the search")
    info = stamp()
    runs = list(meta.get("runs", []))[-49:]
    runs.append({"started_at": info["time"], "executor": resolve_executor(opts, spec), "address": opts.address,
                 "git_revision": info["git_revision"], "version": info["version"]})
    base = OmegaConf.to_container(compose(list(spec.sweep.overrides)), resolve=True)
    new = {"name": spec.name, "spec": spec.raw, "spec_path": spec.sweep.path,
           "swept": [p.key for p in spec.sweep.params] + [p.key for p in spec.params]
           + ([spec.fidelity.key] if spec.fidelity and spec.fidelity.mode == "values" else []),
           # the spec as YAML text: _sweep.json sorts keys, and key order is the grid's order
           "search": {"journal": JOURNAL, "spec_yaml": yaml.safe_dump(spec.raw, sort_keys=False),
                      "objectives": [o.label for o in spec.objectives],
                      "params": [p.key for p in spec.params], "grid_points": len(spec.sweep)},
           "base_config": base, "version": info["version"], "git_revision": info["git_revision"],
           "created_at": meta.get("created_at", info["time"]), "updated_at": info["time"],
           "runs": runs}
    write_metadata(out, new)
    return new


def run_search(opts: SearchOptions, out_stream: TextIO = sys.stdout) -> SearchReport:
    """Run (or continue) a search; ConfigError when the spec or dataset is not usable."""
    import warnings

    from optuna.exceptions import ExperimentalWarning

    # multivariate TPE is marked experimental; the warning would repeat at every batch
    warnings.filterwarnings("ignore", category=ExperimentalWarning)

    def say(msg: str) -> None:
        if opts.progress:
            print(msg, file=out_stream, flush=True)

    t0 = time.perf_counter()
    spec = with_overrides(load_search_spec(opts.spec), opts)
    validate(spec)
    out = (Path(opts.out) if opts.out else default_out(spec)).absolute()
    # the sweep's rules: a new or empty directory or a dataset, one writer at a time
    claim(out, "search")
    with DatasetLock(out):
        return _run(spec, out, opts, say, t0)


def _run(spec: SearchSpec, out: Path, opts: SearchOptions, say: Callable[[str], None],
         t0: float) -> SearchReport:
    """The search loop, with the dataset claimed and locked."""
    from optuna.storages.journal import JournalFileBackend
    from optuna.trial import Trial, TrialState

    from dream.search.journal import AtomicJournal, repair_tail
    from dream.sweep.sink import DatasetSink

    report = SearchReport(spec.name, out)
    meta = _write_metadata(spec, out, opts)
    remove_temp_files(out)
    cut = repair_tail(out / JOURNAL)
    if cut:
        say(f"the journal ended in a cut line ({cut} bytes, a write stopped by a kill): dropped")
    journal = AtomicJournal(JournalFileBackend(str(out / JOURNAL)))
    study = open_study(spec, out, journal=journal)
    n0 = len(study.trials)
    keep = ("name", "spec", "base_config", "version", "git_revision", "updated_at")
    # every group combination a trial can reach is composed before Ray starts: in a Ray
    # job, joining the cluster replaces the working directory Hydra's compose reads
    evaluator = Evaluator(spec, out, None, None, say, report, meta["base_config"])
    evaluator.compose_reachable()
    executor = start_executor(opts, spec)
    evaluator.executor = executor
    sink = None
    try:
        sink = DatasetSink(out, evaluator.resolver.kinds, {k: meta[k] for k in keep},
                           first_flush_s=0.0)
        evaluator.sink = sink
        executor.ready()
        say(f"search {spec.name}: {len(spec.params)} parameter(s), {len(spec.sweep)} grid points "
            f"per trial, {spec.rungs} rung(s), sampler {spec.sampler}, batch {spec.batch}, "
            f"executor {executor.name} ({executor.workers} worker(s)); "
            f"{n0} trial(s) stored -> {out}/")
        while True:
            trials = study.get_trials(deepcopy=False)
            running = [t for t in trials if t.state == TrialState.RUNNING]
            for t in [t for t in running if set(t.params) != {p.key for p in spec.params}]:
                # only a journal written before batches were asked atomically has these
                study.tell(t._trial_id, state=TrialState.FAIL)
                say(f"trial {t.number}: failed (its parameters were never all drawn: the search "
                    f"was killed while asking it)")
                running.remove(t)
            if running:
                batch = [Trial(study, t._trial_id) for t in running]
                say(f"continuing {len(batch)} unfinished trial(s)")
            else:
                used_s, _ = spent(study)
                if len(trials) >= spec.trials or (spec.budget_sim_s and used_s >= spec.budget_sim_s):
                    break
                if spec.sampler == "grid" and _grid_exhausted(study, spec):
                    break
                study.sampler = make_sampler(spec, len(trials))
                dists = {p.key: p.distribution() for p in spec.params}
                # one append for the whole batch: a kill mid-ask must not leave a trial
                # with only some of its parameters drawn
                with journal.atomic():
                    batch = [study.ask(dists) for _ in range(min(spec.batch, spec.trials - len(trials)))]
            _evaluate(study, spec, evaluator, batch, say, report)
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        if sink is not None:
            sink.close()
            if not report.interrupted:
                consolidate(sink.files)
        executor.close()
    report.trials = len(study.trials)
    report.spent_sim_s = spent(study)[0]
    report.wall_s = time.perf_counter() - t0
    _summarise(study, spec, report, say)
    return report


def consolidate(files: list[Path]) -> Path | None:
    """Merge the files this run wrote (one per chunk, for crash safety) into one.

    The merged file is written whole before the pieces go; a kill in between leaves each
    row twice, which read_dataset and `compact` resolve to one row per run key.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dream.dataset import write_table_atomic

    files = [f for f in files if f.exists()]
    if len(files) < 2:
        return None
    tables = [pq.read_table(f) for f in files]
    merged = pa.concat_tables(tables, promote_options="permissive")
    merged = merged.replace_schema_metadata(tables[0].schema.metadata)
    dest = files[0].with_name(files[0].name.replace(".parquet", "-all.parquet"))
    write_table_atomic(merged, dest)
    for f in files:
        f.unlink()
    return dest


# below this many simulations a search finishes before a local Ray instance has started
AUTO_MIN_SIMULATIONS = 50


def resolve_executor(opts: SearchOptions, spec: SearchSpec) -> str:
    """`auto`: Ray for a cluster address, or when a batch offers parallel work and the search
    is long enough to repay Ray's start (a few seconds); otherwise this process."""
    if opts.executor != "auto":
        return opts.executor
    if opts.address:
        return "ray"
    cpus = opts.workers or os.cpu_count() or 1
    parallel = spec.batch * len(spec.sweep)
    total = spec.trials * len(spec.sweep)
    return "ray" if cpus > 1 and parallel > 1 and total > AUTO_MIN_SIMULATIONS else "serial"


def start_executor(opts: SearchOptions, spec: SearchSpec) -> Any:
    """The sweep's executor (serial, local Ray, or a cluster by address)."""
    from dream.sweep.executors import make_executor
    from dream.sweep.runner import ExecutorError

    try:
        return make_executor(resolve_executor(opts, spec), opts.workers, opts.address)
    except Exception as exc:  # no cluster at that address, Ray cannot start, ...
        raise ExecutorError(f"cannot start the {opts.executor} executor"
                            + (f" at {opts.address}" if opts.address else "")
                            + f": {' '.join(str(exc).split())[:500]}") from None


def _grid_exhausted(study: Any, spec: SearchSpec) -> bool:
    n = 1
    for p in spec.params:
        n *= len(p.choices)
    return len(study.trials) >= n


def _evaluate(study: Any, spec: SearchSpec, ev: Evaluator, batch: list[Any],
              say: Callable[[str], None], report: SearchReport) -> None:
    """Evaluate a batch rung by rung; prune between rungs; tell each trial its result."""
    from optuna.trial import TrialState

    active = list(batch)
    used: dict[int, dict[str, float]] = {t.number: {} for t in batch}
    for rung in range(spec.rungs):
        wanted = [(t.number, ev.points(trial_values(spec, t), rung)) for t in active]
        keys = ev.run(wanted)
        last = rung == spec.rungs - 1
        still = []
        for t in active:
            ks = keys[t.number]
            used[t.number].update({k: ev._cost[k] for k in ks})
            # record the rows before telling: `spent` counts them even if we die right after
            t.set_user_attr(ATTR_ROWS, [[k, s] for k, s in used[t.number].items()])
            t.set_user_attr(ATTR_RUNG, rung)
            values, why = ev.value(ks, trial_values(spec, t))
            label = f"trial {t.number}"
            if values is None:
                study.tell(t, state=TrialState.FAIL)
                say(f"{label}: failed ({why}) [{describe(spec, trial_values(spec, t))}]")
                report.told += 1
                continue
            if not last:
                step = spec.reduction_factor ** rung
                # a trial continued after a kill may have reported this rung already
                if step not in study._storage.get_trial(t._trial_id).intermediate_values:
                    t.report(values[0], step=step)
                if t.should_prune():
                    study.tell(t, state=TrialState.PRUNED)
                    report.told += 1
                    say(f"{label}: pruned at rung {rung} ({spec.objectives[0].label} {values[0]:.5g}) "
                        f"[{describe(spec, trial_values(spec, t))}]")
                    continue
                still.append(t)
                continue
            study.tell(t, values)
            report.told += 1
            shown = ", ".join(f"{o.label} {v:.5g}" for o, v in zip(spec.objectives, values))
            say(f"{label}: {shown} [{describe(spec, trial_values(spec, t))}]")
        active = still
        if not active:
            break


def _summarise(study: Any, spec: SearchSpec, report: SearchReport, say: Callable[[str], None]) -> None:
    from collections import Counter

    states = Counter(t.state.name.lower() for t in study.trials)
    say(f"{report.trials} trial(s) ({', '.join(f'{n} {s}' for s, n in sorted(states.items()))}); "
        f"this run: {report.simulated} simulated, {report.reused} reused from stored rows, "
        f"{report.wall_s:.1f} s; study total {report.spent_sim_s:.1f} simulated s; "
        f"dataset {report.out}/")
    if report.interrupted:
        say("interrupted: finished simulations and trials are stored; run the same command again to continue")
    for line in best_lines(study, spec)[:12]:
        say(line)


def best_trials(study: Any) -> list[Any]:
    """The best trial (one objective) or the Pareto front (several), by trial number."""
    from optuna.trial import TrialState

    if not any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
        return []
    if len(study.directions) == 1:
        return [study.best_trial]
    return sorted(study.best_trials, key=lambda t: t.number)


def run_overrides(spec: SearchSpec, values: dict[str, Any]) -> str:
    """Everything `dream run` needs for a trial but the grid's values."""
    fixed = list(spec.sweep.overrides)
    f = spec.fidelity
    if f is not None and f.mode == "values":
        from hydra.core.override_parser.types import Override

        fixed.append(f"{f.key}={Override._get_value_element_as_str(f.values[-1])}")
    # exact values: the pasted run must have the trial's config (and run key)
    return " ".join(fixed + [describe(spec, values, exact=True)])


def grid_text(spec: SearchSpec) -> str:
    """The grid as `key=a,b,c` multirun overrides."""
    from hydra.core.override_parser.types import Override

    return " ".join(f"{p.element}=" + ",".join(Override._get_value_element_as_str(v) for v in p.values)
                    for p in spec.sweep.params)


def best_lines(study: Any, spec: SearchSpec) -> list[str]:
    """`dream search --best`: the best trial(s) as pasteable `dream run` overrides."""
    out = []
    best = best_trials(study)
    if not best:
        return ["no completed trial yet"]
    head = "best trial" if len(best) == 1 else f"Pareto front ({len(best)} trials)"
    out.append(f"{head} (metrics: {spec.aggregate} over the {len(spec.sweep)} grid points {grid_text(spec)}):")
    for t in best:
        shown = ", ".join(f"{o.label} {v:.5g}" for o, v in zip(spec.objectives, t.values))
        out.append(f"trial {t.number}: {shown}")
        out.append(f"  dream run {run_overrides(spec, trial_values(spec, t))}")
    out.append(f"(add one point of the grid, e.g. {first_point(spec)}, or all with -m {grid_text(spec)})")
    return out


def first_point(spec: SearchSpec) -> str:
    """The grid's first point as overrides."""
    from hydra.core.override_parser.types import Override

    return " ".join(f"{p.element}={Override._get_value_element_as_str(p.values[0])}"
                    for p in spec.sweep.params)


def load_for_best(opts: SearchOptions) -> tuple[SearchSpec, Any]:
    """The spec and its stored study (for --best and reports); nothing is run."""
    spec = with_overrides(load_search_spec(opts.spec), opts)
    out = (Path(opts.out) if opts.out else default_out(spec)).absolute()
    return spec, open_study(spec, out, create=False)

