"""Simulation settings, validated from the `sim` config group."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from dream.errors import ConfigError

# One hour of simulated time: far beyond any study here (1 s is the default), and small
# enough that a run always ends (a 1000 fps task releases 3.6 million frames at most).
MAX_DURATION_MS = 3_600_000.0
# A context switch longer than one second of simulated time is a unit mistake.
MAX_CONTEXT_SWITCH_US = 1_000_000.0

# The runtime-semantics switches: the first value of each is the default (dream's own
# model); the second reproduces XRBench's harness (docs/engine.md gives the source).
CHOICES: dict[str, tuple[str, ...]] = {
    "periods": ("exact", "integer_ms"),
    "clock": ("event", "tick"),
    "cascades": ("on_completion", "gated"),
    "stop": ("horizon", "last_release"),
    "expiry": ("at_deadline", "after_deadline"),
}


@dataclass(frozen=True)
class SimSpec:
    """Horizon, seed, block size, overheads and runtime semantics of one simulation.

    duration_ms, warmup_ms in ms of simulated time; context_switch_us in microseconds.
    periods/clock/cascades/stop/expiry: one of the values in `CHOICES` (docs/engine.md).
    """

    duration_ms: float = 1000.0
    warmup_ms: float = 0.0
    seed: int = 0
    block_size: int = 1
    context_switch_us: float = 1.0
    migration: bool = True
    drop_expired: bool = False
    trace: bool = False
    periods: str = "exact"
    clock: str = "event"
    cascades: str = "on_completion"
    stop: str = "horizon"
    expiry: str = "at_deadline"


_FIELDS = {f: t for f, t in SimSpec.__annotations__.items()}


def _finite_in(where: str, value: float, lo: float, hi: float, lo_open: bool, unit: str) -> None:
    """Raise unless lo (<|<=) value <= hi; NaN and inf fail every comparison or the bound."""
    ok = math.isfinite(value) and (value > lo if lo_open else value >= lo) and value <= hi
    if not ok:
        low = ">" if lo_open else ">="
        raise ConfigError(where, f"must be {low} {lo:.10g} and <= {hi:.10g} {unit}, got {value}")


def sim_from_config(cfg: Mapping[str, Any], path: str = "sim") -> SimSpec:
    """Validate the sim config group into a SimSpec.

    Raises ConfigError naming `path.<field>` and the allowed values or range: unknown
    fields, wrong types, non-finite numbers, duration_ms outside (0, MAX_DURATION_MS],
    warmup_ms outside [0, duration_ms), context_switch_us outside [0, MAX_CONTEXT_SWITCH_US],
    negative block_size or seed, a semantics switch not in `CHOICES`.
    """
    unknown = sorted(set(cfg) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"{path}.{unknown[0]}", f"unknown field; allowed: {sorted(_FIELDS)}")
    out: dict[str, Any] = {}
    for name, value in cfg.items():
        where = f"{path}.{name}"
        default = getattr(SimSpec, name)
        if name in CHOICES:
            if not isinstance(value, str) or value not in CHOICES[name]:
                raise ConfigError(where, f"must be one of {list(CHOICES[name])}, got {value!r}")
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(where, f"must be true or false, got {value!r}")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(where, f"must be an integer, got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(where, f"must be a number, got {value!r}")
        out[name] = value
    spec = SimSpec(**out)
    _finite_in(f"{path}.duration_ms", spec.duration_ms, 0.0, MAX_DURATION_MS, True,
               "ms (one hour simulated)")
    if not (math.isfinite(spec.warmup_ms) and 0 <= spec.warmup_ms < spec.duration_ms):
        raise ConfigError(f"{path}.warmup_ms", f"must lie in [0, duration_ms) = [0, {spec.duration_ms:g}), "
                                               f"got {spec.warmup_ms}")
    if spec.block_size < 0:
        raise ConfigError(f"{path}.block_size", f"must be >= 0 (0 = whole model), got {spec.block_size}")
    _finite_in(f"{path}.context_switch_us", spec.context_switch_us, 0.0, MAX_CONTEXT_SWITCH_US, False, "us")
    if not 0 <= spec.seed < 2**63:  # datasets store it as int64
        raise ConfigError(f"{path}.seed", f"must lie in [0, 2**63), got {spec.seed}")
    return spec
