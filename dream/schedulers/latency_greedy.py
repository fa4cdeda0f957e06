"""Latency-greedy, XRBench's runtime: whole model, non-preemptive, fastest idle sub-accelerator.

Each waiting job (in release order) goes to the idle sub-accelerator that runs its
whole model fastest and runs there as one block.
"""

from __future__ import annotations

from dream.sim.policy import Assignment, Decision, Policy, View


class LatencyGreedy(Policy):
    """XRBench's latency-greedy runtime."""

    name = "latency_greedy"
    preemptive = False

    def schedule(self, view: View) -> Decision:
        """Send each waiting job to the idle sub-accelerator with the lowest whole-model latency."""
        idle = list(view.idle)
        out = []
        for job in view.ready:
            if not idle:
                break
            best = min(idle, key=job.total_ms)
            idle.remove(best)
            out.append(Assignment(job, best, size=0))
        return Decision(out)


POLICY = LatencyGreedy
