"""Scenarios: periodic tasks, cascades and phases, validated from config."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from dream.errors import ConfigError
from dream.validation import finite_number, sequence


@dataclass(frozen=True)
class TaskSpec:
    """A task: one model run periodically; optionally cascaded from an upstream task."""

    name: str
    model: str
    fps: float
    deadline_ms: float | None = None
    upstream: str | None = None
    trigger_prob: float = 1.0
    priority: float = 1.0
    variants: tuple[str, ...] | None = None
    offset_ms: float = 0.0

    @property
    def period_ms(self) -> float:
        """Frame period at the task's base rate."""
        return 1000.0 / self.fps

    def deadline_for(self, fps: float) -> float:
        """Relative deadline at a given rate: configured, else one period."""
        return self.deadline_ms if self.deadline_ms is not None else 1000.0 / fps


@dataclass(frozen=True)
class Phase:
    """From `at_ms` on, only `active` tasks release frames, at their rates in `fps`."""

    at_ms: float
    active: tuple[str, ...]
    fps: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """A set of tasks and the phases they run in."""

    name: str
    tasks: tuple[TaskSpec, ...]
    phases: tuple[Phase, ...]
    description: str = ""

    def task_index(self, name: str) -> int:
        """Position of a task by name."""
        return [t.name for t in self.tasks].index(name)


_TASK_FIELDS = {
    "name",
    "model",
    "fps",
    "deadline_ms",
    "upstream",
    "trigger_prob",
    "priority",
    "variants",
    "offset_ms",
}


def _number(value: Any, path: str, *, positive: bool = False, nonneg: bool = False) -> float:
    # finite: an inf rate or deadline would make the engine release frames forever
    return finite_number(path, value, 0 if (positive or nonneg) else None, lo_open=positive)


def _probability(value: Any, path: str) -> float:
    return finite_number(path, value, 0.0, 1.0)


def _parse_task(raw: Mapping[str, Any], path: str, known_models: Mapping[str, Any]) -> TaskSpec:
    if not isinstance(raw, Mapping):
        raise ConfigError(path, f"a task must be a mapping with fields {sorted(_TASK_FIELDS)}")
    unknown = sorted(set(raw) - _TASK_FIELDS)
    if unknown:
        raise ConfigError(f"{path}.{unknown[0]}", f"unknown task field; allowed: {sorted(_TASK_FIELDS)}")
    for req in ("name", "model", "fps"):
        if raw.get(req) is None:
            raise ConfigError(f"{path}.{req}", "is required")
    name = str(raw["name"])
    model = str(raw["model"])
    if model not in known_models:
        raise ConfigError(
            f"{path}.model", f"unknown model {model!r}; allowed: {sorted(known_models)}"
        )
    variants = raw.get("variants")
    if variants is not None:
        allowed = [v.name for v in known_models[model].variants]
        variants = tuple(str(v) for v in sequence(f"{path}.variants", variants, "a list of variant names"))
        bad = [v for v in variants if v not in allowed]
        if bad or not variants:
            raise ConfigError(
                f"{path}.variants", f"unknown variant(s) {bad} of {model}; allowed: {allowed}"
            )
    deadline = raw.get("deadline_ms")
    return TaskSpec(
        name=name,
        model=model,
        fps=_number(raw["fps"], f"{path}.fps", positive=True),
        deadline_ms=None if deadline is None else _number(deadline, f"{path}.deadline_ms", positive=True),
        upstream=None if raw.get("upstream") is None else str(raw["upstream"]),
        trigger_prob=_probability(raw.get("trigger_prob", 1.0), f"{path}.trigger_prob"),
        priority=_number(raw.get("priority", 1.0), f"{path}.priority", positive=True),
        variants=variants,
        offset_ms=_number(raw.get("offset_ms", 0.0), f"{path}.offset_ms", nonneg=True),
    )


def _check_cascades(tasks: tuple[TaskSpec, ...], path: str) -> None:
    names = [t.name for t in tasks]
    for i, t in enumerate(tasks):
        if t.upstream is None:
            continue
        if t.upstream not in names:
            raise ConfigError(
                f"{path}.tasks[{i}].upstream",
                f"cascade from unknown task {t.upstream!r}; tasks: {names}",
            )
    upstream = {t.name: t.upstream for t in tasks}
    for i, t in enumerate(tasks):
        seen = [t.name]
        cur = t.upstream
        while cur is not None:
            if cur in seen:
                cycle = " -> ".join(seen + [cur])
                raise ConfigError(f"{path}.tasks[{i}].upstream", f"cascade cycle {cycle}")
            seen.append(cur)
            cur = upstream[cur]


def _parse_phases(raw: Any, tasks: tuple[TaskSpec, ...], path: str) -> tuple[Phase, ...]:
    names = [t.name for t in tasks]
    if not raw:
        return (Phase(0.0, tuple(names)),)
    phases = []
    last = -1.0
    for i, p in enumerate(sequence(f"{path}.phases", raw, "a list of phases")):
        ppath = f"{path}.phases[{i}]"
        if not isinstance(p, Mapping):
            raise ConfigError(ppath, "a phase must be a mapping with at_ms, active, fps")
        unknown = sorted(set(p) - {"at_ms", "active", "fps"})
        if unknown:
            raise ConfigError(f"{ppath}.{unknown[0]}", "unknown phase field; allowed: at_ms, active, fps")
        at = _number(p.get("at_ms", 0.0), f"{ppath}.at_ms", nonneg=True)
        if at <= last:
            raise ConfigError(f"{ppath}.at_ms", f"phases must start at increasing times, {at} after {last}")
        if i == 0 and at != 0.0:
            raise ConfigError(f"{ppath}.at_ms", "the first phase must start at 0")
        last = at
        active = p.get("active")
        active = tuple(names) if active is None else tuple(
            str(a) for a in sequence(f"{ppath}.active", active, "a list of task names"))
        for a in active:
            if a not in names:
                raise ConfigError(f"{ppath}.active", f"unknown task {a!r}; tasks: {names}")
        fps = {}
        rates = p.get("fps") or {}
        if not isinstance(rates, Mapping):
            raise ConfigError(f"{ppath}.fps", f"must be a mapping of task names to rates, got {rates!r}")
        for k, v in rates.items():
            if k not in names:
                raise ConfigError(f"{ppath}.fps.{k}", f"unknown task {k!r}; tasks: {names}")
            fps[str(k)] = _number(v, f"{ppath}.fps.{k}", positive=True)
        phases.append(Phase(at, active, fps))
    return tuple(phases)


def scenario_from_config(cfg: Mapping[str, Any], known_models: Mapping[str, Any], path: str = "workload") -> Scenario:
    """Validate a workload config into a Scenario; raise ConfigError naming the path."""
    if not isinstance(cfg, Mapping):
        raise ConfigError(path, "must be a mapping with name, tasks, phases")
    raw_tasks = cfg.get("tasks")
    if raw_tasks is not None:
        raw_tasks = sequence(f"{path}.tasks", raw_tasks, "a list of tasks")
    if not raw_tasks:
        raise ConfigError(f"{path}.tasks", "a scenario needs at least one task")
    tasks = tuple(_parse_task(t, f"{path}.tasks[{i}]", known_models) for i, t in enumerate(raw_tasks))
    names = [t.name for t in tasks]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"{path}.tasks", f"task names must be unique; repeated: {dup}")
    _check_cascades(tasks, path)
    phases = _parse_phases(cfg.get("phases"), tasks, path)
    return Scenario(
        name=str(cfg.get("name", "scenario")),
        tasks=tasks,
        phases=phases,
        description=str(cfg.get("description", "")),
    )
