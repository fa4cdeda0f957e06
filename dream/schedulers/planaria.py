"""Planaria (Ghodrati et al., MICRO'20): priority / (slack x resources), with fusion.

Planaria splits one large systolic array into pods ("fission") and gives each task as
many pods as it needs to meet its deadline. Here the pods are the system's
sub-accelerators, and a job given several of them runs its block fused across them
(`Assignment(accs=...)`: output channels split in proportion to speed).

At every scheduling point, for each ready job:

- resources r = the smallest k such that the job's k fastest sub-accelerators, fused,
  finish its expected remaining work within its slack (deadline - now); a job that
  cannot make it even with `max_fuse` sub-accelerators (or whose slack is gone) needs
  `max_fuse` (all sub-accelerators when 0);
- score = priority / (max(slack, min_slack_ms) x r).

Jobs are served in descending score; each takes up to r of the idle sub-accelerators
(its fastest ones), or what is left. Preemptive at block boundaries, where the
allocation is recomputed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from dream.sim.policy import Assignment, Decision, Policy, View

if TYPE_CHECKING:
    from dream.sim.spec import SimSpec


class Planaria(Policy):
    """Score = priority / (slack x sub-accelerators needed); fuse idle ones for urgent jobs."""

    name = "planaria"
    preemptive = True

    def __init__(self, max_fuse: int = 0, min_slack_ms: float = 0.001) -> None:
        if max_fuse < 0:
            raise ValueError(
                f"planaria.max_fuse must be >= 0 (0 = all sub-accelerators), got {max_fuse!r}")
        if not min_slack_ms > 0:
            raise ValueError(f"planaria.min_slack_ms must be > 0, got {min_slack_ms!r}")
        self.max_fuse = int(max_fuse)
        self.min_slack_ms = float(min_slack_ms)
        self._accs: tuple[int, ...] = ()
        self._cap = 1

    def setup(self, system, tasks: Sequence, sim: "SimSpec") -> None:
        """Record the sub-accelerators and the fusion limit."""
        n = len(system.accelerators)
        self._accs = tuple(range(n))
        self._cap = min(n, self.max_fuse) if self.max_fuse > 0 else n

    def needs(self, job, now: float) -> int:
        """Sub-accelerators the job needs, fused, to finish its expected work by its deadline."""
        slack = job.deadline - now
        cap = self._cap
        if slack <= 0:
            return cap
        rems = list(map(job.remaining_ms, self._accs))
        if min(rems) <= slack:  # the common case: one sub-accelerator is enough
            return 1
        rems.sort()
        inv = 0.0
        for k in range(cap):
            r = rems[k]
            if r <= 0:
                return k + 1
            inv += 1.0 / r
            if 1.0 / inv <= slack:
                return k + 1
        return cap

    def schedule(self, view: View) -> Decision:
        """Serve jobs by descending score, each on as many idle sub-accelerators as it needs."""
        now, floor = view.now, self.min_slack_ms
        scored = []
        for i, job in enumerate(view.ready):
            r = self.needs(job, now)
            slack = job.deadline - now
            score = job.rt.priority / ((slack if slack > floor else floor) * r)
            scored.append((-score, i, r, job))  # i: ties keep release order
        scored.sort()  # i is unique, so jobs are never compared
        idle = list(view.idle)
        out = []
        for _, _, r, job in scored:
            if r == 1 or len(idle) == 1:
                a = min(idle, key=job.remaining_ms)
                idle.remove(a)
                out.append(Assignment(job, a))
            else:
                chosen = sorted(idle, key=job.remaining_ms)[:r]
                for a in chosen:
                    idle.remove(a)
                out.append(Assignment(job, chosen[0], accs=tuple(sorted(chosen))))
            if not idle:
                break
        return Decision(out)

    def params(self) -> dict[str, Any]:
        return {"max_fuse": self.max_fuse, "min_slack_ms": self.min_slack_ms}


POLICY = Planaria
