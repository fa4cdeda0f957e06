"""Your configs beside ours: --config-dir dirs, then ./conf, then the built-ins; specs in ./sweeps.

Every test works in a fresh folder with its own conf/ (and an extra directory given with
--config-dir), through the `dream` command and through dream.compose/simulate.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dream
from dream.config import CONF_DIR, search_path
from dream.errors import ConfigError

VR = (CONF_DIR / "workload" / "vr_gaming.yaml").read_text()
HW = (CONF_DIR / "hardware" / "dual_4k_ws_os.yaml").read_text()


def _dream(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DREAM_")}
    return subprocess.run([sys.executable, "-m", "dream.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300, env=env)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with conf/workload/mine.yaml, a shadowing conf/hardware/dual_4k_ws_os.yaml,
    sweeps/mine.yaml, and an extra config dir `extra/` (workload `other`, and a `mine` that
    shadows conf/'s)."""
    root = tmp_path / "proj"
    (root / "conf" / "workload").mkdir(parents=True)
    (root / "conf" / "hardware").mkdir()
    (root / "extra" / "workload").mkdir(parents=True)
    (root / "sweeps").mkdir()
    (root / "conf" / "workload" / "mine.yaml").write_text(
        VR.replace("name: vr_gaming", "name: mine").replace("description: VR gaming", "description: Mine, VR gaming"))
    (root / "extra" / "workload" / "other.yaml").write_text(VR.replace("name: vr_gaming", "name: other"))
    (root / "extra" / "workload" / "mine.yaml").write_text(VR.replace("name: vr_gaming", "name: mine_from_extra"))
    (root / "conf" / "hardware" / "dual_4k_ws_os.yaml").write_text(HW.replace("offchip_bw: 128", "offchip_bw: 32"))
    (root / "sweeps" / "mine.yaml").write_text(
        "# Mine.\nname: mine\noverrides: [sim.duration_ms=100]\n"
        "grid:\n  workload: glob(m*)\n  hardware: dual_4k_ws_os,dual_4k_ws\n  sim.seed: 0,1\n")
    return root


def test_search_path_order_and_shadowing(project, monkeypatch):
    monkeypatch.chdir(project)
    sp = search_path([project / "extra"])
    assert sp.dirs == (project / "extra", project / "conf", CONF_DIR)
    opts = sp.options("workload")
    assert opts["mine"] == project / "extra" / "workload" / "mine.yaml"   # --config-dir wins over ./conf
    assert opts["vr_gaming"] == CONF_DIR / "workload" / "vr_gaming.yaml"
    assert sp.shadowing("hardware", "dual_4k_ws_os")[0] == project / "conf" / "hardware" / "dual_4k_ws_os.yaml"
    with pytest.raises(ConfigError, match="not a directory"):
        search_path([project / "nope"])


def test_compose_and_simulate_with_config_dirs(project, monkeypatch):
    monkeypatch.chdir(project)
    cfg = dream.compose(["workload=other", "sim.seed=3"], config_dirs=[project / "extra"])
    assert cfg.workload.name == "other" and cfg.sim.seed == 3
    assert cfg.hardware.offchip_bw == 32  # ./conf shadows the built-in
    assert dream.compose(["workload=mine"]).workload.name == "mine"   # ./conf without extra
    with pytest.raises(ConfigError, match="workload/other"):
        dream.compose(["workload=other"])
    a = dream.simulate(["workload=other", "sim.duration_ms=100"], config_dirs=[project / "extra"])
    b = dream.simulate(dream.compose(["workload=other", "sim.duration_ms=100"], config_dirs=[project / "extra"]))
    assert a.summary["uxcost"] == b.summary["uxcost"] and a.summary["jobs"] > 0


def test_compose_reuse_equals_a_full_hydra_compose(project, monkeypatch):
    """Values patched on a reused base give exactly what Hydra composes from scratch."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    monkeypatch.chdir(project)
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        for overrides in (["scheduler=dream", "scheduler.alpha=0.25", "sim.seed=7"],
                          ["workload=ar_gaming", "sim.duration_ms=300", "+sim.extra=1"],
                          ["hardware=quad_4k_ws_os", "hardware.offchip_bw=64"]):
            want = OmegaConf.to_container(compose(config_name="config", overrides=overrides), resolve=True)
            got = OmegaConf.to_container(dream.compose(overrides, config_dirs=dream.config.SearchPath((CONF_DIR,))),
                                         resolve=True)
            assert got == want, overrides


def test_run_costs_list_with_config_dirs(project):
    out = project / "out"
    p = _dream("run", "--config-dir", "extra", "workload=other", "sim.duration_ms=100", f"output={out}", cwd=project)
    assert p.returncode == 0, p.stderr
    assert json.loads((out / "summary.json").read_text())["jobs"] > 0
    # the shadowing of the built-in hardware chosen by default is said, in one line
    notes = [line for line in p.stderr.splitlines() if "shadows" in line]
    assert len(notes) == 1 and "hardware/dual_4k_ws_os" in notes[0]
    assert "offchip_bw: 32" in (out / "config.yaml").read_text()
    # Hydra's own flags go through the Hydra app, with the same search path
    p = _dream("run", "--cfg", "job", "workload=other", "--config-dir=extra", cwd=project)
    assert p.returncode == 0 and "name: other" in p.stdout and "offchip_bw: 32" in p.stdout, p.stderr
    p = _dream("costs", "workload=mine", cwd=project)
    assert p.returncode == 0 and "ritnet" in p.stdout, p.stderr
    p = _dream("list", "workload", "--config-dir", "extra", cwd=project)
    assert p.returncode == 0, p.stderr
    rows = {line.split()[0]: line for line in p.stdout.splitlines()[1:]}
    assert rows["other"].endswith("[extra]") and rows["vr_gaming"].endswith("[built-in]")
    assert rows["mine"].endswith("[extra, shadows conf]")
    p = _dream("run", "--config-dir", "missing", "workload=mine", cwd=project)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "missing" in p.stderr


def test_sweep_finds_user_specs_and_options(project):
    p = _dream("sweep", "mine", "--dry-run", cwd=project)
    assert p.returncode == 0, p.stderr
    assert "4 points" in p.stdout and "executor serial" in p.stdout and "workload: 1 value(s): mine" in p.stdout
    p = _dream("sweep", "mine", "--no-progress", "--config-dir", "extra", cwd=project)
    assert p.returncode == 0, p.stdout + p.stderr
    from dream.dataset import read_dataset

    df = read_dataset(project / "outputs" / "mine")
    # with extra/ first, `mine` is extra's file (its own name), and glob(m*) still finds it once
    assert len(df) == 4 and set(df["workload"]) == {"mine"} and (df["status"] == "ok").all()
    assert any("shadows" in line for line in p.stderr.splitlines())
    p = _dream("sweep", "no_such_spec", cwd=project)
    assert p.returncode == 2 and "mine" in p.stderr and p.stderr.count("\n") == 1


def test_submit_refuses_config_dirs_the_job_could_not_see(project, tmp_path):
    """Checked before any cluster is contacted: no cluster runs here."""
    outside = tmp_path / "elsewhere"
    (outside / "workload").mkdir(parents=True)
    p = _dream("submit", "mine", "--config-dir", str(outside), "--address", "http://127.0.0.1:9", cwd=project)
    assert p.returncode == 2 and p.stderr.count("\n") == 1, p.stderr
    assert "outside the shipped directory" in p.stderr
    p = _dream("submit", "no_such_spec", "--address", "http://127.0.0.1:9", cwd=project)
    assert p.returncode == 2 and "no_such_spec" in p.stderr and "cannot reach" not in p.stderr


def test_dream_run_remembers_compositions_and_sees_edits(project, tmp_path):
    """A repeated `dream run` reads its composition back; editing a config file is seen at once."""
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DREAM_")}
    env["XDG_CACHE_HOME"] = str(cache)

    def run(out: str, *extra: str) -> str:
        p = subprocess.run([sys.executable, "-m", "dream.cli", "run", "workload=mine", "sim.duration_ms=100",
                            f"output={out}", *extra], capture_output=True, text=True, cwd=project,
                           timeout=300, env=env)
        assert p.returncode == 0, p.stderr
        return (project / out / "config.yaml").read_text()

    first = run("a")
    files = list((cache / "dream" / "compose").glob("*.json"))
    assert len(files) == 1
    second = run("b")  # another output directory: the same remembered composition
    assert list((cache / "dream" / "compose").glob("*.json")) == files
    assert second == first.replace("output: a", "output: b") and "offchip_bw: 32" in second
    hw = project / "conf" / "hardware" / "dual_4k_ws_os.yaml"
    hw.write_text(hw.read_text().replace("offchip_bw: 32", "offchip_bw: 48"))
    assert "offchip_bw: 48" in run("c")
    # a config with an interpolation may read the environment: never remembered
    before = len(list((cache / "dream" / "compose").glob("*.json")))
    assert f"description: {os.environ['HOME']}" in run("d", "workload.description=${oc.env:HOME}")
    assert len(list((cache / "dream" / "compose").glob("*.json"))) == before
