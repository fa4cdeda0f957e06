"""Executors: run chunks of points and hand back their rows in completion order.

SerialExecutor runs chunks in this process (tests, debugging, one-core machines).
RayExecutor fans chunks out as Ray tasks (an embedded local instance, or an existing
cluster by address), keeps a bounded number in flight and collects them with ray.wait.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Iterable, Iterator

from dream.sweep.worker import STOP, Item, error_text, run_chunk, run_point

Rows = list[dict[str, Any]]


def failed_rows(chunk: list[Item], exc: BaseException) -> Rows:
    """Rows for points whose task died (a lost worker or node, after Ray's retries)."""
    err = error_text(exc)
    return [{"run_key": k, "status": "failed", "error": err, **base, "elapsed_s": None,
             "worker": None, "finished_at": time.time()} for k, _, base in chunk]


def use_token_auth_if_available() -> None:
    """Talk to a cluster in token mode when this machine holds a Ray token.

    Ray 2.60's `ray start --head` turns token authentication on whenever a token exists
    (~/.ray/auth_token, which any local ray.init() creates), and then refuses clients that
    are not in token mode. A token-mode client also works with a cluster without auth, so
    this mirrors what `ray start` itself does. An explicit RAY_AUTH_MODE always wins.
    """
    if "RAY_AUTH_MODE" in os.environ:
        return
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    if os.environ.get("RAY_AUTH_TOKEN") or Path(path or Path.home() / ".ray" / "auth_token").is_file():
        os.environ["RAY_AUTH_MODE"] = "token"
        if "ray._raylet" in sys.modules:  # Ray caches its config when imported: refresh it
            try:
                sys.modules["ray._raylet"].Config.initialize("")
            except Exception:  # an older or newer Ray without this hook
                pass


def warm_up() -> int:
    """Import the simulator in a fresh worker process, before its first chunk arrives."""
    import dream.api  # noqa: F401
    import dream.sweep.worker  # noqa: F401

    return os.getpid()


class SerialExecutor:
    """Runs every chunk in the calling process, in order."""

    name = "serial"

    def __init__(self, workers: int = 1) -> None:
        self.workers = 1

    def run(self, chunks: Iterable[list[Item]]) -> Iterator[Rows]:
        """Yield each chunk's rows as it finishes; Ctrl-C stops after the current point."""
        previous = None
        if threading.current_thread() is threading.main_thread():
            def on_sigint(signum: int, frame: Any) -> None:
                # the first Ctrl-C lets the running point finish (an interrupt deep inside
                # a simulation could surface as some other exception); the second stops now
                if STOP.is_set():
                    raise KeyboardInterrupt
                STOP.set()

            previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            for chunk in chunks:
                rows = []
                for item in chunk:
                    rows.append(run_point(*item))
                    if STOP.is_set():
                        break
                yield rows
                if STOP.is_set():
                    raise KeyboardInterrupt
        finally:
            STOP.clear()
            if previous is not None:
                signal.signal(signal.SIGINT, previous)

    def ready(self, timeout: float = 0.0) -> None:
        """Always ready."""

    def close(self) -> None:
        """Nothing to release."""


class RayExecutor:
    """Runs chunks as Ray tasks with at most `in_flight` outstanding."""

    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None,
                 max_retries: int = 3, in_flight: int | None = None) -> None:
        if address:
            use_token_auth_if_available()
        import ray

        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
        self._owned = not ray.is_initialized()
        if self._owned:
            if address:
                ray.init(address=address, **quiet)
            else:
                # "local": a new instance even when `ray start` left a cluster on this machine
                # (address=None would join that one)
                ray.init(address="local", num_cpus=workers or os.cpu_count() or 1,
                         include_dashboard=False, **quiet)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        # on a cluster --workers can only lower the parallelism the cluster offers
        self.workers = max(1, min(workers or cpus, cpus))
        self.in_flight = in_flight or 2 * self.workers
        # system failures (a dead worker or node) are retried by Ray; a simulation's own
        # exception never reaches Ray: run_point turns it into a failed row
        self._remote = ray.remote(num_cpus=1, max_retries=max_retries,
                                  retry_exceptions=False)(run_chunk)
        self._pending: dict[Any, list[Item]] = {}
        self._warm = [ray.remote(num_cpus=1)(warm_up).remote() for _ in range(self.workers)]

    def ready(self, timeout: float = 120.0) -> None:
        """Wait until the workers have imported the simulator (a one-time cost per worker)."""
        import ray

        if self._warm:
            ray.wait(self._warm, num_returns=len(self._warm), timeout=timeout)
            self._warm = []

    def run(self, chunks: Iterable[list[Item]]) -> Iterator[Rows]:
        """Submit chunks (bounded), yield their rows in completion order."""
        import ray
        from ray.exceptions import RayError

        source = iter(chunks)
        retry: deque[list[Item]] = deque()
        exhausted = False
        while True:
            while len(self._pending) < self.in_flight:
                if retry:
                    chunk = retry.popleft()
                elif not exhausted:
                    chunk = next(source, None)
                    if chunk is None:
                        exhausted = True
                        continue
                else:
                    break
                self._pending[self._remote.remote(chunk)] = chunk
            if not self._pending:
                return
            ready, _ = ray.wait(list(self._pending), num_returns=1)
            for ref in ready:
                chunk = self._pending.pop(ref)
                try:
                    rows = ray.get(ref)
                except RayError as exc:
                    if len(chunk) > 1:
                        # one bad point must not fail its neighbours: rerun them one by one
                        retry.extend([item] for item in chunk)
                        continue
                    rows = failed_rows(chunk, exc)
                yield rows

    def close(self) -> None:
        """Cancel what is still running and leave Ray if this executor joined it."""
        import ray

        for ref in list(self._pending):
            try:
                ray.cancel(ref, force=True)
            except Exception:  # already finished or its worker is gone
                pass
        self._pending.clear()
        if self._owned and ray.is_initialized():
            ray.shutdown()


def make_executor(kind: str, workers: int | None, address: str | None) -> SerialExecutor | RayExecutor:
    """An executor by name: 'serial' or 'ray'."""
    if kind == "serial":
        return SerialExecutor()
    return RayExecutor(workers=workers, address=address)
