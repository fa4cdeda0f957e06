"""PREMA (Choi & Rhu, HPCA'20): token-based, predictive, preemptive scheduling.

Each job holds a token that starts at its task's priority and grows while it waits:

    token = priority x (1 + waited / isolated)

where `waited` is the total time the job has spent ready but not running since its
release, and `isolated` is its expected whole-model latency on the fastest
sub-accelerator (the latency it would see alone). Among the jobs whose token reaches the
threshold, the one with the shortest estimated remaining work (SJF, as `sjf`) runs next;
with several idle sub-accelerators the selection repeats over the jobs left. Preemptive
at block boundaries.

Threshold: `threshold > 0` is fixed, but never above the largest token present (so the
job holding the largest token is always a candidate). `threshold = 0` is PREMA's own
rule: the highest priority level (the distinct task priorities of the scenario) that the
largest token reaches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from dream.sim.policy import Assignment, Decision, Policy, View

if TYPE_CHECKING:
    from dream.sim.spec import SimSpec


class PREMA(Policy):
    """Tokens grow with priority x normalised waiting; shortest candidate first."""

    name = "prema"
    preemptive = True

    def __init__(self, threshold: float = 0.0) -> None:
        if not threshold >= 0:
            raise ValueError(
                f"prema.threshold must be >= 0 (0 = PREMA's adaptive rule), got {threshold!r}")
        self.threshold = float(threshold)
        self._accs: tuple[int, ...] = ()
        self._levels: list[float] = []
        self._waited: dict[int, float] = {}  # job id -> waiting time before its last block

    def setup(self, system, tasks: Sequence, sim: "SimSpec") -> None:
        """Record the sub-accelerators and the scenario's priority levels."""
        self._accs = tuple(range(len(system.accelerators)))
        self._levels = sorted({float(t.priority) for t in tasks}, reverse=True)
        self._waited = {}

    def token(self, job, now: float) -> float:
        """The job's token at time `now`."""
        rt = job.rt
        vc = job.vc if job.vc is not None else rt.variants[rt.full]
        iso = min(vc.est_total)  # expected whole-model latency on the fastest sub-accelerator
        waited = self._waited.get(job.id, 0.0) + (now - job.last_run)
        return rt.priority * (1.0 + waited / iso) if iso > 0 else float("inf")

    def _threshold(self, max_token: float) -> float:
        if self.threshold > 0:
            return min(self.threshold, max_token)
        for level in self._levels:  # descending
            if level <= max_token:
                return level
        return max_token

    def schedule(self, view: View) -> Decision:
        """Per idle sub-accelerator, run the shortest job whose token reaches the threshold."""
        now, accs, waited = view.now, self._accs, self._waited
        token = self.token
        entries = []  # (token, remaining work, job), in release order
        for job in view.ready:
            entries.append((token(job, now), min(map(job.remaining_ms, accs)), job))
        idle = list(view.idle)
        out = []
        while idle and entries:
            thr = self._threshold(max(e[0] for e in entries))
            bi = -1
            for i, e in enumerate(entries):  # shortest candidate; ties go to the earlier release
                if e[0] >= thr and (bi < 0 or e[1] < entries[bi][1]):
                    bi = i
            job = entries.pop(bi)[2]
            a = min(idle, key=job.remaining_ms)
            idle.remove(a)
            out.append(Assignment(job, a))
            waited[job.id] = waited.get(job.id, 0.0) + (now - job.last_run)
        return Decision(out)

    def on_job_end(self, job, now: float) -> None:
        """Forget a finished or dropped job's waiting time."""
        self._waited.pop(job.id, None)

    def params(self) -> dict[str, Any]:
        return {"threshold": self.threshold}


POLICY = PREMA
