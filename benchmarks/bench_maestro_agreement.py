"""Agreement of the cost models with MAESTRO on XRBench's layers, all 21 sub-accelerator types.

Reference: XRBench-MAESTRO's per-layer costs (XRBench/XRBench-MLSys2023, MIT licence) of
six XRBench models, from ../shared/calibration when present, else the subset bundled in
tests/data. Prints, for the MAESTRO model (the default) and, for comparison, the old
analytical model: the share of (model, type) pairs whose whole-model latency and energy
are within 5% of MAESTRO's, layer-latency Spearman correlation, and the share of
(model, PE count, bandwidth) cases whose fastest dataflow is MAESTRO's. Also times the
MAESTRO analysis of every layer on every type (median of several runs).

Run: .venv/bin/python benchmarks/bench_maestro_agreement.py [--calibration DIR]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

from dream.cost import AnalyticalCostModel
from dream.cost.agreement import agreement, xrbench_costs
from dream.hardware import Accelerator

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent.parent / "shared"


def load_reference(cal_dir: Path | None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, str]:
    """(shapes, per-layer reference, totals, description of the source)."""
    if cal_dir is not None and (cal_dir / "maestro_layer_costs_train.csv").is_file():
        layers = pd.read_csv(cal_dir / "maestro_layer_costs_train.csv")
        totals = pd.read_csv(cal_dir / "maestro_model_totals_train.csv")
        shapes = pd.read_csv(cal_dir.parent / "xrbench" / "layer_shapes.csv")
        shapes = shapes[shapes["model"].isin(layers["model"].unique())]
        return shapes, layers, totals, f"{cal_dir} (every layer)"
    data = ROOT / "tests" / "data"
    return (pd.read_csv(data / "xrbench_layer_shapes.csv", comment="#"),
            pd.read_csv(data / "xrbench_maestro_layers.csv", comment="#"),
            pd.read_csv(data / "xrbench_maestro_totals.csv", comment="#"),
            f"{data} (bundled subset: every fifth layer)")


def analytical_costs(shapes: pd.DataFrame, types: pd.DataFrame) -> pd.DataFrame:
    """The old analytical model on the same layers (outputs clipped to >= 1 row/column)."""
    layers = pd.DataFrame({
        "op": "conv", "K": shapes["K"], "C": shapes["C"],
        "Y": np.maximum(shapes["Y"] - shapes["R"] + 1, 1),
        "X": np.maximum(shapes["X"] - shapes["S"] + 1, 1),
        "R": shapes["R"], "S": shapes["S"], "stride": 1,
    })
    cm = AnalyticalCostModel()
    out = []
    for pes, bw, flow in types.itertuples(index=False):
        lat, en = cm.costs(layers, Accelerator("a", flow, int(pes), noc_bw=bw))
        out.append(shapes[["model", "layer_idx"]].assign(
            num_pes=pes, noc_bw=bw, dataflow=flow, latency_cycles=lat, energy_nJ=en))
    return pd.concat(out, ignore_index=True)


def main() -> None:
    """Print the agreement table of both models and the analysis time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibration", type=Path, default=SHARED / "calibration")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    shapes, ref_layers, ref_totals, source = load_reference(args.calibration)
    types = ref_totals[["num_pes", "noc_bw", "dataflow"]].drop_duplicates()
    print(f"reference: {source}")
    print(f"{len(types)} sub-accelerator types, {shapes['model'].nunique()} models, "
          f"{len(shapes)} layers; {len(ref_layers)} reference layer costs")
    times = []
    for _ in range(max(1, args.repeats)):
        t0 = time.perf_counter()
        ours = xrbench_costs(shapes, types)
        times.append(time.perf_counter() - t0)
    rows = {"maestro (new default)": agreement(ours, ref_layers, ref_totals),
            "analytical (old)": agreement(analytical_costs(shapes, types), ref_layers, ref_totals)}
    print(f"{'model':<22} {'lat<=5%':>8} {'en<=5%':>8} {'lat ratio':>10} {'spearman':>9} "
          f"{'fastest':>9} {'exact layers':>13}")
    for name, f in rows.items():
        print(f"{name:<22} {f['latency_within']:8.1%} {f['energy_within']:8.1%} "
              f"{f['latency_median_ratio']:10.3f} {f['layer_spearman']:9.4f} "
              f"{int(f['fastest_same']):>4}/{int(f['fastest_cases']):<4} "
              f"{f.get('layers_exact', float('nan')):12.1%}")
    print(f"MAESTRO analysis of {len(shapes)} layers x {len(types)} types: median "
          f"{statistics.median(times) * 1e3:.1f} ms over {len(times)} runs")


if __name__ == "__main__":
    main()
