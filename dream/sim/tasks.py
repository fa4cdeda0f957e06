"""Per-task runtime state: cost arrays per variant and sub-accelerator, rate, history."""

from __future__ import annotations

import math

import numpy as np

from dream.cost import cost_table, layers_fingerprint
from dream.cost.base import CostModel
from dream.hardware import System
from dream.workload.model import ModelDef
from dream.workload.scenario import TaskSpec


class VariantCost:
    """Cost arrays of one model variant on every sub-accelerator of a system.

    lat_ms[a] and energy_nj[a] are per base layer; cum_lat/cum_en are prefix sums as
    Python lists (the event loop reads single entries, where lists beat numpy); est_suffix
    is the expected latency from each base layer to the end, dynamic blocks weighted by
    their expected execution count.
    """

    __slots__ = ("name", "index", "accuracy", "lat_ms", "energy_nj", "cum_lat", "cum_en",
                 "est_suffix", "est_total", "out_elems", "n")

    def __init__(self, index: int, name: str, accuracy: float, lat_ms: list[np.ndarray],
                 energy_nj: list[np.ndarray], multiplicity: np.ndarray, out_elems: np.ndarray) -> None:
        self.index = index
        self.name = name
        self.accuracy = accuracy
        self.lat_ms = lat_ms
        self.energy_nj = energy_nj
        self.n = len(multiplicity)
        self.cum_lat = [np.concatenate(([0.0], np.cumsum(l))).tolist() for l in lat_ms]
        self.cum_en = [np.concatenate(([0.0], np.cumsum(e))).tolist() for e in energy_nj]
        self.est_suffix = [
            np.concatenate((np.cumsum((l * multiplicity)[::-1])[::-1], [0.0])).tolist() for l in lat_ms
        ]
        self.est_total = [s[0] for s in self.est_suffix]
        self.out_elems = out_elems.astype(float).tolist()


_VARIANT_COSTS: dict[tuple, VariantCost] = {}


def variant_cost(index: int, model: ModelDef, system: System, cost_model: CostModel) -> VariantCost:
    """The VariantCost of one model variant on a system, built once per process.

    A sweep worker runs thousands of simulations of the same few models and systems;
    the prefix sums cost more than a short simulation's bookkeeping, so they are shared
    (read-only) between simulations, keyed by everything they are computed from.
    """
    v = model.variants[index]
    layers = model.layers(v.name)
    key = (cost_model.key, model.name, index, v, layers_fingerprint(layers), model.dynamic,
           tuple(cost_model.acc_key(a) for a in system.accelerators))
    vc = _VARIANT_COSTS.get(key)
    if vc is None:
        lat, en = [], []
        for acc in system.accelerators:
            t = cost_table(cost_model, model.name, v.name, layers, acc)
            lat.append(np.asarray(t.latency_ms, dtype=float))
            en.append(np.asarray(t.energy_nj, dtype=float))
        out = layers["K"] * layers["Y"] * layers["X"]
        mult = model.expected_multiplicity(len(layers))
        vc = _VARIANT_COSTS[key] = VariantCost(index, v.name, v.accuracy, lat, en, mult, out)
    return vc


class TaskRuntime:
    """A task during a simulation: static costs plus its current rate and history."""

    __slots__ = ("index", "name", "spec", "model", "priority", "variants", "full", "allowed",
                 "upstream", "children", "dynamic", "fps", "period", "rel_deadline", "active",
                 "released", "finished", "on_time", "late", "dropped", "energy_nj",
                 "last_latency", "last_end", "integer_periods")

    def __init__(self, index: int, spec: TaskSpec, model: ModelDef, system: System,
                 cost_model: CostModel, integer_periods: bool = False) -> None:
        self.index = index
        self.name = spec.name
        self.spec = spec
        self.model = model
        self.priority = spec.priority
        self.dynamic = model.dynamic
        self.variants = [variant_cost(vi, model, system, cost_model) for vi in range(len(model.variants))]
        self.full = max(range(len(model.variants)),
                        key=lambda i: (model.variants[i].accuracy, model.variants[i].width))
        names = [v.name for v in model.variants]
        self.allowed = (list(range(len(names))) if spec.variants is None
                        else [names.index(v) for v in spec.variants])
        if self.full not in self.allowed:
            self.full = max(self.allowed, key=lambda i: model.variants[i].accuracy)
        self.upstream: int | None = None
        self.children: list[int] = []
        self.integer_periods = integer_periods
        self.set_rate(spec.fps)
        self.active = False
        self.released = self.finished = self.on_time = self.late = self.dropped = 0
        self.energy_nj = 0.0
        self.last_latency = 0.0
        self.last_end = 0.0

    def set_rate(self, fps: float) -> None:
        """Set the frame rate (start, phase change); the default deadline follows the period.

        period (ms) is 1000 / fps, or floor(1000 / fps) with integer periods (XRBench's
        load generator divides integers: HET_load-generator.hpp, `1000/fps_target`).
        """
        self.fps = fps
        self.period = float(math.floor(1000.0 / fps)) if self.integer_periods else 1000.0 / fps
        self.rel_deadline = self.spec.deadline_ms if self.spec.deadline_ms is not None else self.period

