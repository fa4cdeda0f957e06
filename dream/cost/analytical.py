"""The default cost model: a dataflow-aware analytical model in the spirit of MAESTRO.

Vectorised over the layers of a table: one numpy expression per quantity, no Python loop
over layers. docs/cost-model.md gives the mapping of each dataflow, the equations and the
calibration against XRBench's published figures.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from dream.cost.base import ConstantsCostModel
from dream.errors import ConfigError
from dream.hardware import Accelerator
from dream.workload.layers import LayerTable

Arr = np.ndarray
# steps, MACs per PE per step, weight / input / psum NoC traffic in, traffic out, L1 accesses
Mapped = tuple[Arr, Arr, Arr, Arr, Arr, Arr, Arr]

# PE-array geometry of each dataflow style (docs/cost-model.md, "Mapping").
WS_K_LANES, WS_C_LANES = 16, 16  # NVDLA-like: a 16 x 16 group of PEs per output position
OS_X_LANES, OS_C_LANES = 4, 16  # ShiDianNao-like: 4 output columns x 16 input channels
RS_X_LANES, RS_R_LANES, RS_C_CHUNK = 16, 4, 4  # Eyeriss-like: 16 columns x 4 filter rows


def _cdiv(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    """Ceiling division of positive int64 arrays."""
    return -(-a // b)


def _span(n_out: np.ndarray, n_blocks: np.ndarray, kernel: np.ndarray, stride: np.ndarray,
          folds: np.ndarray | int = 1) -> np.ndarray:
    """Input rows (or columns) streamed to produce `n_out` outputs tiled into `n_blocks` blocks.

    A block of b outputs reads (b - 1) * min(stride, kernel) + kernel inputs: neighbours in
    a block share their overlap (multicast), blocks do not. With the kernel split into
    `folds` passes, every pass re-reads the block's interior.
    """
    eff = np.minimum(stride, kernel)
    return folds * (n_out - n_blocks) * eff + n_blocks * kernel


def _lanes(num_pes: int, inner: int, outer: int) -> tuple[int, int, int]:
    """(inner lanes, outer lanes, groups) of an inner x outer PE group; shrink if PEs are few."""
    inner = min(inner, num_pes)
    outer = max(1, min(outer, num_pes // inner))
    return inner, outer, max(1, num_pes // (inner * outer))


class AnalyticalCostModel(ConstantsCostModel):
    """Dataflow-aware analytical model (WS / OS / RS), vectorised over layers."""

    name = "analytical"

    # name -> (default, lower bound, lower bound inclusive); documented in docs/cost-model.md
    PARAMS: dict[str, tuple[float, float, bool]] = {
        "mac_energy_nj": (0.00288, 0.0, False),  # XRBench: energy of one MAC
        "l1_energy": (0.55, 0.0, True),  # XRBench: PE-local buffer access, in MAC energies
        "l2_energy": (6.0, 0.0, True),  # XRBench: global buffer access, in MAC energies
        "psum_elements": (4.0, 1.0, True),  # a 32-bit partial sum over 8-bit operands
        "noc_efficiency": (0.7, 0.0, False),  # sustained fraction of peak NoC bandwidth
        "element_bytes": (1.0, 0.0, False),  # bytes per data element (sizes the buffers)
    }

    def __init__(
        self,
        mac_energy_nj: float = 0.00288,
        l1_energy: float = 0.55,
        l2_energy: float = 6.0,
        psum_elements: float = 4.0,
        noc_efficiency: float = 0.7,
        element_bytes: float = 1.0,
    ) -> None:
        """Defaults: XRBench's energy constants and our NoC calibration; ValueError if bad."""
        values = dict(mac_energy_nj=mac_energy_nj, l1_energy=l1_energy, l2_energy=l2_energy,
                      psum_elements=psum_elements, noc_efficiency=noc_efficiency,
                      element_bytes=element_bytes)
        self._set_constants(values)
        if noc_efficiency > 1:
            raise ValueError(f"noc_efficiency must be <= 1, got {noc_efficiency!r}")

    def costs(
        self,
        layers: LayerTable,
        acc: Accelerator,
        model_name: str = "",
        variant: str | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Latency (cycles) and energy (nJ) of every layer on `acc`, as float64 arrays."""
        b = self.breakdown(layers, acc)
        return b["latency_cycles"], b["energy_nj"]

    def breakdown(self, layers: LayerTable, acc: Accelerator) -> dict[str, np.ndarray]:
        """Every intermediate of the model per layer (steps, traffic, accesses, bounds)."""
        K = np.asarray(layers["K"], np.int64)
        C = np.asarray(layers["C"], np.int64)
        Y = np.asarray(layers["Y"], np.int64)
        X = np.asarray(layers["X"], np.int64)
        R = np.asarray(layers["R"], np.int64)
        S = np.asarray(layers["S"], np.int64)
        st = np.asarray(layers["stride"], np.int64)
        dw = np.asarray(layers["op"]) == "dwconv"
        # a depthwise layer reduces over one channel: the reduction lanes of WS/OS idle
        Cr = np.where(dw, 1, C)
        macs = (K * Cr * Y * X * R * S).astype(np.float64)
        out = (K * Y * X).astype(np.float64)
        weights = (K * Cr * R * S).astype(np.float64)

        mappers = {"WS": self._ws, "OS": self._os, "RS": self._rs}
        if acc.dataflow not in mappers:
            raise ConfigError("cost.name", f"the analytical model knows the dataflows "
                              f"{list(mappers)} only; sub-accelerator {acc.name!r} uses "
                              f"{acc.dataflow!r}: use cost=maestro")
        mapper = mappers[acc.dataflow]
        steps, step_macs, w_in, x_in, psum_in, psum_out, l1 = mapper(
            acc, K, Cr, Y, X, R, S, st, dw, macs, out, weights
        )
        compute = steps * step_macs  # one MAC per PE per cycle
        inbound = w_in + x_in + psum_in
        outbound = psum_out

        # off-chip: a layer whose tensors exceed the global buffer streams them from DRAM;
        # the larger operand is split into buffer-sized chunks and the smaller re-read per chunk
        cin = np.where(dw, K, C)
        iy = (Y - 1) * st + R
        ix = (X - 1) * st + S
        in_elems = (cin * iy * ix).astype(np.float64)
        working = weights + in_elems + out
        l2_elems = acc.l2_kib * 1024.0 / self.element_bytes
        passes = np.ceil(working / l2_elems)
        offchip = np.where(
            working > l2_elems, working + (passes - 1.0) * np.minimum(weights, in_elems), 0.0
        )

        # double buffering: transfers overlap compute, so the slowest of the three streams
        # (and DRAM, when the layer spills) sets the time; traffic is charged on its total
        noc_bw = acc.noc_bw * self.noc_efficiency
        latency = np.maximum.reduce(
            [compute, inbound / noc_bw, outbound / noc_bw, offchip / acc.offchip_bw]
        )
        l2 = inbound + outbound + offchip
        energy = self.mac_energy_nj * (macs + self.l1_energy * l1 + self.l2_energy * l2)
        return {
            "macs": macs,
            "steps": steps,
            "step_macs": step_macs,
            "compute_cycles": compute,
            "weight_in": w_in,
            "input_in": x_in,
            "psum_in": psum_in,
            "noc_in": inbound,
            "noc_out": outbound,
            "offchip": offchip,
            "l1_accesses": l1,
            "l2_accesses": l2,
            "utilization": macs / (compute * acc.num_pes),
            "latency_cycles": latency.astype(np.float64),
            "energy_nj": energy.astype(np.float64),
        }

    def _ws(self, acc: Accelerator, K: Arr, Cr: Arr, Y: Arr, X: Arr, R: Arr, S: Arr,
            st: Arr, dw: Arr, macs: Arr, out: Arr, weights: Arr) -> Mapped:
        """NVDLA-like weight-stationary: one weight per PE, partial sums stream out."""
        cl, kl, G = _lanes(acc.num_pes, WS_C_LANES, WS_K_LANES)
        # groups take output columns, then rows, then extra blocks of output channels
        gx = np.minimum(X, G)
        gy = np.minimum(Y, G // gx)
        gk = np.minimum(_cdiv(K, kl), G // (gx * gy))
        nk = _cdiv(K, kl * gk)
        nc = _cdiv(Cr, cl)
        steps = (nk * nc * R * S * _cdiv(Y, gy) * _cdiv(X, gx)).astype(np.float64)
        # each weight is loaded once (multicast to the position groups); every tap streams
        # the inputs again, shared by the K lanes (a depthwise lane needs its own channel)
        w_in = weights
        x_in = (np.where(dw, K, nk * Cr) * R * S * Y * X).astype(np.float64)
        # every output is accumulated over nc * R * S passes through the array; all but the
        # last pass move a wide partial sum out to the buffer, all but the first bring it back
        passes = (nc * R * S).astype(np.float64)
        pw = self.psum_elements
        psum_in = out * pw * (passes - 1.0)
        psum_out = out * (pw * (passes - 1.0) + 1.0)
        # L1: weight and input reads per MAC, the input written into each lane, weight fills
        l1 = 3.0 * macs + weights * (gx * gy)
        return steps, np.ones_like(steps), w_in, x_in, psum_in, psum_out, l1

    def _os(self, acc: Accelerator, K: Arr, Cr: Arr, Y: Arr, X: Arr, R: Arr, S: Arr,
            st: Arr, dw: Arr, macs: Arr, out: Arr, weights: Arr) -> Mapped:
        """ShiDianNao-like output-stationary: outputs accumulate in place over C and R x S."""
        cl, xl, G = _lanes(acc.num_pes, OS_C_LANES, OS_X_LANES)
        # groups take output rows, then (when rows run out) output channels
        gy = np.minimum(Y, G)
        gk = np.minimum(K, G // gy)
        nk, ny, nx, nc = _cdiv(K, gk), _cdiv(Y, gy), _cdiv(X, xl), _cdiv(Cr, cl)
        steps = (nk * ny * nx * nc).astype(np.float64)
        step_macs = (R * S).astype(np.float64)  # a PE walks the filter window of one channel
        # a PE keeps its share of a filter (nc * R * S weights) across output blocks when it
        # fits half its L1 (the other half double-buffers); otherwise weights are re-sent
        fits = nc * R * S * self.element_bytes <= acc.l1_kib * 1024.0 / 2
        w_in = weights * np.where(fits, 1.0, (ny * nx).astype(np.float64))
        x_in = (np.where(dw, K, nk * Cr) * _span(Y, ny, R, st) * _span(X, nx, S, st)).astype(
            np.float64
        )
        l1 = 6.0 * macs  # operand reads, operand fills, accumulator read + write
        return steps, step_macs, w_in, x_in, np.zeros_like(out), out, l1

    def _rs(self, acc: Accelerator, K: Arr, Cr: Arr, Y: Arr, X: Arr, R: Arr, S: Arr,
            st: Arr, dw: Arr, macs: Arr, out: Arr, weights: Arr) -> Mapped:
        """Eyeriss-like row-stationary: filter rows stay in PEs, psums add up each cluster."""
        rl, xl, G = _lanes(acc.num_pes, RS_R_LANES, RS_X_LANES)
        # groups take output channels, then (when channels run out) output rows
        gk = np.minimum(K, G)
        gy = np.minimum(Y, G // gk)
        nk, ny, nx = _cdiv(K, gk), _cdiv(Y, gy), _cdiv(X, xl)
        nr, nc = _cdiv(R, rl), _cdiv(Cr, RS_C_CHUNK)
        chunk = np.minimum(Cr, RS_C_CHUNK)
        steps = (nk * ny * nx * nr * nc).astype(np.float64)
        step_macs = (chunk * S).astype(np.float64)  # a 1-D convolution of a few channels
        fits = nr * Cr * S * self.element_bytes <= acc.l1_kib * 1024.0 / 2
        w_in = weights * np.where(fits, 1.0, (ny * nx).astype(np.float64))
        x_in = (np.where(dw, K, nk * Cr) * _span(Y, ny, R, st, nr) * _span(X, nx, S, st)).astype(
            np.float64
        )
        l1 = 6.0 * macs
        return steps, step_macs, w_in, x_in, np.zeros_like(out), out, l1
