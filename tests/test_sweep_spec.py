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
    ({"grid": {"sim.duration_ms": "100,-5"}}, ["sim.duration_ms", "must be a finite number in (0, ", "sim.duration_ms=-5"]),
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
