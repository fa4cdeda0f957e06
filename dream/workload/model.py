"""Models: a layer table per supernet variant, plus dynamic blocks drawn per job."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np

from dream.workload.layers import LayerTable


@dataclass(frozen=True)
class Variant:
    """A sub-network of a supernet: a width multiplier and its accuracy relative to 1.0x."""

    name: str
    width: float
    accuracy: float


@dataclass(frozen=True)
class DynamicBlock:
    """Layers [start, stop) that run with probability `p` or a Poisson repeat count.

    kind="probability": the block runs once with probability p, else is skipped
    (early exit, skipped residual block).
    kind="repeat": the block runs n times, n ~ Poisson(mean) clipped to
    [min_repeat, max_repeat] (for example a detection head once per object).
    """

    name: str
    start: int
    stop: int
    kind: Literal["probability", "repeat"]
    p: float = 1.0
    mean: float = 1.0
    min_repeat: int = 0
    max_repeat: int = 1

    def repeat_pmf(self) -> np.ndarray:
        """Probabilities of each repeat count 0..max_repeat (zeros below min_repeat)."""
        if self.kind == "probability":
            return np.array([1.0 - self.p, self.p])
        k = np.arange(self.max_repeat + 1)
        pmf = np.array([math.exp(-self.mean) * self.mean**i / math.factorial(i) for i in k])
        # clipping folds the tails onto the bounds
        out = np.zeros_like(pmf)
        out[self.min_repeat] += pmf[: self.min_repeat + 1].sum()
        out[self.min_repeat + 1 :] = pmf[self.min_repeat + 1 :]
        out[self.max_repeat] += 1.0 - pmf.sum()
        return out

    @property
    def expected_count(self) -> float:
        """Expected number of times the block runs per job."""
        pmf = self.repeat_pmf()
        return float((np.arange(len(pmf)) * pmf).sum())

    def draw(self, rng: np.random.Generator) -> int:
        """Draw the number of times the block runs for one job."""
        if self.kind == "probability":
            return int(rng.random() < self.p)
        return int(min(max(rng.poisson(self.mean), self.min_repeat), self.max_repeat))


DEFAULT_VARIANTS = (
    Variant("w0.5", 0.5, 0.90),
    Variant("w0.75", 0.75, 0.96),
    Variant("w1.0", 1.0, 1.0),
)


@dataclass(frozen=True, eq=False)
class ModelDef:
    """A model of the zoo (or from a file): how to build its layers at a width."""

    name: str
    task: str
    build: Callable[[float], LayerTable]
    variants: tuple[Variant, ...] = DEFAULT_VARIANTS
    dynamic: tuple[DynamicBlock, ...] = ()
    source: str = ""
    _cache: dict = field(default_factory=dict, repr=False)

    def variant(self, name: str) -> Variant:
        """Look up a variant by name."""
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(f"model {self.name!r} has no variant {name!r}")

    @property
    def full(self) -> Variant:
        """The most accurate variant (the whole supernet)."""
        return max(self.variants, key=lambda v: (v.accuracy, v.width))

    def layers(self, variant: str | None = None) -> LayerTable:
        """The layer table of one variant (default: the full model); built once, cached."""
        v = self.full if variant is None else self.variant(variant)
        if v.name not in self._cache:
            self._cache[v.name] = self.build(v.width)
        return self._cache[v.name]

    def expected_multiplicity(self, n_layers: int) -> np.ndarray:
        """Expected number of executions of each layer per job (1 outside dynamic blocks)."""
        m = np.ones(n_layers)
        for b in self.dynamic:
            m[b.start : b.stop] *= b.expected_count
        return m


def scale_channels(c: int, width: float, divisor: int = 1) -> int:
    """Channel count of a width-scaled supernet layer, rounded to a multiple of `divisor`."""
    if width == 1.0:
        return int(c)
    return max(divisor, int(round(c * width / divisor)) * divisor)


def width_scaled(layers: LayerTable, width: float) -> LayerTable:
    """Generic width scaling for a model given as a table: scale K and C of inner layers.

    The first layer keeps its input channels and the last keeps its outputs, so the
    network's interface (image channels, classes) does not change.
    """
    if width == 1.0:
        return layers
    n = len(layers)
    K = np.array(layers["K"], dtype=np.int64)
    C = np.array(layers["C"], dtype=np.int64)
    for i in range(n):
        if i < n - 1:
            K[i] = scale_channels(K[i], width)
        if i > 0:
            C[i] = scale_channels(C[i], width)
    dw = np.asarray(layers["op"]) == "dwconv"
    C[dw] = K[dw]
    return layers.replace(K=K, C=C)
