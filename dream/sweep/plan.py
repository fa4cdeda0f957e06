"""A plan: a spec expanded to distinct points with their run keys, validated before anything runs.

Points are not stored: a plan keeps each distinct point's position in the expansion (one
int64) and recomputes the point from it (spec.point_at), so a large study costs its run
keys and little else. Above MAX_POINTS a sweep runs only with an explicit `--max-points`;
its `--dry-run` counts the points arithmetically and validates a sample (make_plan with
sample=True) instead of expanding everything.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from dream.config import SearchPath
from dream.errors import ConfigError
from dream.sweep.resolve import Resolver
from dream.sweep.spec import SweepSpec, iter_points, point_at

# the largest sweep `dream sweep` runs without `--max-points`: a plan holds one run key
# per point (~150 bytes each) and validates every point (~30 us each), so this is about
# 30 MB and 6 s of planning; larger studies are usually a typo in a range()
MAX_POINTS = 200_000
# a parameter with more values than this is sampled (ends and evenly spaced values) by
# the dry run of a study above MAX_POINTS
SAMPLE_VALUES = 1_000


class _Points(Sequence):
    """The plan's points, recomputed from their positions in the expansion."""

    def __init__(self, spec: SweepSpec, positions: array) -> None:
        self.spec = spec
        self.positions = positions

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, i: int) -> tuple:  # type: ignore[override]
        return point_at(self.spec, self.positions[i])


@dataclass
class Plan:
    """The distinct points of a spec, their run keys, and the resolver that builds their configs."""

    spec: SweepSpec
    resolver: Resolver
    points: Sequence[tuple]
    keys: list[str]
    duplicates: int  # points dropped because an earlier point resolves to the same config
    sampled: bool = False  # a dry run's sample of a study above MAX_POINTS, not every point

    def __len__(self) -> int:
        return len(self.points)


def check_size(spec: SweepSpec, max_points: int | None) -> None:
    """ConfigError when the spec expands to more points than allowed (MAX_POINTS, or --max-points)."""
    n = len(spec)
    where = spec.path or "spec"
    if max_points is not None and n > max_points:
        raise ConfigError(where, f"expands to {n:,} points, more than --max-points {max_points:,}")
    if max_points is None and n > MAX_POINTS:
        raise ConfigError(where, f"expands to {n:,} points, above the {MAX_POINTS:,} a sweep runs "
                          f"without confirmation; check it with --dry-run, then run it with "
                          f"--max-points {n}")


def sample_positions(spec: SweepSpec) -> list[int]:
    """Positions of a sample that shows every parameter value once (long ranges: a sample).

    Point 0, then for each parameter and each of its values the point that differs from
    point 0 in that parameter only: sum of the value counts, not their product.
    """
    n_zip = len(spec.zip[0].values) if spec.zip else 1
    strides, s = [], n_zip
    for p in reversed(spec.grid):
        strides.append(s)
        s *= len(p.values)
    strides.reverse()
    out = {0: None}
    for p, stride in list(zip(spec.grid, strides)) + ([(spec.zip[0], 1)] if spec.zip else []):
        n = len(p.values)
        ks = range(n) if n <= SAMPLE_VALUES else sorted(
            {round(j * (n - 1) / (SAMPLE_VALUES - 1)) for j in range(SAMPLE_VALUES)})
        for k in ks:
            out.setdefault(k * stride, None)
    return list(out)


def make_plan(spec: SweepSpec, conf_dir: SearchPath | Path | None = None, validate: bool = True,
              version: str | None = None, sample: bool = False) -> Plan:
    """Expand, compose each group combination once, key every point and validate it.

    Raises ConfigError (naming the key and the point) on any bad value, so an invalid
    spec fails before anything runs. sample=True plans sample_positions(spec) only.
    """
    resolver = Resolver(spec, conf_dir, version)

    def points() -> Iterator[tuple[int, tuple]]:
        if sample:
            return ((i, point_at(spec, i)) for i in sample_positions(spec))
        return enumerate(iter_points(spec))

    resolver.compose_all(resolver.group_values(p) for _, p in points())
    positions = array("q")
    keys: list[str] = []
    seen: set[str] = set()
    duplicates = 0
    for i, point in points():
        config, key, touched = resolver.resolve(point)
        if validate:
            resolver.validate(point, config, touched)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        positions.append(i)
        keys.append(key)
    return Plan(spec, resolver, _Points(spec, positions), keys, duplicates, sample)

