"""Sweep specs: Hydra's grammar, grid x zip expansion, run keys, validation before running."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from dream.config import CONF_DIR, compose
from dream.errors import ConfigError
from dream.sweep.keys import run_key
from dream.sweep.plan import make_plan
from dream.sweep.resolve import Resolver
from dream.sweep.spec import iter_points, load_spec, parse_spec

ROOT = Path(__file__).resolve().parent.parent


def spec_of(**raw):
    """A parsed spec from keyword fields."""
    raw.setdefault("name", "t")
    return parse_spec(raw)


def full_key(overrides: list[str]) -> str:
    """The run key computed the slow, obvious way: compose everything with Hydra, hash."""
    return run_key(OmegaConf.to_container(compose(overrides), resolve=True))


def test_grid_is_the_product_in_key_order():
    spec = spec_of(grid={"scheduler": "fcfs,latency_greedy", "sim.seed": "range(0,3)"})
    points = list(iter_points(spec))
    assert spec.keys == ("scheduler", "sim.seed")
    assert len(spec) == len(points) == 6
    assert points[:4] == [("fcfs", 0), ("fcfs", 1), ("fcfs", 2), ("latency_greedy", 0)]


def test_grammar_types_and_yaml_values():
    spec = spec_of(grid={"sim.seed": "range(0,10,4)", "sim.context_switch_us": "0.5,2",
                         "sim.migration": [True, False], "sim.block_size": 3,
                         "sim.duration_ms": "choice(100, 200)"})
    vals = {p.key: p.values for p in spec.grid}
    assert vals["sim.seed"] == (0, 4, 8)
    assert vals["sim.context_switch_us"] == (0.5, 2)
    assert vals["sim.migration"] == (True, False)
    assert vals["sim.block_size"] == (3,)
    assert vals["sim.duration_ms"] == (100, 200)


def test_glob_lists_group_options_from_conf():
    spec = spec_of(grid={"hardware": "glob(dual_4k_*,exclude=dual_4k_rs)"})
    expected = sorted(p.stem for p in (CONF_DIR / "hardware").glob("dual_4k_*.yaml"))
    expected.remove("dual_4k_rs")
    assert list(spec.grid[0].values) == expected
    assert spec.grid[0].is_group


def test_zip_advances_together_and_multiplies_the_grid():
    spec = spec_of(grid={"sim.seed": "0,1"},
                   zip={"workload": ["vr_gaming", "ar_gaming"], "hardware": "dual_4k_ws_os,dual_4k_ws"})
    points = list(iter_points(spec))
    assert len(points) == 4
    assert set((w, h) for _, w, h in points) == {("vr_gaming", "dual_4k_ws_os"), ("ar_gaming", "dual_4k_ws")}


def test_run_key_is_the_hash_of_the_composed_config():
    spec = spec_of(overrides=["sim.duration_ms=100"],
                   grid={"scheduler": "fcfs,latency_greedy", "sim.seed": "0,7"})
    plan = make_plan(spec)
    for point, key in zip(plan.points, plan.keys):
        sched, seed = point
        assert key == full_key(["sim.duration_ms=100", f"scheduler={sched}", f"sim.seed={seed}"])


def test_hydra_path_and_fast_patch_agree():
    # ++ takes Hydra's own override path; a plain key takes the copy-on-write patch
    fast = make_plan(spec_of(grid={"sim.seed": "3"}))
    hydra = make_plan(spec_of(grid={"++sim.seed": "3"}))
    assert fast.keys == hydra.keys == [full_key(["sim.seed=3"])]


def test_run_keys_stable_and_sensitive():
    spec = spec_of(grid={"sim.seed": "0,1"})
    a, b = make_plan(spec), make_plan(spec)
    assert a.keys == b.keys and len(set(a.keys)) == 2
    other = make_plan(spec_of(overrides=["sim.duration_ms=999"], grid={"sim.seed": "0,1"}))
    assert not set(other.keys) & set(a.keys)
    newer = make_plan(spec, version="999.0")
    assert not set(newer.keys) & set(a.keys)
    # the same key in a fresh process (no hash randomisation, no process state)
    code = ("from dream.sweep.plan import make_plan; from dream.sweep.spec import parse_spec;"
            "print(' '.join(make_plan(parse_spec({'name':'t','grid':{'sim.seed':'0,1'}})).keys))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == a.keys


def test_points_resolving_to_one_config_collapse():
    # sim.seed=0 is the default: both points are the same simulation
    plan = make_plan(spec_of(grid={"sim.seed": "0,0,1"}))
    assert len(plan) == 2 and plan.duplicates == 1


def test_compose_once_per_group_combination():
    spec = spec_of(grid={"scheduler": "fcfs,latency_greedy", "sim.seed": "range(0,20)"})
    plan = make_plan(spec)
    assert len(plan) == 40
    assert len(plan.resolver.combinations) == 2


def test_rows_carry_identity_and_parameters():
    spec = spec_of(grid={"hardware": "dual_4k_ws", "sim.seed": "5", "sim.context_switch_us": "1,2"})
    res = Resolver(spec)
    point = next(iter_points(spec))
    config, _, _ = res.resolve(point)
    row = res.row_base(point, config)
    assert row == {"workload": "vr_gaming", "hardware": "dual_4k_ws", "scheduler": "fcfs",
                   "seed": 5, "sim.seed": 5, "sim.context_switch_us": 1.0}


def test_example_specs_are_valid():
    for name in ("example", "smoke"):
        spec = load_spec(name)
        assert len(make_plan(spec)) == len(spec) > 0


@pytest.mark.parametrize("raw, words", [
    ({"grid": {"hardware": "no_such_hw"}}, ["grid.hardware", "unknown option 'no_such_hw'"]),
    ({"grid": {"hardware": "glob(zzz_*)"}}, ["grid.hardware", "matches no option"]),
    ({"grid": {"sim.duration_ms": "100,-5"}}, ["sim.duration_ms", "must be", "got -5", "sim.duration_ms=-5"]),
    ({"grid": {"sim.no_such_key": "1,2"}}, ["sim.no_such_key"]),
    ({"grid": {"scheduler.no_such_param": "1,2"}}, ["scheduler.no_such_param"]),
    ({"grid": {"sim.seed": "interval(0,1)"}}, ["interval() is continuous"]),
    ({"grid": {"sim.seed": "range(0,"}}, ["grid.sim.seed", "cannot parse"]),
    ({"zip": {"sim.seed": [1, 2], "sim.block_size": [1]}}, ["zip", "equal lengths"]),
    ({"grid": {"sim.seed": "1,2"}, "zip": {"sim.seed": [3]}}, ["also swept"]),
    ({"grid": {"sim.seed": "1,2"}, "overrides": ["sim.seed=4"]}, ["also swept"]),
    ({"overrides": ["workload=nope"]}, ["overrides", "workload=nope"]),
    ({"grdi": {"sim.seed": "1"}}, ["unknown field", "grdi"]),
    ({"name": "a b"}, ["name", "plain name"]),
])
def test_invalid_specs_raise_config_errors(raw, words):
    raw = {"name": "bad", **raw}
    with pytest.raises(ConfigError) as info:
        make_plan(parse_spec(raw))
    for w in words:
        assert w in str(info.value)


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dream.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


@pytest.mark.parametrize("text, words", [
    ("name: bad\ngrid: {hardware: no_such_hw}\n", ["unknown option 'no_such_hw'"]),
    ("name: bad\ngrid: [oops\n", ["invalid YAML", "line"]),
    ("name: bad\ngrid: {sim.seed: '0,1', sim.warmup_ms: -1}\n", ["sim.warmup_ms", "must lie in"]),
])
def test_invalid_spec_exits_2_with_one_message(tmp_path, text, words):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    out = _cli(["sweep", str(f), "--executor", "serial", "--out", str(tmp_path / "o")], ROOT)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dream sweep: error:")
    for w in words:
        assert w in lines[0]
    assert not (tmp_path / "o").exists()  # nothing ran, nothing written


def test_unknown_spec_name_exits_2(tmp_path):
    out = _cli(["sweep", "no_such_spec", "--out", str(tmp_path / "o")], ROOT)
    assert out.returncode == 2 and "no spec file 'no_such_spec'" in out.stderr


def test_dry_run_prints_the_plan(tmp_path):
    out = _cli(["sweep", "smoke", "--dry-run", "--out", str(tmp_path / "o")], ROOT)
    assert out.returncode == 0, out.stderr
    assert "16 points" in out.stdout and "chunk size" in out.stdout and "estimated time" in out.stdout
    assert not (tmp_path / "o").exists()


def test_assembled_combinations_equal_full_composes():
    # more than two combinations: options are composed one by one and assembled
    spec = spec_of(grid={"workload": "vr_gaming,ar_gaming", "hardware": "dual_4k_ws,quad_8k_ws_os",
                         "scheduler": "fcfs,latency_greedy", "sim.seed": "0,1"})
    plan = make_plan(spec)
    assert len(plan) == 16
    for point, key in zip(plan.points, plan.keys):
        w, h, s, seed = point
        assert key == full_key([f"workload={w}", f"hardware={h}", f"scheduler={s}", f"sim.seed={seed}"])


def _conf_copy(tmp_path: Path) -> Path:
    import shutil

    conf = tmp_path / "conf"
    shutil.copytree(CONF_DIR, conf)
    hw = (conf / "hardware" / "dual_4k_ws.yaml").read_text()
    # a global package: this option also adds a top-level key, so it cannot be assembled
    (conf / "hardware" / "side_effect.yaml").write_text(
        "# @package _global_\nhardware:\n" + "".join(f"  {line}\n" for line in hw.splitlines())
        + "extra: {from: side_effect}\n")
    wl = (conf / "workload" / "vr_gaming.yaml").read_text()
    (conf / "workload" / "interp.yaml").write_text(
        wl.replace("name: vr_gaming", "name: interp").replace(
            "description: VR gaming", "description: seed ${sim.seed} VR gaming"))
    return conf


def _full_key_in(conf: Path, overrides: list[str]) -> tuple[str, dict]:
    from hydra import compose as hcompose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = OmegaConf.to_container(hcompose(config_name="config", overrides=overrides), resolve=True)
    return run_key(cfg), cfg


def test_side_effects_and_interpolations_take_hydra_paths(tmp_path):
    conf = _conf_copy(tmp_path)
    spec = parse_spec({"name": "t", "grid": {"workload": "vr_gaming,interp",
                                             "hardware": "dual_4k_ws,side_effect",
                                             "sim.seed": "4,5"}}, conf_dir=conf)
    plan = make_plan(spec, conf_dir=conf)
    assert len(plan) == 8
    for point, key in zip(plan.points, plan.keys):
        w, h, seed = point
        want, cfg = _full_key_in(conf, [f"workload={w}", f"hardware={h}", f"sim.seed={seed}"])
        assert key == want, point
        got, _, _ = plan.resolver.resolve(point)
        assert got == cfg
        assert ("extra" in got) == (h == "side_effect")
        if w == "interp":
            assert got["workload"]["description"].startswith(f"seed {seed} ")


# -- grammar edge cases (issue: hydra-core 1.3's sort of a range, YAML exponents, step 0) ----

@pytest.mark.parametrize("text, expected", [
    ("sort(range(1.3,0,-0.5))", [0.3, 0.8, 1.3]),
    ("sort(range(0,1,0.3),reverse=true)", [0.9, 0.6, 0.3, 0.0]),
    ("sort(range(0,1,0.3))", [0.0, 0.3, 0.6, 0.9]),
    ("sort(range(1.3,0,-0.5),reverse=true)", [1.3, 0.8, 0.3]),
    ("sort(range(10,0,-3))", [1, 4, 7, 10]),
    ("sort(range(0,10,3),reverse=true)", [9, 6, 3, 0]),
    ("range(1.3,0,-0.5)", [1.3, 0.8, 0.3]),
    ("range(0,1,0.1)", [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]),
    ("range(5)", [0, 1, 2, 3, 4]),
    ("range(3,0)", []),
    ("sort(3,1,2)", [1, 2, 3]),
    ("sort(3,1,2,reverse=true)", [3, 2, 1]),
    ("float(range(1,3))", [1.0, 2.0]),
])
def test_range_values_are_exact_and_sort_reorders_them(text, expected):
    if not expected:
        with pytest.raises(ConfigError, match="no values"):
            spec_of(grid={"sim.context_switch_us": text})
        return
    (p,) = spec_of(grid={"sim.context_switch_us": text}).grid
    values = list(p.values)
    assert values == expected  # exact: 0.3, not 0.30000000000000004
    assert [type(v) for v in values] == [type(v) for v in expected]
    assert len(p.values) == len(expected) and list(p.values[:2]) == expected[:2]


def test_sorted_range_has_the_same_values_as_the_range():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    nums = st.integers(-50, 50).map(lambda k: k / 10)
    steps = st.integers(1, 20).map(lambda k: k / 10)

    @settings(max_examples=60, deadline=None)
    @given(nums, nums, steps, st.booleans(), st.booleans())
    def check(start, stop, step, down, reverse):
        step = -step if down else step
        text = f"range({start},{stop},{step})"
        try:
            (plain,) = spec_of(grid={"x": text}).grid
        except ConfigError:
            return  # an empty range
        (srt,) = spec_of(grid={"x": f"sort({text},reverse={str(reverse).lower()})"}).grid
        assert list(srt.values) == sorted(plain.values, reverse=reverse)
        assert all(abs(v - round(v, 1)) == 0 for v in plain.values)  # decimal, no drift

    check()


def test_range_with_step_zero_names_the_key():
    with pytest.raises(ConfigError) as exc:
        spec_of(grid={"sim.seed": "range(0,5,0)"})
    assert exc.value.path == "grid.sim.seed" and "step" in exc.value.message


def test_range_with_step_zero_exits_2(tmp_path):
    f = tmp_path / "zero.yaml"
    f.write_text("name: zero\ngrid:\n  sim.seed: range(0,5,0)\n")
    out = _cli(["sweep", str(f), "--dry-run", "--out", str(tmp_path / "o")], ROOT)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().count("\n") == 0 and "grid.sim.seed" in out.stderr


def test_yaml_lists_in_exponent_form_are_numbers(tmp_path):
    f = tmp_path / "exp.yaml"
    f.write_text("name: exp\ngrid:\n  sim.duration_ms: [1e2, 2e2]\n  +cost.params.x: [1e-3, 2.88e-3]\n"
                 "  sim.seed: [1E+1, '1e2']\n")
    spec = load_spec(f)
    vals = {p.key: tuple(p.values) for p in spec.grid}
    assert vals["sim.duration_ms"] == (100.0, 200.0)
    assert vals["cost.params.x"] == (0.001, 0.00288)
    assert vals["sim.seed"] == (10.0, "1e2")  # quoted stays a string
    from dream.sweep.resolve import param_type

    assert [param_type(p) for p in spec.grid] == ["float", "float", "string"]


def test_exponent_list_runs_as_numbers(tmp_path):
    import pandas as pd

    f = tmp_path / "exp.yaml"
    # the example: refused before as "must be a number, got '1e2'"
    f.write_text("name: exp\noverrides: [workload=ar_gaming]\ngrid:\n  sim.duration_ms: [1e2, 2e2]\n")
    out = _cli(["sweep", str(f), "--executor", "serial", "--no-progress", "--out", str(tmp_path / "o")], ROOT)
    assert out.returncode == 0, out.stderr
    df = pd.read_parquet(tmp_path / "o")
    assert sorted(df["sim.duration_ms"]) == [100.0, 200.0] and df["sim.duration_ms"].dtype == float


# -- a spec of 10 million points: streamed, counted, confirmed ----------------------------

HUGE = "name: huge\noverrides: [sim.duration_ms=20]\ngrid:\n  scheduler: fcfs,edf\n  sim.seed: range(0,5000000)\n"


def test_huge_spec_is_never_materialised():
    import itertools
    import tracemalloc

    from dream.sweep.plan import MAX_POINTS, sample_positions
    from dream.sweep.spec import point_at

    tracemalloc.start()
    spec = spec_of(grid={"scheduler": "fcfs,edf", "sim.seed": "range(0,5000000)",
                         "sim.context_switch_us": "sort(range(3,0,-1))"})
    assert len(spec) == 30_000_000 > MAX_POINTS
    head = list(itertools.islice(iter_points(spec), 4))
    assert head == [("fcfs", 0, 1), ("fcfs", 0, 2), ("fcfs", 0, 3), ("fcfs", 1, 1)]
    assert point_at(spec, len(spec) - 1) == ("edf", 4_999_999, 3)
    sample = sample_positions(spec)
    assert len(sample) < 1_100 and all(0 <= i < len(spec) for i in sample)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20e6  # a listed range alone would take hundreds of MB


def test_points_stream_in_product_order():
    import itertools

    from dream.sweep.spec import point_at

    spec = spec_of(grid={"scheduler": "fcfs,edf", "sim.seed": "range(0,3)", "sim.block_size": [1, 2]},
                   zip={"sim.duration_ms": [100, 200], "sim.warmup_ms": [0, 10]})
    expected = [g + z for g in itertools.product(*(p.values for p in spec.grid))
                for z in zip(*(p.values for p in spec.zip))]
    assert list(iter_points(spec)) == expected
    assert [point_at(spec, i) for i in range(len(spec))] == expected


def test_huge_spec_dry_run_answers_in_seconds_and_a_run_needs_max_points(tmp_path):
    import time

    f = tmp_path / "huge.yaml"
    f.write_text(HUGE)
    out_dir = tmp_path / "o"
    t = time.perf_counter()
    out = _cli(["sweep", str(f), "--dry-run", "--executor", "serial", "--out", str(out_dir)], ROOT)
    took = time.perf_counter() - t
    assert out.returncode == 0, out.stderr
    assert "10,000,000 points" in out.stdout and "--max-points 10000000" in out.stdout
    assert took < 30
    out = _cli(["sweep", str(f), "--executor", "serial", "--out", str(out_dir)], ROOT)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "10,000,000 points" in out.stderr and "--max-points" in out.stderr
    out = _cli(["sweep", str(f), "--executor", "serial", "--max-points", "1000", "--out", str(out_dir)], ROOT)
    assert out.returncode == 2 and "more than --max-points 1,000" in out.stderr
    assert not out_dir.exists()


def test_max_points_also_caps_small_specs(tmp_path):
    out = _cli(["sweep", "smoke", "--max-points", "3", "--out", str(tmp_path / "o")], ROOT)
    assert out.returncode == 2 and "16 points, more than --max-points 3" in out.stderr


def test_submit_passes_max_points_on_to_the_job():
    from dream.sweep.submit import _passthrough, submit_parser

    ns = submit_parser().parse_args(["huge", "--max-points", "10000000"])
    args = _passthrough(ns)
    assert args[args.index("--max-points") + 1] == "10000000"
    assert "--max-points" not in _passthrough(submit_parser().parse_args(["smoke"]))
