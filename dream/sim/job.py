"""Jobs: one frame of one task, executed as blocks of layers."""

from __future__ import annotations

from dream.sim.tasks import TaskRuntime, VariantCost

# job states
WAITING, RUNNING, DONE, DROPPED = 0, 1, 2, 3


class Job:
    """One inference: a task's frame. Policies read it; only the engine writes it.

    seq is None for a model without dynamic blocks (the layers run in table order);
    otherwise the base-layer indices this job actually runs, drawn at release and hidden
    from policies, which see expected costs through `remaining_ms`.
    """

    __slots__ = ("id", "task", "rt", "frame", "release", "deadline", "parent", "vc", "seq",
                 "pos", "n", "state", "acc", "accs", "accs_used", "start", "finish",
                 "last_run", "energy", "blocks", "preemptions", "migrations", "cum_lat",
                 "cum_en", "paused", "preempted", "size")

    def __init__(self, jid: int, rt: TaskRuntime, frame: int, release: float, deadline: float,
                 seq: list[int] | None) -> None:
        self.id = jid
        self.task = rt.index
        self.rt = rt
        self.frame = frame
        self.release = release
        self.deadline = deadline
        self.vc: VariantCost | None = None
        self.seq = seq
        self.pos = 0
        self.n = rt.variants[rt.full].n if seq is None else len(seq)
        self.state = WAITING
        self.acc = -1
        self.accs: tuple[int, ...] = ()
        self.accs_used = 0
        self.start = -1.0
        self.finish = -1.0
        self.last_run = release
        self.energy = 0.0
        self.blocks = 0
        self.preemptions = 0
        self.migrations = 0
        self.cum_lat: list[list[float]] | None = None
        self.cum_en: list[list[float]] | None = None
        self.paused = False
        self.preempted = False
        self.size = 0

    @property
    def started(self) -> bool:
        """True once the job's first block has been dispatched (its variant is fixed)."""
        return self.vc is not None

    @property
    def next_layer(self) -> int:
        """Index (in the model's layer table) of the layer this job runs next, -1 when done."""
        if self.pos >= self.n:
            return -1
        return self.pos if self.seq is None else self.seq[self.pos]

    @property
    def layers_left(self) -> int:
        """Layers this job has still to run (known to the engine only for dynamic models)."""
        return self.n - self.pos

    def total_ms(self, acc: int, variant: int | None = None) -> float:
        """Expected whole-model latency on `acc` for a variant (default: the job's or full)."""
        if variant is None:
            vc = self.vc if self.vc is not None else self.rt.variants[self.rt.full]
        else:
            vc = self.rt.variants[variant]
        return vc.est_total[acc]

    def remaining_ms(self, acc: int) -> float:
        """Expected latency of the rest of the job on `acc` (whole model if not started)."""
        vc = self.vc
        if vc is None:
            return self.rt.variants[self.rt.full].est_total[acc]
        if self.seq is None:
            c = vc.cum_lat[acc]
            return c[self.n] - c[self.pos]
        return vc.est_suffix[acc][self.seq[self.pos]] if self.pos < self.n else 0.0

    def block_ms(self, acc: int, size: int) -> float:
        """Latency of the job's next `size` layers on `acc` (full variant if not started)."""
        end = min(self.n, self.pos + size) if size > 0 else self.n
        cum = self.cum_lat
        if cum is None:  # not started: the full variant's costs
            vc = self.rt.variants[self.rt.full]
            if self.seq is None:
                c = vc.cum_lat[acc]
                return c[end] - c[self.pos]
            lat = vc.lat_ms[acc]
            return float(sum(lat[i] for i in self.seq[self.pos:end]))
        c = cum[acc]
        return c[end] - c[self.pos]

    def slack(self, now: float) -> float:
        """Time left to the deadline."""
        return self.deadline - now
