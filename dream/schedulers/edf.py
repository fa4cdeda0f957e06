"""EDF: earliest absolute deadline first, preemptive at block boundaries.

At every scheduling point the ready jobs are ranked by absolute deadline (ties by
release order) and paired in that order with the fastest idle sub-accelerator for each.
A job whose block ends competes again, so a newly released job with an earlier deadline
takes over at the next block boundary (never in the middle of a block).
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from dream.sim.policy import Assignment, Decision, Policy, View

_DEADLINE = attrgetter("deadline")


class EDF(Policy):
    """Earliest deadline first."""

    name = "edf"
    preemptive = True

    def __init__(self) -> None:
        """No parameters."""

    def schedule(self, view: View) -> Decision:
        """Run the earliest-deadline ready jobs on their fastest idle sub-accelerators."""
        idle = view.idle
        if len(idle) == 1:  # the common case: one pass, no sort
            return Decision([Assignment(min(view.ready, key=_DEADLINE), idle[0])])
        idle = list(idle)
        out = []
        for job in sorted(view.ready, key=_DEADLINE):  # stable: ties keep release order
            a = min(idle, key=job.remaining_ms)
            idle.remove(a)
            out.append(Assignment(job, a))
            if not idle:
                break
        return Decision(out)

    def params(self) -> dict[str, Any]:
        return {}


POLICY = EDF
