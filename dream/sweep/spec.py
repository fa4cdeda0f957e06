"""Sweep specs (sweeps/*.yaml): parsing with Hydra's override grammar and expansion to points.

A spec names a study, fixed overrides, a `grid` (every combination of its values) and an
optional `zip` (value lists that advance together). Grid and zip values are strings in
Hydra's override grammar (`a,b`, `range(0,5)`, `glob(dual_4k_*)`, `choice(...)`), YAML
scalars (one value) or YAML lists (the choices, taken as typed YAML values).

A point is a tuple of values aligned with `SweepSpec.keys` (grid keys, then zip keys).
Points are small tuples so a 100,000-point study expands in a few megabytes.
"""

from __future__ import annotations

import copy
import itertools
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
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
    values: Sequence[Any]  # a tuple, or ArithmeticValues for a range (never materialised)


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
    """Hydra's override parser, with sort() of a range() kept exact (see _sort)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser, create_functions

    functions = create_functions()
    hydra_sort = functions.functions["sort"]
    functions.functions["sort"] = lambda *a, **kw: _sort(hydra_sort, *a, **kw)
    return OverridesParser(functions)


def _sort(hydra_sort: Any, *args: Any, sweep: Any = None, list: Any = None,
          reverse: bool = False) -> Any:
    """sort(): a range is only marked for sorting; everything else is Hydra's sort.

    hydra-core 1.3's sort of a range moves its bounds instead of reordering its values:
    sort(range(1.3,0,-0.5)) gives 0.5, 1.0, 1.5 and sort(range(0,1,0.3),reverse=true)
    starts at -0.2. A marked range is expanded by ArithmeticValues, which reverses the
    very values the unsorted range has when their order is the wrong way round.
    """
    from hydra.core.override_parser.types import RangeSweep

    target = sweep if sweep is not None else (args[0] if len(args) == 1 and list is None else None)
    if isinstance(target, RangeSweep):
        out = copy.copy(target)
        out.shuffle = False
        out.__dict__[_ORDER_ATTR] = "descending" if reverse else "ascending"
        return out
    return hydra_sort(*args, sweep=sweep, list=list, reverse=reverse)


_ORDER_ATTR = "_dream_order"


def _decimal(x: int | float) -> Decimal:
    # the shortest repr is the number as the user wrote it: 1.3 stays 1.3, not 1.3000000000000000444
    return Decimal(x) if isinstance(x, int) else Decimal(repr(float(x)))


@dataclass(frozen=True, eq=False)
class ArithmeticValues(Sequence):
    """The values of range(start, stop, step), lazily: value i is start + i * step.

    Float ranges are computed in decimal on the numbers as written, so range(1.3,0,-0.5)
    is exactly 1.3, 0.8, 0.3 (binary accumulation gives 0.30000000000000004), and a
    range of 10 million values costs nothing until a value is read. `flip` lists the
    same values in reverse order (a sorted range that counted the other way).
    """

    start: Decimal | int  # ints for an integer range
    step: Decimal | int
    n: int
    kind: str          # "int" or "float": the type of every value
    flip: bool = False

    @classmethod
    def from_sweep(cls, where: str, sweep: Any) -> "ArithmeticValues":
        """The values of a parsed Hydra RangeSweep (with our sort mark); ConfigError on step 0."""
        start, stop, step = sweep.start, sweep.stop, sweep.step
        if step is None:
            step = 1
        for name, v in (("start", start), ("stop", stop), ("step", step)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ConfigError(where, f"range() {name} must be a finite number, got {v!r}")
        if step == 0:
            raise ConfigError(where, f"range({start},{stop},{step}): the step must not be 0")
        kind = "int" if all(isinstance(v, int) for v in (start, stop, step)) else "float"
        order = sweep.__dict__.get(_ORDER_ATTR)
        flip = (order == "ascending" and step < 0) or (order == "descending" and step > 0)
        if kind == "int":  # plain int arithmetic: exact, and fast on the hot path of planning
            return cls(start, step, len(range(start, stop, step)), kind, flip)  # type: ignore[arg-type]
        d0, d1, ds = _decimal(start), _decimal(stop), _decimal(step)
        span = (d1 - d0) / ds
        n = max(0, int(span.to_integral_value(rounding=ROUND_CEILING)))
        return cls(d0, ds, n, kind, flip)

    def _at(self, i: int) -> int | float:
        v = self.start + (self.n - 1 - i if self.flip else i) * self.step
        return v if self.kind == "int" else float(v)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self._at(j) for j in range(*i.indices(self.n))]
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self._at(i)

    def __iter__(self) -> Iterator[int | float]:
        return (self._at(i) for i in range(self.n))

    def __add__(self, other: Any) -> tuple:
        # concatenation lists the values, as a tuple's would
        return tuple(self) + tuple(other)

    def __radd__(self, other: Any) -> tuple:
        return tuple(other) + tuple(self)

    def __eq__(self, other: object) -> bool:
        # equal to any sequence of the same values, like the tuple it stands for
        if isinstance(other, ArithmeticValues) and len(other) == self.n:
            return all(a == b for a, b in zip(self, other))
        if isinstance(other, (tuple, list)):
            return len(other) == self.n and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.n, self.kind, self[0] if self.n else None, self[-1] if self.n else None))


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
    elif ov.value_type == ValueType.RANGE_SWEEP:
        rng = ArithmeticValues.from_sweep(f"{where}.{key}", ov._value)
        values = rng
        if ov._value.shuffle:
            # Hydra shuffles with the global random state; a fixed seed keeps points in one order
            values = list(rng)
            random.Random(0).shuffle(values)
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
    return Param(key=name, element=element, is_group=group,
                 values=values if isinstance(values, ArithmeticValues) else tuple(values))


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
        if "search" in unknown:  # a design-space search spec, not a sweep
            raise ConfigError(where, "has a search: block; run it with `dream search`, "
                              "or remove the block to sweep the grid alone")
        raise ConfigError(where, f"unknown field(s) {unknown}; allowed: {sorted(SPEC_FIELDS)}")
    name = raw.get("name", default_name)
    check_name(name)
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


def check_name(name: Any) -> str:
    """A spec name is a plain file name (it becomes outputs/<name>/): letters, digits, _ . -,
    and not "." or ".." (which would name the outputs folder or the working directory)."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or name in (".", ".."):
        raise ConfigError("name", f"must be a plain name (letters, digits, _ . -; not . or ..), got {name!r}")
    return name


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


class _SpecLoader(yaml.SafeLoader):
    """YAML as PyYAML reads it, plus YAML 1.2's exponent floats without a dot (1e2, 2.88e-3).

    PyYAML follows YAML 1.1, where `1e-3` is the string '1e-3': a list of such numbers
    would be refused as a number or stored as text. Quoted '1e2' stays a string.
    """


_SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


def read_spec(spec: str | Path) -> tuple[Path, Any]:
    """(path, raw YAML) of a spec file path or a name in ./sweeps or the built-ins.

    Numbers in exponent form are numbers (YAML 1.2); ConfigError names the file (and the
    line of a YAML error) when it cannot be read, is not UTF-8 or is not YAML.
    """
    path = find_spec(str(spec))
    try:
        raw = yaml.load(path.read_bytes().decode("utf-8"), Loader=_SpecLoader)
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(str(path), f"cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(str(path), f"invalid YAML{at}: {problem}") from None
    return path, raw


def load_spec(spec: str | Path, conf_dir: ConfDirs = None) -> SweepSpec:
    """Load and validate a spec from a file path or a name in sweeps/."""
    path, raw = read_spec(spec)
    return parse_spec(raw, str(path), default_name=path.stem, conf_dir=conf_dir)


# a key with more values than this is read by index while expanding, never listed
_LIST_VALUES = 100_000


def iter_points(spec: SweepSpec) -> Iterator[tuple[Any, ...]]:
    """Every point of the spec (grid product x zip rows), values aligned with spec.keys.

    Streams: values are read by index from each parameter's sequence (a range is never
    listed), so expanding 10 million points holds one point at a time. The order is
    itertools.product's: the last grid key varies fastest, then the zip rows.
    """
    seqs = [p.values for p in spec.grid]
    sizes = [len(v) for v in seqs]
    n_zip = len(spec.zip[0].values) if spec.zip else 1
    if any(n == 0 for n in sizes) or n_zip == 0:
        return
    zip_rows = [tuple(p.values[j] for p in spec.zip) for j in range(n_zip)] if spec.zip else [()]
    if all(n <= _LIST_VALUES for n in sizes):
        # every key's values fit in memory: itertools.product (C) lists each key's values,
        # not the points, and is several times faster than the odometer below
        for g in itertools.product(*(tuple(v) for v in seqs)):
            for z in zip_rows:
                yield g + z
        return
    idx = [0] * len(seqs)
    current = [v[0] for v in seqs]
    while True:
        g = tuple(current)
        for z in zip_rows:
            yield g + z
        # odometer: advance the last key, carry into the ones before it
        k = len(seqs) - 1
        while k >= 0:
            idx[k] += 1
            if idx[k] < sizes[k]:
                current[k] = seqs[k][idx[k]]
                break
            idx[k] = 0
            current[k] = seqs[k][0]
            k -= 1
        if k < 0:
            return


def point_at(spec: SweepSpec, i: int) -> tuple[Any, ...]:
    """Point number i of iter_points(spec), computed directly (mixed-radix digits of i)."""
    n_zip = len(spec.zip[0].values) if spec.zip else 1
    i, z = divmod(i, n_zip)
    digits = []
    for p in reversed(spec.grid):
        i, d = divmod(i, len(p.values))
        digits.append(p.values[d])
    return tuple(reversed(digits)) + tuple(p.values[z] for p in spec.zip)
