"""The cluster steps of README.md and docs/sweeps.md, run as written on a two-node cluster here.

The steps are read from the documents themselves. Only what two machines would differ in
is changed: HEAD_IP becomes this machine's address (not 127.0.0.1, so the dashboard must
really listen beyond loopback), the ports 6379 and 8265 become free ones, and the two
`ray start` lines get the flags two nodes on one machine need (their own agent and client
ports, one CPU each) plus --block, so that each node is a process group this test started
and stops by its id. `ray stop` is never run: it would stop every Ray on the machine.
The project folder is a fresh one with its own conf/ and sweeps/: its sweeps/paper.yaml
shadows the built-in paper study, so the steps run a small study of a user scenario, and
`dream submit` must ship those files with the job.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from proctools import stop_group

from dream.config import CONF_DIR

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent

USER_SPEC = """# A small study of my own scenario (shadows the built-in paper spec).
name: paper
overrides: [sim.duration_ms=200]
grid:
  workload: mine
  scheduler: fcfs,dream
  sim.seed: range(0,2)
"""


def steps(doc: Path) -> list[list[str]]:
    """The commands of the document's code block that starts a Ray head, comments dropped."""
    blocks = re.findall(r"```bash\n(.*?)```", doc.read_text(), flags=re.S)
    block = next(b for b in blocks if "ray start --head" in b)
    return [shlex.split(line, comments=True) for line in block.splitlines() if shlex.split(line, comments=True)]


def test_readme_and_docs_give_the_same_cluster_steps():
    readme, docs = steps(ROOT / "README.md"), steps(ROOT / "docs" / "sweeps.md")
    assert readme == docs
    commands = [" ".join(c) for c in readme]
    assert any(c.startswith("ray start --head") and "--dashboard-host 0.0.0.0" in c for c in commands)
    assert commands[0] == "export RAY_AUTH_MODE=token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def _host_ip() -> str:
    """This machine's address on its network (what another machine would use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the route
            ip = s.getsockname()[0]
        except OSError:
            ip = "127.0.0.1"
    if ip.startswith("127."):
        from ray._private.services import get_node_ip_address

        ip = get_node_ip_address()
    return ip


@pytest.mark.cluster
@pytest.mark.timeout(900)
def test_cluster_steps_run_as_written(tmp_path):
    project = tmp_path / "project"
    (project / "conf" / "workload").mkdir(parents=True)
    (project / "sweeps").mkdir()
    vr = (CONF_DIR / "workload" / "vr_gaming.yaml").read_text()
    (project / "conf" / "workload" / "mine.yaml").write_text(
        vr.replace("name: vr_gaming", "name: mine").replace("description: VR gaming", "description: my VR gaming"))
    (project / "sweeps" / "paper.yaml").write_text(USER_SPEC)

    ip = _host_ip()
    gcs, dash = _free_port(), _free_port()
    same_machine = {  # what two nodes on one machine need on top of the documented lines
        "head": ["--num-cpus", "1", "--ray-client-server-port", str(_free_port()),
                 "--dashboard-agent-listen-port", str(_free_port()), "--disable-usage-stats", "--block"],
        "node": ["--num-cpus", "1", "--dashboard-agent-listen-port", str(_free_port()), "--block"],
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "DREAM_"))}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["RAY_USAGE_STATS_ENABLED"] = "0"

    def subst(word: str) -> str:
        return word.replace("HEAD_IP", ip).replace("6379", str(gcs)).replace("8265", str(dash))

    nodes: list[subprocess.Popen] = []
    log = []
    job_id = None
    try:
        for cmd in steps(ROOT / "README.md"):
            cmd = [subst(w) for w in cmd]
            log.append(" ".join(cmd))
            if cmd[0] == "export":
                key, _, value = cmd[1].partition("=")
                env[key] = value
                continue
            if cmd[:2] == ["ray", "start"]:
                extra = same_machine["head" if "--head" in cmd else "node"]
                out = open(tmp_path / f"node{len(nodes)}.log", "w")
                nodes.append(subprocess.Popen(cmd + extra, cwd=project, env=env, stdout=out,
                                              stderr=subprocess.STDOUT, start_new_session=True))
                if "--head" in cmd:
                    _wait_for_port(ip, dash, nodes[-1], tmp_path / "node0.log")
                continue
            if cmd[:2] == ["ray", "status"]:
                deadline = time.time() + 120
                while True:
                    res = _run(cmd, project, env)
                    if res.returncode == 0 and res.stdout.count(" node_") >= 2:
                        break
                    assert time.time() < deadline, f"{' '.join(cmd)}: {res.stdout}{res.stderr}"
                    time.sleep(2)
                continue
            if "JOB_ID" in cmd:
                assert job_id, "no job id printed before this step"
                cmd = [w.replace("JOB_ID", job_id) for w in cmd]
                deadline = time.time() + 600
                while True:
                    res = _run(cmd, project, env)
                    assert res.returncode == 0, res.stderr
                    if res.stdout.strip() in ("SUCCEEDED", "FAILED", "STOPPED"):
                        break
                    assert time.time() < deadline, "the job did not finish"
                    time.sleep(3)
                assert res.stdout.strip() == "SUCCEEDED", _run(
                    ["dream", "submit", "--logs", job_id, "--address", f"http://{ip}:{dash}"], project, env).stdout
                continue
            res = _run(cmd, project, env)
            assert res.returncode == 0, f"{' '.join(cmd)} exited {res.returncode}: {res.stdout}{res.stderr}"
            if cmd[:2] == ["dream", "submit"]:
                job_id = res.stdout.split()[0]
        # the sweep by address and the submitted job both ran the user's study of 4 points
        from dream.dataset import read_dataset

        df = read_dataset(project / "outputs" / "paper")
        assert len(df) == 4 and (df["status"] == "ok").all() and set(df["workload"]) == {"mine"}
        assert job_id and job_id.startswith("raysubmit_")
    finally:
        for proc in reversed(nodes):
            stop_group(proc)
    print("\n".join(log))


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _wait_for_port(host: str, port: int, proc: subprocess.Popen, logfile: Path, timeout: float = 120) -> None:
    """Wait until the head's dashboard accepts connections on `host` (not only on loopback)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, f"the head exited: {logfile.read_text()[-2000:]}"
        try:
            with socket.create_connection((host, port), timeout=2):
                return
        except OSError:
            time.sleep(1)
    pytest.fail(f"the dashboard did not listen on {host}:{port}: {logfile.read_text()[-2000:]}")
