"""Dataflows as data: the directive files, their errors, and a user's dataflow end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dream.errors import ConfigError
from dream.hardware import DATAFLOWS, Accelerator
from dream.hardware.config import system_from_config
from dream.hardware.dataflow import (
    BUILTIN_DIR,
    available_dataflows,
    find_dataflow,
    load_dataflow,
    parse_dataflow,
)

ROOT = Path(__file__).resolve().parent.parent

# XRBench's 64-wide NVDLA variant (XRBench/XRBench-MLSys2023), as a user would write it
NVDLA64 = """\
# a user's dataflow: 64 x 64 channels per group of 4096 PEs
description: NVDLA-like, 64 wide
directives:
  - TemporalMap(64,64) C
  - TemporalMap(16,16) K
  - TemporalMap(1,1) Y'
  - SpatialMap(1,1) X'
  - Cluster(64)
  - SpatialMap(1,1) K
  - TemporalMap(64,64) C
  - TemporalMap(1,1) Y'
  - TemporalMap(1,1) X'
  - Cluster(64, P)
  - SpatialMap(1,1) C
"""


def test_builtin_dataflows_are_xrbench_styles():
    assert set(DATAFLOWS) <= set(available_dataflows())
    ws = load_dataflow("WS")
    assert [str(d) for d in ws.directives] == [
        "TemporalMap(16,16) C", "TemporalMap(16,16) K", "TemporalMap(1,1) Y'",
        "SpatialMap(1,1) X'", "Cluster(16)", "SpatialMap(1,1) K", "TemporalMap(64,64) C",
        "TemporalMap(1,1) Y'", "TemporalMap(1,1) X'", "Cluster(16)", "SpatialMap(1,1) C"]
    assert load_dataflow("OS").cluster_sizes() == [4, 16]
    rs = load_dataflow("RS").levels()
    assert [str(d) for d in rs[-1]] == ["SpatialMap(1,1) Y", "SpatialMap(1,1) R"]
    assert find_dataflow("RS") == BUILTIN_DIR / "RS.yaml"


def test_short_forms_and_maestro_cluster_syntax():
    flow = parse_dataflow("directives: [\"T(2,2) K\", \"S(1,1) C\", \"Cluster(4,P)\", "
                          "\"SpatialMap(1,1) X'\"]\n", "short.yaml")
    assert [str(d) for d in flow.directives] == [
        "TemporalMap(2,2) K", "SpatialMap(1,1) C", "Cluster(4)", "SpatialMap(1,1) X'"]


@pytest.mark.parametrize("line, error", [
    ("TemporalMap(1,1) Q", r"bad\.yaml:3: unknown dimension 'Q'"),
    ("TemporalMap(1,1)", r"bad\.yaml:3: .*names no dimension"),
    ("TemporalMap(1 1) K", r"bad\.yaml:3: cannot parse"),
    ("TemporalMap(0,1) K", r"bad\.yaml:3: the map size must be a positive integer"),
    ("TemporalMap(Sz(R),1) K", r"bad\.yaml:3: cannot parse"),
    ("Cluster(4, L)", r"bad\.yaml:3: cluster type 'L'"),
    ("SpatialMap(1,1) C", r"bad\.yaml:3: dimension C is already mapped at line 2"),
    ("TemporalMap(1,1) Y", r"bad\.yaml:4: dimension Y' is already mapped at line 3"),
])
def test_bad_directive_names_file_and_line(tmp_path, line, error):
    path = tmp_path / "bad.yaml"
    path.write_text(f"directives:\n  - SpatialMap(1,1) C\n  - {line}\n  - TemporalMap(1,1) Y'\n")
    with pytest.raises(ConfigError, match=error):
        load_dataflow(str(path))


@pytest.mark.parametrize("text, error", [
    ("directives:\n  - TemporalMap(1,1) K\n", r"x\.yaml:2: this cluster level has no SpatialMap"),
    ("directives:\n  - SpatialMap(1,1) K\n  - Cluster(4)\n", r"x\.yaml:3: a Cluster must be "),
    ("directives:\n  - SpatialMap(1,1) K\n  - Cluster(4)\n  - Cluster(2)\n  - SpatialMap(1,1) C\n",
     r"x\.yaml:4: a cluster level has no directives"),
    ("directives:\n  - S(1,1) K\n  - S(1,1) C\n  - S(1,1) X\n", r"x\.yaml:4: at most 2 SpatialMaps"),
    ("dataflow:\n  - SpatialMap(1,1) K\n", r"x\.yaml:1: unknown key 'dataflow'"),
    ("directives: []\n", r"x\.yaml: needs a non-empty `directives` list"),
    ("directives:\n  - [SpatialMap]\n", r"x\.yaml:2: each directive is one line of text"),
    ("directives: [a\n", r"x\.yaml:\d+: not valid YAML"),
])
def test_bad_dataflow_structure(tmp_path, text, error):
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=error):
        load_dataflow(str(path))


def test_names_resolve_through_search_dirs_user_first(tmp_path):
    (tmp_path / "NVDLA64.yaml").write_text(NVDLA64)
    (tmp_path / "WS.yaml").write_text("directives:\n  - SpatialMap(1,1) K\n")
    assert load_dataflow("NVDLA64", [tmp_path]).cluster_sizes() == [64, 64]
    assert len(load_dataflow("WS", [tmp_path]).directives) == 1  # the user's WS wins
    assert len(load_dataflow("WS").directives) == 11
    assert "NVDLA64" in available_dataflows([tmp_path])
    with pytest.raises(ConfigError, match=r"unknown dataflow 'NVDLA64'; available: \["):
        load_dataflow("NVDLA64")
    with pytest.raises(ConfigError, match="does not exist"):
        load_dataflow(str(tmp_path / "missing.yaml"))


def test_an_edited_file_is_read_again(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text("directives:\n  - SpatialMap(1,1) K\n")
    first = load_dataflow(str(path))
    path.write_text("directives:\n  - SpatialMap(2,2) K\n  - TemporalMap(1,1) C\n")
    assert load_dataflow(str(path)) != first


def _hw(dataflow: str, pes: int = 4096) -> dict:
    return {"name": "u", "accelerators": [
        {"name": "nv", "dataflow": dataflow, "num_pes": pes, "noc_bw": 256}]}


def test_hardware_config_loads_user_dataflows_and_checks_the_pes(tmp_path):
    (tmp_path / "NVDLA64.yaml").write_text(NVDLA64)
    system = system_from_config(_hw("NVDLA64"), dataflow_dirs=[tmp_path])
    acc = system.accelerators[0]
    assert acc.dataflow == "NVDLA64" and acc.flow.cluster_sizes() == [64, 64]
    by_path = system_from_config(_hw(str(tmp_path / "NVDLA64.yaml"))).accelerators[0]
    assert by_path.flow == acc.flow
    # a cluster larger than the sub-accelerator's PEs names the file and line
    with pytest.raises(ConfigError, match=r"hardware\.accelerators\[0\]\.dataflow: dataflow "
                       r".*NVDLA64\.yaml:13: Cluster\(64\) nests clusters of 4096 PEs, more "
                       r"than the sub-accelerator's 2048 PEs"):
        system_from_config(_hw("NVDLA64", 2048), dataflow_dirs=[tmp_path])
    with pytest.raises(ConfigError, match=r"hardware\.accelerators\[0\]\.dataflow: unknown "
                       r"dataflow 'XS'; available: \['WS', 'OS', 'RS'\]"):
        system_from_config(_hw("XS"))
    with pytest.raises(ValueError, match="unknown dataflow 'XS'"):
        Accelerator("a", "XS", 1024)


def _dream(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dream.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


def test_user_dataflow_end_to_end_in_costs_and_run(tmp_path):
    path = tmp_path / "NVDLA64.yaml"
    path.write_text(NVDLA64)
    hw = ["hardware=dual_8k_ws_os", f"hardware.accelerators.0.dataflow='{path}'"]
    p = _dream("costs", "workload=vr_gaming", *hw)
    assert p.returncode == 0, p.stderr
    assert "ws0 (NVDLA64 4096)" in p.stdout and "offchip_MB" in p.stdout
    assert "l2_req_KiB" in p.stdout
    out = tmp_path / "run"
    p = _dream("run", "workload=vr_gaming", *hw, "sim.duration_ms=100", f"output={out}")
    assert p.returncode == 0, p.stderr
    assert (out / "summary.json").exists() and "UXCost" in p.stdout
    # a bad directive stops both commands with one line naming the file and line
    path.write_text(NVDLA64.replace("SpatialMap(1,1) K", "SpatialMap(1,1) Q"))
    for cmd in ("costs", "run"):
        p = _dream(cmd, "workload=vr_gaming", *hw)
        assert p.returncode == 2
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and "NVDLA64.yaml:9: unknown dimension 'Q'" in lines[0]


def test_user_conf_dir_dataflow_by_name(tmp_path):
    # --config-dir DIR: DIR/dataflow/NVDLA64.yaml is found by name from DIR/hardware/
    (tmp_path / "dataflow").mkdir()
    (tmp_path / "dataflow" / "NVDLA64.yaml").write_text(NVDLA64)
    (tmp_path / "hardware").mkdir()
    (tmp_path / "hardware" / "nv.yaml").write_text(
        "name: nv\naccelerators:\n"
        "  - {name: nv0, dataflow: NVDLA64, num_pes: 4096, noc_bw: 256}\n"
        "  - {name: os0, dataflow: OS, num_pes: 4096, noc_bw: 256}\n")
    p = _dream("--config-dir", str(tmp_path), "costs", "workload=vr_gaming", "hardware=nv")
    assert p.returncode == 0, p.stderr
    assert "nv0 (NVDLA64 4096)" in p.stdout and "os0 (OS 4096)" in p.stdout
    p = _dream("costs", "workload=vr_gaming", "hardware=dual_8k_ws_os",
               "hardware.accelerators.0.dataflow=NVDLA64")
    assert p.returncode == 2 and "unknown dataflow 'NVDLA64'" in p.stderr


def test_analytical_model_rejects_user_dataflows(tmp_path):
    from dream.cost import AnalyticalCostModel
    from dream.workload.layers import make_layer_table

    (tmp_path / "NVDLA64.yaml").write_text(NVDLA64)
    acc = system_from_config(_hw("NVDLA64"), dataflow_dirs=[tmp_path]).accelerators[0]
    layers = make_layer_table([("a", "conv", 8, 8, 4, 4, 3, 3, 1)])
    with pytest.raises(ConfigError, match=r"cost\.name: .*'nv' uses 'NVDLA64': use cost=maestro"):
        AnalyticalCostModel().costs(layers, acc)


def test_dataflow_pickles_without_its_process_local_hash():
    import pickle

    flow = load_dataflow("WS")
    hash(flow)  # cached on first use
    copy = pickle.loads(pickle.dumps(flow))
    assert "_hash" not in copy.__dict__ and copy == flow and hash(copy) == hash(flow)


PACKAGE_COPY = """
import shutil, sys, threading, time
from pathlib import Path
copy = Path(sys.argv[1])
sys.path.insert(0, str(copy))
import dream
assert Path(dream.__file__).is_relative_to(copy), dream.__file__
flows = copy / "dream" / "conf" / "dataflow"
away = copy / "dataflow-away"
if sys.argv[2] == "vanish-after-first-use":
    first = dream.simulate(["sim.duration_ms=20"]).summary["uxcost"]
    flows.rename(away)  # another node's runtime-env agent cleaning the job's copy up
    again = dream.simulate(["sim.duration_ms=20", "sim.seed=1"]).summary["uxcost"]
    print("ok", first > 0 and again > 0)
else:  # missing at first use, back within the wait (the copy being unpacked again)
    flows.rename(away)
    threading.Timer(0.5, lambda: away.rename(flows)).start()
    t0 = time.monotonic()
    print("ok", dream.simulate(["sim.duration_ms=20"]).summary["uxcost"] > 0, time.monotonic() - t0 >= 0.5)
"""


@pytest.mark.parametrize("case", ["vanish-after-first-use", "back-within-the-wait"])
def test_the_packages_dataflows_are_read_once_and_waited_for(tmp_path, case):
    """A Ray job runs dream from a per-job copy of the package, which another node sharing
    Ray's temporary directory may unpack again or clean up while workers run."""
    import shutil
    import subprocess
    import sys

    copy = tmp_path / "pkg"
    shutil.copytree(BUILTIN_DIR.parent.parent, copy / "dream",
                    ignore=shutil.ignore_patterns("__pycache__"))
    res = subprocess.run([sys.executable, "-c", PACKAGE_COPY, str(copy), case], capture_output=True,
                         text=True, cwd=tmp_path, timeout=120)
    assert res.returncode == 0, res.stderr
    expected = ["ok", "True"] if case == "vanish-after-first-use" else ["ok", "True", "True"]
    assert res.stdout.split() == expected
