"""Using the XRBench validation as a new user would, from a folder of their own.

The bundled MAESTRO table by package name (`cost=xrbench_maestro`, `pkg:`), scheduler
parameter messages under `+experiment=xrbench`, directories and numbers in table errors,
and `dream validate xrbench` running the bundled set whatever ./conf or --config-dir hold.
Messages are checked end to end, through the CLI in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dream.cost import TableCostModel
from dream.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
VR = "VR_gaming"


def dream(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The CLI as a user runs it, from `cwd` (a folder outside the clone)."""
    return subprocess.run([sys.executable, "-m", "dream.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def one_line_exit_2(p: subprocess.CompletedProcess, *needles: str) -> str:
    """The single stderr line of a refused command, after checking its shape."""
    assert p.returncode == 2, p.stdout + p.stderr
    assert "Traceback" not in p.stderr and p.stderr.strip().count("\n") == 0, p.stderr
    for n in needles:
        assert n in p.stderr, (n, p.stderr)
    return p.stderr.strip()


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A working folder outside the clone."""
    d = tmp_path / "elsewhere"
    d.mkdir()
    assert not d.resolve().is_relative_to(ROOT)
    return d


# -- 1. the bundled MAESTRO table, found through the package ----------------------------

def test_cost_xrbench_maestro_runs_from_a_folder_outside_the_clone(elsewhere):
    p = dream("run", "workload=xrbench_vr_gaming", "hardware=single_4k_ws", "cost=xrbench_maestro",
              "+experiment=xrbench", "output=out", cwd=elsewhere)
    assert p.returncode == 0, p.stderr
    summary = json.loads((elsewhere / "out" / "summary.json").read_text())
    assert summary["jobs"] > 0
    cfg = dream("run", "cost=xrbench_maestro", "--cfg", "job", cwd=elsewhere)
    assert "path: pkg:xrbench_maestro_costs.csv" in cfg.stdout, cfg.stdout + cfg.stderr


def test_pkg_paths_name_bundled_tables_only():
    from dream.cost.table import PKG_DATA_DIR

    cm = TableCostModel("pkg:xrbench_maestro_costs.csv")
    assert cm.path == PKG_DATA_DIR / "xrbench_maestro_costs.csv" and cm.by_signature
    for bad in ("pkg:nope.csv", "pkg:", "pkg:../../conf/config.yaml", "pkg:../data/xrbench_scores.csv/.."):
        with pytest.raises(ConfigError, match=r"is not a bundled cost table; allowed: "
                                              r"\['pkg:xrbench_maestro_costs.csv'\]"):
            TableCostModel(bad)


def test_unknown_pkg_table_is_one_line(elsewhere):
    p = dream("costs", "workload=xrbench_vr_gaming", "cost=table", "cost.params.path=pkg:mine.csv",
              cwd=elsewhere)
    one_line_exit_2(p, "cost.params.path: 'pkg:mine.csv' is not a bundled cost table",
                    "pkg:xrbench_maestro_costs.csv")


# -- 2. scheduler parameters ----------------------------------------------------------

@pytest.mark.parametrize("scheduler", ["fcfs", "rr"])
def test_queue_order_under_another_scheduler_says_what_to_use(elsewhere, scheduler):
    p = dream("run", "+experiment=xrbench", f"scheduler={scheduler}", "output=out", cwd=elsewhere)
    line = one_line_exit_2(p, f"scheduler.queue_order: unknown parameter: {scheduler} takes no parameters",
                           "latency_greedy, the scheduler +experiment=xrbench selects",
                           "+experiment=xrbench_runtime")
    assert "args" not in line and "[]" not in line


def test_unknown_parameter_lists_the_real_ones(elsewhere):
    p = dream("run", "scheduler=latency_greedy", "+scheduler.alpha=1", "output=out", cwd=elsewhere)
    one_line_exit_2(p, "scheduler.alpha: unknown parameter of latency_greedy; allowed: ['queue_order']")


def test_a_bad_parameter_value_is_named_by_its_dotted_key(elsewhere):
    p = dream("run", "scheduler=latency_greedy", "scheduler.queue_order=alpha", "output=out", cwd=elsewhere)
    one_line_exit_2(p, "dream run: error: scheduler.queue_order: must be one of ['release', 'task_name'], "
                       "got 'alpha'")
    p = dream("run", "scheduler=planaria", "scheduler.min_slack_ms=0", "output=out", cwd=elsewhere)
    one_line_exit_2(p, "dream run: error: scheduler.min_slack_ms: must be > 0, got 0")


# -- 3. directories and numbers in table errors ---------------------------------------

def test_a_directory_as_cost_table_says_so(elsewhere):
    (elsewhere / "somedir").mkdir()
    p = dream("costs", "cost=table", "cost.params.path=somedir", cwd=elsewhere)
    line = one_line_exit_2(p, "cost.params.path", "somedir' is a directory; give a .csv or .parquet file")
    assert "does not exist" not in line


def test_a_directory_as_layer_table_says_so(elsewhere):
    (elsewhere / "somedir").mkdir()
    p = dream("costs", "+workload.models.m.file=somedir", "workload.tasks=[{name: T, model: m, fps: 1}]",
              cwd=elsewhere)
    line = one_line_exit_2(p, "workload.models.m.file", "somedir' is a directory; give a .csv or .parquet file")
    assert "does not exist" not in line


def test_table_errors_print_plain_numbers_and_1_based_data_rows(elsewhere):
    (elsewhere / "c.csv").write_text("model,layer,dataflow,num_pes,noc_bw,latency_cycles,energy_nj\n"
                                     "m,0,WS,1024,128,10,1.5\nm,1,WS,1024,128,10,-1.0\n")
    p = dream("costs", "cost=table", "cost.params.path=c.csv", cwd=elsewhere)
    line = one_line_exit_2(p, "c.csv' row 2: energy_nj = -1.0 must be a finite number >= 0")
    assert "np." not in line
    (elsewhere / "l.csv").write_text("op,K,C,Y,X,R,S\nconv,8,3,4,4,3,3\nconv,8,0,4,4,3,3\n")
    p = dream("costs", "+workload.models.m.file=l.csv", "workload.tasks=[{name: T, model: m, fps: 1}]",
              cwd=elsewhere)
    one_line_exit_2(p, "workload.models.m.file", "row 2 (layer 1): column C = 0 must be a positive integer")


# -- 4. dream validate runs the bundled set -------------------------------------------

def _shadowing_conf(root: Path) -> Path:
    """A user's conf/ whose xrbench_vr_gaming runs HT at 30 fps (XRBench: 45), and a bad WS dataflow."""
    (root / "conf" / "workload").mkdir(parents=True)
    (root / "conf" / "dataflow").mkdir(parents=True)
    (root / "conf" / "workload" / "xrbench_vr_gaming.yaml").write_text(
        "name: xrbench_vr_gaming\ntasks:\n"
        "  - {name: ES_RITNet, model: ES_RITNet, fps: 60}\n"
        "  - {name: GE_FBNet_C, model: GE_FBNet_C, fps: 60, upstream: ES_RITNet}\n"
        "  - {name: HT_hand_graph_cnn_half, model: HT_hand_graph_cnn_half, fps: 30}\n")
    (root / "conf" / "dataflow" / "WS.yaml").write_text("not: a dataflow\n")
    return root / "conf"


def test_validate_ignores_the_users_conf_and_config_dir(elsewhere, tmp_path):
    conf = _shadowing_conf(elsewhere)
    p = dream("validate", "xrbench", "--scenario", VR, "--only-failures", cwd=elsewhere)
    assert p.returncode == 0 and p.stdout.rstrip().endswith("PASS"), p.stdout[-2000:] + p.stderr
    assert "configurations within both tolerances: 38/38" in p.stdout
    assert f"uses the built-in configs only; not searched: {conf.resolve()}" in p.stderr
    # the same folder given with --config-dir, run from elsewhere
    other = tmp_path / "other"
    other.mkdir()
    p = dream("--config-dir", str(conf), "validate", "xrbench", "--scenario", VR, "--only-failures",
              cwd=other)
    assert p.returncode == 0 and p.stdout.rstrip().endswith("PASS"), p.stdout[-2000:] + p.stderr


@pytest.mark.parametrize("override, what", [
    ("hardware=single_4k_ws", "the hardware"),
    ("hardware.accelerators.0.num_pes=8", "the hardware"),
    ("workload=xrbench_ar_gaming", "the workload"),
    ("cost=maestro", "the cost model: cost=xrbench_maestro"),
    ("cost.params.path=x.csv", "the cost model"),
    ("+experiment=xrbench_runtime", "+experiment=xrbench"),
    ("++experiment=xrbench", "+experiment=xrbench"),
])
def test_validate_refuses_overrides_of_what_it_sets(elsewhere, override, what):
    p = dream("validate", "xrbench", override, cwd=elsewhere)
    one_line_exit_2(p, f"dream validate: error: {override}: the validation sets this itself ({what}",
                    "extra overrides may change only sim.* and scheduler.*")


def test_validate_refuses_overrides_it_would_not_use(elsewhere):
    p = dream("validate", "xrbench", "output=o", cwd=elsewhere)
    one_line_exit_2(p, "output=o: not used by the validation")


def test_validate_help_says_it_uses_the_built_in_configs(elsewhere):
    p = dream("validate", "--help", cwd=elsewhere)
    text = " ".join(p.stdout.split())
    assert p.returncode == 0
    assert "built-in dream/conf/ only (./conf and --config-dir are not searched)" in text
    assert "overrides of them are refused" in text
