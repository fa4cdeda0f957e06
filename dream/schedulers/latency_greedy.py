"""Latency-greedy, XRBench's runtime: whole model, non-preemptive, fastest idle sub-accelerator.

Each waiting job goes to the idle sub-accelerator that runs its whole model fastest
(ties: the lowest index) and runs there as one block. Which waiting job goes first:

- `queue_order: release` (default): release order, earliest first;
- `queue_order: task_name`: XRBench's order (HET_runtime.hpp, `DispatchJobs`). Each task
  has a FIFO queue; the queues are visited in alphabetical task-name order (XRBench keeps
  them in a std::map keyed by model name), each visit dispatching at most the queue's
  oldest job, and the passes repeat until one dispatches nothing or no sub-accelerator is
  idle. So with two idle sub-accelerators and two jobs of task A and one of task B
  waiting, A's oldest and B's job start, not A's two.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Sequence

from dream.sim.policy import Assignment, Decision, Policy, View

if TYPE_CHECKING:
    from dream.sim.spec import SimSpec

QUEUE_ORDERS = ("release", "task_name")


class LatencyGreedy(Policy):
    """XRBench's latency-greedy runtime."""

    name = "latency_greedy"
    preemptive = False

    def __init__(self, queue_order: str = "release") -> None:
        if queue_order not in QUEUE_ORDERS:
            raise ValueError(f"queue_order: must be one of {list(QUEUE_ORDERS)}, got {queue_order!r}")
        self.queue_order = queue_order
        self._by_name: list[int] = []

    def setup(self, system, tasks: Sequence, sim: "SimSpec") -> None:
        """Fix the visiting order of the task queues: task indices by name (code-point order,
        as std::string compares bytes for ASCII names)."""
        self._by_name = sorted(range(len(tasks)), key=lambda i: tasks[i].name)

    def schedule(self, view: View) -> Decision:
        """Send waiting jobs, in the configured order, to the idle sub-accelerator with the
        lowest whole-model latency."""
        idle = list(view.idle)
        out = []
        if self.queue_order == "release":
            for job in view.ready:
                if not idle:
                    break
                best = min(idle, key=job.total_ms)
                idle.remove(best)
                out.append(Assignment(job, best, size=0))
            return Decision(out)
        queues: dict[int, deque] = {}
        for job in view.ready:  # release order, so each queue is oldest first
            queues.setdefault(job.task, deque()).append(job)
        order = [ti for ti in self._by_name if ti in queues]
        while idle and order:
            for ti in order:
                if not idle:
                    break
                job = queues[ti].popleft()
                best = min(idle, key=job.total_ms)
                idle.remove(best)
                out.append(Assignment(job, best, size=0))
            order = [ti for ti in order if queues[ti]]
        return Decision(out)

    def params(self) -> dict[str, Any]:
        """The queue order."""
        return {"queue_order": self.queue_order}


POLICY = LatencyGreedy
