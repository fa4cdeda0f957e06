"""How long building every cost table of the largest scenario on the largest setting takes.

Scenario ar_assistant (KD res8_narrow, SR emformer, SS hrvit_b1, DE midas_small,
PD planercnn, OD d2go_faster_rcnn), every variant of each model; setting M at 8K PEs
(4 x 2048 PEs, WS / OS / WS / OS, NoC 256, as conf/hardware/quad_8k_ws_os.yaml).
Cold: the cost-table cache is cleared before each repetition; warm: the cache is full.
Layer tables are built once beforehand (that is the workload's job, cached by ModelDef).

The old default (`analytical`) and the new one (`maestro`, MAESTRO's analysis) are timed
side by side, repetitions interleaved so both see the same machine load.

Run: .venv/bin/python benchmarks/bench_cost.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import time

from dream.cost import AnalyticalCostModel, MaestroCostModel, clear_cache, cost_table
from dream.hardware import Accelerator
from dream.workload.zoo import get_model

MODELS = ("res8_narrow", "emformer", "hrvit_b1", "midas_small", "planercnn", "d2go_faster_rcnn")
SETTING_M_8K = tuple(
    Accelerator(name, flow, 2048, noc_bw=256, offchip_bw=128, clock_ghz=1.0, l1_kib=16,
                l2_kib=2048)
    for name, flow in (("ws0", "WS"), ("os0", "OS"), ("ws1", "WS"), ("os1", "OS"))
)
TARGET_COLD_MS = 50.0


def build_all(jobs, accs, cost_model) -> int:
    """Build (or fetch) the cost table of every variant on every sub-accelerator."""
    n = 0
    for model, variant, layers in jobs:
        for acc in accs:
            cost_table(cost_model, model, variant, layers, acc)
            n += 1
    return n


def main() -> None:
    """Time cold and warm builds of both models; print medians, minima and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="repetitions (>= 7)")
    args = parser.parse_args()
    repeats = max(7, args.repeats)

    jobs = []
    for name in MODELS:
        model = get_model(name)
        for v in model.variants:
            jobs.append((model.name, v.name, model.layers(v.name)))
    n_layers = sum(len(j[2]) for j in jobs)
    models = {"analytical (old)": AnalyticalCostModel(), "maestro (new)": MaestroCostModel()}
    for cm in models.values():  # first use parses dataflows and plans: not part of a table
        build_all(jobs[:1], SETTING_M_8K, cm)

    cold: dict[str, list[float]] = {k: [] for k in models}
    cold_cpu: dict[str, list[float]] = {k: [] for k in models}
    warm: dict[str, list[float]] = {k: [] for k in models}
    n_tables = 0
    for _ in range(repeats):
        for label, cm in models.items():
            clear_cache()
            c0, t0 = time.process_time(), time.perf_counter()
            n_tables = build_all(jobs, SETTING_M_8K, cm)
            cold[label].append(time.perf_counter() - t0)
            cold_cpu[label].append(time.process_time() - c0)
            t0 = time.perf_counter()
            build_all(jobs, SETTING_M_8K, cm)
            warm[label].append(time.perf_counter() - t0)

    print(f"scenario ar_assistant: {len(MODELS)} models, {len(jobs)} variants, {n_layers} layers")
    print(f"setting M at 8K: {len(SETTING_M_8K)} sub-accelerators; {n_tables} cost tables "
          f"({n_tables * n_layers // len(jobs)} layer costs); {repeats} repeats, interleaved")
    # wall time includes time the OS gives other processes on a shared machine; CPU time
    # (this process only) is the steadier figure there
    print(f"{'cost model':<18} {'cold median':>12} {'cold min':>9} {'cold CPU median':>16} "
          f"{'warm median':>12}")
    for label in models:
        c, w = cold[label], warm[label]
        print(f"{label:<18} {statistics.median(c) * 1e3:9.2f} ms {min(c) * 1e3:6.2f} ms "
              f"{statistics.median(cold_cpu[label]) * 1e3:13.2f} ms "
              f"{statistics.median(w) * 1e3:9.3f} ms")
    old, new = (statistics.median(cold[k]) * 1e3 for k in models)
    old_cpu, new_cpu = (statistics.median(cold_cpu[k]) * 1e3 for k in models)
    print(f"new / old cold median: {new / old:.2f}x wall, {new_cpu / old_cpu:.2f}x CPU")
    print(f"target: maestro cold < {TARGET_COLD_MS:.0f} ms -> wall median "
          f"{'OK' if new < TARGET_COLD_MS else 'OVER'}, CPU median "
          f"{'OK' if new_cpu < TARGET_COLD_MS else 'OVER'}")


if __name__ == "__main__":
    main()
