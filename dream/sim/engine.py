"""The discrete-event engine: one scenario on one system under one policy.

A heap of (time, kind, sequence, payload) events: block completions, frame releases
and phase changes. All events at one instant are applied, then the policy is asked
once (a scheduling point). The engine reads no config: it gets validated specs and
the policy object, and hands back records.
"""

from __future__ import annotations

import bisect
import heapq
import math
import time as _time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from dream.columns import Columns
from dream.cost.base import CostModel
from dream.errors import ConfigError
from dream.hardware import System
from dream.sim.histogram import LogHistogram
from dream.sim.job import DONE, DROPPED, RUNNING, WAITING, Job
from dream.sim.policy import Decision, Policy, View
from dream.sim.spec import SimSpec
from dream.sim.tasks import TaskRuntime
from dream.workload.model import ModelDef
from dream.workload.scenario import Scenario

# event kinds in the order applied at one instant: completions (a finishing upstream job
# releases its children in the same scheduling point), phase changes (which may cancel
# or re-time pending releases), then releases (event clock) or clock ticks (tick clock)
_DONE, _PHASE, _RELEASE = 0, 1, 2
_TICK = _RELEASE
_EPS = 1e-9

# the record columns and their types (i: int64, f: float64, s: str). task and accelerator
# hold indexes, which become categorical columns of names; accelerators holds a bit mask
# of sub-accelerator indexes, which becomes their names joined by "+"
JOB_COLUMNS = {"job": "i", "task": "i", "frame": "i", "variant": "s", "accuracy": "f",
               "release_ms": "f", "deadline_ms": "f", "start_ms": "f", "finish_ms": "f",
               "status": "s", "energy_nj": "f", "accelerators": "i", "blocks": "i",
               "preemptions": "i", "migrations": "i", "layers": "i"}
TRACE_COLUMNS = {"job": "i", "task": "i", "frame": "i", "accelerator": "i", "start_ms": "f",
                 "end_ms": "f", "layer_start": "i", "layer_end": "i", "energy_nj": "f"}
_DTYPES = {"i": np.int64, "f": np.float64, "s": object}


def _columns(records: list[tuple], columns: dict[str, str],
             categories: dict[str, list[str]]) -> Columns:
    """Record tuples as a column table of the given types (NaN stands for a missing float)."""
    values = list(zip(*records)) if records else [()] * len(columns)
    return Columns({name: np.array(v, dtype=_DTYPES[kind])
                    for (name, kind), v in zip(columns.items(), values)}, categories)


class PolicyError(RuntimeError):
    """A policy returned an impossible decision (a bug in the policy)."""


@dataclass
class EngineStats:
    """Counters of one run, for the summary and benchmarks."""

    decisions: int = 0
    decision_time_s: float = 0.0
    decision_us: LogHistogram = field(default_factory=LogHistogram)
    blocks: int = 0
    layers: int = 0
    wall_s: float = 0.0


@dataclass
class RawResult:
    """What the engine hands to metrics: records, optional trace, busy times, counters."""

    jobs: Columns                # JOB_COLUMNS, one row per job, by job id
    trace: Columns | None        # TRACE_COLUMNS, one row per block run (sim.trace)
    busy_ms: list[float]
    stats: EngineStats
    accelerators: list[str]
    tasks: list[str]


def _segments(model: ModelDef, n: int) -> list[tuple[list[int], object]]:
    """Split a model's layer range into static runs and dynamic blocks, in order."""
    segs: list[tuple[list[int], object]] = []
    cur = 0
    for b in sorted(model.dynamic, key=lambda b: b.start):
        if b.start > cur:
            segs.append((list(range(cur, b.start)), None))
        segs.append((list(range(b.start, b.stop)), b))
        cur = b.stop
    if cur < n:
        segs.append((list(range(cur, n)), None))
    return segs


def _check_rates(scenario: Scenario, sim: SimSpec) -> float:
    """The tick of the tick clock (ms; 0 under the event clock), checking whole-ms rates.

    Integer periods and the tick both take floor(1000 / fps) ms, which is 0 above
    1000 fps: such a rate is refused (ConfigError naming the sim field).
    """
    rates = [t.fps for t in scenario.tasks] + [f for p in scenario.phases for f in p.fps.values()]
    fastest = max(rates)
    for field_, value in (("periods", "integer_ms"), ("clock", "tick")):
        if getattr(sim, field_) == value and fastest > 1000.0:
            raise ConfigError(f"sim.{field_}", f"{value} takes floor(1000 / fps) ms, so every fps must "
                                               f"be <= 1000; the scenario has {fastest:g}")
    # XRBench's timer: base_tick = 1000 / highest fps in integer division (HET_timer.hpp)
    return float(math.floor(1000.0 / fastest)) if sim.clock == "tick" else 0.0


class Engine:
    """Runs one simulation; create, then call `run()` once.

    Raises ConfigError when the scenario's rates do not fit the sim settings (see
    `_check_rates`).
    """

    def __init__(self, scenario: Scenario, system: System, policy: Policy, cost_model: CostModel,
                 sim: SimSpec, catalog: dict[str, ModelDef]) -> None:
        self.scenario = scenario
        self.system = system
        self.policy = policy
        self.sim = sim
        self.tick = _check_rates(scenario, sim)
        integer = sim.periods == "integer_ms"
        self.tasks = [TaskRuntime(i, t, catalog[t.model], system, cost_model, integer)
                      for i, t in enumerate(scenario.tasks)]
        index = {t.name: i for i, t in enumerate(scenario.tasks)}
        for t in self.tasks:
            if t.spec.upstream is not None:
                t.upstream = index[t.spec.upstream]
                self.tasks[t.upstream].children.append(t.index)
        ss = np.random.SeedSequence(sim.seed)
        # one independent stream per task and purpose, so adding a task or a policy
        # that draws numbers never shifts another task's cascade coins or layer draws
        children = ss.spawn(2 * len(self.tasks))
        self._coin_rng = [np.random.default_rng(children[2 * i]) for i in range(len(self.tasks))]
        self._layer_rng = [np.random.default_rng(children[2 * i + 1]) for i in range(len(self.tasks))]
        self._segments = [_segments(t.model, t.variants[t.full].n) if t.dynamic else None
                          for t in self.tasks]

    # ------------------------------------------------------------------ helpers
    def _draw_sequence(self, rt: TaskRuntime) -> list[int] | None:
        segs = self._segments[rt.index]
        if segs is None:
            return None
        rng = self._layer_rng[rt.index]
        seq: list[int] = []
        for layers, block in segs:
            if block is None:
                seq.extend(layers)
            else:
                seq.extend(layers * block.draw(rng))
        return seq

    # ---------------------------------------------------------------------- run
    def run(self) -> RawResult:
        """Simulate the horizon and return the raw records."""
        t_wall = _time.perf_counter()
        sim, system, policy, tasks = self.sim, self.system, self.policy, self.tasks
        n_acc = len(system.accelerators)
        horizon = float(sim.duration_ms)
        block_default = sim.block_size
        cs_ms = sim.context_switch_us / 1000.0
        # off-chip transfer of live activations, ms per element, on each destination
        mig_ms = [1.0 / (a.offchip_bw * a.clock_ghz * 1e6) for a in system.accelerators]
        do_migration = sim.migration
        preemptive = policy.preemptive
        trace: list[tuple] | None = [] if sim.trace else None
        tick = self.tick  # > 0: the tick clock
        gated = sim.cascades == "gated"
        expire_strict = sim.expiry == "after_deadline"
        # tasks with their own periodic stream of frame slots: roots, and with gated
        # cascades the dependent tasks too
        streams = [t.index for t in tasks if t.upstream is None or gated]
        is_stream = [t.upstream is None or gated for t in tasks]
        # the stop rule `last_release`: each stream releases floor(horizon / period) slots
        # (the frames whose deadline, the next nominal release, falls inside the horizon)
        # and the run ends once all have; XRBench's load generator (HET_load-generator.hpp)
        INF = 1 << 62
        quota = [INF] * len(tasks)
        if sim.stop == "last_release":
            for ti in streams:
                quota[ti] = math.floor((horizon + _EPS) / tasks[ti].period)
        stop_last = sim.stop == "last_release"
        streams_left = sum(1 for ti in streams if quota[ti] > 0)
        # gated dependent jobs waiting for their upstream frames, per task, in frame order
        held: list[list[Job]] = [[] for _ in tasks]

        heap: list[tuple] = []
        seqno = 0
        ready: list[Job] = []
        ready_ids: list[int] = []
        running: list[Job | None] = [None] * n_acc
        pending: list[tuple | None] = [None] * n_acc  # (job, end, energy, t0, lat, accs)
        busy = [0.0] * n_acc
        warm = float(sim.warmup_ms)
        records: list[tuple] = []
        live: dict[int, Job] = {}
        gen = [0] * len(tasks)
        anchor = [0.0] * len(tasks)
        kcount = [0] * len(tasks)
        frames = [0] * len(tasks)
        next_id = 0
        stats = EngineStats()
        dtimes = stats.decision_us
        view = View(now=0.0, ready=ready, idle=[], running=running, system=system, tasks=tasks)
        phases = self.scenario.phases
        acc_names = [a.name for a in system.accelerators]

        policy.setup(system, tasks, sim)

        def push(t: float, kind: int, key: int, payload) -> None:
            # ties at one instant resolve by kind, then key (task, accelerator or phase
            # index), so the order never depends on when an event was pushed
            nonlocal seqno
            heapq.heappush(heap, (t, kind, key, seqno, payload))
            seqno += 1

        def add_ready(job: Job) -> None:
            i = bisect.bisect(ready_ids, job.id)
            ready_ids.insert(i, job.id)
            ready.insert(i, job)

        def remove_ready(job: Job) -> None:
            i = bisect.bisect_left(ready_ids, job.id)
            del ready_ids[i]
            del ready[i]

        def record(job: Job, status: str) -> None:
            vc = job.vc
            records.append((job.id, job.task, job.frame,
                            vc.name if vc is not None else "",
                            vc.accuracy if vc is not None else np.nan,
                            job.release, job.deadline,
                            job.start if job.start >= 0 else np.nan,
                            job.finish if job.finish >= 0 else np.nan,
                            status, job.energy, job.accs_used, job.blocks,
                            job.preemptions, job.migrations, job.pos))
            live.pop(job.id, None)

        def release(rt: TaskRuntime, now: float, frame: int, deadline: float, hold: bool = False) -> None:
            nonlocal next_id
            job = Job(next_id, rt, frame, now, deadline, self._draw_sequence(rt))
            next_id += 1
            live[job.id] = job
            rt.released += 1
            if hold:
                held[rt.index].append(job)
            else:
                add_ready(job)

        def finish(job: Job, now: float) -> None:
            rt = job.rt
            job.state = DONE
            job.finish = now
            rt.finished += 1
            rt.last_latency = now - job.release
            rt.last_end = now
            if now <= job.deadline + _EPS:
                rt.on_time += 1
                record(job, "on_time")
            else:
                rt.late += 1
                record(job, "late")
            policy.on_job_end(job, now)
            if gated:
                # a held dependent job may start once its upstream task has completed at
                # least frame + 1 frames (XRBench's completion_list_, HET_runtime.hpp)
                for c in rt.children:
                    h = held[c]
                    while h and h[0].frame < rt.finished:
                        add_ready(h.pop(0))
                return
            if now >= horizon:
                return  # nothing is released at or after the horizon
            for c in rt.children:
                child = tasks[c]
                # the coin is drawn even for p = 1 so streams stay aligned across settings
                hit = self._coin_rng[c].random() < child.spec.trigger_prob
                if hit and child.active:
                    release(child, now, job.frame, job.release + child.rel_deadline)

        def slot(ti: int, now: float, nominal: float) -> None:
            # one frame slot of a periodic stream, released at `now` (its nominal time, or
            # the first tick or completion at or after it under the tick clock)
            nonlocal streams_left
            rt = tasks[ti]
            frame = frames[ti]
            frames[ti] += 1
            if frames[ti] == quota[ti]:
                streams_left -= 1
            deadline = nominal + rt.rel_deadline
            if rt.upstream is None:
                release(rt, now, frame, deadline)
                return
            # a gated dependent: the slot's number is used whether or not the coin hits
            hit = self._coin_rng[ti].random() < rt.spec.trigger_prob
            if hit:
                # held until the upstream task has completed frame + 1 frames; jobs of one
                # task wait in frame order, so a later one never passes an earlier one
                release(rt, now, frame, deadline,
                        hold=bool(held[ti]) or tasks[rt.upstream].finished < frame + 1)

        def drop(job: Job, now: float, is_held: bool = False) -> None:
            job.state = DROPPED
            job.finish = now
            job.rt.dropped += 1
            if is_held:
                held[job.task].remove(job)
            else:
                remove_ready(job)
            record(job, "dropped")
            policy.on_job_end(job, now)

        def start_block(job: Job, accs: tuple[int, ...], size: int, variant: int | None,
                        now: float) -> None:
            rt = job.rt
            if job.vc is None:
                vc = rt.variants[rt.full if variant is None else variant]
                job.vc = vc
                if job.seq is None:
                    job.cum_lat = vc.cum_lat
                    job.cum_en = vc.cum_en
                else:
                    idx = np.asarray(job.seq, dtype=np.int64)
                    job.cum_lat = [np.concatenate(([0.0], np.cumsum(l[idx]))).tolist() for l in vc.lat_ms]
                    job.cum_en = [np.concatenate(([0.0], np.cumsum(e[idx]))).tolist() for e in vc.energy_nj]
                job.start = now
            pos = job.pos
            end = job.n if size <= 0 else min(job.n, pos + size)
            cl, ce = job.cum_lat, job.cum_en
            if len(accs) == 1:
                a = accs[0]
                lat = cl[a][end] - cl[a][pos]
                en = ce[a][end] - ce[a][pos]
            else:
                # output channels split in proportion to speed: every part ends together
                lats = [cl[a][end] - cl[a][pos] for a in accs]
                if min(lats) <= 0.0:  # a free block on one part (a table cost model): it takes it all
                    a = accs[lats.index(min(lats))]
                    lat, en = 0.0, ce[a][end] - ce[a][pos]
                else:
                    inv = sum(1.0 / l for l in lats)
                    lat = 1.0 / inv
                    en = sum((1.0 / l) / inv * (ce[a][end] - ce[a][pos]) for a, l in zip(accs, lats))
            if job.preempted:
                lat += cs_ms
                job.preempted = False
            if do_migration and job.accs and job.accs != accs:
                layer = pos - 1 if job.seq is None else job.seq[pos - 1]
                lat += job.vc.out_elems[layer] * max(mig_ms[a] for a in accs)
                job.migrations += 1
            job.state = RUNNING
            job.paused = False
            job.accs = accs
            job.acc = accs[0]
            job.size = size
            for a in accs:
                running[a] = job
                job.accs_used |= 1 << a
            job.blocks += 1
            t_end = now + lat
            pending[accs[0]] = (job, end, en, now, accs)
            push(t_end, _DONE, accs[0], accs[0])

        def block_done(a: int, now: float) -> Job:
            job, end, en, t0, accs = pending[a]
            pending[a] = None
            lo, hi = max(t0, warm), min(now, horizon)
            for b in accs:
                running[b] = None
                if hi > lo:
                    busy[b] += hi - lo
            stats.blocks += 1
            stats.layers += end - job.pos
            if trace is not None:
                for b in accs:
                    trace.append((job.id, job.task, job.frame, b, t0, now, job.pos, end, en / len(accs)))
            job.pos = end
            job.energy += en
            job.rt.energy_nj += en
            job.last_run = now
            return job

        def enter_phase(p: int, now: float) -> None:
            phase = phases[p]
            view.phase = p
            for rt in tasks:
                was_active, old_fps = rt.active, rt.fps
                now_active = rt.name in phase.active
                new_fps = phase.fps.get(rt.name, rt.spec.fps)
                rt.active = now_active
                if new_fps != rt.fps or not was_active:
                    rt.set_rate(new_fps)
                if not is_stream[rt.index]:
                    continue  # cascaded tasks are released by their upstream job
                if not now_active:
                    gen[rt.index] += 1  # cancels the pending release
                elif not was_active or new_fps != old_fps:
                    gen[rt.index] += 1
                    anchor[rt.index] = now + (rt.spec.offset_ms if not was_active else 0.0)
                    kcount[rt.index] = 0
                    # the tick clock polls the streams at its events instead
                    if not tick and anchor[rt.index] < horizon and frames[rt.index] < quota[rt.index]:
                        push(anchor[rt.index], _RELEASE, rt.index, (rt.index, gen[rt.index]))
            if p > 0:
                policy.on_phase(p, now)

        # phase 0 starts at time 0; later phases are events
        enter_phase(0, 0.0)
        for p in range(1, len(phases)):
            if phases[p].at_ms < horizon:
                push(phases[p].at_ms, _PHASE, p, p)

        if tick:
            push(0.0, _TICK, -1, 0)

        sticky: list[Job] = []
        paused: list[Job] = []
        now = 0.0
        t_stop = horizon
        # events up to the horizon: a block completing exactly at it still completes (its
        # job may be on time); nothing is released, started or dropped at the horizon
        while heap and heap[0][0] <= horizon + _EPS:
            if stop_last and streams_left == 0:
                break  # every stream has released its frames: XRBench's loop ends here
            now = heap[0][0]
            # apply every event at this instant, then decide once
            while heap and heap[0][0] == now:
                _, kind, _, _, payload = heapq.heappop(heap)
                if kind == _DONE:
                    job = block_done(payload, now)
                    if job.pos >= job.n:
                        finish(job, now)
                    elif not preemptive:
                        sticky.append(job)
                    else:
                        job.state = WAITING
                        job.paused = True
                        add_ready(job)
                        paused.append(job)
                elif kind == _RELEASE and tick:
                    k = payload + 1  # the next tick, as a multiple to avoid drift
                    if k * tick < horizon:
                        push(k * tick, _TICK, -1, k)
                elif kind == _RELEASE:
                    ti, g = payload
                    if g != gen[ti]:
                        continue
                    slot(ti, now, now)
                    kcount[ti] += 1
                    t_next = anchor[ti] + kcount[ti] * tasks[ti].period
                    if t_next < horizon and frames[ti] < quota[ti]:
                        push(t_next, _RELEASE, ti, (ti, g))
                else:
                    enter_phase(payload, now)
            if now >= horizon:
                break

            if tick:
                # a slot due at t enters at the first event (tick or completion) at or
                # after t, at most one per task per event (XRBench's load generator)
                for ti in streams:
                    rt = tasks[ti]
                    if rt.active and frames[ti] < quota[ti]:
                        due = anchor[ti] + kcount[ti] * rt.period
                        if due <= now:
                            slot(ti, now, due)
                            kcount[ti] += 1

            # a non-preemptive policy's started jobs keep their sub-accelerators
            if sticky:
                for job in sticky:
                    start_block(job, job.accs, job.size, None, now)
                sticky.clear()
            if sim.drop_expired:
                if expire_strict:  # XRBench drops a queued request when deadline < now
                    expired = [j for j in ready if j.deadline < now]
                else:
                    expired = [j for j in ready if j.deadline <= now]
                for job in expired:
                    drop(job, now)
                if gated:  # held jobs expire too: they sit in their task's queue
                    for h in held:
                        for job in [j for j in h if (j.deadline < now if expire_strict else j.deadline <= now)]:
                            drop(job, now, True)
            if ready:
                idle = [a for a in range(n_acc) if running[a] is None]
                if idle:
                    view.now = now
                    view.idle = idle
                    t0 = _time.perf_counter()
                    decision = policy.schedule(view)
                    dt = _time.perf_counter() - t0
                    stats.decisions += 1
                    stats.decision_time_s += dt
                    dtimes.add(dt * 1e6)
                    self._apply(decision, now, drop, start_block, remove_ready, running, block_default)
            if paused:
                # a job left waiting at its block boundary was preempted only if another
                # job took one of its sub-accelerators; waiting for a different one
                # (Herald's mapped layers) is queueing, not preemption
                for job in paused:
                    if job.state == WAITING and job.paused:
                        job.paused = False
                        if any(running[a] is not None for a in job.accs):
                            job.preempted = True
                            job.preemptions += 1
                paused.clear()
        stopped = stop_last and streams_left == 0
        if stopped:
            t_stop = now  # the instant of the last release, processed in full

        # the end: close busy intervals of blocks still running, record the rest; after
        # the `last_release` stop they are not recorded (XRBench logs none of them)
        for a in range(n_acc):
            if pending[a] is not None:
                job, _, _, t0, accs = pending[a]
                lo, hi = max(t0, warm), t_stop
                for b in accs:
                    if hi > lo:
                        busy[b] += hi - lo
        if not stopped:
            for job in sorted(live.values(), key=lambda j: j.id):
                record(job, "unfinished")

        stats.wall_s = _time.perf_counter() - t_wall
        names = [t.name for t in tasks]
        jobs = _columns(records, JOB_COLUMNS, {"task": names})
        masks = jobs["accelerators"]
        jobs = jobs.replace(accelerators=np.array(
            ["+".join(acc_names[a] for a in range(n_acc) if m >> a & 1) for m in masks.tolist()],
            dtype=object))
        jobs = jobs.take(np.argsort(jobs["job"], kind="stable"))
        tr = None
        if trace is not None:
            tr = _columns(trace, TRACE_COLUMNS, {"task": names, "accelerator": acc_names})
        return RawResult(jobs=jobs, trace=tr, busy_ms=busy, stats=stats,
                         accelerators=acc_names, tasks=names)

    @staticmethod
    def _apply(decision: Decision, now: float, drop, start_block, remove_ready,
               running: Sequence[Job | None], block_default: int) -> None:
        """Check and carry out a policy's decision."""
        for job in decision.drop:
            if job.state != WAITING:
                raise PolicyError(f"policy dropped job {job.id}, which is not waiting")
            drop(job, now)
        for asg in decision.assign:
            job = asg.job
            accs = asg.accs if asg.accs else (asg.acc,)
            if job.state != WAITING:
                raise PolicyError(f"policy assigned job {job.id}, which is not waiting")
            for a in accs:
                if running[a] is not None:
                    raise PolicyError(f"policy assigned job {job.id} to busy sub-accelerator {a}")
            if asg.variant is not None and job.vc is not None:
                raise PolicyError(f"policy changed the variant of started job {job.id}")
            remove_ready(job)
            size = block_default if asg.size is None else asg.size
            start_block(job, tuple(accs), size, asg.variant, now)
