"""`dream validate xrbench`: reproduce XRBench-MAESTRO's published scores (docs/validation.md).

The validation set: XRBench's VR Gaming and Social Interaction B scenarios with XRBench's
own model encodings (`workload=xrbench_*`), MAESTRO's per-layer costs (the bundled
signature-keyed table, `cost=xrbench_maestro`), XRBench's runtime (`+experiment=xrbench`) and all
38 hardware combinations XRBench evaluates (ten PE layouts x their dataflow files): 76
configurations. For each, dream's XRBench score (overall and per model RT, EN, UX) is
compared with XRBench-MAESTRO's own output (`dream/workload/data/xrbench_scores.csv`).

The hardware is generated here from XRBench's definitions (`XRBENCH_LAYOUTS`) rather than
shipped as 38 YAML files: sub-accelerator i has the i-th PE count of the layout and the
i-th dataflow of the combination, as XRBench's harness pairs its hw and dataflow files.

The set is the bundled one whatever the working directory: configs come from the built-in
dream/conf/ only (a user's ./conf or --config-dir is not searched), and overrides of what
the validation sets itself (workload, hardware, cost, the experiment overlay) are refused.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dream.errors import ConfigError
from dream.hardware import Accelerator, System
from dream.metrics.summary import counted_mask
from dream.workload.xrbench import DATA_DIR

COSTS_FILE = DATA_DIR / "xrbench_maestro_costs.csv"
COST_CONFIG = "xrbench_maestro"  # conf/cost/xrbench_maestro.yaml: the table above, as pkg:
SCORES_FILE = DATA_DIR / "xrbench_scores.csv"

# XRBench's scenario names (as its summary files spell them) -> dream workloads
SCENARIOS = {"VR_gaming": "xrbench_vr_gaming", "social_interactionB": "xrbench_social_interaction_b"}

# XRBench's hw_configs/*.m: PE count of each sub-accelerator in file order, and the NoC
# bandwidth (top and column NoC alike); 4K layouts have 2 MiB / 8 KiB buffers, 8K 4 MiB / 16 KiB
XRBENCH_LAYOUTS: dict[str, tuple[tuple[int, ...], int]] = {
    "Single_4K": ((4096,), 256),
    "Single_8K": ((8192,), 256),
    "Dual_4K": ((2048, 2048), 128),
    "Dual_4K_BigLittle": ((3072, 1024), 128),
    "Dual_4K_LittleBig": ((1024, 3072), 128),
    "Dual_8K": ((4096, 4096), 256),
    "Dual_8K_BigLittle": ((6144, 2048), 256),
    "Dual_8K_LittleBig": ((2048, 6144), 256),
    "Quad_4K": ((1024,) * 4, 128),
    "Quad_8K": ((2048,) * 4, 256),
}

# What docs/validation.md promises: the share of configurations within these tolerances
TOL_OVERALL = 0.01  # points of the 0..100 overall score
TOL_MODEL = 0.001  # per-model RT, EN and UX (0..1)
PROMISED_SHARE = 1.0

METRICS = ("rt", "en", "ux")

# What the validation sets itself, so an extra override of it would be ignored or would
# change what is compared: override key (a group or a prefix of dotted keys) -> what is set
FIXED_KEYS = {
    "workload": "the workload: XRBench's scenarios, chosen with --scenario",
    "hardware": "the hardware: XRBench's 38 combinations, generated in dream/validate.py",
    "cost": f"the cost model: cost={COST_CONFIG}, MAESTRO's bundled costs",
    "experiment": "+experiment=xrbench; to try one option of it, override that option, "
                  "e.g. sim.clock=event",
}


# what an extra override may change: the runtime and the scheduler's options
OPEN_GROUPS = ("sim", "scheduler")


def check_overrides(overrides: list[str]) -> None:
    """Refuse an override the validation would ignore or that replaces what it sets itself.

    ConfigError naming the override: one of FIXED_KEYS, or anything outside OPEN_GROUPS
    (e.g. `output=`, which the validation never reads).
    """
    allowed = "extra overrides may change only sim.* and scheduler.* (docs/validation.md)"
    for o in overrides:
        key = o.split("=", 1)[0].strip().lstrip("+~")
        group = key.split(".", 1)[0].split("@", 1)[0]
        if group in FIXED_KEYS:
            raise ConfigError(o, f"the validation sets this itself ({FIXED_KEYS[group]}); {allowed}")
        if group not in OPEN_GROUPS:
            raise ConfigError(o, f"not used by the validation; {allowed}")


def xrbench_system(hw_config: str, dataflows: str) -> System:
    """The dream system of one XRBench hardware combination, e.g. ('Dual_4K_BigLittle', 'WS_OS').

    Raises ConfigError naming the combination when the layout is unknown or the number of
    dataflows does not match its sub-accelerators.
    """
    if hw_config not in XRBENCH_LAYOUTS:
        raise ConfigError("validate.hw_config", f"unknown XRBench hardware {hw_config!r}; "
                          f"allowed: {sorted(XRBENCH_LAYOUTS)}")
    pes, noc = XRBENCH_LAYOUTS[hw_config]
    flows = dataflows.split("_")
    if len(flows) != len(pes):
        raise ConfigError("validate.dataflows", f"{hw_config} has {len(pes)} sub-accelerators; "
                          f"got dataflows {dataflows!r}")
    big = sum(pes) > 4096
    accs = tuple(
        Accelerator(name=f"acc{i}", dataflow=f, num_pes=p, noc_bw=float(noc), offchip_bw=128.0,
                    clock_ghz=1.0, l1_kib=16.0 if big else 8.0, l2_kib=4096.0 if big else 2048.0)
        for i, (p, f) in enumerate(zip(pes, flows))
    )
    return System(name=f"{hw_config}__{dataflows}", accelerators=accs, offchip_bw=128.0)


def xrbench_task_scores(jobs: pd.DataFrame, warmup_ms: float, duration_ms: float) -> pd.DataFrame:
    """Per task, XRBench's summary columns: rt, en (means over completed inferences), ux, score.

    ux = 1 - dropped / (completed + dropped); score = sum(RT x EN) / (completed + dropped) x ux,
    as XRBench's scoring module; jobs neither completed nor dropped (still queued or running
    when the run stops) are not logged by XRBench and not counted here. One row per task
    with at least one completed or dropped job, indexed by task name.
    """
    jobs = jobs[counted_mask(jobs, warmup_ms, duration_ms)]
    status = jobs["status"].to_numpy()
    done = (status == "on_time") | (status == "late")
    dropped = status == "dropped"
    rows = {}
    for name, idx in jobs.groupby("task", sort=False).indices.items():
        d, n_drop = idx[done[idx]], int(dropped[idx].sum())
        frames = len(d) + n_drop
        if frames == 0:
            continue
        delay = jobs["finish_ms"].to_numpy()[d] - jobs["deadline_ms"].to_numpy()[d]
        rt = 1.0 / (1.0 + np.exp(np.clip(15.0 * delay, -700, 700)))
        en = (1500.0 - jobs["energy_nj"].to_numpy(dtype=float)[d] / 1e6) / 1500.0
        ux = 1.0 - n_drop / frames
        rows[str(name)] = {
            "rt": float(rt.mean()) if len(d) else 0.0,
            "en": float(en.mean()) if len(d) else 0.0,
            "ux": ux,
            "score": float((rt * en).sum()) / frames * ux,
        }
    return pd.DataFrame.from_dict(rows, orient="index", columns=["rt", "en", "ux", "score"])


@dataclass
class Validation:
    """The comparison: one row per (configuration, model) and one per configuration."""

    models: pd.DataFrame  # scenario, hw_config, dataflows, model, {rt,en,ux}_{dream,xrbench,diff}
    configs: pd.DataFrame  # scenario, hw_config, dataflows, overall_{dream,xrbench,diff}, ok
    wall_s: float

    @property
    def share_within(self) -> float:
        """Share of configurations whose overall score is within TOL_OVERALL points."""
        return float((self.configs["overall_diff"].abs() <= TOL_OVERALL).mean())

    @property
    def share_ok(self) -> float:
        """Share of configurations within both tolerances (overall and every per-model metric)."""
        return float(self.configs["ok"].mean())

    @property
    def passed(self) -> bool:
        """Whether agreement reaches what docs/validation.md promises."""
        return self.share_ok >= PROMISED_SHARE


def load_reference(path: str | Path = SCORES_FILE) -> pd.DataFrame:
    """XRBench-MAESTRO's scores: scenario, hw_config, dataflows, model, rt/en/ux, overall."""
    ref = pd.read_csv(path)
    return ref.rename(columns={"rt_score": "rt", "en_score": "en", "ux_score": "ux",
                               "overall_score_x100": "overall"})


def validate_xrbench(overrides: list[str] | None = None, scenarios: list[str] | None = None,
                     experiment: str | None = "xrbench") -> Validation:
    """Run the 76 configurations in-process and compare them with XRBench's scores.

    `overrides` are extra Hydra overrides (applied after the validation's own); `scenarios`
    restricts the set to some of XRBench's scenario names (keys of SCENARIOS); `experiment`
    is the overlay that sets XRBench's runtime semantics (None: dream's defaults). Configs
    come from the built-in dream/conf/ only. Raises ConfigError when an override sets what
    the validation sets itself (`check_overrides`) or the composition fails.
    """
    from dream.config import builtin_configs_only

    check_overrides(list(overrides or []))
    # a user's ./conf/workload/xrbench_vr_gaming.yaml must not replace the bundled scenario
    with builtin_configs_only():
        return _run_set(list(overrides or []), scenarios, experiment)


def _run_set(overrides: list[str], scenarios: list[str] | None, experiment: str | None) -> Validation:
    """validate_xrbench's runs and comparison (the search path already pinned)."""
    from dream.api import run_spec
    from dream.config import build_spec, compose

    t0 = time.perf_counter()
    ref = load_reference()
    wanted = list(SCENARIOS) if scenarios is None else scenarios
    unknown = sorted(set(wanted) - set(SCENARIOS))
    if unknown:
        raise ConfigError("validate.scenario", f"unknown scenario(s) {unknown}; allowed: {list(SCENARIOS)}")
    model_rows, config_rows = [], []
    for scenario in wanted:
        exp = [f"+experiment={experiment}"] if experiment else []
        base = build_spec(compose([f"workload={SCENARIOS[scenario]}", *exp, f"cost={COST_CONFIG}",
                                   *overrides]))
        sref = ref[ref["scenario"] == scenario]
        for (hw, flows), cref in sref.groupby(["hw_config", "dataflows"], sort=True):
            spec = dataclasses.replace(base, system=xrbench_system(str(hw), str(flows)))
            result = run_spec(spec)
            ours = xrbench_task_scores(result.jobs, spec.sim.warmup_ms, spec.sim.duration_ms)
            overall = 100.0 * float(ours["score"].mean()) if len(ours) else float("nan")
            ok = True
            for _, r in cref.iterrows():
                row = {"scenario": scenario, "hw_config": hw, "dataflows": flows, "model": r["model"]}
                for m in METRICS:
                    mine = float(ours.at[r["model"], m]) if r["model"] in ours.index else float("nan")
                    diff = mine - float(r[m])
                    row.update({f"{m}_dream": mine, f"{m}_xrbench": float(r[m]), f"{m}_diff": diff})
                    ok &= bool(abs(diff) <= TOL_MODEL)
                model_rows.append(row)
            x_overall = float(cref["overall"].iloc[0])
            diff = overall - x_overall
            ok &= bool(abs(diff) <= TOL_OVERALL)
            config_rows.append({"scenario": scenario, "hw_config": hw, "dataflows": flows,
                                "overall_dream": overall, "overall_xrbench": x_overall,
                                "overall_diff": diff, "ok": ok})
    return Validation(pd.DataFrame(model_rows), pd.DataFrame(config_rows), time.perf_counter() - t0)


def format_validation(v: Validation, only_failures: bool = False) -> str:
    """The per-configuration table (overall, then RT/EN/UX per model) and the summary."""
    lines = []
    head = f"{'configuration':<46} {'dream':>10} {'XRBench':>10} {'diff':>9}"
    lines.append(head)
    lines.append(f"  {'model':<28} {'RT dream/XRBench':>21} {'EN dream/XRBench':>21} {'UX dream/XRBench':>21}")
    for _, c in v.configs.iterrows():
        if only_failures and c["ok"]:
            continue
        name = f"{c['scenario']} {c['hw_config']} {c['dataflows']}"
        flag = "" if c["ok"] else "  MISMATCH"
        lines.append(f"{name:<46} {c['overall_dream']:>10.4f} {c['overall_xrbench']:>10.4f} "
                     f"{c['overall_diff']:>+9.4f}{flag}")
        sel = v.models[(v.models["scenario"] == c["scenario"]) & (v.models["hw_config"] == c["hw_config"])
                       & (v.models["dataflows"] == c["dataflows"])]
        for _, m in sel.iterrows():
            cells = " ".join(f"{m[f'{k}_dream']:>10.6f}/{m[f'{k}_xrbench']:<10.6f}" for k in METRICS)
            lines.append(f"  {m['model']:<28} {cells}")
    d = v.configs["overall_diff"].abs()
    worst_model = max(float(v.models[f"{k}_diff"].abs().max()) for k in METRICS) if len(v.models) else float("nan")
    n = len(v.configs)
    lines += [
        "",
        f"configurations: {n} ({', '.join(sorted(v.configs['scenario'].unique()))}; "
        f"{v.configs['hw_config'].nunique()} layouts)",
        f"overall score within {TOL_OVERALL} points: {int((d <= TOL_OVERALL).sum())}/{n} "
        f"({100 * v.share_within:.1f}%); |diff| median {d.median():.4f}, worst {d.max():.4f}",
        f"per-model RT/EN/UX within {TOL_MODEL}: worst |diff| {worst_model:.6f}",
        f"configurations within both tolerances: {int(v.configs['ok'].sum())}/{n} "
        f"(promised: {100 * PROMISED_SHARE:.0f}%)",
        f"wall time: {v.wall_s:.1f} s",
        "PASS" if v.passed else "FAIL: agreement below what docs/validation.md promises",
    ]
    return "\n".join(lines)


def _note_ignored_config_dirs() -> None:
    """One stderr line when a --config-dir or ./conf would have been searched by other commands."""
    from dream.config import config_dirs

    try:
        user = config_dirs().user_dirs
    except ConfigError:  # a --config-dir that is gone: not searched here either
        return
    if user:
        print(f"note: dream validate uses the built-in configs only; not searched: "
              f"{', '.join(str(d) for d in user)}", file=sys.stderr)


def cmd_validate(args: list[str]) -> None:
    """`dream validate xrbench [--scenario NAME] [--only-failures] [OVERRIDES]`."""
    parser = argparse.ArgumentParser(
        prog="dream validate",
        description="Reproduce XRBench-MAESTRO's scores on the bundled validation set (docs/validation.md). "
                    "It always runs the bundled set: configs come from the built-in dream/conf/ only "
                    "(./conf and --config-dir are not searched), and the validation sets the workload, "
                    "hardware, cost model and +experiment=xrbench itself (overrides of them are refused).")
    parser.add_argument("target", choices=["xrbench"], help="what to validate against")
    parser.add_argument("--scenario", action="append", choices=list(SCENARIOS),
                        help="only this XRBench scenario (repeatable; default: both)")
    parser.add_argument("--only-failures", action="store_true", help="print only mismatching configurations")
    parser.add_argument("overrides", nargs="*",
                        help="extra Hydra overrides of sim.* or scheduler.* (e.g. sim.clock=event)")
    ns = parser.parse_intermixed_args(args)
    try:
        check_overrides(ns.overrides)  # before the note: a refused command prints one line
        _note_ignored_config_dirs()
        v = validate_xrbench(ns.overrides, ns.scenario)
    except ConfigError as exc:
        print(f"dream validate: error: {exc}", file=sys.stderr)
        sys.exit(2)
    print(format_validation(v, ns.only_failures))
    sys.exit(0 if v.passed else 1)
