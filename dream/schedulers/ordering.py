"""The dispatch step shared by list-ordered policies (FCFS, EDF, SJF)."""

from __future__ import annotations

from typing import Callable

from dream.sim.job import Job
from dream.sim.policy import Assignment, Decision, View


def fastest_idle_in_order(view: View, key: Callable[[Job], float] | None = None) -> Decision:
    """Ready jobs ranked by `key` (release order when None; ties keep release order) each
    take the idle sub-accelerator that runs the rest of them fastest, until none is idle."""
    idle = view.idle
    if len(idle) == 1:  # the common case at a block boundary: one pass, no sort
        job = view.ready[0] if key is None else min(view.ready, key=key)
        return Decision([Assignment(job, idle[0])])
    idle = list(idle)
    out = []
    for job in view.ready if key is None else sorted(view.ready, key=key):
        a = min(idle, key=job.remaining_ms)
        idle.remove(a)
        out.append(Assignment(job, a))
        if not idle:
            break
    return Decision(out)
