"""`dream run`'s start-up: what its fast path imports and reads, and that writing without
OmegaConf and listing XRBench's models lazily change nothing a run gives."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from dream.config import compose_plain
from dream.rundir import config_yaml
from dream.workload import xrbench


@pytest.mark.parametrize("overrides", [
    [],
    ["workload=vr_gaming", "hardware=dual_4k_ws_os", "cost=analytical"],
    ["workload=xrbench_ar_assistant", "scheduler=edf", "cost=maestro"],
    ["workload=social_interaction_a", "scheduler=dream", "sim.seed=3"],
])
def test_config_yaml_of_composed_configs_is_omegaconfs(overrides: list[str]) -> None:
    config, _ = compose_plain(overrides)
    assert config_yaml(config) == OmegaConf.to_yaml(OmegaConf.create(config), resolve=True)


def test_config_yaml_quotes_and_falls_back_as_omegaconf_does() -> None:
    tricky = {
        "bools": ["yes", "No", "ON", "off", "y", "true", "False"],
        "numbers": ["1", "-2", "1e3", "0.5", "inf", "nan", "1_000", "0x10", " 7 "],
        "plain": ["a b", "", "x: y", "- z", "#c", "null", "~", "é", "multi\nline"],
        "values": [None, True, 0, -3, 1.5, 1e-300, math.inf, -math.inf, [], {}],
        "on": {"off": 1, "1": "2"},
    }
    assert config_yaml(tricky) == OmegaConf.to_yaml(OmegaConf.create(tricky), resolve=True)
    # an interpolation or a missing value: OmegaConf itself writes them
    for special in ({"a": 1, "b": "${a}"}, {"a": "???"}, {"a": "\\${x}"}):
        assert config_yaml(special) == OmegaConf.to_yaml(OmegaConf.create(special), resolve=True)
    cfg = OmegaConf.create({"a": 1, "b": "${a}"})
    assert config_yaml(cfg) == "a: 1\nb: 1\n"


def test_xrbench_models_are_listed_without_reading_their_tables() -> None:
    shapes = xrbench.read_xrbench_shapes()
    names = list(xrbench.xrbench_models())
    assert names == list(dict.fromkeys(shapes["model"]))  # file order, as before
    model = xrbench.xrbench_models()["ES_RITNet"]
    expected = xrbench.to_layer_table(shapes[shapes["model"] == "ES_RITNet"].sort_values("layer"))
    assert model.layers().equals(expected)


RUN_PROBE = """
import json, sys
from dream.cli import main
from dream.workload import xrbench
try:
    main(["run", "workload=vr_gaming", "hardware=dual_4k_ws_os", "sim.duration_ms=50", "output=" + sys.argv[1]])
except SystemExit as exc:
    assert not exc.code, exc.code
heavy = ("omegaconf", "hydra", "matplotlib", "ray", "optuna")
print(json.dumps({"imported": sorted(m for m in heavy if m in sys.modules),
                  "xrbench_tables_read": xrbench._tables.cache_info().currsize}))
"""


def test_dream_run_imports_no_config_or_plot_libraries_and_reads_no_xrbench_table(tmp_path) -> None:
    # twice: the first run composes (Hydra), the second reads the remembered composition
    for n in range(2):
        out = subprocess.run([sys.executable, "-c", RUN_PROBE, str(tmp_path / f"run{n}")],
                             capture_output=True, text=True, check=True, cwd=tmp_path,
                             env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")})
        probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert probe == {"imported": [], "xrbench_tables_read": 0}
    assert (tmp_path / "run1" / "config.yaml").read_text() == \
        (tmp_path / "run0" / "config.yaml").read_text().replace("run0", "run1")
