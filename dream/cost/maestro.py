"""The default cost model: MAESTRO's data-centric analysis of a sub-accelerator's dataflow.

The analysis itself is in dream/cost/maestro_core.py; this module maps dream's layer
tables onto MAESTRO's convolution dimensions, adds the XRBench energy model, and derives
the extra cost-table columns (off-chip traffic, L2 buffer requirement).

How dream's layers map onto MAESTRO's dimensions (docs/cost-model.md, "Layer kinds"):

- conv: K, C, R, S as they are; input rows Y_in = (Y - 1) * stride + R and columns
  likewise (Y, X in dream are OUTPUT sizes). Stride 1 is MAESTRO's dense/valid view,
  the only case XRBench's layers use; a stride > 1 takes MAESTRO's outer-stride rule.
- dwconv: MAESTRO's DWCONV: K = 1, C = the channels, the output tensor coupled to C,
  so each channel is one 2-D convolution and MACs = C x Y x X x R x S.
- fc: a 1 x 1 convolution over the Y x X tokens (K outputs, C inputs per token).
"""

from __future__ import annotations

import weakref
from typing import Mapping

import numpy as np

from dream.cost.base import ConstantsCostModel, memo_by_identity
from dream.cost.maestro_core import analyse
from dream.hardware import Accelerator
from dream.workload.layers import LayerTable


# id(layer table) -> (weak reference, its unique MAESTRO shapes and the inverse index):
# a table is costed on every sub-accelerator spec: its shapes are derived once
_SHAPES: dict[int, tuple[weakref.ref, tuple[np.ndarray, np.ndarray]]] = {}


def clear_memo() -> None:
    """Forget the per-table shape memo (dream.cost.clear_cache calls this)."""
    _SHAPES.clear()


def _shapes(layers: LayerTable) -> tuple[np.ndarray, np.ndarray]:
    """(unique rows of K, C, R, S, Y_in, X_in, stride, depthwise; inverse index), memoised
    per table object (layer tables are built once and not mutated)."""
    return memo_by_identity(_SHAPES, layers, _unique_shapes)


def _unique_shapes(layers: LayerTable) -> tuple[np.ndarray, np.ndarray]:
    dims, st, dw = maestro_dims(layers)
    keys = np.stack([dims["K"], dims["C"], dims["R"], dims["S"], dims["Y"], dims["X"], st,
                     dw.astype(np.int64)], axis=1)
    return _unique_rows(keys)


def maestro_dims(layers: LayerTable) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """MAESTRO dimensions of a dream layer table: ({K, C, R, S, Y, X}, stride, depthwise).

    Y and X returned are INPUT rows and columns; all arrays have shape (L,), int64.
    """
    K, C, Y, X, R, S = (np.asarray(layers[c], np.int64) for c in ("K", "C", "Y", "X", "R", "S"))
    st = np.asarray(layers["stride"], np.int64) if "stride" in layers else np.ones_like(K)
    dw = np.asarray(layers["op"]) == "dwconv"
    dims = {
        "K": np.where(dw, 1, K), "C": C, "R": R, "S": S,
        "Y": (Y - 1) * st + R, "X": (X - 1) * st + S,
    }
    return dims, st, dw


TABLE_COLUMNS = ("latency_cycles", "energy_nj", "offchip_bytes", "l2_bytes")


class MaestroCostModel(ConstantsCostModel):
    """MAESTRO's analytical model (data-centric directives per cluster level), XRBench energy."""

    name = "maestro"

    # name -> (default, lower bound, lower bound inclusive); documented in docs/cost-model.md
    PARAMS: dict[str, tuple[float, float, bool]] = {
        "mac_energy_nj": (0.00288, 0.0, False),  # XRBench-MAESTRO DSE cost: one MAC, nJ
        "l1_energy": (0.55, 0.0, True),  # MAESTRO BASE_constants: L1 access / MAC energy
        "l2_energy": (6.0, 0.0, True),  # MAESTRO BASE_constants: L2 access / MAC energy
        "element_bytes": (1.0, 0.0, False),  # bytes per tensor element (buffer sizes, traffic)
    }

    def __init__(self, mac_energy_nj: float = 0.00288, l1_energy: float = 0.55,
                 l2_energy: float = 6.0, element_bytes: float = 1.0) -> None:
        """Defaults: XRBench's constants; ValueError names a bad one."""
        values = dict(mac_energy_nj=mac_energy_nj, l1_energy=l1_energy, l2_energy=l2_energy,
                      element_bytes=element_bytes)
        self._set_constants(values)

    def costs(self, layers: LayerTable, acc: Accelerator, model_name: str = "",
              variant: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Latency (cycles) and energy (nJ) of every layer on `acc`, float64 arrays (L,)."""
        b = self.breakdown(layers, acc, ("latency_cycles", "energy_nj"))
        return b["latency_cycles"], b["energy_nj"]

    def table_columns(self, layers: LayerTable, acc: Accelerator, model_name: str = "",
                      variant: str | None = None) -> dict[str, np.ndarray]:
        """Latency, energy, off-chip traffic (bytes) and L2 requirement (bytes) per layer."""
        return self.breakdown(layers, acc, TABLE_COLUMNS)

    def breakdown(self, layers: LayerTable, acc: Accelerator,
                  columns: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
        """Every figure of the analysis per layer (float64 arrays of shape (L,)).

        latency_cycles: the top cluster level's runtime. energy_nj: mac_energy x (top-level
        computations + l1 x L1 accesses + l2 x L2 accesses) (XRBench HET_cost-class).
        l2_bytes: MAESTRO's L2 buffer requirement (double-buffered first-step ingress plus
        egress) x element_bytes. offchip_bytes: ours, see `offchip_traffic`.
        """
        acc.flow.check_fits(acc.num_pes, f"accelerator {acc.name!r}.dataflow")
        # identical layers are analysed once: repeated blocks share shapes
        uniq, inverse = _shapes(layers)
        udims = {k: uniq[:, i] for i, k in enumerate(("K", "C", "R", "S", "Y", "X"))}
        top = analyse(acc.flow, udims, uniq[:, 6], uniq[:, 7].astype(bool), acc.num_pes,
                      acc.noc_bw)
        l1 = (top.l1_reads + top.l1_writes).astype(np.float64)
        l2 = (top.l2_reads + top.l2_writes).astype(np.float64)
        comp = top.computations.astype(np.float64)
        energy = self.mac_energy_nj * (comp + self.l1_energy * l1 + self.l2_energy * l2)
        l2_bytes = top.l2_req.astype(np.float64) * self.element_bytes
        out = {
            "latency_cycles": top.runtime,
            "energy_nj": energy,
            "computations": comp,
            "l1_accesses": l1,
            "l2_accesses": l2,
            "l2_bytes": l2_bytes,
        }
        if columns is None or "offchip_bytes" in columns:
            out["offchip_bytes"] = offchip_traffic(udims, uniq[:, 6], uniq[:, 7].astype(bool),
                                                   acc.l2_kib * 1024.0, self.element_bytes)
        return {k: v[inverse] for k, v in out.items() if columns is None or k in columns}


def _unique_rows(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(keys, axis=0, return_inverse=True) for small non-negative int64 columns.

    Packs each row into one int64 when the columns' bit widths fit (a 1-D unique is
    several times faster than the row-wise one); falls back to the row-wise one.
    """
    widths = [int(c).bit_length() for c in keys.max(axis=0)]
    if sum(widths) <= 62 and keys.min() >= 0:
        shifts = np.cumsum([0] + widths[:-1]).astype(np.int64)
        packed = (keys << shifts).sum(axis=1)
        _, first, inverse = np.unique(packed, return_index=True, return_inverse=True)
        return keys[first], inverse.reshape(-1)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    return uniq, inverse.reshape(-1)


def offchip_traffic(dims: Mapping[str, np.ndarray], stride: np.ndarray, dw: np.ndarray,
                    l2_bytes: float, element_bytes: float) -> np.ndarray:
    """Global buffer <-> DRAM bytes per layer (ours; MAESTRO models no off-chip memory).

    Each tensor crosses once (input and weights in, output out) when the three fit in the
    global buffer together; otherwise the larger of input and weights is streamed in
    buffer-sized chunks and the smaller is fetched again for every further chunk.
    """
    oy = np.maximum((dims["Y"] - dims["R"]) // stride + 1, 1)
    ox = np.maximum((dims["X"] - dims["S"]) // stride + 1, 1)
    inp = (dims["C"] * dims["Y"] * dims["X"]).astype(np.float64) * element_bytes
    wgt = (dims["K"] * dims["C"] * dims["R"] * dims["S"]).astype(np.float64) * element_bytes
    out = (np.where(dw, dims["C"], dims["K"]) * oy * ox).astype(np.float64) * element_bytes
    working = inp + wgt + out
    passes = np.ceil(np.maximum(inp, wgt) / l2_bytes)
    return np.where(working > l2_bytes, working + (passes - 1.0) * np.minimum(inp, wgt), working)
