"""A plan: a spec expanded to distinct points with their run keys, validated before anything runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dream.config import SearchPath
from dream.sweep.resolve import Resolver
from dream.sweep.spec import SweepSpec, iter_points


@dataclass
class Plan:
    """The distinct points of a spec, their run keys, and the resolver that builds their configs."""

    spec: SweepSpec
    resolver: Resolver
    points: list[tuple]
    keys: list[str]
    duplicates: int  # points dropped because an earlier point resolves to the same config

    def __len__(self) -> int:
        return len(self.points)


def make_plan(spec: SweepSpec, conf_dir: SearchPath | Path | None = None, validate: bool = True,
              version: str | None = None) -> Plan:
    """Expand, compose each group combination once, key every point and validate it.

    Raises ConfigError (naming the key and the point) on any bad value, so an invalid
    spec fails before anything runs.
    """
    resolver = Resolver(spec, conf_dir, version)
    resolver.compose_all(resolver.group_values(p) for p in iter_points(spec))
    points: list[tuple] = []
    keys: list[str] = []
    seen: set[str] = set()
    duplicates = 0
    for point in iter_points(spec):
        config, key, touched = resolver.resolve(point)
        if validate:
            resolver.validate(point, config, touched)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        points.append(point)
        keys.append(key)
    return Plan(spec, resolver, points, keys, duplicates)
