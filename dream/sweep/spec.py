"""Sweep specs (sweeps/*.yaml): parsing with Hydra's override grammar and expansion to points.

A spec names a study, fixed overrides, a `grid` (every combination of its values) and an
optional `zip` (value lists that advance together). Grid and zip values are strings in
Hydra's override grammar (`a,b`, `range(0,5)`, `glob(dual_4k_*)`, `choice(...)`), YAML
scalars (one value) or YAML lists (the choices, taken as typed YAML values).

A point is a tuple of values aligned with `SweepSpec.keys` (grid keys, then zip keys).
Points are small tuples so a 100,000-point study expands in a few megabytes.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml

from dream.config import SWEEPS_DIR, SearchPath, as_search_path
from dream.errors import ConfigError

SPEC_FIELDS = {"name", "description", "overrides", "grid", "zip"}
# where a conf_dir argument is accepted: the config search path, one directory (only it),
# or None (the active search path: --config-dir dirs, ./conf, the built-ins)
ConfDirs = SearchPath | Path | None
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class Param:
    """One swept key: its Hydra override key element and its values in order."""

    key: str            # column name: the config path or group, without +/++ prefix
    element: str        # the key as written in an override (with +, ++ or @package)
    is_group: bool      # a config group choice (composed), not a scalar patch
    values: tuple[Any, ...]


@dataclass(frozen=True)
class SweepSpec:
    """A parsed sweep spec: fixed overrides, grid and zip parameters."""

    name: str
    overrides: tuple[str, ...]
    grid: tuple[Param, ...]
    zip: tuple[Param, ...]
    raw: dict = field(default_factory=dict, compare=False)
    path: str | None = None

    @property
    def params(self) -> tuple[Param, ...]:
        """Grid parameters then zip parameters: the order of a point's values."""
        return self.grid + self.zip

    @property
    def keys(self) -> tuple[str, ...]:
        """The swept keys (column names), in point order."""
        return tuple(p.key for p in self.params)

    def __len__(self) -> int:
        n = 1
        for p in self.grid:
            n *= len(p.values)
        return n * (len(self.zip[0].values) if self.zip else 1)


def _parser() -> Any:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create()


def group_options(group: str, conf_dir: ConfDirs = None) -> list[str]:
    """The options of a config group over the search path: <dir>/<group>/*.yaml names, sorted."""
    return as_search_path(conf_dir).names(group)


def is_group(key: str, conf_dir: ConfDirs = None) -> bool:
    """Whether an override key names a config group (a folder in a config directory)."""
    return as_search_path(conf_dir).is_group(key)


def _yaml_element(value: Any) -> str:
    """A YAML scalar as Hydra override text (so 3 stays 3 and 'a b' stays one string)."""
    from hydra.core.override_parser.types import Override

    return Override._get_value_element_as_str(value)


def parse_param(where: str, key: str, raw: Any, conf_dir: ConfDirs = None) -> Param:
    """Parse one grid/zip entry into a Param; ConfigError names `where` on any problem."""
    from hydra.core.override_parser.types import Glob, Override, ValueType
    from hydra.errors import HydraException

    if not isinstance(key, str) or not key:
        raise ConfigError(where, f"keys must be override keys like sim.seed, got {key!r}")
    if isinstance(raw, (dict,)):
        raise ConfigError(f"{where}.{key}", "a mapping is not a list of values; write the "
                          "choices as a list or in Hydra's grammar (a,b or range(0,5))")
    text = _yaml_element(raw) if not isinstance(raw, (str, list)) else raw
    try:
        line = f"{key}={text if isinstance(text, str) else 'x'}"
        ov = _parser().parse_override(line)
    except HydraException as exc:
        raise ConfigError(f"{where}.{key}", f"cannot parse {line!r}: "
                          f"{str(exc).strip().splitlines()[0]}") from None
    if ov.is_delete():
        raise ConfigError(f"{where}.{key}", "a deletion (~key) cannot be swept; put it in overrides")
    if ov.is_hydra_override():
        raise ConfigError(f"{where}.{key}", "hydra.* settings cannot be swept")
    name = ov.key_or_group + (f"@{ov.package}" if ov.package else "")
    group = is_group(ov.key_or_group, conf_dir) or ov.package is not None
    element = ov.get_key_element()
    if isinstance(raw, list):
        # a YAML list is the list of choices, each a typed YAML value
        values = list(raw)
    elif ov.value_type == ValueType.GLOB_CHOICE_SWEEP:
        if not group:
            raise ConfigError(f"{where}.{key}", "glob() selects config group options; "
                              f"{ov.key_or_group!r} is not a folder of conf/")
        glob: Glob = ov._value  # type: ignore[assignment]
        values = glob.filter(group_options(ov.key_or_group, conf_dir))
        if not values:
            raise ConfigError(f"{where}.{key}", f"{text} matches no option of conf/"
                              f"{ov.key_or_group}/ (options: {group_options(ov.key_or_group, conf_dir)})")
    elif ov.is_interval_sweep():
        raise ConfigError(f"{where}.{key}", "interval() is continuous and cannot be enumerated; "
                          "use range() or a list")
    elif ov.is_sweep_override():
        values = [Override._convert_value(v) for v in ov.sweep_iterator()]
    else:
        values = [ov.value()]
    if not values:
        raise ConfigError(f"{where}.{key}", "has no values")
    if group:
        opts = group_options(ov.key_or_group, conf_dir)
        for v in values:
            if not isinstance(v, str) or v not in opts:
                raise ConfigError(f"{where}.{key}", f"unknown option {v!r} of conf/"
                                  f"{ov.key_or_group}/; available: {opts}")
    return Param(key=name, element=element, is_group=group, values=tuple(values))


def _override_key(line: str) -> str:
    """The key of a fixed override (without prefix), for clash checks."""
    return line.split("=", 1)[0].lstrip("~+")


def parse_spec(raw: Any, path: str | None = None, default_name: str | None = None,
               conf_dir: ConfDirs = None) -> SweepSpec:
    """Validate a spec mapping (as loaded from YAML) into a SweepSpec."""
    from hydra.errors import HydraException

    conf_dir = as_search_path(conf_dir)  # one search path for every key of the spec
    where = path or "spec"
    if not isinstance(raw, dict):
        raise ConfigError(where, "a sweep spec must be a YAML mapping with name, overrides, grid, zip")
    unknown = sorted(set(raw) - SPEC_FIELDS)
    if unknown:
        raise ConfigError(where, f"unknown field(s) {unknown}; allowed: {sorted(SPEC_FIELDS)}")
    name = raw.get("name", default_name)
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ConfigError("name", f"must be a plain name (letters, digits, _ . -), got {name!r}")
    overrides = raw.get("overrides") or []
    if isinstance(overrides, str):
        overrides = [overrides]
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise ConfigError("overrides", "must be a list of override strings like sim.duration_ms=1000")
    parser = _parser()
    for o in overrides:
        try:
            ov = parser.parse_override(o)
        except HydraException as exc:
            raise ConfigError("overrides", f"cannot parse {o!r}: "
                              f"{str(exc).strip().splitlines()[0]}") from None
        if ov.is_sweep_override():
            raise ConfigError("overrides", f"{o!r} is a sweep; put it under grid or zip")
    grid_raw = raw.get("grid") or {}
    zip_raw = raw.get("zip") or {}
    for label, block in (("grid", grid_raw), ("zip", zip_raw)):
        if not isinstance(block, dict):
            raise ConfigError(label, "must be a mapping of override keys to values")
    grid = tuple(parse_param("grid", k, v, conf_dir) for k, v in grid_raw.items())
    zipped = tuple(parse_param("zip", k, v, conf_dir) for k, v in zip_raw.items())
    if zipped:
        lengths = {p.key: len(p.values) for p in zipped}
        if len(set(lengths.values())) > 1:
            raise ConfigError("zip", f"value lists must have equal lengths, got {lengths}")
    seen: dict[str, str] = {}
    for label, p in [("grid", p) for p in grid] + [("zip", p) for p in zipped]:
        if p.key in seen:
            raise ConfigError(f"{label}.{p.key}", f"is also swept under {seen[p.key]}")
        seen[p.key] = label
    for o in overrides:
        if _override_key(o) in seen:
            raise ConfigError("overrides", f"{o!r} fixes a key that is also swept under "
                              f"{seen[_override_key(o)]}")
    return SweepSpec(name=name, overrides=tuple(overrides), grid=grid, zip=zipped,
                     raw=dict(raw), path=path)


def find_spec(spec: str, sweeps_dirs: list[Path] | None = None) -> Path:
    """A spec file path, or the name of a spec in ./sweeps/ or the project's sweeps/."""
    p = Path(spec)
    if p.is_file():
        return p
    dirs = sweeps_dirs or [Path.cwd() / "sweeps", SWEEPS_DIR]
    for d in dirs:
        for cand in (d / spec, d / f"{spec}.yaml", d / f"{spec}.yml"):
            if cand.is_file():
                return cand
    names = sorted({f.stem for d in dirs if d.is_dir() for f in d.glob("*.y*ml")})
    raise ConfigError("spec", f"no spec file {spec!r} and no spec of that name in sweeps/ "
                      f"(available: {names})")


def load_spec(spec: str | Path, conf_dir: ConfDirs = None) -> SweepSpec:
    """Load and validate a spec from a file path or a name in sweeps/."""
    path = find_spec(str(spec))
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(str(path), f"invalid YAML{at}: {problem}") from None
    return parse_spec(raw, str(path), default_name=path.stem, conf_dir=conf_dir)


def iter_points(spec: SweepSpec) -> Iterator[tuple[Any, ...]]:
    """Every point of the spec (grid product x zip rows), values aligned with spec.keys."""
    grid_values = [p.values for p in spec.grid]
    zip_rows = list(zip(*(p.values for p in spec.zip))) if spec.zip else [()]
    for g in itertools.product(*grid_values):
        for z in zip_rows:
            yield g + z
