"""The scheduling-policy interface: what a policy sees and what it returns.

At each scheduling point (a frame release, a block completing, a phase change) the
engine calls `Policy.schedule(view)` when at least one sub-accelerator is idle and at
least one job is ready. The policy answers with assignments and drops. Everything it
sees is read-only by contract: the engine hands over its own objects for speed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

if TYPE_CHECKING:
    from dream.hardware import System
    from dream.sim.job import Job
    from dream.sim.spec import SimSpec
    from dream.sim.tasks import TaskRuntime


@dataclass(slots=True)
class Assignment:
    """Run the next block of `job` on sub-accelerator `acc` (or split over `accs`).

    size: layers in the block (None: the simulation's block_size; 0: the rest of the
    model). variant: only for a job that has not started (None: the full model).
    accs: several idle sub-accelerators that split the block's output channels
    (Planaria-style fusion); when given, `acc` must be one of them.
    """

    job: "Job"
    acc: int
    size: int | None = None
    variant: int | None = None
    accs: tuple[int, ...] | None = None


@dataclass(slots=True)
class Decision:
    """A policy's answer: blocks to start now and waiting jobs to drop."""

    assign: list[Assignment] = field(default_factory=list)
    drop: list["Job"] = field(default_factory=list)


@dataclass(slots=True)
class View:
    """What a policy sees at a scheduling point (read-only).

    ready: released jobs whose dependencies are met and that are not running, in
    release order. idle: indices of idle sub-accelerators. running[a]: the job on
    sub-accelerator a or None. tasks: per-task runtime state and history.
    """

    now: float
    ready: list["Job"]
    idle: list[int]
    running: list["Job | None"]
    system: "System"
    tasks: Sequence["TaskRuntime"]
    phase: int = 0


class Policy:
    """Base class of scheduling policies; subclasses set `name` and override `schedule`.

    preemptive: False means a started job keeps its sub-accelerator until it finishes
    (the engine continues it block after block without asking); True means every block
    boundary is a scheduling point where the job competes again.
    """

    name: ClassVar[str] = "base"
    preemptive: ClassVar[bool] = False

    def setup(self, system: "System", tasks: Sequence["TaskRuntime"], sim: "SimSpec") -> None:
        """Called once before the simulation starts (sim: seed, block size, horizon, ...)."""

    def schedule(self, view: View) -> Decision:
        """Return the blocks to start and the jobs to drop at this scheduling point."""
        raise NotImplementedError

    def on_job_end(self, job: "Job", now: float) -> None:
        """Called when a job finishes or is dropped (for online tuning and history)."""

    def on_phase(self, phase: int, now: float) -> None:
        """Called when the scenario enters a new phase."""

    def params(self) -> dict[str, Any]:
        """The policy's parameters as configured (for records)."""
        return {}
