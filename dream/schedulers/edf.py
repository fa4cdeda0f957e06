"""EDF: earliest absolute deadline first, preemptive at block boundaries.

At every scheduling point the ready jobs are ranked by absolute deadline (ties by
release order) and paired in that order with the fastest idle sub-accelerator for each.
A job whose block ends competes again, so a newly released job with an earlier deadline
takes over at the next block boundary (never in the middle of a block).
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from dream.schedulers.ordering import fastest_idle_in_order
from dream.sim.policy import Decision, Policy, View

_DEADLINE = attrgetter("deadline")


class EDF(Policy):
    """Earliest deadline first."""

    name = "edf"
    preemptive = True

    def __init__(self) -> None:
        """No parameters."""

    def schedule(self, view: View) -> Decision:
        """Run the earliest-deadline ready jobs on their fastest idle sub-accelerators."""
        return fastest_idle_in_order(view, _DEADLINE)

    def params(self) -> dict[str, Any]:
        return {}


POLICY = EDF
