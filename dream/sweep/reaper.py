"""A watchdog that ends an embedded Ray instance when its driver ends, however it ends.

`ray.init(address="local")` starts GCS, raylet, dashboard and runtime-env agents. When
the driver is killed with SIGKILL some of them (the agents) outlive it. The watchdog is a
small process started beside the instance; it blocks reading a pipe whose only writer is
the driver. The pipe reaches end-of-file when the driver closes it (after ray.shutdown)
or when the kernel closes it (the driver died). Then every process of that Ray session
(its command line or an open file inside the session directory) is terminated.

Only processes of the session this driver started are touched: the session directory
is unique per instance, so other Ray instances on the machine are left alone.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

GRACE_S = 1.0       # let a normal ray.shutdown finish before looking
TERM_WAIT_S = 3.0   # SIGTERM, then SIGKILL what is still there


def session_processes(session_dir: str, exclude: set[int]) -> list[int]:
    """PIDs of live processes whose command line or open files point into session_dir."""
    found = []
    # the directory itself or a path inside it, never a session whose name merely starts alike
    inside = re.compile(re.escape(session_dir) + r"(/|\x00|\s|$)")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in exclude:
            continue
        try:
            if inside.search((entry / "cmdline").read_bytes().decode(errors="replace")):
                found.append(int(entry.name))
                continue
            for fd in (entry / "fd").iterdir():
                if inside.match(os.readlink(fd)):
                    found.append(int(entry.name))
                    break
        except OSError:  # the process ended, or is not ours to inspect
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is gone
    except OSError:
        return False


def reap(session_dir: str, exclude: set[int]) -> int:
    """Terminate the session's processes (SIGTERM, then SIGKILL); returns how many."""
    pids = session_processes(session_dir, exclude)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + TERM_WAIT_S
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    for pid in pids:
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    return len(pids)


def start_watchdog(session_dir: str) -> subprocess.Popen:
    """Start the watchdog for this driver's session; close its stdin to let it reap now."""
    return subprocess.Popen([sys.executable, "-m", "dream.sweep.reaper", session_dir, str(os.getpid())],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def main(argv: list[str]) -> int:
    """`python -m dream.sweep.reaper SESSION_DIR DRIVER_PID`: wait for EOF on stdin, then reap."""
    session_dir, driver = argv[0], int(argv[1])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C meant for the driver is not ours
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except OSError:
        pass
    time.sleep(GRACE_S)
    reap(session_dir.rstrip("/"), {os.getpid(), driver})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
