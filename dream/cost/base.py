"""The cost-model interface and the cost table it produces per (model variant, sub-accelerator)."""

from __future__ import annotations

import weakref
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import Any, Callable, ClassVar, Hashable, Mapping, TypeVar

import numpy as np

from dream.errors import ConfigError
from dream.hardware import Accelerator
from dream.workload.layers import LayerTable


T = TypeVar("T")


def memo_by_identity(memo: dict[int, tuple[weakref.ref, Any]], table: LayerTable,
                     compute: Callable[[LayerTable], T]) -> T:
    """compute(table), memoised per table object in `memo` (entries leave with the table).

    Layer tables are built once and never mutated in place, so what is derived from one
    is derived once: a warm lookup costs a dict access, not a pass over the table.
    """
    hit = memo.get(id(table))
    if hit is not None and hit[0]() is table:
        return hit[1]
    value = compute(table)
    try:
        ref = weakref.ref(table, lambda _r, k=id(table): memo.pop(k, None))
    except TypeError:  # not weak-referenceable: no memo
        return value
    memo[id(table)] = (ref, value)
    return value


class CostModel(ABC):
    """Per-layer latency (cycles) and energy (nJ) of a layer table on one sub-accelerator."""

    name: ClassVar[str] = ""

    @property
    @abstractmethod
    def key(self) -> Hashable:
        """Hashable identity of the model and its parameters (a cache key)."""

    @classmethod
    def from_params(cls, params: Mapping[str, Any], where: str) -> "CostModel":
        """Build from config params; ConfigError names `where` and the bad parameter."""
        raise NotImplementedError

    def acc_key(self, acc: Accelerator) -> Hashable:
        """The part of a sub-accelerator's spec the costs depend on (a cache key)."""
        return acc

    @abstractmethod
    def costs(
        self,
        layers: LayerTable,
        acc: Accelerator,
        model_name: str,
        variant: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Latency in cycles and energy in nJ per layer (float64 arrays, in row order)."""

    def table_columns(
        self,
        layers: LayerTable,
        acc: Accelerator,
        model_name: str,
        variant: str | None = None,
    ) -> dict[str, np.ndarray]:
        """The cost-table columns per layer: latency_cycles and energy_nj, and when the
        model derives them, offchip_bytes (global buffer <-> DRAM) and l2_bytes (global
        buffer requirement). Float64 arrays of shape (L,), in row order."""
        lat, en = self.costs(layers, acc, model_name, variant)
        return {"latency_cycles": lat, "energy_nj": en}


class ConstantsCostModel(CostModel):
    """A cost model whose parameters are named numeric constants with lower bounds.

    Subclasses declare PARAMS (name -> (default, lower bound, bound inclusive)) and call
    `_set_constants` from __init__; config parsing, cache keys and repr follow from it.
    """

    PARAMS: ClassVar[dict[str, tuple[float, float, bool]]] = {}

    def _set_constants(self, values: Mapping[str, Any]) -> None:
        """Check each constant against its bound and store it as a float; ValueError names it."""
        for k, v in values.items():
            _, low, inclusive = self.PARAMS[k]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
                raise ValueError(f"{k} must be a finite number, got {v!r}")
            if v < low or (v == low and not inclusive):
                raise ValueError(f"{k} must be {'>=' if inclusive else '>'} {low}, got {v!r}")
        for k, v in values.items():
            setattr(self, k, float(v))

    @classmethod
    def from_params(cls, params: Mapping[str, Any], where: str) -> "ConstantsCostModel":
        """Build from config params; ConfigError names the unknown or bad parameter."""
        unknown = sorted(set(params) - set(cls.PARAMS))
        if unknown:
            raise ConfigError(f"{where}.params", f"unknown parameter(s) {unknown} for cost model "
                              f"{cls.name!r}; allowed: {list(cls.PARAMS)}")
        for k, v in params.items():
            try:
                cls(**{k: v})
            except ValueError as exc:
                raise ConfigError(f"{where}.params.{k}", str(exc)) from None
        return cls(**params)

    def acc_key(self, acc: Accelerator) -> Hashable:
        """Everything but the name: same-spec sub-accelerators share cost tables."""
        return replace(acc, name="")

    def params(self) -> dict[str, float]:
        """The model's constants by name."""
        return {k: getattr(self, k) for k in self.PARAMS}

    @property
    def key(self) -> Hashable:
        """Identity of the model and its constants."""
        return (self.name, *self.params().values())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


def _frozen(a: np.ndarray) -> np.ndarray:
    out = np.array(a, dtype=np.float64)  # a private copy: callers cannot alias it
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class CostTable:
    """Costs of one model variant on one sub-accelerator; arrays are read-only.

    offchip_bytes (global buffer <-> DRAM traffic) and l2_bytes (global buffer
    requirement) per layer are NaN when the cost model does not derive them.
    """

    latency_cycles: np.ndarray
    energy_nj: np.ndarray
    latency_ms: np.ndarray
    offchip_bytes: np.ndarray
    l2_bytes: np.ndarray

    @classmethod
    def build(
        cls, latency_cycles: np.ndarray, energy_nj: np.ndarray, clock_ghz: float,
        offchip_bytes: np.ndarray | None = None, l2_bytes: np.ndarray | None = None,
    ) -> "CostTable":
        """Make a table from cycle and energy arrays and the sub-accelerator's clock."""
        cycles = _frozen(latency_cycles)
        nan = np.full(len(cycles), np.nan)
        return cls(cycles, _frozen(energy_nj), _frozen(cycles / (clock_ghz * 1e6)),
                   _frozen(nan if offchip_bytes is None else offchip_bytes),
                   _frozen(nan if l2_bytes is None else l2_bytes))

    def __len__(self) -> int:
        return len(self.latency_cycles)
