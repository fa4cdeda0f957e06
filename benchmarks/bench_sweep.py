"""Sweep framework costs: per-point overhead, parallel efficiency, expanding a large spec.

    .venv/bin/python benchmarks/bench_sweep.py [--points 300] [--repeats 3]

1. Overhead per point: a sweep's execution-loop wall time minus the simulations' own time
   (sum of each point's elapsed time in its worker) divided by the workers, per point.
   Target <= 2 ms (Hydra's multirun launchers cost ~100 ms per job). The one-time start
   (planning, Ray start, workers importing the simulator, calibration) is printed apart.
2. Parallel efficiency: serial loop time / (2 x Ray loop time with 2 workers), target
   >= 85%; the end-to-end figure (including the one-time start) is printed too.
3. Expanding a 100,000-point spec (compose, key and validate every point): target < 10 s
   and < 1 GiB, measured in a fresh process (peak RSS and tracemalloc peak).

Medians of --repeats runs; absolute figures and ratios come from the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dream.sweep.runner import SweepOptions, SweepReport, run_sweep  # noqa: E402

EXPAND_CODE = r"""
import json, sys, time, tracemalloc
from dream.sweep.plan import make_plan
from dream.sweep.spec import parse_spec

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024

spec = parse_spec(json.loads(sys.argv[1]))
trace = sys.argv[2] == "trace"  # tracemalloc slows allocation ~5x: time and trace apart
rss0 = status("VmRSS")
if trace:
    tracemalloc.start()
t = time.perf_counter()
plan = make_plan(spec)
dt = time.perf_counter() - t
peak = tracemalloc.get_traced_memory()[1] if trace else None
print(json.dumps({"points": len(plan), "combos": len(plan.resolver.combinations), "s": dt,
                  "traced_peak": peak, "rss_before": rss0, "rss_after": status("VmRSS"),
                  "rss_peak": status("VmHWM")}))
"""


def sweep_once(spec: Path, executor: str, workers: int, out: Path) -> SweepReport:
    """One full sweep into a fresh dataset."""
    with open("/dev/null", "w") as devnull:
        report = run_sweep(SweepOptions(spec=str(spec), executor=executor, workers=workers,
                                        out=str(out), progress=False), out_stream=devnull)
    assert report.exit_code == 0 and report.failed == 0, report
    return report


def overhead_ms(r: SweepReport) -> float:
    """Loop wall time not explained by simulation, per point, in ms."""
    return (r.run_s - r.run_sim_s / r.workers) / max(r.run_points, 1) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=300, help="points per sweep (even)")
    ap.add_argument("--duration-ms", type=int, default=1000, help="simulated horizon per point")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--expand", type=int, default=100_000, help="points of the expansion benchmark")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    spec = tmp / "bench.yaml"
    spec.write_text(f"name: bench\noverrides: [sim.duration_ms={args.duration_ms}]\n"
                    f"grid:\n  scheduler: fcfs,latency_greedy\n  sim.seed: range(0,{args.points // 2})\n")

    serial, ray2 = [], []
    for i in range(args.repeats):
        serial.append(sweep_once(spec, "serial", 1, tmp / f"serial{i}"))
        ray2.append(sweep_once(spec, "ray", 2, tmp / f"ray{i}"))
        s, r = serial[-1], ray2[-1]
        print(f"run {i + 1}: serial loop {s.run_s:.2f} s (sims {s.run_sim_s:.2f} s) | ray x2 start "
              f"{r.startup_s:.2f} s, loop {r.run_s:.2f} s (sims {r.run_sim_s:.2f} s, chunk "
              f"{r.chunk_size}, {r.ran - r.run_points} calibration points)", flush=True)

    med = statistics.median
    per_point = med(s.run_sim_s / s.run_points for s in serial) * 1e3
    print(f"\n== {args.points} points of sim.duration_ms={args.duration_ms} (vr_gaming on "
          f"dual_4k_ws_os, fcfs + latency_greedy), median of {args.repeats} ==")
    print(f"simulation time per point (serial): {per_point:.1f} ms")
    ov_s, ov_r = med(map(overhead_ms, serial)), med(map(overhead_ms, ray2))
    print(f"framework overhead per point: serial {ov_s:.2f} ms, ray 2 workers {ov_r:.2f} ms "
          f"(target <= 2 ms; {ov_r / per_point:.1%} of a point's simulation)")
    print(f"one-time start of a Ray sweep (plan, ray.init, worker imports, calibration): "
          f"{med(r.startup_s for r in ray2):.2f} s")
    # per point: the Ray sweep ran a few points in the driver to calibrate its chunk size
    s_pp = med(s.run_s / s.run_points for s in serial)
    r_pp = med(r.run_s / r.run_points for r in ray2)
    print(f"parallel efficiency, 2 workers vs serial (execution loop): {s_pp / (2 * r_pp):.1%} "
          f"(serial {s_pp * 1e3:.1f} ms/point, ray {r_pp * 1e3:.1f} ms/point; target >= 85%)")
    s_wall, r_wall = med(s.wall_s for s in serial), med(r.wall_s for r in ray2)
    print(f"parallel efficiency end to end, incl. the one-time start: {s_wall / (2 * r_wall):.1%} "
          f"(serial {s_wall:.2f} s, ray {r_wall:.2f} s for {args.points} points)")
    sim_s, sim_r = med(s.run_sim_s / s.run_points for s in serial), med(r.run_sim_s / r.run_points for r in ray2)
    print(f"a point's own time: serial {sim_s * 1e3:.1f} ms, on 2 busy workers {sim_r * 1e3:.1f} ms "
          f"({sim_r / sim_s:.2f}x: two simulations share this machine's 2 cores and memory)")

    seeds = args.expand // 40
    raw = {"name": "expand", "overrides": ["sim.duration_ms=1000"],
           "grid": {"workload": "glob(*)", "hardware": "dual_4k_ws_os,dual_4k_ws",
                    "scheduler": "fcfs,latency_greedy", "sim.seed": f"range(0,{seeds})"}}
    def expand(mode: str) -> dict:
        res = subprocess.run([sys.executable, "-c", EXPAND_CODE, json.dumps(raw), mode],
                             capture_output=True, text=True, cwd=ROOT, check=True)
        return json.loads(res.stdout)

    runs = [expand("time") for _ in range(args.repeats)]
    e = sorted(runs, key=lambda r: r["s"])[len(runs) // 2]
    traced = expand("trace")
    gib = 2 ** 30
    print(f"\n== expanding a {e['points']:,}-point spec ({e['combos']} group combinations; every "
          f"point composed-or-assembled, patched, keyed and validated), median of {args.repeats} ==")
    print(f"time: {e['s']:.2f} s ({e['s'] / e['points'] * 1e6:.1f} us per point; target < 10 s)")
    print(f"memory: process peak RSS {e['rss_peak'] / 2**20:.0f} MiB ({e['rss_peak'] / gib:.1%} of the "
          f"1 GiB target; {e['rss_before'] / 2**20:.0f} MiB after imports, "
          f"{(e['rss_after'] - e['rss_before']) / 2**20:.0f} MiB more holding the plan); "
          f"tracemalloc peak {traced['traced_peak'] / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
