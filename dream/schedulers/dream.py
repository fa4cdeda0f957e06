"""DREAM (Kim et al., ASPLOS'23) as we reconstruct it (docs/dream.md).

At every scheduling point each ready job j and idle sub-accelerator a get

    MapScore(j, a) = U(j) + alpha * F(j, a) + beta * P(j, a)
    U = min(1, R / max(slack, eps))        R: expected remaining latency on j's best
                                           sub-accelerator (any, not only idle ones)
    F = (now - last_run) / b(j, a)         b: latency of j's next block on a
    P = min over all sub-accelerators of b / b(j, a)

and the best pair is taken, both removed, repeat; equal scores go to the higher
Preference P (the faster placement), then the earliest request, then the lower
sub-accelerator index (see _tie_rule below). Preemptive at block boundaries. Hopeless
jobs are dropped, a starting job may get a smaller supernet variant under load, and
alpha, beta and the drop threshold are tuned online per window
(dream/schedulers/dream_tuner.py).
Every part has a switch so a study can measure what it contributes.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from dream.schedulers.dream_tuner import LIN, LOG, Coordinate, WindowTuner
from dream.sim.job import DROPPED
from dream.sim.policy import Assignment, Decision, Policy, View

if TYPE_CHECKING:
    from dream.sim.spec import SimSpec
    from dream.hardware import System
    from dream.sim.job import Job
    from dream.sim.tasks import TaskRuntime

# _tie_rule. Equal MapScores are broken by Preference P = bbest / b first. A job that has
# not waited (just released, or its block just ended) has F = 0, so with beta = 0 all its
# pairs score U alone: with an index tie-break it went to whichever sub-accelerator the
# hardware file lists first, however slow its layers are there (dual_4k_ws_os: rgbd_200
# on WS, 2.7x slower than on OS), and the supernet then sized its variant for that slow
# placement. The result depended on the listing order and jumped between beta = 0 and any
# beta > 0 (docs/dream.md, "Beta"). Ordering ties by P is the limit of both beta -> 0+
# (U + alpha F + beta P orders equal U + alpha F by P) and wait -> 0+ (alpha wait / b
# prefers the smaller b), so the score stays continuous in both and no longer depends on
# the listing order. The DREAM paper (Kim et al., ASPLOS'23) publishes no tie rule.
_EPS = 1e-6  # ms: the slack floor of the urgency term
_TINY = 1e-12  # ms: a zero-latency block would divide by zero
_INF = math.inf
# tuner bounds: alpha, beta multiplicative; the threshold in relative-deadline units
_POS_BOUNDS = (1e-6, 1e6)
_THRESHOLD_BOUNDS = (-1.0, 10.0)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _variant_table(vc, dynamic: bool, unit: int) -> tuple[list[float], list[float] | None]:
    """(best_rem, best_blk) of one (task, variant), precomputed so schedule() only indexes lists.

    Static models (indexed by position = layer): best_rem[p] = min over sub-accelerators
    of the latency of layers p..end; best_blk[p] = min over sub-accelerators of the next
    unit (block) starting at p. Dynamic models (indexed by the base layer seq[p] a job is
    at): best_rem from the expected suffix; best_blk only for 1-layer units (else None:
    computed per call from the job's own prefix sums).
    """
    cum = np.asarray(vc.cum_lat, dtype=float)  # (sub-accelerators, n + 1)
    n = cum.shape[1] - 1
    if dynamic:
        best_rem = np.asarray(vc.est_suffix, dtype=float).min(axis=0).tolist()
        lat = np.asarray(vc.lat_ms, dtype=float)
        return best_rem, (lat.min(axis=0).tolist() if unit == 1 and n else None)
    pos = np.arange(n + 1)
    end = np.full(n + 1, n) if unit == 0 else np.minimum(pos + unit, n)
    best_blk = (cum[:, end] - cum[:, pos]).min(axis=0).tolist()
    return (cum[:, n:n + 1] - cum).min(axis=0).tolist(), best_blk


class Dream(Policy):
    """DREAM: MapScore (urgency, fairness, preference), frame drop, supernet, online tuning."""

    name = "dream"
    preemptive = True

    def __init__(self, alpha: float = 1.0, beta: float = 0.5, drop_threshold: float = 0.0,
                 use_fairness: bool = True, use_preference: bool = True, drop: bool = True,
                 supernet: bool = True, tune: bool = True, window_ms: float = 100.0,
                 tune_step: float = 0.5, block_size: int | None = None) -> None:
        _check(_finite(alpha) and alpha >= 0, f"alpha must be a finite number >= 0, got {alpha!r}")
        _check(_finite(beta) and beta >= 0, f"beta must be a finite number >= 0, got {beta!r}")
        lo, hi = _THRESHOLD_BOUNDS
        _check(_finite(drop_threshold) and lo <= drop_threshold <= hi,
               f"drop_threshold (predicted lateness / relative deadline) must lie in [{lo}, {hi}], "
               f"got {drop_threshold!r}")
        for key, val in (("use_fairness", use_fairness), ("use_preference", use_preference),
                         ("drop", drop), ("supernet", supernet), ("tune", tune)):
            _check(isinstance(val, bool), f"{key} must be true or false, got {val!r}")
        _check(_finite(window_ms) and window_ms > 0,
               f"window_ms must be a number > 0, got {window_ms!r}")
        _check(_finite(tune_step) and 0 < tune_step <= 4,
               f"tune_step must lie in (0, 4] (relative step of alpha and beta), got {tune_step!r}")
        _check(block_size is None or (isinstance(block_size, int) and not isinstance(block_size, bool)
                                      and block_size >= 0),
               f"block_size must be null (the simulation's) or an integer >= 0 (0 = whole model), "
               f"got {block_size!r}")
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.drop_threshold = float(drop_threshold)
        self.use_fairness = use_fairness
        self.use_preference = use_preference
        self.drop = drop
        self.supernet = supernet
        self.tune = tune
        self.window_ms = float(window_ms)
        self.tune_step = float(tune_step)
        self.block_size = block_size
        self._config = {"alpha": alpha, "beta": beta, "drop_threshold": drop_threshold,
                        "use_fairness": use_fairness, "use_preference": use_preference,
                        "drop": drop, "supernet": supernet, "tune": tune, "window_ms": window_ms,
                        "tune_step": tune_step, "block_size": block_size}
        self.history: list[tuple[float, float, float, float]] = []
        self.tuner: WindowTuner | None = None
        self.drops = 0
        self.saved_ms = 0.0

    def params(self) -> dict[str, Any]:
        """The parameters as configured (the tuned values are in `history`)."""
        return dict(self._config)

    # ------------------------------------------------------------------ set-up
    def setup(self, system: "System", tasks: Sequence["TaskRuntime"], sim: "SimSpec") -> None:
        """Precompute per-task lookups; reset parameters, tuner, history and counters."""
        cfg = self._config
        self.alpha = float(cfg["alpha"])
        self.beta = float(cfg["beta"])
        self.drop_threshold = float(cfg["drop_threshold"])
        self._nacc = len(system.accelerators)
        # the scoring unit: the block DREAM dispatches (its own block_size, else the
        # simulation's), so Fairness and Preference weigh the work a decision commits to
        unit = sim.block_size if self.block_size is None else self.block_size
        self._unit = unit
        self._tables = [[_variant_table(vc, bool(rt.dynamic), unit) for vc in rt.variants]
                        for rt in tasks]
        best_full = [min(rt.variants[rt.full].est_total) for rt in tasks]
        best_any = [min(min(rt.variants[v].est_total) for v in rt.allowed) for rt in tasks]
        self._best_full = best_full
        # the remaining work the drop rule uses for a job that has not started: with the
        # supernet on, the fastest allowed variant (a smaller one may still make it)
        self._rem_drop0 = best_any if self.supernet else best_full
        # the first block of a job that has not started (full variant); None for a dynamic
        # model, whose first block depends on the drawn layers (summed from _lat_full,
        # per-layer latencies as lists: exact, like Job.block_ms, without numpy scalars)
        self._first: list[tuple[list[float], float] | None] = []
        self._lat_full: list[list[list[float]] | None] = []
        for rt in tasks:
            if rt.dynamic:
                self._first.append(None)
                self._lat_full.append([np.asarray(l, dtype=float).tolist()
                                       for l in rt.variants[rt.full].lat_ms])
                continue
            self._lat_full.append(None)
            cum = rt.variants[rt.full].cum_lat
            n = len(cum[0]) - 1
            end = n if unit == 0 else min(unit, n)
            blk = [c[end] - c[0] for c in cum]
            self._first.append((blk, min(blk)))
        self._order = [sorted(rt.allowed, key=lambda v, rt=rt: (-rt.variants[v].accuracy, v))
                       for rt in tasks]
        # expected work of the cascade below each task: trigger probability x (the child's
        # best whole-model latency + its own cascade); a dropped upstream job saves it
        def below(t: int) -> float:
            return sum(tasks[c].spec.trigger_prob * (best_full[c] + below(c)) for c in tasks[t].children)

        self._child = [below(t) for t in range(len(tasks))]
        self._pair_cache: dict[tuple[int, int], tuple[list[int], list[int]]] = {}
        self.drops = 0
        self.saved_ms = 0.0
        self.history = [(0.0, self.alpha, self.beta, self.drop_threshold)]
        self.tuner = None
        self._wend = _INF
        if self.tune:
            coords = []
            s_log = math.log1p(self.tune_step)
            if self.use_fairness and self.alpha > 0:
                coords.append(Coordinate("alpha", self.alpha, LOG, s_log, *_POS_BOUNDS))
            if self.use_preference and self.beta > 0:
                coords.append(Coordinate("beta", self.beta, LOG, s_log, *_POS_BOUNDS))
            if self.drop:
                coords.append(Coordinate("drop_threshold", self.drop_threshold, LIN,
                                         self.tune_step / 5.0, *_THRESHOLD_BOUNDS))
            if coords:
                self.tuner = WindowTuner(coords, self.window_ms)
                self._wend = self.tuner.window_end
        self._refresh()

    def _refresh(self) -> None:
        """The values schedule() reads, in one tuple (switched-off terms weigh 0)."""
        self._fast = (self.alpha if self.use_fairness else 0.0,
                      self.beta if self.use_preference else 0.0,
                      self.drop, self.drop_threshold, self._unit)

    # ------------------------------------------------------------------ tuning
    def _close_window(self, now: float) -> None:
        tuner = self.tuner
        if tuner.close(now):
            vals = tuner.values()
            self.alpha = vals.get("alpha", self.alpha)
            self.beta = vals.get("beta", self.beta)
            self.drop_threshold = vals.get("drop_threshold", self.drop_threshold)
            self.history.append((now, self.alpha, self.beta, self.drop_threshold))
            self._refresh()
        self._wend = tuner.window_end

    def on_job_end(self, job: "Job", now: float) -> None:
        """Feed the window's UXCost (energy, violated or not)."""
        tuner = self.tuner
        if tuner is None:
            return
        if now >= self._wend:
            self._close_window(now)
        tuner.observe(job.energy, job.state == DROPPED or job.finish > job.deadline + 1e-9)

    def on_phase(self, phase: int, now: float) -> None:
        """A new phase: restart the search from the current values."""
        if self.tuner is not None:
            self.tuner.reset(now)
            self._wend = self.tuner.window_end

    # --------------------------------------------------------------- decisions
    def _terms(self, job: "Job") -> tuple[float, float, float, list[float]]:
        """(remaining on the best sub-accelerator, the same for the drop rule, best next
        block, next block on each sub-accelerator) of one job."""
        vc = job.vc
        unit = self._unit
        if vc is None:
            t = job.task
            first = self._first[t]
            rem = self._best_full[t]
            if first is None:
                seq = job.seq
                if unit == 1:
                    i = seq[0]
                    blks = [lat[i] for lat in self._lat_full[t]]
                else:
                    layers = seq if unit == 0 else seq[:unit]
                    blks = [sum([lat[i] for i in layers]) for lat in self._lat_full[t]]
                return rem, self._rem_drop0[t], min(blks), blks
            return rem, self._rem_drop0[t], first[1], first[0]
        best_rem, best_blk = self._tables[job.task][vc.index]
        p, n = job.pos, job.n
        end = n if unit == 0 or p + unit > n else p + unit
        blks = [c[end] - c[p] for c in job.cum_lat]
        seq = job.seq
        if seq is None:
            return best_rem[p], best_rem[p], best_blk[p], blks
        rem = best_rem[seq[p]]
        return rem, rem, (best_blk[seq[p]] if best_blk is not None else min(blks)), blks

    def _remaining_best(self, job: "Job") -> float:
        """Expected remaining latency on the job's best sub-accelerator."""
        vc = job.vc
        if vc is None:
            return self._best_full[job.task]
        best_rem = self._tables[job.task][vc.index][0]
        if job.seq is None:
            return best_rem[job.pos]
        return best_rem[job.seq[job.pos]] if job.pos < job.n else 0.0

    def schedule(self, view: View) -> Decision:
        """Drop hopeless jobs, then pair jobs and idle sub-accelerators by MapScore."""
        now = view.now
        if now >= self._wend:
            self._close_window(now)
        if len(view.idle) == 1:
            return self._schedule_one(view, now)
        return self._schedule_many(view, now)

    def _schedule_one(self, view: View, now: float) -> Decision:
        """One idle sub-accelerator (most block boundaries): the best-scoring job takes it.

        The hot path: per job a few list lookups, no per-job objects.
        """
        alpha, beta, drop_on, thr, unit = self._fast
        a0 = view.idle[0]
        tables = self._tables
        drops: list = []
        best_s = -_INF
        best_p = -_INF
        best = None
        for job in view.ready:
            vc = job.vc
            dl = job.deadline
            if vc is None:
                t = job.task
                rem = self._best_full[t]
                if drop_on and (now + self._rem_drop0[t] - dl
                                > thr * (dl - job.release if dl > job.release else 0.0)):
                    drops.append(job)
                    continue
                first = self._first[t]
                if first is None:
                    rem, _, bbest, blks = self._terms(job)
                    b = blks[a0]
                else:
                    b = first[0][a0]
                    bbest = first[1]
            else:
                p = job.pos
                seq = job.seq
                best_rem, best_blk = tables[job.task][vc.index]
                if seq is None:
                    rem = best_rem[p]
                    bbest = best_blk[p]
                else:
                    rem = best_rem[seq[p]]
                    bbest = best_blk[seq[p]] if best_blk is not None else -1.0
                if drop_on and (now + rem - dl
                                > thr * (dl - job.release if dl > job.release else 0.0)):
                    drops.append(job)
                    continue
                n = job.n
                end = n if unit == 0 or p + unit > n else p + unit
                c = job.cum_lat[a0]
                b = c[end] - c[p]
                if bbest < 0.0:
                    bbest = self._terms(job)[2]
            slack = dl - now
            u = rem / slack if slack > _EPS else rem / _EPS
            if u > 1.0:
                u = 1.0
            if b < _TINY:
                b = _TINY
            s = u + (alpha * (now - job.last_run) + beta * bbest) / b
            # equal scores: the higher Preference P = bbest / b wins (_tie_rule), then the
            # earlier request (the loop runs in release order and needs a strictly better key)
            if s > best_s:
                best_s = s
                best = job
                best_p = bbest / b
            elif s == best_s and bbest / b > best_p:
                best = job
                best_p = bbest / b
        if drops:
            self._account_drops(drops)
        if best is None:
            return Decision([], drops)
        var = None
        if best.vc is None and self.supernet:
            var = self._variant(best, a0, now, self._running_load(view), *self._waiting(view, drops),
                                (best,))
        return Decision([Assignment(best, a0, self.block_size, var)], drops)

    def _schedule_many(self, view: View, now: float) -> Decision:
        """Several idle sub-accelerators: score every pair, take the best pair repeatedly."""
        alpha, beta, drop_on, thr, _ = self._fast
        idle = view.idle
        ready = view.ready
        if len(ready) == 1:  # common at light load: the job's best-scoring idle sub-accelerator
            job = ready[0]
            rem, rdrop, bbest, blks = self._terms(job)
            dl = job.deadline
            if drop_on and (now + rdrop - dl
                            > thr * (dl - job.release if dl > job.release else 0.0)):
                self._account_drops(ready)
                return Decision([], [job])
            # U is the same on every sub-accelerator; alpha*F + beta*P = k / b is largest
            # where b is smallest (k > 0); with k = 0 every pair scores U and the tie rule
            # (_tie_rule: higher P = smaller b) picks the same one: the fastest idle
            # sub-accelerator, ties to the lower index
            a = idle[0]
            bmin = blks[a] if blks[a] > _TINY else _TINY
            for x in idle:
                b = blks[x] if blks[x] > _TINY else _TINY
                if b < bmin:
                    bmin, a = b, x
            var = (self._variant(job, a, now, self._running_load(view), [job], [0.0], (job,))
                   if self.supernet and job.vc is None else None)
            return Decision([Assignment(job, a, self.block_size, var)], [])
        ni = len(idle)
        drops: list = []
        cj: list = []
        cw: list = []  # queued work of each candidate (for the supernet rule)
        child = self._child
        scores: list = []  # flat: candidate i, idle position ai at i * ni + ai
        for job in ready:
            rem, rdrop, bbest, blks = self._terms(job)
            dl = job.deadline
            if drop_on and (now + rdrop - dl
                            > thr * (dl - job.release if dl > job.release else 0.0)):
                drops.append(job)
                continue
            slack = dl - now
            u = rem / slack if slack > _EPS else rem / _EPS
            if u > 1.0:
                u = 1.0
            k = alpha * (now - job.last_run) + beta * bbest
            for a in idle:
                b = blks[a]
                if b < _TINY:
                    b = _TINY
                # (score, P): equal scores go to the higher Preference (_tie_rule)
                scores.append((u + k / b, bbest / b))
            cj.append(job)
            cw.append(rem + child[job.task])
        if drops:
            self._account_drops(drops)
        nj = len(cj)
        left = ni if ni < nj else nj
        if not left:
            return Decision([], drops)
        pi, pa = self._pairs(nj, ni)
        used_j = [False] * nj
        used_a = [False] * ni
        out = []
        taken: list = []
        supernet = self.supernet
        size = self.block_size
        run_load = self._running_load(view) if supernet else 0.0
        # pairs by (score, P), best first; the sort is stable, so pairs equal in both keep
        # (job in release order, sub-accelerator index) order: the earliest request, then
        # the lower index
        for idx in sorted(range(nj * ni), key=scores.__getitem__, reverse=True):
            i = pi[idx]
            ai = pa[idx]
            if used_j[i] or used_a[ai]:
                continue
            used_j[i] = used_a[ai] = True
            job = cj[i]
            taken.append(job)
            a = idle[ai]
            var = (self._variant(job, a, now, run_load, cj, cw, taken)
                   if supernet and job.vc is None else None)
            out.append(Assignment(job, a, size, var))
            left -= 1
            if not left:
                break
        return Decision(out, drops)

    def _pairs(self, nj: int, ni: int) -> tuple[list[int], list[int]]:
        """Candidate and idle position of each flat pair index (cached per shape)."""
        key = (nj, ni)
        got = self._pair_cache.get(key)
        if got is None:
            got = ([i for i in range(nj) for _ in range(ni)], [a for _ in range(nj) for a in range(ni)])
            self._pair_cache[key] = got
        return got

    def _account_drops(self, drops: list) -> None:
        """Count the drops and the expected work they save, cascaded children included."""
        self.drops += len(drops)
        child = self._child
        for job in drops:
            self.saved_ms += self._remaining_best(job) + child[job.task]

    def _waiting(self, view: View, drops: list) -> tuple[list, list]:
        """Waiting jobs not dropped now and their queued work (for the supernet rule)."""
        rb, child = self._remaining_best, self._child
        jobs = [j for j in view.ready if j not in drops]
        return jobs, [rb(j) + child[j.task] for j in jobs]

    def _running_load(self, view: View) -> float:
        """Expected remaining work of the running jobs, cascades included."""
        child = self._child
        rb = self._remaining_best
        load = 0.0
        seen: list = []
        for r in view.running:
            if r is not None and r not in seen:  # a fused job holds several
                load += rb(r) + child[r.task]
                seen.append(r)
        return load

    def _variant(self, job: "Job", a: int, now: float, load: float, waiting: list, work: list,
                 taken) -> int:
        """The most accurate allowed variant whose latency on `a` fits the slack left.

        Queued load (ms of work on a best sub-accelerator, expected cascades included):
        `load` (the rest of every running job) plus every waiting job (not dropped now)
        assigned before this one in this decision or with an earlier deadline (ties:
        earlier request). It is shared by all sub-accelerators, so the slack left is
        deadline - now - load / #sub-accelerators. If no variant fits, the fastest on `a`.
        """
        order = self._order[job.task]
        if len(order) == 1:
            return order[0]
        variants = job.rt.variants
        d, jid = job.deadline, job.id
        for other, w in zip(waiting, work):
            if other is job:
                continue
            if other in taken or other.deadline < d or (other.deadline == d and other.id < jid):
                load += w
        left = d - now - load / self._nacc
        for v in order:
            if variants[v].est_total[a] <= left:
                return v
        return min(order, key=lambda v: variants[v].est_total[a])


POLICY = Dream
