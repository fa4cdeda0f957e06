"""Round robin over tasks, one block at a time.

A pointer rotates over the scenario's tasks. At a scheduling point each idle
sub-accelerator (in turn) serves the first task at or after the pointer that has a ready
job, running that task's earliest-released ready job for one block on the fastest idle
sub-accelerator; the pointer then moves past that task. Preemptive at block boundaries:
a job whose block ends goes back to the ready list and waits for its task's next turn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from dream.sim.policy import Assignment, Decision, Policy, View

if TYPE_CHECKING:
    from dream.sim.spec import SimSpec


class RoundRobin(Policy):
    """Round robin over tasks, one block per turn."""

    name = "rr"
    preemptive = True

    def __init__(self) -> None:
        self._next = 0  # the task whose turn comes next

    def setup(self, system, tasks: Sequence, sim: "SimSpec") -> None:
        """Start the rotation at the first task."""
        self._next = 0

    def schedule(self, view: View) -> Decision:
        """Give each idle sub-accelerator one block of the next task in the rotation."""
        n = len(view.tasks)
        queues: dict[int, list] = {}  # task -> its ready jobs in release order
        for job in view.ready:
            q = queues.get(job.task)
            if q is None:
                queues[job.task] = [job]
            else:
                q.append(job)
        idle = list(view.idle)
        out = []
        t = self._next
        while idle and queues:
            for k in range(n):
                ti = (t + k) % n
                if ti in queues:
                    break
            q = queues[ti]
            job = q.pop(0)
            if not q:
                del queues[ti]
            a = min(idle, key=job.remaining_ms)
            idle.remove(a)
            out.append(Assignment(job, a))
            t = ti + 1
        self._next = t % n
        return Decision(out)

    def params(self) -> dict[str, Any]:
        return {}


POLICY = RoundRobin
