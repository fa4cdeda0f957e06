"""Shared checks for config values: finite numbers in a range, integers, lists.

Every config section validates its numbers through `finite_number` so that NaN, inf,
booleans and strings are refused the same way everywhere, with one message shape:
`<where>: must be a finite number > 0, got nan`.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from dream.errors import ConfigError

# float64 holds every integer up to 2**53 exactly; the cost model counts MACs and tensor
# elements in int64 and float64, so a layer is bounded by this to stay exact and never wrap
MAX_EXACT_INT = 2**53


def _fmt(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def describe_range(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    """The allowed range as text: '> 0', '>= 0', '<= 1', 'in (0, 1]'."""
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{_fmt(lo)}, {_fmt(hi)}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {_fmt(lo)}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {_fmt(hi)}"
    return ""


def finite_number(where: str, value: Any, lo: float | None = None, hi: float | None = None, *,
                  lo_open: bool = False, hi_open: bool = False, integer: bool = False) -> Any:
    """`value` as a float (an int with integer=True) if it is a finite number within bounds.

    Raises ConfigError naming `where` and the allowed range otherwise: a boolean, a string,
    None, NaN, +-inf, a non-integral value where an integer is meant, or a value outside
    [lo, hi] (open ends with lo_open / hi_open).
    """
    kind = "an integer" if integer else "a finite number"
    rng = describe_range(lo, hi, lo_open, hi_open)
    want = f"{kind} {rng}".strip()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(where, f"must be {want}, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(where, f"must be {want}, got {value!r}")
    if integer and value != int(value):
        raise ConfigError(where, f"must be {want}, got {value!r}")
    below = lo is not None and (value <= lo if lo_open else value < lo)
    above = hi is not None and (value >= hi if hi_open else value > hi)
    if below or above:
        # the short form the rest of the project uses: "must be > 0, got -3"
        text = f"must lie {rng}" if rng.startswith("in ") else f"must be {rng}"
        raise ConfigError(where, f"{text}, got {value!r}")
    return int(value) if integer else float(value)


def sequence(where: str, value: Any, what: str = "a list") -> Sequence[Any]:
    """`value` if it is a list (or tuple); ConfigError naming `where` for a scalar or mapping."""
    if isinstance(value, (list, tuple)):
        return value
    raise ConfigError(where, f"must be {what}, got {type(value).__name__} {value!r}")
