"""End to end: a user's own folder (XRBench-encoded models, one signature-keyed MAESTRO table,
hardware YAML) runs with `dream run --config-dir DIR ... cost=table +experiment=xrbench` and
reproduces XRBench-MAESTRO's score."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import dream.cli
import dream.config
from dream.validate import COSTS_FILE, load_reference
from dream.workload.xrbench import read_xrbench_shapes, to_layer_table


def _config_dir_supported() -> bool:
    return ("--config-dir" in inspect.getsource(dream.cli)
            or "config_dir" in inspect.signature(dream.config.compose).parameters)


NETWORKS = {"ES_RITNet": "my_es", "GE_FBNet_C": "my_ge", "HT_hand_graph_cnn_half": "my_ht"}


def make_user_folder(root: Path) -> Path:
    """DIR/workload/my_vr.yaml + DIR/models/*.csv, DIR/hardware/my_big_little.yaml, DIR/maestro.csv."""
    (root / "workload").mkdir(parents=True)
    (root / "hardware").mkdir()
    (root / "models").mkdir()
    shapes = read_xrbench_shapes()
    models = []
    for network, mine in NETWORKS.items():
        path = root / "models" / f"{mine}.csv"
        to_layer_table(shapes[shapes["model"] == network].sort_values("layer")).to_pandas().to_csv(path, index=False)
        models.append(f"  {mine}: {{file: {path}, variants: [{{name: w1.0, width: 1.0, accuracy: 1.0}}]}}")
    (root / "workload" / "my_vr.yaml").write_text("\n".join([
        "name: my_vr",
        "tasks:",
        "  - {name: ES_RITNet, model: my_es, fps: 60}",
        "  - {name: GE_FBNet_C, model: my_ge, fps: 60, upstream: ES_RITNet, trigger_prob: 1.0}",
        "  - {name: HT_hand_graph_cnn_half, model: my_ht, fps: 45}",
        "phases: []",
        "models:",
        *models,
    ]) + "\n")
    # XRBench's Dual_4K_BigLittle with the WS_OS dataflow file
    (root / "hardware" / "my_big_little.yaml").write_text(
        "name: my_big_little\noffchip_bw: 128\naccelerators:\n"
        "  - {name: big, dataflow: WS, num_pes: 3072, noc_bw: 128}\n"
        "  - {name: little, dataflow: OS, num_pes: 1024, noc_bw: 128}\n")
    costs = pd.read_csv(COSTS_FILE)
    costs = costs[costs["model"].isin(list(NETWORKS))].replace({"model": NETWORKS})
    costs.to_csv(root / "maestro.csv", index=False)
    return root


@pytest.mark.skipif(not _config_dir_supported(),
                    reason="`dream run --config-dir DIR` (a user's own config folder) is not supported yet")
def test_users_own_folder_reproduces_xrbench(tmp_path):
    d = make_user_folder(tmp_path / "study")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "dream.cli", "run", "--config-dir", str(d), "workload=my_vr",
         "hardware=my_big_little", "cost=table", f"cost.params.path={d / 'maestro.csv'}",
         "+experiment=xrbench", f"output={out}"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    summary = summary.get("summary", summary)
    ref = load_reference()
    ref = ref[(ref["scenario"] == "VR_gaming") & (ref["hw_config"] == "Dual_4K_BigLittle")
              & (ref["dataflows"] == "WS_OS")]
    assert abs(summary["xrbench_score"] - float(ref["overall"].iloc[0])) <= 0.01
