"""SJF: shortest estimated remaining work first, preemptive at block boundaries.

A job's estimated remaining work is `Job.remaining_ms` on the sub-accelerator that runs
the rest of it fastest (expected costs: dynamic blocks count with their expected number
of runs). Ready jobs are ranked by it (ties by release order) and paired in that order
with the fastest idle sub-accelerator for each. Every block boundary is a scheduling
point, so a shorter job released meanwhile overtakes at the next boundary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from dream.schedulers.ordering import fastest_idle_in_order
from dream.sim.policy import Decision, Policy, View

if TYPE_CHECKING:
    from dream.sim.spec import SimSpec


class SJF(Policy):
    """Shortest (remaining) job first."""

    name = "sjf"
    preemptive = True

    def __init__(self) -> None:
        self._accs: tuple[int, ...] = ()

    def setup(self, system, tasks: Sequence, sim: "SimSpec") -> None:
        """Remember the sub-accelerator indices."""
        self._accs = tuple(range(len(system.accelerators)))

    def schedule(self, view: View) -> Decision:
        """Run the jobs with the least remaining work on their fastest idle sub-accelerators."""
        accs = self._accs

        def work(job) -> float:
            return min(map(job.remaining_ms, accs))

        return fastest_idle_in_order(view, work)

    def params(self) -> dict[str, Any]:
        return {}


POLICY = SJF
