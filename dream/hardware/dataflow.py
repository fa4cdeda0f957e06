"""Dataflows as data: MAESTRO-style directive lists read from small YAML files.

A dataflow file holds one list, outermost cluster level first:

    directives:
      - TemporalMap(16,16) C      # or T(16,16) C
      - SpatialMap(1,1) X'        # or S(1,1) X'
      - Cluster(16)               # the directives below run inside groups of 16 sub-units
      - SpatialMap(1,1) K

Dimensions: K (output channels), C (input channels), R, S (filter rows, columns),
Y, X (input rows, columns) and Y', X' (output rows, columns), as in MAESTRO's data-centric
notation (Kwon et al., MICRO'19; maestro-project/maestro). `Cluster(n, P)` is accepted as
MAESTRO writes it. A name resolves to `<name>.yaml` in the first directory of a search
list that has it (a user's conf dir first, the built-in dream/conf/dataflow last); a value
ending in .yaml/.yml or containing a path separator is a file path.

Every error is a ConfigError naming the file and line and what is allowed.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import yaml

from dream.errors import ConfigError

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "conf" / "dataflow"
BUILTIN_NAMES = ("WS", "OS", "RS")  # XRBench's three styles, listed first in messages
DIMENSIONS = ("K", "C", "R", "S", "Y", "X", "Y'", "X'")
MAX_SPATIAL_PER_LEVEL = 2  # MAESTRO: more than two SpatialMaps in one cluster level is an error

_MAP = re.compile(r"^(TemporalMap|SpatialMap|T|S)\s*\(\s*([^,()]*?)\s*,\s*([^,()]*?)\s*\)\s*(.*)$")
_CLUSTER = re.compile(r"^Cluster\s*\(\s*([^,()]*?)\s*(?:,\s*([A-Za-z]+)\s*)?\)\s*(.*)$")


@dataclass(frozen=True)
class Directive:
    """One directive: kind "T" (temporal map), "S" (spatial map) or "C" (cluster).

    For maps, `size` and `offset` are in elements of `dim`; for a cluster, `size` is the
    number of sub-units per group and `dim` is empty. `line` locates it in its file.
    """

    kind: str
    dim: str
    size: int
    offset: int
    line: int = field(default=0, compare=False)

    def __str__(self) -> str:
        if self.kind == "C":
            return f"Cluster({self.size})"
        name = "TemporalMap" if self.kind == "T" else "SpatialMap"
        return f"{name}({self.size},{self.offset}) {self.dim}"


@dataclass(frozen=True)
class Dataflow:
    """A parsed dataflow: its name, the file it came from and its directives in order."""

    name: str
    source: str
    directives: tuple[Directive, ...]

    def __hash__(self) -> int:
        # cost-table and plan caches hash the dataflow on every lookup: compute it once
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash((self.name, self.source, self.directives))
            object.__setattr__(self, "_hash", h)
        return h

    def __getstate__(self) -> dict:
        # string hashes differ between processes: never ship the cached one (Ray workers)
        state = dict(self.__dict__)
        state.pop("_hash", None)
        return state

    def levels(self) -> list[tuple[Directive, ...]]:
        """Map directives per cluster level, outermost first (Cluster directives split them)."""
        out: list[list[Directive]] = [[]]
        for d in self.directives:
            if d.kind == "C":
                out.append([])
            else:
                out[-1].append(d)
        return [tuple(level) for level in out]

    def cluster_sizes(self) -> list[int]:
        """Sizes of the Cluster directives, outermost first."""
        return [d.size for d in self.directives if d.kind == "C"]

    def check_fits(self, num_pes: int, where: str) -> None:
        """ConfigError if the nested clusters need more PEs than `num_pes` (names the line)."""
        prod = 1
        for d in self.directives:
            if d.kind == "C":
                prod *= d.size
                if prod > num_pes:
                    raise ConfigError(
                        where, f"dataflow {self.source}:{d.line}: {d} nests clusters of {prod} "
                        f"PEs, more than the sub-accelerator's {num_pes} PEs"
                    )


def _int(text: str, what: str, where: str) -> int:
    if not re.fullmatch(r"\d+", text) or int(text) < 1:
        raise ConfigError(where, f"{what} must be a positive integer, got {text!r}")
    return int(text)


def parse_directive(text: str, where: str, line: int = 0) -> Directive:
    """One directive from its text, e.g. "SpatialMap(1,1) X'"; ConfigError naming `where`."""
    s = text.strip().rstrip(";").strip()
    m = _CLUSTER.match(s)
    if m:
        size_txt, kind_txt, rest = m.groups()
        if rest.strip():
            raise ConfigError(where, f"unexpected {rest.strip()!r} after Cluster(...); "
                              "write Cluster(n) or Cluster(n, P)")
        if kind_txt is not None and kind_txt != "P":
            raise ConfigError(where, f"cluster type {kind_txt!r}: only P (physical) is allowed")
        return Directive("C", "", _int(size_txt, "the cluster size", where), 1, line)
    m = _MAP.match(s)
    if not m:
        raise ConfigError(where, f"cannot parse {text!r}; write TemporalMap(size,offset) DIM, "
                          "SpatialMap(size,offset) DIM or Cluster(n)")
    kind_txt, size_txt, ofs_txt, dim = m.groups()
    dim = dim.strip()
    if not dim:
        raise ConfigError(where, f"{text!r} names no dimension; allowed: {list(DIMENSIONS)}")
    if dim not in DIMENSIONS:
        raise ConfigError(where, f"unknown dimension {dim!r}; allowed: {list(DIMENSIONS)}")
    size = _int(size_txt, "the map size", where)
    ofs = _int(ofs_txt, "the map offset", where)
    return Directive("T" if kind_txt in ("TemporalMap", "T") else "S", dim, size, ofs, line)


def parse_dataflow(text: str, source: str, name: str | None = None) -> Dataflow:
    """A Dataflow from a YAML document's text; ConfigError names `source`:line and the rule."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"dataflow {source}{line}", f"not valid YAML "
                          f"({getattr(exc, 'problem', None) or exc})") from None
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(f"dataflow {source}", "must be a mapping with a `directives` list")
    items = None
    for key, value in root.value:
        if not isinstance(key, yaml.ScalarNode) or key.value not in ("directives", "description",
                                                                        "name"):
            raise ConfigError(f"dataflow {source}:{key.start_mark.line + 1}",
                              f"unknown key {getattr(key, 'value', key)!r}; allowed: "
                              "directives, description, name")
        if key.value == "directives":
            items = value
    if items is None or not isinstance(items, yaml.SequenceNode) or not items.value:
        raise ConfigError(f"dataflow {source}", "needs a non-empty `directives` list")
    directives = []
    for node in items.value:
        line = node.start_mark.line + 1
        where = f"dataflow {source}:{line}"
        if not isinstance(node, yaml.ScalarNode):
            raise ConfigError(where, "each directive is one line of text, e.g. TemporalMap(1,1) K")
        directives.append(parse_directive(node.value, where, line))
    flow = Dataflow(name or Path(source).stem, source, tuple(directives))
    _check_levels(flow)
    return flow


def _check_levels(flow: Dataflow) -> None:
    """MAESTRO's structural rules per cluster level (each names the offending line)."""
    ds = flow.directives
    if ds[-1].kind == "C":
        raise ConfigError(f"dataflow {flow.source}:{ds[-1].line}",
                          "a Cluster must be followed by the directives of its level")
    start = 0
    for i, d in enumerate(list(ds) + [None]):
        if d is not None and d.kind != "C":
            continue
        level = ds[start:i]
        end_line = d.line if d is not None else ds[-1].line
        if not level:
            raise ConfigError(f"dataflow {flow.source}:{end_line}",
                              "a cluster level has no directives")
        seen: dict[str, Directive] = {}
        for x in level:
            base = x.dim.rstrip("'")
            twin = seen.get(x.dim) or seen.get(base) or seen.get(base + "'")
            if twin is not None:
                raise ConfigError(f"dataflow {flow.source}:{x.line}",
                                  f"dimension {x.dim} is already mapped at line {twin.line} in "
                                  "this cluster level; one directive per dimension per level")
            seen[x.dim] = x
        spatial = [x for x in level if x.kind == "S"]
        if not spatial:
            raise ConfigError(f"dataflow {flow.source}:{level[0].line}",
                              "this cluster level has no SpatialMap; each level needs one")
        if len(spatial) > MAX_SPATIAL_PER_LEVEL:
            raise ConfigError(f"dataflow {flow.source}:{spatial[2].line}",
                              f"at most {MAX_SPATIAL_PER_LEVEL} SpatialMaps per cluster level")
        start = i + 1


def _is_path(name: str) -> bool:
    return name.endswith((".yaml", ".yml")) or "/" in name or os.sep in name


def search_dirs(dirs: Iterable[str | os.PathLike] | None = None) -> list[Path]:
    """The directories searched for dataflow names: `dirs` in order, then the built-in one."""
    return _user_dirs(dirs) + [BUILTIN_DIR]


def _user_dirs(dirs: Iterable[str | os.PathLike] | None) -> list[Path]:
    out = [Path(d).expanduser() for d in (dirs or [])]
    return [d for d in out if not (d.exists() and d.resolve() == BUILTIN_DIR)]


# how long a process waits for the package's own dataflow files when they are missing
PACKAGE_WAIT_S = 15.0


@lru_cache(maxsize=1)
def builtin_dataflows() -> dict[str, Dataflow]:
    """The package's own dataflows by name, read and parsed once per process.

    They are part of the installed package and do not change while it runs, so they are
    read once, not looked up on every simulation. That also keeps a simulation from
    depending on the package directory afterwards: in a Ray job the package is a copy
    unpacked per job, and where nodes share Ray's temporary directory (several nodes on
    one machine, a shared file system) another node's runtime-env agent may unpack or
    clean it up underneath a running worker. Until WS, OS and RS are all there and every
    file parses, the directory is read again, within PACKAGE_WAIT_S.

    Raises:
        ConfigError: they are still missing or unreadable after the wait.
    """
    deadline = time.monotonic() + PACKAGE_WAIT_S
    while True:
        try:
            files = sorted(p for p in BUILTIN_DIR.iterdir() if p.suffix in (".yaml", ".yml"))
            # a file caught half-written fails to parse: read again
            found = {p.stem: parse_dataflow(p.read_text(encoding="utf-8"), str(p), p.stem)
                     for p in files}
            whole = all(n in found for n in BUILTIN_NAMES)
        except (OSError, ConfigError):
            found, whole = {}, False
        if whole or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    if not whole:
        raise ConfigError("dataflow", f"the package's dataflow files {list(BUILTIN_NAMES)} are missing "
                          f"or unreadable in {BUILTIN_DIR} (waited {PACKAGE_WAIT_S:g} s); reinstall dream")
    return found


def available_dataflows(dirs: Iterable[str | os.PathLike] | None = None) -> list[str]:
    """Names resolvable from the search directories: WS, OS, RS first, then the rest sorted."""
    names = set(builtin_dataflows())
    for d in _user_dirs(dirs):
        if d.is_dir():
            names.update(p.stem for p in d.iterdir() if p.suffix in (".yaml", ".yml"))
    first = [n for n in BUILTIN_NAMES if n in names]
    return first + sorted(names - set(first))


def find_dataflow(name: str, dirs: Sequence[str | os.PathLike] | None = None,
                  where: str = "dataflow") -> Path:
    """The file a dataflow name (or path) refers to; ConfigError listing what is available."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(where, f"must name a dataflow; available: {available_dataflows(dirs)}")
    if _is_path(name):
        path = Path(name).expanduser()
        if not path.is_file():
            raise ConfigError(where, f"dataflow file {name!r} does not exist")
        return path
    for d in _user_dirs(dirs):
        for suffix in (".yaml", ".yml"):
            path = d / f"{name}{suffix}"
            if path.is_file():
                return path
    builtin = builtin_dataflows().get(name)
    if builtin is not None:
        return Path(builtin.source)
    raise ConfigError(where, f"unknown dataflow {name!r}; available: {available_dataflows(dirs)} "
                      f"(a <name>.yaml in {', '.join(str(d) for d in search_dirs(dirs))})")


@lru_cache(maxsize=256)
def _load(path: str, size: int, mtime_ns: int, name: str) -> Dataflow:
    # keyed by size and mtime too: an edited file is parsed again
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return parse_dataflow(text, path, name)


def load_dataflow(name: str, dirs: Sequence[str | os.PathLike] | None = None,
                  where: str = "dataflow") -> Dataflow:
    """Find and parse a dataflow by name or path (parsed once per file version; the
    package's own ones once per process, see builtin_dataflows)."""
    path = find_dataflow(name, dirs, where)
    flow_name = path.stem if _is_path(name) else name
    if not _is_path(name) and path.parent == BUILTIN_DIR:
        return builtin_dataflows()[name]
    st = path.stat()
    return _load(str(path), st.st_size, st.st_mtime_ns, flow_name)
