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
    allowed = policy_parameters(cls)
    for key, value in params.items():
        if key not in allowed:
            raise ConfigError(f"{where}.{key}", _unknown_parameter(name, key, allowed))
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
        raise _policy_error(name, where, str(exc), allowed) from None


def policy_parameters(cls: type[Policy]) -> dict[str, inspect.Parameter]:
    """A policy's config parameters: its constructor's named arguments.

    A policy without its own constructor inherits one taking `*args, **kwargs` (object's):
    those are not parameters, so such a policy has none.
    """
    sig = inspect.signature(cls.__init__)
    return {k: p for k, p in sig.parameters.items()
            if k != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def _unknown_parameter(name: str, key: str, allowed: Mapping[str, Any]) -> str:
    """The message for a parameter `name` does not take, with what it does take."""
    msg = (f"unknown parameter of {name}; allowed: {sorted(allowed)}" if allowed
           else f"unknown parameter: {name} takes no parameters")
    if key == "queue_order":
        # usually `+experiment=xrbench scheduler=X`: the overlay's latency_greedy option
        # stays behind when another scheduler is chosen
        msg += ("; queue_order belongs to latency_greedy, the scheduler +experiment=xrbench "
                "selects; for XRBench's runtime semantics with another scheduler use "
                "+experiment=xrbench_runtime")
    return msg


def _policy_error(name: str, where: str, message: str, allowed: Mapping[str, Any]) -> ConfigError:
    """A policy's ValueError as a ConfigError naming the parameter's config path.

    Policies word their range checks as 'param ...', 'param: ...' or '<name>.param ...';
    the parameter becomes part of the path (`scheduler.alpha: must be ...`).
    """
    text = message.removeprefix(f"{name}.")
    head = text.split(":", 1)[0].split(" ", 1)[0]
    if head in allowed:
        rest = text[len(head):].lstrip(":").strip()
        return ConfigError(f"{where}.{head}", rest)
    return ConfigError(where, message)
