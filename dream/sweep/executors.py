"""Executors: run chunks of points and hand back their rows in completion order.

SerialExecutor runs chunks in this process (tests, debugging, one-core machines).
RayExecutor fans chunks out as Ray tasks (an embedded local instance, or an existing
cluster by address), keeps a bounded number in flight and collects them with ray.wait.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
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


class Terminated(KeyboardInterrupt):
    """SIGTERM (a batch scheduler's stop): handled like Ctrl-C, exit status 143."""

    signum = signal.SIGTERM


# SIGTERMs received by this process (dream.cli's handler notes each before raising)
_TERMINATED: list[int] = []


def note_sigterm() -> None:
    """Remember that SIGTERM arrived (see signal_of)."""
    _TERMINATED.append(signal.SIGTERM)


def signal_of(exc: BaseException) -> int:
    """The signal behind a KeyboardInterrupt: its own signum, else SIGTERM if one arrived
    (Ray's blocking calls catch our Terminated and raise a plain KeyboardInterrupt in its
    place), else SIGINT."""
    own = getattr(exc, "signum", None)
    if own is not None:
        return int(own)
    return signal.SIGTERM if _TERMINATED else signal.SIGINT


ADDRESS_TIMEOUT_S = 10.0
# an HTTP/2 client preface and an empty SETTINGS frame: a gRPC server (Ray's GCS) answers
# with a SETTINGS frame of its own; a web server, ssh or a silent port does not
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def check_address(address: str, timeout: float = ADDRESS_TIMEOUT_S) -> str:
    """Raise ConnectionError (naming the address) unless a Ray cluster answers there.

    ray.init retries an unreachable cluster for minutes and ignores SIGTERM while it
    does; this check answers within `timeout` seconds. Returns the host:port it checked.
    """
    from urllib.parse import urlsplit

    if "://" in address:
        parts = urlsplit(address)
        target = f"{parts.hostname}:{parts.port or 10001}"
    else:
        from ray._private.services import canonicalize_bootstrap_address

        try:
            target = canonicalize_bootstrap_address(address) or ""
        except Exception as exc:  # 'auto' without a cluster on this machine, a malformed address
            raise ConnectionError(f"no Ray cluster at {address!r}: {' '.join(str(exc).split())[:200]}") from None
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ConnectionError(f"{address!r} is not a Ray address ('auto' or HOST:PORT)")
    shown = address if target == address else f"{address} ({target})"
    try:
        socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConnectionError(f"cannot resolve the host of {shown}: {exc.strerror}") from None
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(_H2_PREFACE)
            head = sock.recv(9)
    except TimeoutError:
        raise ConnectionError(f"no Ray cluster answers at {shown} within {timeout:.0f} s") from None
    except OSError as exc:
        raise ConnectionError(f"no Ray cluster answers at {shown}: {exc.strerror or exc}") from None
    if len(head) < 9 or head[3] != 4:
        raise ConnectionError(f"{shown} is not a Ray cluster's GCS address (it answers, but not as "
                              "Ray does; the head's address is HOST:6379 by default)")
    return target


class _HeldSignals:
    """Defer SIGINT/SIGTERM while Ray shuts down, then raise them (a half-stopped Ray
    instance would be left behind otherwise)."""

    def __enter__(self) -> "_HeldSignals":
        self.pending: list[int] = []
        self.previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, lambda s, f: self.pending.append(s))
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        if self.pending and exc[0] is None:
            raise Terminated() if self.pending[0] == signal.SIGTERM else KeyboardInterrupt()


def warm_up() -> int:
    """Import the simulator in a fresh worker process, before its first chunk arrives,
    and read the package's dataflow files while the job's copy of it is fresh."""
    import dream.api  # noqa: F401
    import dream.sweep.worker  # noqa: F401
    from dream.hardware.dataflow import builtin_dataflows

    builtin_dataflows()

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
        self._watchdog = None
        if self._owned:
            if address:
                check_address(address)
            # ray.init installs a SIGTERM handler that exits with status 15 and no message;
            # ours (dream.cli) comes back once Ray is up
            previous = signal.getsignal(signal.SIGTERM)
            try:
                if address:
                    ray.init(address=address, **quiet)
                else:
                    # "local": a new instance even when `ray start` left a cluster on this
                    # machine (address=None would join that one)
                    ray.init(address="local", num_cpus=workers or os.cpu_count() or 1,
                             include_dashboard=False, **quiet)
                    self._watch()
            except SystemExit as exc:  # Ray's handler: SIGTERM arrived during start-up
                self._shutdown()
                if exc.code == signal.SIGTERM:
                    raise Terminated() from None
                raise
            except BaseException:
                self._shutdown()
                raise
            finally:
                if threading.current_thread() is threading.main_thread() and previous is not None:
                    signal.signal(signal.SIGTERM, previous)
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

    def _watch(self) -> None:
        """A watchdog that ends this embedded instance when the driver ends (dream.sweep.reaper)."""
        import ray

        try:
            session = ray._private.worker._global_node.get_session_dir_path()
        except Exception:  # a Ray without this internal: ray.shutdown is all we have
            return
        from dream.sweep.reaper import start_watchdog

        self._watchdog = start_watchdog(session)

    def _shutdown(self) -> None:
        """Leave Ray (stopping the embedded instance); let the watchdog sweep up after it."""
        import ray

        try:
            if ray.is_initialized():
                ray.shutdown()
        finally:
            if self._watchdog is not None:
                try:
                    self._watchdog.stdin.close()  # EOF: it reaps what shutdown left
                except OSError:
                    pass
                self._watchdog = None

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
        if self._owned:
            with _HeldSignals():
                self._shutdown()


def make_executor(kind: str, workers: int | None, address: str | None) -> SerialExecutor | RayExecutor:
    """An executor by name: 'serial' or 'ray'."""
    if kind == "serial":
        return SerialExecutor()
    return RayExecutor(workers=workers, address=address)
