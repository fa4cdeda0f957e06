"""Simulation settings, validated from the `sim` config group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from dream.errors import ConfigError


@dataclass(frozen=True)
class SimSpec:
    """Horizon, seed, block size and overhead settings of one simulation."""

    duration_ms: float = 1000.0
    warmup_ms: float = 0.0
    seed: int = 0
    block_size: int = 1
    context_switch_us: float = 1.0
    migration: bool = True
    drop_expired: bool = False
    trace: bool = False


_FIELDS = {f: t for f, t in SimSpec.__annotations__.items()}


def sim_from_config(cfg: Mapping[str, Any], path: str = "sim") -> SimSpec:
    """Validate the sim config group into a SimSpec."""
    unknown = sorted(set(cfg) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"{path}.{unknown[0]}", f"unknown field; allowed: {sorted(_FIELDS)}")
    out: dict[str, Any] = {}
    for name, value in cfg.items():
        where = f"{path}.{name}"
        default = getattr(SimSpec, name)
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(where, f"must be true or false, got {value!r}")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(where, f"must be an integer, got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(where, f"must be a number, got {value!r}")
        out[name] = value
    spec = SimSpec(**out)
    if not spec.duration_ms > 0:
        raise ConfigError(f"{path}.duration_ms", f"must be > 0, got {spec.duration_ms}")
    if not 0 <= spec.warmup_ms < spec.duration_ms:
        raise ConfigError(f"{path}.warmup_ms", f"must lie in [0, duration_ms), got {spec.warmup_ms}")
    if spec.block_size < 0:
        raise ConfigError(f"{path}.block_size", f"must be >= 0 (0 = whole model), got {spec.block_size}")
    if spec.context_switch_us < 0:
        raise ConfigError(f"{path}.context_switch_us", f"must be >= 0, got {spec.context_switch_us}")
    if spec.seed < 0:
        raise ConfigError(f"{path}.seed", f"must be >= 0, got {spec.seed}")
    return spec
