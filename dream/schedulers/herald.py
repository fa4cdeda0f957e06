"""Herald (Kwon et al., HPCA'21): layers mapped offline to sub-accelerators, FCFS per sub-accelerator.

Offline (in `setup`), every layer of every task is mapped to one sub-accelerator:

1. each layer goes to the sub-accelerator that runs it fastest (the dataflow that suits
   its shape best);
2. with `balance: true`, the mapping is then load-balanced: a sub-accelerator's load is
   the sum over its layers of latency x expected runs per job x the task's job rate
   (frames per second, times the trigger probability along a cascade). While some move
   of one layer from the most loaded sub-accelerator to another lowers the larger of
   the two loads, the best such move is made (a local search that stops at a local
   optimum of the maximum load).

At run time each sub-accelerator keeps, in effect, a queue of the layers mapped to it
and serves it first come, first served: a layer arrives when its job's previous block
ends (or at the job's release); ties go to the earlier-released job. A job's block is
the run of consecutive layers mapped to that sub-accelerator, so it never crosses to
another sub-accelerator's layers; a sub-accelerator stays idle while the waiting jobs'
next layers belong elsewhere. The policy is preemptive only in the engine's sense (a
job goes back to the ready list between runs); a run, once started, is never
interrupted. Nothing discourages a job from alternating between sub-accelerators run
after run (each switch waits in another queue and, with `sim.migration`, moves the
activations off chip): the mapping optimises dataflow fit and load, not switches.

Dynamic layers: Herald's mapping is per base layer, so it reads `job.next_layer`; to size
a run it also looks ahead in the job's drawn layer sequence (`job.seq`), which the
engine knows at dispatch time: a run ends where the mapping changes sub-accelerator.
Jobs run the task's default (full) variant, which is the one mapped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from dream.sim.policy import Assignment, Decision, Policy, View

if TYPE_CHECKING:
    from dream.sim.spec import SimSpec


def _rates(tasks: Sequence) -> list[float]:
    """Expected jobs per second of each task at its base rate (cascades thinned by p)."""
    memo: dict[int, float] = {}

    def rate(i: int) -> float:
        if i not in memo:
            rt = tasks[i]
            up = rt.upstream
            memo[i] = rt.spec.fps if up is None else rate(up) * rt.spec.trigger_prob
        return memo[i]

    return [rate(i) for i in range(len(tasks))]


def balance_mapping(lat: np.ndarray, load_cost: np.ndarray, balance: bool = True) -> np.ndarray:
    """Map layers (rows) to sub-accelerators (columns): fastest first, then balance the load.

    lat: per-layer latency on each sub-accelerator; load_cost: each layer's contribution
    to a sub-accelerator's load if mapped there. Returns the sub-accelerator per layer.
    """
    n_layers, n_acc = lat.shape
    assign = np.argmin(lat, axis=1)
    if not balance or n_acc < 2 or n_layers == 0:
        return assign
    rows_all = np.arange(n_layers)
    load = np.bincount(assign, weights=load_cost[rows_all, assign], minlength=n_acc).astype(float)
    for _ in range(n_layers * n_acc):  # each move lowers the sorted load vector: it ends
        a = int(np.argmax(load))
        rows = np.flatnonzero(assign == a)
        if rows.size == 0:
            break
        others = np.array([b for b in range(n_acc) if b != a])
        new_a = load[a] - load_cost[rows, a]
        new_b = load[others][None, :] + load_cost[np.ix_(rows, others)]
        pair = np.maximum(new_a[:, None], new_b)
        k = int(np.argmin(pair))
        r, b = divmod(k, len(others))
        if not pair[r, b] < load[a] * (1.0 - 1e-12):
            break
        row, dest = int(rows[r]), int(others[b])
        load[a] -= load_cost[row, a]
        load[dest] += load_cost[row, dest]
        assign[row] = dest
    return assign


class Herald(Policy):
    """Offline layer-to-sub-accelerator mapping; each sub-accelerator serves its layers FCFS."""

    name = "herald"
    preemptive = True

    def __init__(self, balance: bool = True) -> None:
        if not isinstance(balance, bool):
            raise ValueError(f"herald.balance must be true or false, got {balance!r}")
        self.balance = balance
        self.mapping: list[list[int]] = []  # task -> sub-accelerator per base layer (full variant)
        self._run_end: list[list[int]] = []  # task -> end of the mapped run from each layer

    def setup(self, system, tasks: Sequence, sim: "SimSpec") -> None:
        """Map every task's layers to sub-accelerators (the offline step)."""
        rates = _rates(tasks)
        lats, costs, bounds = [], [], [0]
        for rt, rate in zip(tasks, rates):
            vc = rt.variants[rt.full]
            lat = np.column_stack(vc.lat_ms) if vc.n else np.zeros((0, len(vc.lat_ms)))
            # expected latency per job of each layer: suffix differences count dynamic reruns
            suf = np.column_stack([np.asarray(s) for s in vc.est_suffix])
            lats.append(lat)
            costs.append((suf[:-1] - suf[1:]) * rate)
            bounds.append(bounds[-1] + vc.n)
        assign = balance_mapping(np.vstack(lats), np.vstack(costs), self.balance)
        self.mapping, self._run_end = [], []
        for t in range(len(tasks)):
            m = assign[bounds[t]:bounds[t + 1]].tolist()
            ends = [0] * len(m)
            end = len(m)
            for i in range(len(m) - 1, -1, -1):
                if i + 1 < len(m) and m[i + 1] != m[i]:
                    end = i + 1
                ends[i] = end
            self.mapping.append(m)
            self._run_end.append(ends)

    def schedule(self, view: View) -> Decision:
        """Give each idle sub-accelerator the job whose next layer, mapped there, arrived first."""
        n_acc = len(view.running)
        free = [False] * n_acc
        for a in view.idle:
            free[a] = True
        first: list = [None] * n_acc  # per sub-accelerator: the first-come job
        mapping = self.mapping
        for job in view.ready:  # release order: ties in arrival go to the earlier release
            a = mapping[job.task][job.next_layer]
            if free[a]:
                f = first[a]
                if f is None or job.last_run < f.last_run:
                    first[a] = job
        out = []
        for a in view.idle:
            job = first[a]
            if job is None:
                continue
            pos, seq = job.pos, job.seq
            if seq is None:
                size = self._run_end[job.task][pos] - pos
            else:
                m = mapping[job.task]
                end, n = pos + 1, job.n
                while end < n and m[seq[end]] == a:
                    end += 1
                size = end - pos
            out.append(Assignment(job, a, size=size))
        return Decision(out)

    def params(self) -> dict[str, Any]:
        return {"balance": self.balance}


POLICY = Herald
