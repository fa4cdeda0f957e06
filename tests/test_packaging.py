"""The wheel and the sdist carry the built-in configs and specs; an installed wheel runs anywhere.

The wheel is built offline (`pip wheel --no-deps --no-build-isolation`) from a copy of
the sources, installed into a fresh --target directory, and used from a folder outside
the clone that holds a user's own conf/ and sweeps/: run, list, sweep and report.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILTIN_FILES = ["dream/conf/config.yaml", "dream/conf/workload/vr_gaming.yaml",
                 "dream/conf/hardware/dual_4k_ws_os.yaml", "dream/conf/scheduler/dream.yaml",
                 "dream/conf/cost/analytical.yaml", "dream/conf/sim/default.yaml",
                 "dream/sweeps/paper.yaml", "dream/sweeps/smoke.yaml"]


def _sources(dst: Path) -> Path:
    """A copy of what a release is built from (the package, pyproject.toml, README.md)."""
    shutil.copytree(ROOT / "dream", dst / "dream",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / f, dst / f)
    return dst


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict[str, Path]:
    """The wheel and the sdist, built offline from a copy of the sources."""
    src = _sources(tmp_path_factory.mktemp("src"))
    out = tmp_path_factory.mktemp("dist")
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                          "--no-index", "-q", "-w", str(out), str(src)],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([sys.executable, "-c", "import sys; from setuptools import build_meta as b; "
                          "print(b.build_sdist(sys.argv[1]))", str(out)],
                         cwd=src, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    return {"wheel": next(out.glob("*.whl")), "sdist": next(out.glob("*.tar.gz"))}


def test_wheel_and_sdist_hold_the_builtin_configs_and_specs(dists):
    wheel = set(zipfile.ZipFile(dists["wheel"]).namelist())
    missing = [f for f in BUILTIN_FILES if f not in wheel]
    assert not missing, f"not in the wheel: {missing}"
    n_conf = len([f for f in (ROOT / "dream" / "conf").rglob("*.yaml")])
    assert len([f for f in wheel if f.startswith("dream/conf/") and f.endswith(".yaml")]) == n_conf
    with tarfile.open(dists["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    missing = [f for f in BUILTIN_FILES if f not in names]
    assert not missing, f"not in the sdist: {missing}"


def _user_project(root: Path) -> Path:
    """An empty folder with its own conf/workload, conf/hardware and sweeps/."""
    (root / "conf" / "workload").mkdir(parents=True)
    (root / "conf" / "hardware").mkdir(parents=True)
    (root / "sweeps").mkdir()
    (root / "conf" / "workload" / "mine.yaml").write_text(
        "# My scenario: eye segmentation and hand tracking.\n"
        "name: mine\n"
        "tasks:\n"
        "  - {name: ES, model: ritnet, fps: 60}\n"
        "  - {name: HT, model: hand_graph_cnn, fps: 30}\n")
    (root / "conf" / "hardware" / "my_chip.yaml").write_text(
        "# My chip: one WS and one OS array.\n"
        "name: my_chip\n"
        "total_pes: 4096\n"
        "offchip_bw: 64\n"
        "accelerators:\n"
        "  - {name: ws0, dataflow: WS, num_pes: 2048}\n"
        "  - {name: os0, dataflow: OS, num_pes: 2048}\n")
    (root / "sweeps" / "mystudy.yaml").write_text(
        "# My study.\nname: mystudy\noverrides: [sim.duration_ms=300]\n"
        "grid:\n  workload: mine\n  hardware: my_chip,dual_4k_ws_os\n"
        "  scheduler: fcfs,dream\n  sim.seed: range(0,2)\n")
    return root


def test_installed_wheel_runs_from_a_folder_outside_the_clone(dists, tmp_path):
    target = tmp_path / "site"
    res = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                          "--target", str(target), str(dists["wheel"])],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert not (target / "dream" / "conf" / "config.yaml").is_relative_to(ROOT)
    project = _user_project(tmp_path / "myproject")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DREAM_", "PYTHON"))}
    env["PYTHONPATH"] = str(target)

    def dream(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "dream.cli", *args], cwd=project, env=env,
                              capture_output=True, text=True, timeout=600)

    version = dream("--version")
    assert version.returncode == 0 and str(target) in version.stdout, version.stdout + version.stderr

    run = dream("run", "workload=mine", "hardware=my_chip", "sim.duration_ms=300", "output=out/one")
    assert run.returncode == 0, run.stderr
    summary = json.loads((project / "out" / "one" / "summary.json").read_text())
    assert summary["jobs"] > 0

    # the bundled MAESTRO table is found through the installed package, not the clone
    xrb = dream("run", "workload=xrbench_vr_gaming", "hardware=single_4k_ws", "cost=xrbench_maestro",
                "+experiment=xrbench", "output=out/xrb")
    assert xrb.returncode == 0, xrb.stderr
    valid = dream("validate", "xrbench", "--scenario", "VR_gaming", "--only-failures")
    assert valid.returncode == 0 and valid.stdout.rstrip().endswith("PASS"), valid.stdout[-2000:] + valid.stderr

    listing = dream("list")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    mine = next(line for line in lines if line.strip().startswith("mine "))
    assert "My scenario" in mine and "[conf]" in mine
    assert any(line.strip().startswith("vr_gaming ") and "[built-in]" in line for line in lines)
    assert any(line.strip().startswith("mystudy ") and "[sweeps]" in line for line in lines)

    sweep = dream("sweep", "mystudy", "--no-progress")
    assert sweep.returncode == 0, sweep.stdout + sweep.stderr
    report = dream("report", "outputs/mystudy")
    assert report.returncode == 0, report.stdout + report.stderr
    assert "report.md" in report.stdout

    builtin = dream("sweep", "smoke", "--dry-run")
    assert builtin.returncode == 0 and "executor serial" in builtin.stdout, builtin.stdout + builtin.stderr
