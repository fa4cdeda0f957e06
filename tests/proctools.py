"""Helpers for tests that start Ray nodes as their own process groups."""

from __future__ import annotations

import os
import signal
import subprocess


def stop_group(proc: subprocess.Popen) -> None:
    """Stop a process group this test started (never `ray stop`, which would end every
    Ray instance on the machine): SIGTERM, then SIGKILL if it is still there after 45 s
    (`ray start --block` drains its node for up to 30 s)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=45)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass
