"""`dream run`'s start-up: what its fast path imports and reads, and that writing without
OmegaConf or pandas and listing XRBench's models lazily change nothing a run gives."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
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
heavy = ("pandas", "omegaconf", "hydra", "matplotlib", "ray", "optuna")
print(json.dumps({"imported": sorted(m for m in heavy if m in sys.modules),
                  "xrbench_tables_read": xrbench._tables.cache_info().currsize}))
"""


def test_dream_run_imports_no_pandas_config_or_plot_libraries_and_reads_no_xrbench_table(tmp_path) -> None:
    # twice: the first run composes (Hydra), the second reads the remembered composition
    for n in range(2):
        out = subprocess.run([sys.executable, "-c", RUN_PROBE, str(tmp_path / f"run{n}")],
                             capture_output=True, text=True, check=True, cwd=tmp_path,
                             env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")})
        probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert probe == {"imported": [], "xrbench_tables_read": 0}
    assert (tmp_path / "run1" / "config.yaml").read_text() == \
        (tmp_path / "run0" / "config.yaml").read_text().replace("run0", "run1")


def test_jobs_and_trace_files_of_dream_run_read_back_as_the_simulations_frames(tmp_path) -> None:
    """jobs.parquet and trace.parquet are written from the engine's columns through pyarrow
    (no pandas); read with pandas they are the DataFrames `dream.simulate` gives."""
    import pandas as pd

    import dream

    args = ["workload=ar_assistant", "hardware=dual_4k_ws_os", "scheduler=fcfs", "sim.duration_ms=200",
            "sim.trace=true"]
    subprocess.run([sys.executable, "-m", "dream.cli", "run", *args, f"output={tmp_path / 'r'}"],
                   capture_output=True, text=True, check=True, cwd=tmp_path)
    result = dream.simulate(args)
    for name, frame in (("jobs", result.jobs), ("trace", result.trace)):
        stored = pd.read_parquet(tmp_path / "r" / f"{name}.parquet")
        assert list(stored.columns) == list(frame.columns)
        for col in frame.columns:
            a, b = stored[col], frame[col]
            if isinstance(b.dtype, pd.CategoricalDtype):
                assert list(a.cat.categories) == list(b.cat.categories)  # task order kept
            np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    # a missing start or finish is a null in the file, NaN in the frame
    dropped = result.jobs["start_ms"].isna()
    assert dropped.any()
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "r" / "jobs.parquet")["start_ms"].null_count == int(dropped.sum())


@pytest.mark.parametrize("given, expected", [(None, "1"), ("4", "4")])
def test_the_dream_command_keeps_openblas_to_one_thread_unless_told(given, expected) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    probe = "import sys, os, dream.cli; print('numpy' in sys.modules, os.environ['OPENBLAS_NUM_THREADS'])"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
    # set before numpy is imported: OpenBLAS reads it once, at load
    assert out.stdout.split() == ["False", expected]
