"""DREAM's online tuner: a per-window UXCost and a coordinate finite-difference search.

The policy feeds every job end into `observe`; at the first scheduling point (or job end)
at or after the window's end it calls `close`, which scores the window and moves at most
one parameter. The exact rule (docs/dream.md, "Online tuning"):

- window cost C = (energy of the jobs that ended in the window / n) x max(v / n, 1 / (2n)),
  n = jobs that ended (finished or dropped), v = those late or dropped; a window where no
  job ended is skipped (nothing is compared, nothing moves);
- one parameter (coordinate) moves at a time, by its step in its direction: alpha and
  beta multiplicatively (x or / by exp(step), step = ln(1 + tune_step)), the drop threshold
  additively (step = tune_step / 5, in relative-deadline units);
- a window that ran a move is compared with the base cost (the last window that ran the
  kept parameters): lower keeps the move, makes C the base and moves the same coordinate
  again in the same direction; otherwise the move is undone, that coordinate's direction
  reverses, its step halves, and the next coordinate is tried;
- after a full round of failures (one per coordinate in a row) one window runs the kept
  parameters without a move, to refresh the base cost;
- no move is tried while the base window had no violation: its cost is at the floor
  1 / (2n), and a move could only add violations (the search resumes once one occurs);
- once every step is below 1/8 of its initial size the search has converged and stops;
- `reset` (a phase change) restores the initial steps and directions, forgets the base
  cost and keeps the current values: the search restarts from where it is.
"""

from __future__ import annotations

import math

LOG, LIN = 0, 1
_CONVERGED = 1.0 / 8.0


class Coordinate:
    """One tuned parameter: its value, kind (LOG: multiplicative, LIN: additive) and bounds."""

    __slots__ = ("name", "value", "kind", "lo", "hi", "step0", "step", "direction")

    def __init__(self, name: str, value: float, kind: int, step: float, lo: float, hi: float) -> None:
        self.name = name
        self.value = value
        self.kind = kind
        self.lo = lo
        self.hi = hi
        self.step0 = step
        self.step = step
        self.direction = 1.0

    def moved(self) -> float:
        """The value one step along the current direction, clamped to the bounds."""
        if self.kind == LOG:
            v = self.value * math.exp(self.direction * self.step)
        else:
            v = self.value + self.direction * self.step
        return min(self.hi, max(self.lo, v))


class WindowTuner:
    """Finite-difference search over a few coordinates, one window per trial."""

    def __init__(self, coords: list[Coordinate], window_ms: float, start: float = 0.0) -> None:
        self.coords = coords
        self.window_ms = window_ms
        self.window_end = start + window_ms
        self.i = 0
        self.base: float | None = None
        self.base_viol = 0
        self.trial: tuple[int, float] | None = None  # (coordinate, value before the move)
        self.fails = 0
        self.converged = not coords
        self.costs: list[tuple[float, float]] = []  # (window end, window cost)
        self._clear()

    def _clear(self) -> None:
        self.n = 0
        self.viol = 0
        self.energy = 0.0

    def observe(self, energy_nj: float, violated: bool) -> None:
        """Count one job that ended in the current window."""
        self.n += 1
        self.energy += energy_nj
        if violated:
            self.viol += 1

    def window_cost(self) -> float | None:
        """UXCost of the current window (energy in mJ per job), None when no job ended."""
        n = self.n
        if n == 0:
            return None
        return self.energy / 1e6 / n * max(self.viol / n, 0.5 / n)

    def close(self, now: float) -> bool:
        """End the window before `now`: score it, keep or undo its move, maybe move again.

        Returns True when a parameter value changed.
        """
        w = self.window_ms
        # the next window boundary strictly after now, on the grid started at reset
        self.window_end += w * (math.floor((now - self.window_end) / w) + 1)
        cost = self.window_cost()
        viol = self.viol
        self._clear()
        if cost is None or not self.coords:
            return False
        self.costs.append((now, cost))
        changed = False
        if self.trial is None:
            self.base, self.base_viol = cost, viol
        else:
            k, old = self.trial
            self.trial = None
            if self.base is not None and cost < self.base:
                self.base, self.base_viol = cost, viol
                self.fails = 0
            else:
                c = self.coords[k]
                c.value = old
                c.direction = -c.direction
                c.step *= 0.5
                changed = True
                self.fails += 1
                self.i = (k + 1) % len(self.coords)
        if self.converged:
            return changed
        if all(c.step < c.step0 * _CONVERGED for c in self.coords):
            self.converged = True
            return changed
        if self.fails >= len(self.coords):
            self.fails = 0  # re-measure the kept parameters next window
            return changed
        if self.base_viol == 0:
            return changed  # the kept parameters violate nothing: a move could only add violations
        # skip coordinates that have converged
        for _ in range(len(self.coords)):
            c = self.coords[self.i]
            if c.step >= c.step0 * _CONVERGED:
                break
            self.i = (self.i + 1) % len(self.coords)
        c = self.coords[self.i]
        new = c.moved()
        if new == c.value:  # at a bound: reverse instead of wasting a window
            c.direction = -c.direction
            new = c.moved()
        if new != c.value:
            self.trial = (self.i, c.value)
            c.value = new
            changed = True
        return changed

    def reset(self, now: float) -> None:
        """Restart the search (a phase change): initial steps, no base, a fresh window."""
        for c in self.coords:
            c.step = c.step0
            c.direction = 1.0
        self.i = 0
        self.base = None
        self.base_viol = 0
        self.trial = None
        self.fails = 0
        self.converged = not self.coords
        self.window_end = now + self.window_ms
        self._clear()

    def values(self) -> dict[str, float]:
        """Current value of every coordinate by name."""
        return {c.name: c.value for c in self.coords}
