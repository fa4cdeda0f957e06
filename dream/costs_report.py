"""A table of whole-model costs: each task's model and variant on each sub-accelerator."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dream.config import RunSpec
from dream.cost import cost_table
from dream.workload.layers import layer_macs


def cost_report(spec: RunSpec) -> pd.DataFrame:
    """One row per (task, variant, sub-accelerator).

    Columns: layers, GMAC, latency_ms, energy_mJ, utilization (MACs / (cycles x PEs)),
    offchip_MB (global buffer <-> DRAM traffic summed over layers) and l2_req_KiB (the
    largest per-layer global-buffer requirement); the last two are NaN when the cost
    model does not derive them (docs/cost-model.md).
    """
    rows = []
    for task in spec.scenario.tasks:
        model = spec.catalog[task.model]
        for v in model.variants:
            layers = model.layers(v.name)
            gmac = float(layer_macs(layers).sum()) / 1e9
            for acc in spec.system.accelerators:
                t = cost_table(spec.cost_model, model.name, v.name, layers, acc)
                rows.append({
                    "task": task.name, "model": model.name, "variant": v.name,
                    "accuracy": v.accuracy, "layers": len(layers), "GMAC": gmac,
                    "accelerator": f"{acc.name} ({acc.dataflow} {acc.num_pes})",
                    "latency_ms": float(t.latency_ms.sum()),
                    "energy_mJ": float(t.energy_nj.sum()) / 1e6,
                    "utilization": gmac * 1e9 / (float(t.latency_cycles.sum()) * acc.num_pes),
                    "offchip_MB": float(t.offchip_bytes.sum()) / 1e6,
                    "l2_req_KiB": float(np.max(t.l2_bytes)) / 1024.0,
                })
    return pd.DataFrame(rows)
