"""Start-up costs: `dream.simulate` in a loop, one `dream run` process, sweep estimates.

    python benchmarks/bench_startup.py                # the loop and the process figures
    python benchmarks/bench_startup.py --estimates    # + --dry-run estimate vs real wall time
    python benchmarks/bench_startup.py --no-loop      # the process figures only

1. 1,000 `dream.simulate(overrides)` calls over 10 configurations (5 scenarios x 2
   schedulers, 100 seeds each): the time per call beyond `run_spec` (compose and
   validation), next to a full Hydra compose per call (what every call paid before the
   composed base was reused), measured side by side in this process.
2. `dream run` as a whole process for 700 ms of VR Gaming on setting J (dual_4k_ws_os),
   median of several runs, next to `python -c pass` and to the imports alone: before
   (the package as of BASELINE, a git ref, --baseline) and now, run in turns.
3. (--estimates) For built-in specs of 10 to 1,400 points: the `--dry-run` estimate
   (start-up included, executor auto) against the real wall time of the same sweep.

Timings on a shared machine are noisy: medians, and the machine's load is printed.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
COMBOS = [[f"workload={w}", f"scheduler={s}"]
          for w in ("vr_gaming", "ar_gaming", "ar_assistant", "social_interaction_a", "outdoor_activity_a")
          for s in ("fcfs", "dream")]


def loop_figures(calls: int = 1000) -> None:
    """Per-call overhead of dream.simulate over 10 configurations, and a full compose for scale."""
    import dream
    from dream.api import run_spec
    from dream.config import build_spec, compose_plain

    extra = ["sim.duration_ms=20"]
    for c in COMBOS:  # first call of each: compose and cost tables, once per process
        dream.simulate(c + extra)
    per_seed = calls // len(COMBOS)
    overhead, total, sim = [], 0.0, 0.0
    t_all = time.perf_counter()
    for seed in range(per_seed):
        for c in COMBOS:
            t0 = time.perf_counter()
            cfg, _ = compose_plain(c + extra + [f"sim.seed={seed}"])
            spec = build_spec(cfg)
            t1 = time.perf_counter()
            res = run_spec(spec)
            t2 = time.perf_counter()
            overhead.append(t1 - t0)
            sim += t2 - t1
            total += res.summary["wall_s"]
    wall = time.perf_counter() - t_all
    n = per_seed * len(COMBOS)
    # the old way for scale: a full Hydra compose per call
    from hydra import compose, initialize_config_dir

    from dream.config import CONF_DIR

    full = []
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        for seed in range(10):
            t0 = time.perf_counter()
            compose(config_name="config", overrides=COMBOS[seed % len(COMBOS)] + extra + [f"sim.seed={seed}"])
            full.append(time.perf_counter() - t0)
    print(f"dream.simulate x {n} over {len(COMBOS)} configurations: {wall:.1f} s")
    print(f"  compose + validation per call: median {statistics.median(overhead) * 1e3:.2f} ms, "
          f"mean {statistics.mean(overhead) * 1e3:.2f} ms (target <= 10 ms)")
    print(f"  run_spec per call: {sim / n * 1e3:.1f} ms (the engine's own loop {total / n * 1e3:.1f} ms)")
    print(f"  a full Hydra compose per call instead: median {statistics.median(full) * 1e3:.1f} ms "
          f"-> {statistics.median(full) / statistics.median(overhead):.0f}x the reused base")


def _times(cmds: list[list[str]], cwd: str, runs: int, envs: list[dict[str, str]]) -> list[tuple[float, float]]:
    """Median wall and median CPU (user+sys of the child) of each command, in seconds.

    The commands take turns, run after run, so a change in the machine's load falls on
    all of them alike.
    """
    walls: list[list[float]] = [[] for _ in cmds]
    cpus: list[list[float]] = [[] for _ in cmds]
    for _ in range(runs):
        for i, (cmd, env) in enumerate(zip(cmds, envs)):
            before = os.times()
            t0 = time.perf_counter()
            subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
            walls[i].append(time.perf_counter() - t0)
            after = os.times()
            cpus[i].append((after.children_user - before.children_user)
                           + (after.children_system - before.children_system))
    return [(statistics.median(w), statistics.median(c)) for w, c in zip(walls, cpus)]


# the last commit before `dream run`'s start-up was cut (lazy XRBench tables, no OmegaConf
# on the run path): the "before" column
BASELINE = "58ca4e9"


def _checkout(ref: str, dest: str) -> str | None:
    """The package tree of `ref` extracted into dest (git archive); None if git cannot."""
    try:
        os.makedirs(dest, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "dream"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return dest


def process_figures(runs: int = 7, baseline: str | None = BASELINE) -> None:
    """`dream run` as a whole process (700 ms of VR Gaming on setting J), with baselines,
    before (`baseline`, a git ref) and now side by side."""
    # Python's bytecode caches are on, as after an install (PYTHONDONTWRITEBYTECODE would
    # make every run compile dream's ~60 modules again: about 0.1 s of CPU)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as tmp:
        old_tree = _checkout(baseline, os.path.join(tmp, "baseline")) if baseline else None
        env_old = {**env, "PYTHONPATH": old_tree} if old_tree else None  # found before the install
        run = [PY, "-m", "dream.cli", "run", "workload=vr_gaming", "hardware=dual_4k_ws_os",
               "sim.duration_ms=700", f"output={tmp}/run"]
        imports = [PY, "-c", "import dream.cli, dream.api, dream.rundir, dream.config, dream.cost, "
                             "dream.metrics, dream.sim.engine, dream.schedulers, dream.workload.catalog"]
        rows = [
            ("python -c pass", [PY, "-c", "pass"], False),
            ("imports of dream run (numpy, pyarrow, the simulator)", imports, True),
            ("dream run (700 ms of vr_gaming on J)", run, True),
        ]
        for cmd, e in ((run, env), (run, env_old)):  # warm the file and bytecode caches, compose once
            if e is not None:
                subprocess.run(cmd, cwd=tmp, env=e, check=True, capture_output=True)
        print(f"whole processes, median of {runs} (load average {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} CPUs), wall / cpu in s:")
        head = f"before ({baseline})" if env_old else "before: none"
        print(f"  {'':<62}{head:<22}now")
        for label, cmd, both in rows:
            if both and env_old:
                (w0, c0), (w1, c1) = _times([cmd, cmd], tmp, runs, [env_old, env])
                print(f"  {label:<62}{w0:.3f} / {c0:.3f}        {w1:.3f} / {c1:.3f}")
            else:
                ((w1, c1),) = _times([cmd], tmp, runs, [env])
                print(f"  {label:<62}{'':<22}{w1:.3f} / {c1:.3f}")
        print("  target: dream run under 0.4 s (XRBench-MAESTRO's whole C++ process: 1.9 s)")
        print("  where one dream run's time goes (one fresh process, composition remembered):")
        for name, e in (("before", env_old), ("now", env)):
            if e is not None:
                phases = subprocess.run([PY, "-c", PHASES], capture_output=True, text=True, check=True,
                                        cwd=tmp, env=e)
                print(f"   {name:<7}" + phases.stdout.strip())


# the phases of `dream run`'s fast path, timed inside one fresh process
PHASES = """
import tempfile, time
t0 = time.perf_counter()
import dream.api, dream.rundir, dream.sim.engine, dream.metrics, dream.cost, dream.workload.catalog
from dream.config import build_spec, compose_remembered, config_dirs
t1 = time.perf_counter()
out = tempfile.mkdtemp(dir=".")
args = ["workload=vr_gaming", "hardware=dual_4k_ws_os", "sim.duration_ms=700", "output=" + out]
cfg, _ = compose_remembered(args, config_dirs())
t2 = time.perf_counter()
spec = build_spec(cfg)
t3 = time.perf_counter()
res = dream.api.run_spec(spec)
t4 = time.perf_counter()
dream.rundir.write_run(res, out, cfg)
t5 = time.perf_counter()
print(f"imports {t1 - t0:.3f} s, compose {t2 - t1:.3f} s, build_spec (catalog, layer tables) "
      f"{t3 - t2:.3f} s, run_spec {t4 - t3:.3f} s (the engine's loop {res.summary['wall_s']:.3f} s), "
      f"write {t5 - t4:.3f} s; total {t5 - t0:.3f} s")
"""


SPECS = ["example", "demo", "tune_dream", "dream_ablation", "schedulers", "paper"]


def estimate_figures(specs: list[str]) -> None:
    """--dry-run's estimate (executor auto) against the real wall time of the same sweep."""
    print(f"{'spec':<16}{'points':>7}  {'dry-run says':<13}{'estimate s':>11}  {'real run':<10}{'real s':>8}"
          f"{'ratio':>7}")
    for name in specs:
        with tempfile.TemporaryDirectory() as tmp:
            base = [PY, "-m", "dream.cli", "sweep", name, "--out", f"{tmp}/o", "--no-progress"]
            dry = subprocess.run(base + ["--dry-run"], capture_output=True, text=True, check=True, cwd=tmp)
            est = float(re.search(r"estimated time: ([\d.]+) s", dry.stdout).group(1))
            kind = re.search(r"executor (\w+)", dry.stdout).group(1)
            points = int(re.search(r": (\d+) points", dry.stdout).group(1))
            real = subprocess.run(base, capture_output=True, text=True, cwd=tmp)
            assert real.returncode == 0, real.stdout + real.stderr
            m = re.search(r"ran in ([\d.]+) s (in this process|on Ray)?", real.stdout)
            wall, used = float(m.group(1)), ("ray" if m.group(2) == "on Ray" else "serial")
            print(f"{name:<16}{points:>7}  {kind:<13}{est:>11.1f}  {used:<10}{wall:>8.1f}{est / wall:>7.2f}",
                  flush=True)


def main() -> None:
    """Print the figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--estimates", action="store_true", help="also compare --dry-run estimates with real sweeps")
    p.add_argument("--specs", nargs="*", default=SPECS, help="specs for --estimates")
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--runs", type=int, default=7, help="runs of each process (medians)")
    p.add_argument("--baseline", default=BASELINE,
                   help="git ref of the 'before' column of the process figures ('' for none)")
    p.add_argument("--no-loop", action="store_true", help="skip the dream.simulate loop figures")
    a = p.parse_args()
    if not a.no_loop:
        loop_figures(a.calls)
    process_figures(a.runs, a.baseline or None)
    if a.estimates:
        estimate_figures(a.specs)


if __name__ == "__main__":
    main()
