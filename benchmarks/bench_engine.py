"""Engine throughput: simulated layer dispatches per wall second, and memory vs duration.

Run: .venv/bin/python benchmarks/bench_engine.py [--repeats N]
Prints medians of N runs (this machine is shared and noisy) for vr_gaming and
ar_assistant at one-layer blocks under FCFS, plus the peak memory of the event loop
for growing simulated durations with the block trace off.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import dream
from dream.api import run_spec
from dream.config import build_spec


def one_run(overrides: list[str]) -> tuple[float, int, float]:
    """Wall seconds of the event loop, layers dispatched, simulated ms."""
    spec = build_spec(dream.compose(overrides))
    r = run_spec(spec)
    return r.summary["wall_s"], r.summary["layers"], spec.sim.duration_ms


def throughput(workload: str, hardware: str, scheduler: str, repeats: int) -> dict[str, float]:
    """Median layer dispatches per second and simulated seconds per wall second."""
    ov = [f"workload={workload}", f"hardware={hardware}", f"scheduler={scheduler}",
          "sim.block_size=1", "sim.duration_ms=2000"]
    one_run(ov)  # warm the cost-table cache: measure the event loop, not the cost model
    runs = [one_run(ov) for _ in range(repeats)]
    rates = [layers / wall for wall, layers, _ in runs]
    sim_rates = [dur / 1000.0 / wall for wall, _, dur in runs]
    return {"layers_per_s": statistics.median(rates), "sim_s_per_wall_s": statistics.median(sim_rates),
            "layers": runs[0][1]}


def memory_vs_duration(durations: list[float], scheduler: str) -> list[tuple[float, float, int]]:
    """Peak traced memory (MiB) of whole runs at growing durations, trace off."""
    out = []
    for d in durations:
        spec = build_spec(dream.compose(["workload=ar_assistant", "hardware=quad_8k_ws_os",
                                         f"scheduler={scheduler}", "sim.block_size=1",
                                         f"sim.duration_ms={d}"]))
        run_spec(spec)  # warm caches so only the simulation is traced
        tracemalloc.start()
        r = run_spec(spec)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out.append((d, peak / 2**20, r.summary["jobs"]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    t0 = time.perf_counter()
    print(f"engine throughput, FCFS, one-layer blocks, median of {args.repeats} runs of 2 s simulated")
    print(f"{'workload':<14}{'hardware':<16}{'layers/s':>12}{'sim s / wall s':>16}{'target':>10}")
    for w, h in (("vr_gaming", "dual_4k_ws_os"), ("ar_assistant", "quad_8k_ws_os")):
        r = throughput(w, h, "fcfs", args.repeats)
        ok = "ok" if r["layers_per_s"] >= 150_000 else "MISSED"
        print(f"{w:<14}{h:<16}{r['layers_per_s']:>12,.0f}{r['sim_s_per_wall_s']:>16.1f}{'150k ' + ok:>10}")
    for scheduler in ("fcfs", "dream"):
        print(f"\npeak memory of one run (tracemalloc), ar_assistant on quad_8k_ws_os, {scheduler}, trace off")
        print(f"{'duration ms':>12}{'peak MiB':>10}{'jobs':>8}{'KiB per job':>13}")
        rows = memory_vs_duration([1000.0, 4000.0, 16000.0], scheduler)
        for d, mib, jobs in rows:
            print(f"{d:>12.0f}{mib:>10.2f}{jobs:>8}{mib * 1024 / max(jobs, 1):>13.2f}")
        print(f"ratio peak(16 s) / peak(1 s): {rows[-1][1] / rows[0][1]:.2f} "
              f"for {rows[-1][0] / rows[0][0]:.0f}x the duration")
    print(f"\n(benchmark wall time {time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
