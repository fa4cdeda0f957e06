"""Search specs: a sweep spec (overrides, grid, zip) plus a `search:` block.

The `search:` block names the parameters to optimise (Hydra's optimiser grammar:
`interval(a,b)`, `tag(log, interval(a,b))`, `tag(int, interval(a,b))`, `choice(...)`,
`a,b,c`, `range(start,stop[,step])`, or a YAML list of choices), the objectives
(summary metrics, minimised; `-metric` is maximised), the number of trials, the sampler
and optional fidelity rungs. Every trial is evaluated on all points of the grid, so trials
are compared on the same scenarios and seeds (common random numbers).

Everything is checked here, before anything runs: a bad entry raises ConfigError naming
`search.<field>` and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any


from dream.config import as_search_path
from dream.dataset import METRIC_COLUMNS
from dream.errors import ConfigError
from dream.sweep.spec import (ConfDirs, SweepSpec, group_options, is_group, parse_spec,
                              read_spec)

SEARCH_FIELDS = ("params", "objectives", "trials", "budget_sim_s", "sampler", "seed", "batch",
                 "aggregate", "fidelity", "pruner", "reduction_factor")
SAMPLERS = ("tpe", "random", "nsga2", "nsga3", "qmc", "grid", "gp", "cmaes")
PRUNERS = ("sha", "hyperband", "median", "none")
AGGREGATES = ("geomean", "mean")


@dataclass(frozen=True)
class SearchParam:
    """One searched key: an Optuna distribution described in plain values."""

    key: str                 # column name / config path or group
    element: str             # the key as written in an override (+, ++ kept)
    is_group: bool
    kind: str                # "float", "int" or "choice"
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def distribution(self) -> Any:
        """The Optuna distribution of this parameter."""
        from optuna.distributions import (CategoricalDistribution, FloatDistribution,
                                          IntDistribution)

        if self.kind == "choice":
            return CategoricalDistribution(list(self.choices))
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high), log=self.log,
                                   step=int(self.step or 1))
        return FloatDistribution(float(self.low), float(self.high), log=self.log, step=self.step)

    def probes(self) -> list[Any]:
        """Values that exercise the whole range when validating: both ends, every choice."""
        if self.kind == "choice":
            return list(self.choices)
        lo, hi = self.low, self.high
        if self.kind == "int":
            return [int(lo), int(hi)]
        return [float(lo), float(hi)]

    def column_kind(self) -> str:
        """The dataset column type of this parameter."""
        if self.kind in ("int", "float"):
            return self.kind
        vals = list(self.choices)
        if all(isinstance(v, bool) for v in vals):
            return "bool"
        if all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
            return "int"
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            return "float"
        return "string"


@dataclass(frozen=True)
class Objective:
    """A summary metric, aggregated over a trial's grid points; minimised unless maximise."""

    metric: str
    maximize: bool = False

    @property
    def label(self) -> str:
        """As written in the spec."""
        return ("-" if self.maximize else "") + self.metric


@dataclass(frozen=True)
class Fidelity:
    """Evaluation rungs: cheap first, the last one is the full evaluation.

    mode "values": `key` is not in the grid; rung i sets it to values[i] (sim.duration_ms).
    mode "count": `key` is a grid key; rung i uses the first values[i] of its grid values
    (sim.seed: [1, 3] evaluates one seed, then all three).
    """

    key: str
    mode: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class SearchSpec:
    """A sweep spec whose grid every trial is evaluated on, and what to search."""

    sweep: SweepSpec
    params: tuple[SearchParam, ...]
    objectives: tuple[Objective, ...]
    trials: int
    budget_sim_s: float | None
    sampler: str
    seed: int
    batch: int
    aggregate: str
    fidelity: Fidelity | None
    pruner: str
    reduction_factor: int
    raw: dict

    @property
    def name(self) -> str:
        """The study's name (the spec's)."""
        return self.sweep.name

    @property
    def rungs(self) -> int:
        """Evaluation rungs per trial (1 without fidelity)."""
        return len(self.fidelity.values) if self.fidelity else 1

    def identity(self) -> str:
        """A digest of what defines the study's trials and values (not its length or sampler).

        A rerun may ask for more trials, another sampler or batch size and still continue
        the stored study; a change to the space, the grid or the objectives may not.
        """
        s = self.sweep
        blob = {"overrides": list(s.overrides), "grid": {p.key: list(p.values) for p in s.params},
                "params": [repr(p) for p in self.params],
                "objectives": [o.label for o in self.objectives], "aggregate": self.aggregate,
                "fidelity": repr(self.fidelity)}
        return hashlib.blake2b(json.dumps(blob, sort_keys=True, default=repr).encode(),
                               digest_size=8).hexdigest()


def _num(where: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ConfigError(where, f"must be a finite number, got {v!r}")
    return float(v)


def parse_search_param(key: Any, raw: Any, conf_dir: ConfDirs = None) -> SearchParam:
    """One `search.params` entry in Hydra's optimiser grammar (or a YAML list of choices)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import (ChoiceSweep, IntervalSweep, Override,
                                                  RangeSweep)
    from hydra.errors import HydraException

    where = f"search.params.{key}"
    allowed = ("interval(a,b), tag(log, interval(a,b)), tag(int, interval(a,b)), "
               "choice(a,b,...), a,b,..., range(start,stop[,step]) or a YAML list")
    if not isinstance(key, str) or not key:
        raise ConfigError("search.params", f"keys must be override keys like scheduler.alpha, got {key!r}")
    if isinstance(raw, dict) or raw is None:
        raise ConfigError(where, f"must be one of {allowed}, got {raw!r}")
    text = raw if isinstance(raw, str) else "x"
    try:
        ov = OverridesParser.create().parse_override(f"{key}={text}")
    except HydraException as exc:
        raise ConfigError(where, f"cannot parse {text!r} ({str(exc).strip().splitlines()[0]}); "
                          f"allowed: {allowed}") from None
    if ov.is_delete() or ov.is_hydra_override():
        raise ConfigError(where, "deletions and hydra.* settings cannot be searched")
    name = ov.key_or_group + (f"@{ov.package}" if ov.package else "")
    group = is_group(ov.key_or_group, conf_dir) or ov.package is not None
    base = dict(key=name, element=ov.get_key_element(), is_group=group)
    value = ov._value
    if isinstance(raw, list):
        if not raw:
            raise ConfigError(where, "an empty list has no choices")
        p = SearchParam(kind="choice", choices=tuple(raw), **base)
    elif isinstance(value, IntervalSweep):
        tags = set(value.tags)
        if tags - {"log", "int"}:
            raise ConfigError(where, f"unknown tag(s) {sorted(tags - {'log', 'int'})}; allowed: log, int")
        lo, hi = float(value.start), float(value.end)
        if not lo < hi:
            raise ConfigError(where, f"interval needs start < end, got ({lo:g}, {hi:g})")
        if "log" in tags and lo <= 0:
            raise ConfigError(where, f"a log interval needs start > 0, got {lo:g}")
        if "int" in tags:
            if lo != int(lo) or hi != int(hi):
                raise ConfigError(where, "tag(int, interval(a,b)) needs integer ends")
            p = SearchParam(kind="int", low=int(lo), high=int(hi), log="log" in tags, **base)
        else:
            p = SearchParam(kind="float", low=lo, high=hi, log="log" in tags, **base)
    elif isinstance(value, RangeSweep):
        values = [Override._convert_value(v) for v in ov.sweep_iterator()]
        if len(values) < 2:
            raise ConfigError(where, f"range {text} has fewer than two values")
        step = value.step if value.step is not None else 1
        if all(isinstance(v, int) for v in values) and isinstance(step, int):
            p = SearchParam(kind="int", low=values[0], high=values[-1], step=abs(step), **base)
        else:
            lo, hi = min(values), max(values)
            p = SearchParam(kind="float", low=float(lo), high=float(hi), step=abs(float(step)), **base)
    elif isinstance(value, ChoiceSweep):
        p = SearchParam(kind="choice", choices=tuple(Override._convert_value(v)
                                                     for v in ov.sweep_iterator()), **base)
    else:
        raise ConfigError(where, f"{raw!r} is one value, not a space; allowed: {allowed} "
                          "(put fixed values under overrides)")
    if p.kind == "choice":
        for v in p.choices:
            if isinstance(v, (dict, list)):
                raise ConfigError(where, f"choices must be scalars, got {v!r}")
        if len(set(map(repr, p.choices))) != len(p.choices):
            raise ConfigError(where, f"repeated choice in {list(p.choices)}")
    if group:
        if p.kind != "choice":
            raise ConfigError(where, f"{ov.key_or_group!r} is a config group: search it with choice(...)")
        opts = group_options(ov.key_or_group, conf_dir)
        for v in p.choices:
            if not isinstance(v, str) or v not in opts:
                raise ConfigError(where, f"unknown option {v!r} of conf/{ov.key_or_group}/; available: {opts}")
    return p


def parse_objective(raw: Any, params: tuple[SearchParam, ...] = ()) -> Objective:
    """`metric` (minimised) or `-metric` (maximised): a headline, task.* or acc.* summary
    metric, or a numeric searched parameter (a cost such as hardware.total_pes)."""
    if not isinstance(raw, str) or not raw.strip("-"):
        raise ConfigError("search.objectives", f"entries are metric names like uxcost or -xrbench_score, got {raw!r}")
    metric = raw[1:] if raw.startswith("-") else raw
    numeric = {p.key for p in params if p.column_kind() in ("int", "float")}
    if metric not in METRIC_COLUMNS and not metric.startswith(("task.", "acc.")) and metric not in numeric:
        raise ConfigError("search.objectives", f"unknown metric {metric!r}; allowed: "
                          f"{', '.join(METRIC_COLUMNS)}, task.<T>.<metric>, acc.<A>.utilization, "
                          "a numeric searched parameter (prefix - to maximise)")
    return Objective(metric, raw.startswith("-"))


def _int(where: str, v: Any, low: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise ConfigError(where, f"must be an integer >= {low}, got {v!r}")
    return v


def parse_search_spec(raw: Any, path: str | None = None, default_name: str | None = None,
                      conf_dir: ConfDirs = None) -> SearchSpec:
    """Validate a spec mapping with a `search:` block (everything but running it)."""
    conf_dir = as_search_path(conf_dir)  # one search path for every key of the spec
    where = path or "spec"
    if not isinstance(raw, dict):
        raise ConfigError(where, "a search spec must be a YAML mapping with name, overrides, grid, search")
    if "search" not in raw:
        raise ConfigError(where, "has no search: block (params, objectives, trials); "
                          "a spec without one is run by `dream sweep`")
    block = raw["search"]
    if not isinstance(block, dict):
        raise ConfigError("search", f"must be a mapping with fields {list(SEARCH_FIELDS)}")
    unknown = sorted(set(block) - set(SEARCH_FIELDS))
    if unknown:
        raise ConfigError("search", f"unknown field(s) {unknown}; allowed: {list(SEARCH_FIELDS)}")
    sweep_raw = {k: v for k, v in raw.items() if k != "search"}
    sweep = parse_spec(sweep_raw, path, default_name=default_name, conf_dir=conf_dir)

    params_raw = block.get("params")
    if not isinstance(params_raw, dict) or not params_raw:
        raise ConfigError("search.params", "must map at least one override key to a space, "
                          "e.g. scheduler.alpha: tag(log, interval(0.001, 10))")
    params = tuple(parse_search_param(k, v, conf_dir) for k, v in params_raw.items())
    taken = {p.key: "grid" for p in sweep.params}
    taken.update({o.split("=", 1)[0].lstrip("~+"): "overrides" for o in sweep.overrides})
    for p in params:
        if p.key in taken:
            raise ConfigError(f"search.params.{p.key}", f"is also set under {taken[p.key]}")

    objs_raw = block.get("objectives", ["uxcost"])
    if isinstance(objs_raw, str):
        objs_raw = [objs_raw]
    if not isinstance(objs_raw, list) or not objs_raw:
        raise ConfigError("search.objectives", "must be a non-empty list of metrics, e.g. [uxcost, energy_mj]")
    objectives = tuple(parse_objective(o, params) for o in objs_raw)
    if len({o.metric for o in objectives}) != len(objectives):
        raise ConfigError("search.objectives", f"a metric appears twice in {objs_raw}")

    trials = _int("search.trials", block.get("trials", 20))
    budget = block.get("budget_sim_s")
    if budget is not None:
        budget = _num("search.budget_sim_s", budget)
        if budget <= 0:
            raise ConfigError("search.budget_sim_s", f"must be > 0 simulated seconds, got {budget:g}")
    sampler = block.get("sampler", "tpe" if len(objectives) == 1 else "nsga2")
    if sampler not in SAMPLERS:
        raise ConfigError("search.sampler", f"unknown sampler {sampler!r}; allowed: {list(SAMPLERS)}")
    if sampler == "grid" and any(p.kind != "choice" for p in params):
        bad = [p.key for p in params if p.kind != "choice"]
        raise ConfigError("search.sampler", f"grid needs every parameter as choice(...); not: {bad}")
    if sampler == "cmaes" and len(objectives) > 1:
        raise ConfigError("search.sampler", "cmaes is single-objective; use nsga2, tpe or random")
    seed = _int("search.seed", block.get("seed", 0), low=0)
    batch = _int("search.batch", block.get("batch", 4))
    aggregate = block.get("aggregate", "geomean")
    if aggregate not in AGGREGATES:
        raise ConfigError("search.aggregate", f"must be one of {list(AGGREGATES)}, got {aggregate!r}")

    fidelity = _parse_fidelity(block.get("fidelity"), sweep, params, conf_dir)
    pruner = block.get("pruner", "sha" if fidelity else "none")
    if pruner not in PRUNERS:
        raise ConfigError("search.pruner", f"unknown pruner {pruner!r}; allowed: {list(PRUNERS)}")
    if pruner != "none" and fidelity is None:
        raise ConfigError("search.pruner", "needs fidelity rungs (search.fidelity) to prune on")
    if fidelity is not None and len(objectives) > 1:
        raise ConfigError("search.fidelity", "Optuna's pruners are single-objective; "
                          "use one objective or drop the fidelity rungs")
    eta = _int("search.reduction_factor", block.get("reduction_factor", 3), low=2)
    if fidelity is not None and fidelity.key in {o.split("=", 1)[0].lstrip("+") for o in sweep.overrides}:
        # the rungs set the key: a fixed value for it would be contradicted
        kept = tuple(o for o in sweep.overrides if o.split("=", 1)[0].lstrip("+") != fidelity.key)
        sweep = replace(sweep, overrides=kept)
    return SearchSpec(sweep=sweep, params=params, objectives=objectives, trials=trials,
                      budget_sim_s=budget, sampler=sampler, seed=seed, batch=batch,
                      aggregate=aggregate, fidelity=fidelity, pruner=pruner,
                      reduction_factor=eta, raw=dict(raw))


def _parse_fidelity(raw: Any, sweep: SweepSpec, params: tuple[SearchParam, ...],
                    conf_dir: ConfDirs = None) -> Fidelity | None:
    if raw is None:
        return None
    usage = ("one key with its rungs, cheap to full: sim.duration_ms: [250, 1000] "
             "(values), or a grid key with the number of its values per rung, sim.seed: [1, 3]")
    if not isinstance(raw, dict) or len(raw) != 1:
        raise ConfigError("search.fidelity", f"must be {usage}")
    (key, values), = raw.items()
    where = f"search.fidelity.{key}"
    if not isinstance(values, list) or len(values) < 2:
        raise ConfigError(where, f"needs a list of at least two rungs; {usage}")
    if any(p.key == key for p in params):
        raise ConfigError(where, "is also a searched parameter")
    grid = {p.key: p for p in sweep.params}
    if key in grid:
        if key not in {p.key for p in sweep.grid}:
            raise ConfigError(where, "count rungs work on grid keys, not zip keys")
        n = len(grid[key].values)
        for v in values:
            _int(where, v)
        if list(values) != sorted(set(values)) or values[-1] != n:
            raise ConfigError(where, f"rungs count the first values of grid.{key}: increasing, "
                              f"ending at all {n} of them, got {values}")
        return Fidelity(key, "count", tuple(values))
    if is_group(key, conf_dir):
        raise ConfigError(where, "a config group cannot be a fidelity; use a value like sim.duration_ms")
    for v in values:
        if isinstance(v, (dict, list)) or v is None:
            raise ConfigError(where, f"rung values must be scalars, got {v!r}")
    return Fidelity(key, "values", tuple(values))


def load_search_spec(spec: str | Path, conf_dir: ConfDirs = None) -> SearchSpec:
    """Load and validate a search spec from a file path or a name in sweeps/."""
    path, raw = read_spec(spec)
    return parse_search_spec(raw, str(path), default_name=path.stem, conf_dir=conf_dir)
