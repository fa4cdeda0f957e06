"""The cost-model interface and the cost table it produces per (model variant, sub-accelerator)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Hashable, Mapping

import numpy as np
import pandas as pd

from dream.hardware import Accelerator


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
        layers: pd.DataFrame,
        acc: Accelerator,
        model_name: str,
        variant: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Latency in cycles and energy in nJ per layer (float64 arrays, in row order)."""

    def table_columns(
        self,
        layers: pd.DataFrame,
        acc: Accelerator,
        model_name: str,
        variant: str | None = None,
    ) -> dict[str, np.ndarray]:
        """The cost-table columns per layer: latency_cycles and energy_nj, and when the
        model derives them, offchip_bytes (global buffer <-> DRAM) and l2_bytes (global
        buffer requirement). Float64 arrays of shape (L,), in row order."""
        lat, en = self.costs(layers, acc, model_name, variant)
        return {"latency_cycles": lat, "energy_nj": en}


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
