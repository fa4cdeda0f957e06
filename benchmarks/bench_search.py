"""How much of the exhaustive grid does `dream search` need to find the grid's best?

    .venv/bin/python benchmarks/bench_search.py [--seeds 5] [--out outputs/bench_search]

1. tune_dream space (sweeps/search_tune_dream.yaml: alpha on a log scale, beta, the drop
   threshold; 3 scenarios x 3 seeds per trial). The grid of sweeps/tune_dream.yaml (48
   parameter sets, 432 simulations) is run once for the reference. Then random search,
   TPE, and TPE with fidelity rungs (one seed first, all three for the trials successive
   halving promotes) each search until they have spent 40% of the grid's simulated
   seconds, once per search seed. From each search's trial history the best geometric-mean
   UXCost found within 10%, 20% and 40% of the grid's simulated seconds is read (a
   search stopped at budget B asks the same trials as the prefix of a longer one: the
   sampler is re-seeded per batch from the history; see `spending` for how a batch's
   simulations are charged). Reported: the median over search seeds, and the ratio to
   the grid's best.
2. The grid's own 48 parameter sets as choice(...) values, 20 TPE trials: the best found
   against the grid's best, and how many simulations the repeated parameter sets saved.
3. DSE space (sweeps/search_dse.yaml: PE budget x share x dataflow mix x scheduler;
   UXCost, energy and the PE count): the grid of sweeps/dse.yaml (54 designs, 486 simulations) and
   searches (TPE, random) at 30% of its simulated seconds; the hypervolume of each
   search's Pareto front as a share of the grid front's, both against one reference point
   (10% beyond the worst design of the grid in each objective), and, stricter, over log10
   objectives against the grid's median design.

Everything runs serially in this process; datasets go under --out, and a rerun continues
from them (the grid sweeps skip stored points, the searches resume their journals).
"""

from __future__ import annotations

import argparse
import io
import math
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from dream.dataset import read_dataset
from dream.search.pareto import hypervolume, non_dominated
from dream.search.spec import load_search_spec
from dream.search.study import SearchOptions, run_search
from dream.sweep.runner import SweepOptions, run_sweep
from dream.sweep.spec import find_spec

BUDGETS = (0.10, 0.20, 0.40)
TUNE_KEYS = ["scheduler.alpha", "scheduler.beta", "scheduler.drop_threshold"]
DSE_KEYS = ["hardware.total_pes", "hardware.first_share", "hardware.mix", "scheduler"]


def grid(spec: str, out: Path) -> pd.DataFrame:
    """Run a sweep spec serially (skipping stored points) and return its ok rows."""
    from dream.dataset import DatasetError

    while True:
        try:
            rep = run_sweep(SweepOptions(spec=spec, executor="serial", out=str(out), progress=False),
                            out_stream=io.StringIO())
            break
        except DatasetError as exc:  # another bench process is running this grid: wait for it
            if "another dream process" not in str(exc):
                raise
            time.sleep(10)
    print(f"  grid {spec}: {rep.points} points ({rep.ran} simulated now) in {rep.wall_s:.0f} s",
          flush=True)
    df = read_dataset(out)
    return df[df["status"] == "ok"]


def geomean_by(df: pd.DataFrame, keys: list[str], metric: str) -> pd.Series:
    """Geometric mean of a metric over each parameter set's points."""
    return df.groupby(keys)[metric].apply(lambda v: float(np.exp(np.log(v).mean())))


def write_spec(base: str, path: Path, changes: dict[str, Any]) -> Path:
    """A copy of a shipped search spec with changes to its search: block."""
    raw = yaml.safe_load(find_spec(base).read_text())
    raw["search"].update(changes)
    raw["name"] = path.stem
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def search(spec_path: Path, out: Path) -> Any:
    """Run (or continue) a search serially; its study."""
    from dream.search.study import open_study

    t0 = time.perf_counter()
    rep = run_search(SearchOptions(spec=str(spec_path), executor="serial", out=str(out),
                                   progress=False))
    spec = load_search_spec(spec_path)
    study = open_study(spec, out.absolute(), create=False)
    print(f"    {spec_path.stem}: {len(study.trials)} trials, {rep.simulated} simulated now, "
          f"{rep.reused} reused, {time.perf_counter() - t0:.0f} s", flush=True)
    return spec, study


def spending(spec: Any, study: Any) -> list[tuple[float, Any]]:
    """Each trial with the study's simulated seconds spent when its result was known.

    Without rungs, the trials of a batch do not influence each other, so a search stopped
    after trial k (same batch size) asks the same trials: each trial is charged its own
    new simulations, in trial order. With rungs, the pruner compares a batch's trials at
    the cheap rung before any goes on, so the cheap rung of the whole batch is charged
    first, then each trial's remaining simulations in trial order.
    """
    from dream.search.study import ATTR_ROWS

    cheap = 0
    if spec.fidelity is not None and spec.fidelity.mode == "count":
        cheap = len(spec.sweep) * spec.fidelity.values[0] // spec.fidelity.values[-1]
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    seen: dict[str, float] = {}
    out = []
    for i in range(0, len(trials), spec.batch):
        group = trials[i:i + spec.batch]
        for t in group:
            seen.update({k: s for k, s in t.user_attrs.get(ATTR_ROWS, [])[:cheap]})
        for t in group:
            seen.update({k: s for k, s in t.user_attrs.get(ATTR_ROWS, [])})
            out.append((sum(seen.values()), t))
    return out


def best_within(spec: Any, study: Any, budget_s: float) -> float:
    """The best (lowest) objective among completed trials known within budget_s."""
    from optuna.trial import TrialState

    vals = [t.values[0] for cost, t in spending(spec, study)
            if cost <= budget_s + 1e-9 and t.state == TrialState.COMPLETE]
    return min(vals, default=math.inf)


def front_within(spec: Any, study: Any, budget_s: float) -> np.ndarray:
    """Objective values of the completed trials known within budget_s."""
    from optuna.trial import TrialState

    vals = [t.values for cost, t in spending(spec, study)
            if cost <= budget_s + 1e-9 and t.state == TrialState.COMPLETE]
    return np.array(vals, dtype=float).reshape(-1, len(spec.objectives))


def part_tune(root: Path, seeds: int, only: list[str] | None = None) -> None:
    print("== tune_dream space: best geometric-mean UXCost by budget ==", flush=True)
    df = grid("tune_dream", root / "grid_tune_dream")
    per_set = geomean_by(df, TUNE_KEYS, "uxcost")
    grid_best = float(per_set.min())
    grid_s = len(df) * 1.0  # every point of tune_dream simulates 1000 ms
    print(f"  grid: {len(per_set)} parameter sets, {len(df)} simulations ({grid_s:.0f} simulated s); "
          f"best {grid_best:.5f} at {dict(zip(TUNE_KEYS, per_set.idxmin()))}; "
          f"median set {float(per_set.median()):.5f}", flush=True)
    methods = {
        "random": {"sampler": "random"},
        "tpe": {"sampler": "tpe"},
        "tpe+fidelity": {"sampler": "tpe", "fidelity": {"sim.seed": [1, 3]}, "pruner": "sha"},
    }
    if only:
        methods = {m: c for m, c in methods.items() if m in only}
    results: dict[str, list[list[float]]] = {m: [] for m in methods}
    for name, changes in methods.items():
        for seed in range(seeds):
            tag = f"tune_{name.replace('+', '_')}_s{seed}"
            path = write_spec("search_tune_dream", root / "specs" / f"{tag}.yaml",
                              {**changes, "seed": seed, "trials": 1000,
                               "budget_sim_s": BUDGETS[-1] * grid_s})
            spec, study = search(path, root / tag)
            results[name].append([best_within(spec, study, b * grid_s) for b in BUDGETS])
    print(f"\n  median over {seeds} search seeds of the best geometric-mean UXCost found "
          f"(ratio to the grid's best {grid_best:.5f}):")
    print("  " + f"{'method':<14}" + "".join(f"{f'{int(b * 100)}% ({b * grid_s:.0f} s)':>26}" for b in BUDGETS))
    for name, rows in results.items():
        cells = []
        for j in range(len(BUDGETS)):
            med = statistics.median(r[j] for r in rows)
            cells.append(f"{med:.5f} ({med / grid_best:.3f}x)")
        print("  " + f"{name:<14}" + "".join(f"{c:>26}" for c in cells))
    for name, rows in results.items():
        print(f"  {name}: per seed at 40%: " + ", ".join(f"{r[-1]:.5f}" for r in rows))


def part_choice(root: Path, seeds: int) -> None:
    print("\n== the grid's 48 parameter sets as choice(...), 20 TPE trials ==", flush=True)
    df = read_dataset(root / "grid_tune_dream")
    df = df[df["status"] == "ok"]
    grid_best = float(geomean_by(df, TUNE_KEYS, "uxcost").min())
    gaps, saved = [], []
    for seed in range(seeds):
        tag = f"choice_s{seed}"
        path = write_spec("search_tune_dream", root / "specs" / f"{tag}.yaml", {
            "params": {"scheduler.alpha": "choice(0.001,0.01,0.1,1.0)",
                       "scheduler.beta": "choice(0.0,0.25,0.5,1.0)",
                       "scheduler.drop_threshold": "choice(0.0,0.25,0.5)"},
            "trials": 20, "budget_sim_s": None, "seed": seed, "sampler": "tpe"})
        spec, study = search(path, root / tag)
        best = min(t.values[0] for t in study.trials if t.values)
        sets = {tuple(sorted(t.params.items())) for t in study.trials}
        gaps.append(best / grid_best - 1)
        saved.append((len(study.trials) - len(sets)) * len(spec.sweep))
    print(f"  best vs the grid's best: median {100 * statistics.median(gaps):+.2f}% "
          f"(per seed: {', '.join(f'{100 * g:+.2f}%' for g in gaps)}); within 2% in "
          f"{sum(g <= 0.02 for g in gaps)} of {seeds} seeds")
    print(f"  simulations saved by repeated parameter sets (rows reused by run key): "
          f"{', '.join(map(str, saved))}")


def part_dse(root: Path, seeds: int, only: list[str] | None = None) -> None:
    print("\n== DSE space (UXCost, energy, PEs): hypervolume at 30% of the grid's simulations ==",
          flush=True)
    df = grid("dse", root / "grid_dse")
    per = pd.DataFrame({m: geomean_by(df, DSE_KEYS, m) for m in ("uxcost", "energy_mj")})
    per["hardware.total_pes"] = per.index.get_level_values("hardware.total_pes").astype(float)
    pts = per.to_numpy(float)
    worst, best = pts.max(axis=0), pts.min(axis=0)
    ref = worst + 0.1 * (worst - best)
    grid_hv = hypervolume(pts, ref)
    # UXCost spans two orders of magnitude over this space: against the worst design, any
    # reasonable design covers most of the volume. The second measure is stricter: log10
    # of each objective, with the grid's median design as the reference point, so only
    # designs better than the median in every objective count
    log_ref = np.log10(np.median(pts, axis=0))
    grid_log_hv = hypervolume(np.log10(pts), log_ref)
    grid_s = len(df) * 1.0  # every point of dse simulates 1000 ms
    print(f"  grid: {len(per)} designs, front of {int(non_dominated(pts).sum())}, "
          f"hypervolume {grid_hv:.5g} (reference {ref.round(4).tolist()})", flush=True)
    for design, row in per[non_dominated(pts)].iterrows():
        print(f"    grid front: {dict(zip(DSE_KEYS, design))}: uxcost {row['uxcost']:.4f}, "
              f"energy {row['energy_mj']:.0f} mJ")
    ratios: dict[str, list[float]] = {m: [] for m in (only or ["tpe", "random"])}
    log_ratios: dict[str, list[float]] = {m: [] for m in ratios}
    for name in ratios:
        for seed in range(seeds):
            tag = f"dse_{name}_s{seed}"
            path = write_spec("search_dse", root / "specs" / f"{tag}.yaml", {
                "sampler": name, "seed": seed, "trials": 1000, "budget_sim_s": 0.3 * grid_s})
            spec, study = search(path, root / tag)
            found = front_within(spec, study, 0.3 * grid_s)
            ratios[name].append(hypervolume(found, ref) / grid_hv)
            log_ratios[name].append(hypervolume(np.log10(found), log_ref) / grid_log_hv)
    for name in ratios:
        r, lr = ratios[name], log_ratios[name]
        print(f"  {name}: hypervolume / grid's at 30%: median {statistics.median(r):.4f} "
              f"(per seed {', '.join(f'{x:.4f}' for x in r)}); log objectives, median reference: "
              f"median {statistics.median(lr):.3f} (per seed {', '.join(f'{x:.3f}' for x in lr)})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5, help="search seeds per method")
    p.add_argument("--out", default="outputs/bench_search", help="datasets (reused by a rerun)")
    p.add_argument("--parts", default="tune,choice,dse", help="which parts, comma-separated")
    p.add_argument("--methods", default=None,
                   help="only these searches (comma-separated: random, tpe, tpe+fidelity); "
                   "lets several processes share the work")
    a = p.parse_args()
    root = Path(a.out)
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"commit {rev or 'unknown'}; {a.seeds} search seeds; datasets under {root}/", flush=True)
    t0 = time.perf_counter()
    for part in a.parts.split(","):  # in the order given
        if part == "tune":
            part_tune(root, a.seeds, a.methods.split(",") if a.methods else None)
        elif part == "choice":
            grid("tune_dream", root / "grid_tune_dream")  # stored points are skipped
            part_choice(root, a.seeds)
        elif part == "dse":
            part_dse(root, a.seeds, a.methods.split(",") if a.methods else None)
        else:
            raise SystemExit(f"unknown part {part!r}; parts: tune, choice, dse")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
