"""What runs on a worker: simulate each point of a chunk, catching its errors into its row.

Imported once per worker process (Ray reuses task workers), so the cost-table caches of
dream.cost live across all the chunks a worker runs.
"""

from __future__ import annotations

import importlib
import os
import socket
import threading
import time
from typing import Any

Item = tuple[str, dict, dict]  # (run key, resolved config, identity and parameter columns)

_WORKER = f"{socket.gethostname()}:{os.getpid()}"

# set when the user asked to stop (Ctrl-C): an exception raised while stopping is the
# interruption showing through library code, not a failure of the point
STOP = threading.Event()


def error_text(exc: BaseException) -> str:
    """Exception type and message on one line (the row's `error`)."""
    msg = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


# how long a point waits for dream's own modules when they vanish under a worker: in a Ray
# job the package is a copy unpacked per node, and where nodes share Ray's temporary
# directory (several nodes on one machine, a shared file system) a node joining the job
# removes and unpacks that copy again (about 0.3 s) while other nodes' workers run
PACKAGE_WAIT_S = 15.0


def _package_missing(exc: BaseException) -> bool:
    """The error is one of dream's own modules not found (not a user's missing module)."""
    return isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] == "dream"


def run_point(run_key: str, config: dict, base: dict[str, Any]) -> dict[str, Any]:
    """Simulate one resolved config into a row; an exception becomes status `failed`.

    Missing modules of dream itself are waited for (within PACKAGE_WAIT_S) and the point
    tried again: the simulation is deterministic, so a retry gives the same row.
    """
    t0 = time.perf_counter()
    row: dict[str, Any] = {"run_key": run_key, "status": "ok", "error": None, **base}
    deadline = time.monotonic() + PACKAGE_WAIT_S
    while True:
        try:
            from dream.api import run_spec
            from dream.config import build_spec

            row.update(run_spec(build_spec(config)).summary)
        except Exception as exc:  # a failed simulation is a result, not the end of the sweep
            if STOP.is_set():
                raise KeyboardInterrupt from exc
            if _package_missing(exc) and time.monotonic() < deadline:
                importlib.invalidate_caches()  # the import system cached the empty directory
                time.sleep(0.25)
                continue
            row["status"] = "failed"
            row["error"] = error_text(exc)
        break
    row["elapsed_s"] = time.perf_counter() - t0
    row["worker"] = _WORKER
    row["finished_at"] = time.time()
    return row


def run_chunk(items: list[Item]) -> list[dict[str, Any]]:
    """Simulate every point of a chunk in order."""
    return [run_point(k, c, b) for k, c, b in items]
