"""Scheduling policies, registered by name.

Adding a policy: write `dream/schedulers/<name>.py` with a `Policy` subclass exposed as
`POLICY`, add its module to `_MODULES`, and put its parameters in
`conf/scheduler/<name>.yaml`. Constructor keyword arguments are its parameters.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Mapping

from dream.errors import ConfigError
from dream.validation import finite_number
from dream.sim.policy import Policy

# one registration line per policy
_MODULES = (
    "fcfs",
    "latency_greedy",
    "rr",
    "edf",
    "sjf",
    "prema",
    "planaria",
    "veltair",
    "herald",
    "dream",
)

_REGISTRY: dict[str, type[Policy]] | None = None


def registry() -> dict[str, type[Policy]]:
    """All policies by name."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = {}
        for mod in _MODULES:
            cls = importlib.import_module(f"{__name__}.{mod}").POLICY
            _REGISTRY[cls.name] = cls
    return _REGISTRY


def make_policy(name: str, params: Mapping[str, Any], where: str = "scheduler") -> Policy:
    """Instantiate a policy, checking the name and every parameter against its signature."""
    reg = registry()
    if name not in reg:
        raise ConfigError(f"{where}.name", f"unknown scheduler {name!r}; allowed: {sorted(reg)}")
    cls = reg[name]
    sig = inspect.signature(cls.__init__)
    allowed = {k: p for k, p in sig.parameters.items() if k != "self"}
    for key, value in params.items():
        if key not in allowed:
            raise ConfigError(f"{where}.{key}", f"unknown parameter of {name}; allowed: {sorted(allowed)}")
        default = allowed[key].default
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{where}.{key}", f"must be true or false, got {value!r}")
        elif isinstance(default, (int, float)):
            # finite, and integral where the default is an int: a policy never sees NaN or inf
            finite_number(f"{where}.{key}", value, integer=isinstance(default, int))
    try:
        return cls(**params)
    except ValueError as exc:  # a policy's own range checks
        raise ConfigError(where, str(exc)) from None
