"""The search journal: Optuna's journal file, with batches of operations written as one append.

Optuna's `JournalStorage` writes one journal line per storage operation, and asking a trial
is several operations (create the trial, then one line per parameter, plus the sampler's
own attributes). A kill between them leaves a RUNNING trial with only some parameters,
which no rerun can evaluate or reproduce. `AtomicJournal.atomic()` holds the lines of a
block (here: asking a whole batch) in memory, lets the storage read them back as if they
were written, and appends them to the file in one write when the block ends: a kill
leaves the whole batch asked or none of it.

The search holds the dataset lock while it runs, so this process is the journal's only
writer; that is what lets held lines be numbered right after the file's last line.

One append is one write(2), but a write of several pages can stop short when a SIGKILL
or a power cut lands inside it. What it leaves is a run of whole lines and at most one
cut line at the end: `repair_tail` drops the cut line before a search appends again
(Optuna's reader skips a cut last line, but one followed by more lines is an error), and
a trial whose parameter lines were lost with it is failed by the search, not evaluated.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from optuna.storages.journal import BaseJournalBackend


class AtomicJournal(BaseJournalBackend):
    """A journal backend that can hold appended lines and write them in one append.

    Wraps another backend (Optuna's `JournalFileBackend`). Outside `atomic()` every call
    goes straight through.
    """

    def __init__(self, inner: BaseJournalBackend) -> None:
        self._inner = inner
        self._held: list[dict[str, Any]] | None = None
        self._base = 0  # lines in the file when holding began
        self._read = 0  # lines of the file this process has read so far

    def read_logs(self, log_number_from: int) -> Iterable[dict[str, Any]]:
        """Lines from `log_number_from` on: the file's, then the held ones."""
        return self._iter(log_number_from)

    def _iter(self, start: int) -> Iterator[dict[str, Any]]:
        if self._held is None or start < self._base:
            n = start
            for log in self._inner.read_logs(start):
                n += 1
                self._read = max(self._read, n)
                yield log
        if self._held is not None:
            yield from self._held[max(0, start - self._base):]

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        """Append now, or hold until the `atomic()` block ends."""
        if self._held is None:
            self._inner.append_logs(logs)
        else:
            self._held.extend(logs)

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Write every line appended inside the block in one append when it ends.

        If the block raises, its lines are dropped (the file never sees them) and the
        storage object that read them must not be used again; the search ends then anyway.

        Raises:
            RuntimeError: when blocks are nested.
        """
        if self._held is not None:
            raise RuntimeError("AtomicJournal.atomic() blocks do not nest")
        for _ in self._iter(self._read):  # count the file's lines (only this process writes)
            pass
        self._base = self._read
        self._held = []
        try:
            yield
        except BaseException:
            self._held = None
            raise
        held, self._held = self._held, None
        if held:
            self._inner.append_logs(held)
            self._read = self._base + len(held)


def repair_tail(path: Path) -> int:
    """Cut a journal back to its last whole line; returns the bytes dropped (0 if none).

    Only for a journal this process holds the dataset lock of (nobody else appends).
    """
    if not path.is_file():
        return 0
    data = path.read_bytes()
    keep = data.rfind(b"\n") + 1  # 0 when not even the first line is whole
    if keep == len(data):
        return 0
    with open(path, "rb+") as f:
        f.truncate(keep)
        os.fsync(f.fileno())
    return len(data) - keep
