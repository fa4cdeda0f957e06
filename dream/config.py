"""Composing configs with Hydra and turning them into validated, typed specs.

Config groups are looked up on a search path: every directory given with `--config-dir`
(or `config_dirs=` from Python), then `./conf` of the working directory if it exists,
then the built-in `dream/conf/` shipped in the package. The first directory holding an
option wins, so a user's `conf/workload/vr_gaming.yaml` shadows the built-in one.
`config_dirs()` returns the active search path; loaders of other config locations (e.g.
`dataflow/`) use it too. Inside `builtin_configs_only()` it is the built-ins alone (what
`dream validate` runs on, whatever ./conf or --config-dir hold).
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

from dream.errors import ConfigError

if TYPE_CHECKING:  # the simulator's modules are imported when a spec is built, not before
    from omegaconf import DictConfig

    from dream.cost.base import CostModel
    from dream.hardware import System
    from dream.sim.policy import Policy
    from dream.sim.spec import SimSpec
    from dream.workload.model import ModelDef
    from dream.workload.scenario import Scenario

PACKAGE_DIR = Path(__file__).resolve().parent
CONF_DIR = PACKAGE_DIR / "conf"          # the built-in config groups
SWEEPS_DIR = PACKAGE_DIR / "sweeps"      # the built-in sweep specs
GROUPS = ("workload", "hardware", "scheduler", "cost", "sim")
# extra config directories (os.pathsep-separated): how the CLI's --config-dir reaches Ray
# workers and jobs, which inherit the environment
ENV_CONFIG_DIRS = "DREAM_CONFIG_DIRS"


@dataclass(frozen=True)
class SearchPath:
    """Config directories in lookup order (user directories first, the built-ins last)."""

    dirs: tuple[Path, ...]

    def options(self, group: str) -> dict[str, Path]:
        """Every option of a group: name -> the file that wins (first directory holding it)."""
        found: dict[str, Path] = {}
        for d in self.dirs:
            folder = d / group
            if folder.is_dir():
                for f in sorted(folder.glob("*.yaml")):
                    found.setdefault(f.stem, f)
        return dict(sorted(found.items()))

    def names(self, group: str) -> list[str]:
        """The option names of a group, sorted."""
        return list(self.options(group))

    def is_group(self, key: str) -> bool:
        """Whether an override key names a config group (a folder in some directory)."""
        return bool(key) and "." not in key and any((d / key).is_dir() for d in self.dirs)

    def find(self, group: str, name: str) -> Path | None:
        """The file of one option (the first directory's), or None."""
        for d in self.dirs:
            f = d / group / f"{name}.yaml"
            if f.is_file():
                return f
        return None

    def shadowing(self, group: str, name: str) -> tuple[Path, Path] | None:
        """(winning file, shadowed built-in file) when a user file hides a built-in option."""
        win = self.find(group, name)
        builtin = CONF_DIR / group / f"{name}.yaml"
        if win is not None and builtin.is_file() and win.resolve() != builtin.resolve():
            return win, builtin
        return None

    @property
    def user_dirs(self) -> tuple[Path, ...]:
        """The directories before the built-ins."""
        return tuple(d for d in self.dirs if d.resolve() != CONF_DIR)


def search_path(extra: Iterable[str | Path] = (), cwd: Path | None = None) -> SearchPath:
    """The search path: `extra` dirs, then ./conf (if present), then the built-ins.

    Raises ConfigError naming a given directory that does not exist.
    """
    dirs: list[Path] = []
    for d in extra:
        p = Path(d).expanduser()
        if not p.is_dir():
            raise ConfigError("--config-dir", f"{str(d)!r} is not a directory")
        dirs.append(p.resolve())
    try:
        local: Path | None = (cwd or Path.cwd()) / "conf"
    except FileNotFoundError:
        # the working directory was removed under us (a Ray job's working_dir is unpacked
        # again once Ray starts); `dream` put ./conf into $DREAM_CONFIG_DIRS at start-up
        local = None
    if local is not None and local.is_dir():
        dirs.append(local.resolve())
    dirs.append(CONF_DIR)
    return SearchPath(tuple(dict.fromkeys(dirs)))


def _env_dirs() -> list[str]:
    return [d for d in os.environ.get(ENV_CONFIG_DIRS, "").split(os.pathsep) if d]


BUILTIN_ONLY = SearchPath((CONF_DIR,))
# set by builtin_configs_only(): the search path every lookup of this process uses meanwhile
_PINNED: SearchPath | None = None


def config_dirs() -> SearchPath:
    """The active search path: $DREAM_CONFIG_DIRS (set by --config-dir), ./conf, the built-ins.

    Inside `builtin_configs_only()`, the built-ins alone.
    """
    return _PINNED if _PINNED is not None else search_path(_env_dirs())


@contextmanager
def builtin_configs_only() -> Iterator[SearchPath]:
    """Look up configs (groups, dataflow files) in the built-in dream/conf/ only, meanwhile.

    For runs whose meaning depends on the shipped configs being used as shipped (`dream
    validate`): a user's ./conf or --config-dir option of the same name must not take over.
    """
    global _PINNED
    before, _PINNED = _PINNED, BUILTIN_ONLY
    try:
        yield BUILTIN_ONLY
    finally:
        _PINNED = before


def use_config_dirs(dirs: Sequence[str | Path]) -> SearchPath:
    """Make `dirs` the extra config directories of this process and its children (Ray workers)."""
    sp = search_path(dirs)
    os.environ[ENV_CONFIG_DIRS] = os.pathsep.join(str(d) for d in sp.user_dirs)
    return sp


def as_search_path(where: SearchPath | Path | str | Sequence[str | Path] | None) -> SearchPath:
    """A SearchPath from what callers pass: None (the active one), one directory (only it), or dirs."""
    if where is None:
        return config_dirs()
    if isinstance(where, SearchPath):
        return where
    if isinstance(where, (str, Path)):
        return SearchPath((Path(where).resolve(),))
    return search_path(where)


@contextmanager
def hydra_context(where: SearchPath | Path | str | Sequence[str | Path] | None = None) -> Iterator[SearchPath]:
    """Initialise Hydra with the search path (as initialize_config_dir does for one directory)."""
    from hydra import version
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path
    from hydra.core.config_search_path import SearchPathQuery
    from hydra.initialize import get_gh_backup, restore_gh_from_backup

    from hydra.core.global_hydra import GlobalHydra

    sp = as_search_path(where)
    backup = get_gh_backup()
    # inside a caller's own Hydra (an app or an initialize block): ours for this compose,
    # theirs back afterwards
    GlobalHydra.instance().clear()
    version.setbase("1.3")
    # Hydra's own entries (and its plugins' registration), then ours in order before
    # "schema": the first directory holding an option wins
    csp = create_config_search_path(None)
    for i, d in enumerate(sp.dirs):
        # Hydra checks that its "main" source exists; the others are plain entries
        csp.prepend("main" if i == 0 else f"dream-conf-{i}", f"file://{d}",
                    anchor=SearchPathQuery(provider="schema"))
    Hydra.create_main_hydra2(task_name="app", config_search_path=csp)
    try:
        yield sp
    finally:
        restore_gh_from_backup(backup)


def register_search_path_plugin() -> None:
    """Put the active user config dirs before Hydra's primary (built-in) dir in a Hydra app."""
    from hydra.core.config_search_path import ConfigSearchPath, SearchPathQuery
    from hydra.core.plugins import Plugins
    from hydra.plugins.search_path_plugin import SearchPathPlugin

    class DreamSearchPath(SearchPathPlugin):
        """Prepends --config-dir dirs and ./conf, in order, before the primary config dir."""

        def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
            for i, d in enumerate(config_dirs().user_dirs):
                search_path.prepend(f"dream-conf-{i}", f"file://{d}", anchor=SearchPathQuery(provider="main"))

    Plugins.instance().register(DreamSearchPath)


def shadow_notes(sp: SearchPath, choices: Mapping[str, Any]) -> list[str]:
    """One line per chosen option (and the primary config.yaml) a user file takes over from a built-in."""
    notes = []
    primary = next((d / "config.yaml" for d in sp.dirs if (d / "config.yaml").is_file()), None)
    if primary is not None and primary.resolve() != CONF_DIR / "config.yaml":
        notes.append(f"note: config.yaml from {primary} replaces the built-in defaults")
    for group, name in choices.items():
        if name is None or "/" in group:
            continue
        hit = sp.shadowing(group, str(name))
        if hit:
            notes.append(f"note: {group}/{name} from {hit[0]} shadows the built-in {group}/{name}")
    return notes


def compose(overrides: list[str] | None = None,
            config_dirs: Sequence[str | Path] | SearchPath | None = None) -> "DictConfig":
    """Compose the config with Hydra overrides (as on the command line).

    `config_dirs` are searched before ./conf and the built-ins. The composed base of each
    group combination is reused (see dream.sweep.resolve), so repeated calls that differ
    in values only cost a copy-on-write patch, not a Hydra compose.
    """
    from omegaconf import OmegaConf

    config, _ = compose_plain(overrides, config_dirs)
    cfg = OmegaConf.create(config)
    OmegaConf.set_struct(cfg, True)  # as Hydra returns it: unknown keys are errors
    return cfg


def compose_plain(overrides: Sequence[str] | None = None,
                  config_dirs: Sequence[str | Path] | SearchPath | None = None
                  ) -> tuple[dict, dict[str, str | None]]:
    """The resolved config as a plain dict, and the group choices; ConfigError on bad overrides."""
    from dream.sweep.resolve import compose_cached

    sp = config_dirs if isinstance(config_dirs, SearchPath) else (
        search_path(config_dirs) if config_dirs is not None else globals()["config_dirs"]())
    return compose_cached(list(overrides or []), sp)


COMPOSE_CACHE_MAX = 256  # remembered compositions kept on disk (the oldest go first)


def compose_cache_dir() -> Path:
    """Where `dream run` remembers compositions between processes (per user, XDG cache)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dream" / "compose"


def _installed(package: str) -> str:
    """Where a top-level package is installed and when: its __init__ file and directory
    (path, size, modification time). A reinstall or an upgrade rewrites them. This stands
    for the version without importlib.metadata, whose import alone costs a `dream run`
    more than everything else its composition lookup does."""
    from importlib.util import find_spec

    try:
        spec = find_spec(package)  # a top-level package: found, not imported
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin:
        return f"{package} ?"
    parts = [package]
    for f in (Path(spec.origin), Path(spec.origin).parent):
        try:
            st = f.stat()
            parts.append(f"{f} {st.st_size} {st.st_mtime_ns}")
        except OSError:
            parts.append(f"{f} ?")
    return " ".join(parts)


def _compose_cache_key(overrides: Sequence[str], sp: SearchPath) -> str:
    """A digest of everything a composition depends on: the overrides, every YAML file of
    the search path (path, size, modification time), dream's version and the installed
    Hydra and OmegaConf (see _installed). Editing, adding or removing any config file, or
    installing another Hydra or OmegaConf, gives a new key."""
    import hashlib

    from dream import __version__

    h = hashlib.blake2b(digest_size=16)
    installed = [_installed(pkg) for pkg in ("hydra", "omegaconf")]
    h.update(repr((__version__, installed, list(overrides))).encode())
    for d in sp.dirs:
        h.update(f"\0dir {d}".encode())
        for f in sorted(d.rglob("*.y*ml")):
            st = f.stat()
            h.update(f"\0{f.relative_to(d)} {st.st_size} {st.st_mtime_ns}".encode())
    return h.hexdigest()


def _json_safe(node: Any) -> bool:
    """Whether a JSON round trip gives the same value back (string keys, plain scalars)."""
    if isinstance(node, dict):
        return all(isinstance(k, str) and _json_safe(v) for k, v in node.items())
    if isinstance(node, list):
        return all(_json_safe(v) for v in node)
    return node is None or isinstance(node, (str, int, float, bool))


def _plain_output(arg: str) -> str | None:
    """The directory of an `output=DIR` override whose value Hydra reads as that very string."""
    import re

    key, _, value = arg.partition("=")
    if key != "output" or not re.fullmatch(r"[\w./-]+", value):
        return None
    if value.lower() in ("true", "false", "null", "nan", "inf", "+inf", "-inf"):
        return None
    try:
        float(value)
        return None  # Hydra would read a number
    except ValueError:
        return value


def compose_remembered(overrides: Sequence[str], sp: SearchPath) -> tuple[dict, dict[str, str | None]]:
    """compose_plain, remembered on disk across processes: a repeated `dream run` skips
    importing Hydra and composing. Configs with ${...} interpolations (they may read the
    environment) are never remembered; a cache that cannot be read or written is ignored.
    A plain `output=DIR` is set after the lookup, so runs into new directories share one entry.
    """
    given = [a for a in overrides if a.startswith("output=")]
    out = _plain_output(given[0]) if len(given) == 1 else None
    if out is not None:
        config, choices = _compose_remembered([a for a in overrides if a != given[0]], sp)
        if "output" in config:
            return {**config, "output": out}, choices
    return _compose_remembered(overrides, sp)


def _compose_remembered(overrides: Sequence[str], sp: SearchPath) -> tuple[dict, dict[str, str | None]]:
    import json

    path: Path | None = None
    try:
        path = compose_cache_dir() / f"{_compose_cache_key(overrides, sp)}.json"
        data = json.loads(path.read_text())
        return data["config"], data["choices"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    config, choices = compose_plain(overrides, sp)
    from dream.sweep.resolve import last_compose_interpolated

    if path is not None and not last_compose_interpolated() and _json_safe(config) and _json_safe(choices):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"config": config, "choices": choices}))
            tmp.replace(path)
            kept = sorted(path.parent.glob("*.json"), key=lambda f: f.stat().st_mtime_ns)
            for old in kept[:-COMPOSE_CACHE_MAX]:
                old.unlink(missing_ok=True)
        except OSError:
            pass
    return config, choices


def one_line(message: str) -> str:
    """Hydra's multi-line composition error as one line (options listed, search path cut)."""
    text = message.split("Config search path")[0].split("\nSearch path:")[0].strip()
    head, _, options = text.partition("Available options in")
    head = " ".join(head.replace("In 'config': ", "").split())
    if options:
        group, _, names = options.partition(":")
        return f"{head}; available options in{group}: {', '.join(names.split())}"
    return head


_one_line = one_line  # the earlier private name


@dataclass(frozen=True)
class RunSpec:
    """Everything one simulation needs, validated."""

    scenario: "Scenario"
    system: "System"
    scheduler: str
    scheduler_params: Mapping[str, Any]
    cost_model: "CostModel"
    sim: "SimSpec"
    catalog: Mapping[str, "ModelDef"]

    def make_policy(self) -> "Policy":
        """A fresh policy object (policies keep state, so one per simulation)."""
        from dream.schedulers import make_policy

        return make_policy(self.scheduler, dict(self.scheduler_params))


def _section(cfg: Any, name: str) -> dict:
    if name not in cfg or cfg[name] is None:
        raise ConfigError(name, f"is missing; choose one of conf/{name}/")
    value = cfg[name]
    if not isinstance(value, dict):
        from omegaconf import OmegaConf
        from omegaconf.errors import MissingMandatoryValue

        try:
            value = OmegaConf.to_container(value, resolve=True, throw_on_missing=True)
        except MissingMandatoryValue as exc:  # a ??? left to fill in: name the full key
            key = str(getattr(exc, "full_key", "") or "")
            key = key if key.startswith(f"{name}.") else f"{name}.{key}".rstrip(".")
            raise ConfigError(key, f"is required (??? in the config); set it, e.g. {key}=VALUE") from None
        except Exception as exc:  # a bad interpolation
            raise ConfigError(name, str(exc).strip().splitlines()[0]) from None
    elif _has_missing(value):
        key = f"{name}.{_has_missing(value)}"
        raise ConfigError(key, f"is required (??? in the config); set it, e.g. {key}=VALUE")
    if not isinstance(value, dict):
        raise ConfigError(name, "must be a mapping")
    return value


def _has_missing(node: Any, path: str = "") -> str | None:
    """The path of a `???` (mandatory, unset) value in a plain resolved section, or None."""
    if isinstance(node, str):
        return path or "value" if node == "???" else None
    if isinstance(node, dict):
        for k, v in node.items():
            hit = _has_missing(v, f"{path}.{k}" if path else str(k))
            if hit:
                return hit
    if isinstance(node, list):
        for i, v in enumerate(node):
            hit = _has_missing(v, f"{path}[{i}]")
            if hit:
                return hit
    return None


def build_spec(cfg: "DictConfig | Mapping[str, Any]") -> RunSpec:
    """Validate a composed config into a RunSpec; raise ConfigError naming the bad path.

    A plain mapping (a resolved config, as sweeps and compose_plain give) is used as it
    is; a DictConfig is resolved section by section.
    """
    import copy

    from dream.cost import make_cost_model
    from dream.hardware.config import system_from_config
    from dream.schedulers import make_policy
    from dream.sim.spec import sim_from_config
    from dream.workload.catalog import model_catalog
    from dream.workload.scenario import scenario_from_config

    if isinstance(cfg, Mapping) and not _is_omegaconf(cfg):
        # the loaders below may keep or edit what they are given: they get their own copy
        cfg = {k: copy.deepcopy(v) for k, v in cfg.items()}
    work = _section(cfg, "workload")
    catalog = model_catalog(work.get("models"), "workload.models")
    scenario = scenario_from_config(work, catalog, "workload")
    system = system_from_config(_section(cfg, "hardware"), "hardware",
                                dataflow_dirs=[d / "dataflow" for d in config_dirs().dirs])
    sched = _section(cfg, "scheduler")
    name = sched.pop("name", None)
    if name is None:
        raise ConfigError("scheduler.name", "is required")
    make_policy(str(name), sched, "scheduler")  # validates name and parameters now
    cost = _section(cfg, "cost")
    cost_model = make_cost_model(str(cost.get("name")), dict(cost.get("params") or {}), "cost")
    sim = sim_from_config(_section(cfg, "sim"), "sim")
    return RunSpec(scenario, system, str(name), sched, cost_model, sim, catalog)


def _is_omegaconf(cfg: Any) -> bool:
    return type(cfg).__module__.startswith("omegaconf")
