"""Agreement of dream's MAESTRO model with reference MAESTRO figures on XRBench's layers.

XRBench encodes every layer as a dense, valid, stride-1 convolution whose Y and X are
INPUT sizes (some smaller than the filter); this module runs such shape tables through
dream's analysis (dream/cost/maestro_core.py) directly, since a dream layer table cannot
hold a non-positive output size, and compares the result with reference figures:
whole-model latency and energy within a tolerance, layer-latency rank correlation, and
the fastest dataflow per (model, PE count, NoC bandwidth).

Reference tables (columns): layers: num_pes, noc_bw, dataflow, model, layer_idx,
latency_cycles, energy_nJ [, l2_buffer_req]; totals: num_pes, noc_bw, dataflow, model,
latency_cycles, energy_nJ; shapes: model, layer_idx, K, C, Y, X, R, S.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from dream.cost.maestro import MaestroCostModel
from dream.cost.maestro_core import analyse
from dream.hardware.dataflow import load_dataflow

TYPE_KEYS = ["num_pes", "noc_bw", "dataflow"]


def xrbench_costs(shapes: pd.DataFrame, types: pd.DataFrame,
                  model: MaestroCostModel | None = None,
                  dataflow_dirs: Sequence[str] | None = None) -> pd.DataFrame:
    """Per-layer latency (cycles), energy (nJ) and L2 requirement of every shape on every type.

    shapes: model, layer_idx, K, C, Y, X, R, S (Y, X input sizes; stride 1, dense).
    types: rows of num_pes, noc_bw, dataflow (a dataflow name). Returns one row per
    (type, layer) with columns num_pes, noc_bw, dataflow, model, layer_idx,
    latency_cycles, energy_nJ, l2_buffer_req.
    """
    cm = model or MaestroCostModel()
    dims = {k: shapes[k].to_numpy(np.int64) for k in ("K", "C", "R", "S", "Y", "X")}
    ones = np.ones(len(shapes), np.int64)
    dense = np.zeros(len(shapes), bool)
    out = []
    for pes, bw, flow in types[TYPE_KEYS].drop_duplicates().itertuples(index=False):
        top = analyse(load_dataflow(str(flow), dataflow_dirs), dims, ones, dense, int(pes), bw)
        energy = cm.mac_energy_nj * (top.computations + cm.l1_energy * (top.l1_reads + top.l1_writes)
                                     + cm.l2_energy * (top.l2_reads + top.l2_writes))
        out.append(shapes[["model", "layer_idx"]].assign(
            num_pes=int(pes), noc_bw=bw, dataflow=str(flow), latency_cycles=top.runtime,
            energy_nJ=energy, l2_buffer_req=top.l2_req))
    return pd.concat(out, ignore_index=True)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    ra = pd.Series(a).rank().to_numpy()
    rb = pd.Series(b).rank().to_numpy()
    return float(np.corrcoef(ra, rb)[0, 1])


def agreement(ours: pd.DataFrame, ref_layers: pd.DataFrame | None, ref_totals: pd.DataFrame,
              tolerance: float = 0.05) -> dict[str, float]:
    """Agreement figures of per-layer costs `ours` (xrbench_costs) with reference tables.

    Returns: pairs (model, type pairs compared), latency_within / energy_within (fraction
    of pairs whose whole-model figure is within `tolerance` relative), latency_median_ratio,
    layer_spearman (latency rank correlation over all reference layers, pooled; NaN
    without ref_layers), layers_exact (fraction of reference layers whose latency is
    identical), fastest_same / fastest_cases (fastest dataflow per model, PE count and
    bandwidth identical to the reference's).
    """
    keys = TYPE_KEYS + ["model"]
    tot = ours.groupby(keys, as_index=False)[["latency_cycles", "energy_nJ"]].sum()
    m = ref_totals.merge(tot, on=keys, suffixes=("_ref", ""))
    lat_rel = np.abs(m["latency_cycles"] / m["latency_cycles_ref"] - 1)
    en_rel = np.abs(m["energy_nJ"] / m["energy_nJ_ref"] - 1)
    fig = {
        "pairs": float(len(m)),
        "latency_within": float(np.mean(lat_rel <= tolerance)),
        "energy_within": float(np.mean(en_rel <= tolerance)),
        "latency_median_ratio": float(np.median(m["latency_cycles"] / m["latency_cycles_ref"])),
    }
    if ref_layers is not None:
        lm = ref_layers.merge(ours, on=keys + ["layer_idx"], suffixes=("_ref", ""))
        fig["layer_spearman"] = _spearman(lm["latency_cycles"].to_numpy(),
                                          lm["latency_cycles_ref"].to_numpy())
        fig["layers_exact"] = float(np.mean(lm["latency_cycles"] == lm["latency_cycles_ref"]))
        fig["layers_compared"] = float(len(lm))
    else:
        fig["layer_spearman"] = float("nan")
    group = ["model", "num_pes", "noc_bw"]

    def fastest(df: pd.DataFrame, col: str) -> pd.Series:
        return df.loc[df.groupby(group)[col].idxmin()].set_index(group)["dataflow"]

    ref_best = fastest(m, "latency_cycles_ref")
    our_best = fastest(m, "latency_cycles")
    fig["fastest_same"] = float((ref_best == our_best.reindex(ref_best.index)).sum())
    fig["fastest_cases"] = float(len(ref_best))
    return fig
