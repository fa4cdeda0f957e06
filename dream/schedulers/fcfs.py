"""FCFS: the earliest-released ready job goes first, to its fastest idle sub-accelerator.

Non-preemptive: once started, a job keeps its sub-accelerator block after block.
"""

from __future__ import annotations

from dream.sim.policy import Assignment, Decision, Policy, View


class FCFS(Policy):
    """First come, first served."""

    name = "fcfs"
    preemptive = False

    def schedule(self, view: View) -> Decision:
        """Pair ready jobs in release order with the idle sub-accelerator fastest for each."""
        idle = list(view.idle)
        out = []
        for job in view.ready:
            if not idle:
                break
            best = min(idle, key=job.remaining_ms)
            idle.remove(best)
            out.append(Assignment(job, best))
        return Decision(out)


POLICY = FCFS
