"""FCFS: the earliest-released ready job goes first, to its fastest idle sub-accelerator.

Non-preemptive: once started, a job keeps its sub-accelerator block after block.
"""

from __future__ import annotations

from dream.schedulers.ordering import fastest_idle_in_order
from dream.sim.policy import Decision, Policy, View


class FCFS(Policy):
    """First come, first served."""

    name = "fcfs"
    preemptive = False

    def schedule(self, view: View) -> Decision:
        """Pair ready jobs in release order with the idle sub-accelerator fastest for each."""
        return fastest_idle_in_order(view)


POLICY = FCFS
