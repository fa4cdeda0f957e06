"""Veltair (Liu et al., ASPLOS'22): load-adaptive layer blocks, least slack first.

Ready jobs are ranked by least slack, here the laxity deadline - now - expected
remaining work on the job's fastest sub-accelerator (ties by release order), and paired
in that order with the fastest idle sub-accelerator for each. The block each one runs is
sized by the load: with w jobs left waiting after this decision (ready minus idle),

    block = max(min_block, max_block // (1 + w)) layers

so a lone job runs coarse blocks (few scheduling points, little overhead) and a crowded
queue gets fine blocks (short waits for the jobs behind). Preemptive at block boundaries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from dream.sim.policy import Assignment, Decision, Policy, View

if TYPE_CHECKING:
    from dream.sim.spec import SimSpec


class Veltair(Policy):
    """Least slack first with layer blocks that shrink as the queue grows."""

    name = "veltair"
    preemptive = True

    def __init__(self, max_block: int = 16, min_block: int = 1) -> None:
        if min_block < 1:
            raise ValueError(f"veltair.min_block must be >= 1, got {min_block!r}")
        if max_block < min_block:
            raise ValueError(f"veltair.max_block must be >= min_block ({min_block}), got {max_block!r}")
        self.max_block = int(max_block)
        self.min_block = int(min_block)
        self._accs: tuple[int, ...] = ()

    def setup(self, system, tasks: Sequence, sim: "SimSpec") -> None:
        """Record the sub-accelerator indices."""
        self._accs = tuple(range(len(system.accelerators)))

    def block_size(self, ready: int, idle: int) -> int:
        """Layers per block when `ready` jobs compete for `idle` sub-accelerators."""
        waiting = ready - idle if ready > idle else 0
        return max(self.min_block, self.max_block // (1 + waiting))

    def schedule(self, view: View) -> Decision:
        """Run the least-slack jobs with a block size set by how many jobs wait."""
        now, accs = view.now, self._accs

        def laxity(job) -> float:
            return job.deadline - now - min(map(job.remaining_ms, accs))

        idle = view.idle
        size = self.block_size(len(view.ready), len(idle))
        if len(idle) == 1:
            return Decision([Assignment(min(view.ready, key=laxity), idle[0], size=size)])
        idle = list(idle)
        out = []
        for job in sorted(view.ready, key=laxity):  # stable: ties keep release order
            a = min(idle, key=job.remaining_ms)
            idle.remove(a)
            out.append(Assignment(job, a, size=size))
            if not idle:
                break
        return Decision(out)

    def params(self) -> dict[str, Any]:
        return {"max_block": self.max_block, "min_block": self.min_block}


POLICY = Veltair
