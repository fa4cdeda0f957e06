"""Resolving points to configs: compose group choices once, then patch scalars.

Hydra's compose costs ~70 ms. It runs once per group option when that option only
changes its own section (combinations are then assembled from those sections), and once
per distinct group combination otherwise. Scalar overrides (sim.seed=3,
scheduler.alpha=0.5) are applied as copy-on-write edits of the resolved plain dict: only
the dicts along the patched path are copied. Anything such an edit could get wrong
(configs with interpolations, list/dict or ${...} values, +/++ keys, keys that do not
exist) takes Hydra's own path instead: deep-copy the composed config and apply the
override exactly as compose does.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import yaml
from omegaconf import DictConfig, OmegaConf, open_dict

from dream.config import SearchPath, as_search_path, build_spec, hydra_context, one_line
from dream.errors import ConfigError
from dream.sweep.keys import canonical_json, key_from_digests, section_digest
from dream.sweep.spec import Param, SweepSpec

IDENTITY_GROUPS = ("workload", "hardware", "scheduler")
_MISSING = object()



def broken_config_file(exc: Exception, sp: SearchPath) -> tuple[str, str]:
    """(file, what is wrong) for a config YAML Hydra could not load: syntax error or not UTF-8."""
    import yaml

    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        problem = getattr(exc, "problem", None) or one_line(str(exc))
        return str(mark.name), f"line {mark.line + 1}: YAML syntax error: {problem}"
    for d in sp.dirs:  # Hydra does not say which file failed to decode: find it
        for f in sorted(Path(d).rglob("*.yaml")):
            try:
                f.read_bytes().decode("utf-8")
            except UnicodeDecodeError as bad:
                return str(f), f"not UTF-8 text (byte {bad.start})"
            except OSError:
                continue
    return "config", one_line(str(exc))

@dataclass
class Combination:
    """One distinct set of group choices, composed once."""

    overrides: tuple[str, ...]          # the compose overrides (fixed + group choices)
    cfg: DictConfig                     # composed, unresolved (for Hydra-exact patches)
    base: dict                          # resolved plain container
    digests: dict[str, str]             # per top-level section
    choices: dict[str, str | None]      # group -> option chosen
    interpolated: bool                  # the config has ${...}: patches must go through Hydra
    validated: bool = field(default=False)


def _has_interpolation(node: Any) -> bool:
    if isinstance(node, str):
        return "${" in node
    if isinstance(node, dict):
        return any(_has_interpolation(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_interpolation(v) for v in node)
    return False


def _cow_set(node: Any, parts: list[str], value: Any) -> Any:
    """A copy of `node` with the leaf at `parts` replaced; _MISSING if not a plain leaf edit."""
    head = parts[0]
    if isinstance(node, dict):
        if head not in node:
            return _MISSING
        child = node[head]
        out: Any = dict(node)
        slot: Any = head
    elif isinstance(node, list) and head.isdigit() and int(head) < len(node):
        child = node[int(head)]
        out = list(node)
        slot = int(head)
    else:
        return _MISSING
    if len(parts) == 1:
        if isinstance(child, (dict, list)):
            return _MISSING  # Hydra merges into containers; leave that to Hydra
        out[slot] = value
        return out
    new_child = _cow_set(child, parts[1:], value)
    if new_child is _MISSING:
        return _MISSING
    out[slot] = new_child
    return out


def param_type(param: Param) -> str:
    """The column type of a swept parameter, from all its values: bool, int, float or string."""
    kind = getattr(param.values, "kind", None)
    if kind is not None:  # a range knows its type without listing its values
        return kind
    vals = [v for v in param.values if v is not None]
    if vals and all(isinstance(v, bool) for v in vals):
        return "bool"
    if vals and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        return "int"
    if vals and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        return "float"
    return "string"


def column_value(kind: str, value: Any) -> Any:
    """A parameter value as stored in its column (lists and dicts as canonical JSON text)."""
    if value is None:
        return None
    if kind == "float":
        return float(value)
    if kind == "string" and not isinstance(value, str):
        return canonical_json(value)
    return value


def _validators() -> dict[str, Callable[[Any], None]]:
    """Per-section validators, the same calls build_spec makes for each section.

    build_spec validates each section on its own; validating only the sections a patch
    touched lets a 100,000-point study check every distinct value in well under a second.
    """
    from dream.config import config_dirs
    from dream.cost import make_cost_model
    from dream.hardware.config import system_from_config
    from dream.schedulers import make_policy
    from dream.sim.spec import sim_from_config
    from dream.workload.catalog import model_catalog
    from dream.workload.scenario import scenario_from_config

    def workload(v: Any) -> None:
        _mapping(v, "workload")
        scenario_from_config(v, model_catalog(v.get("models"), "workload.models"), "workload")

    def scheduler(v: Any) -> None:
        _mapping(v, "scheduler")
        params = dict(v)
        name = params.pop("name", None)
        if name is None:
            raise ConfigError("scheduler.name", "is required")
        make_policy(str(name), params, "scheduler")

    def cost(v: Any) -> None:
        _mapping(v, "cost")
        make_cost_model(str(v.get("name")), dict(v.get("params") or {}), "cost")

    return {
        "workload": workload,
        "hardware": lambda v: (_mapping(v, "hardware"), system_from_config(
            v, "hardware", dataflow_dirs=[d / "dataflow" for d in config_dirs().dirs])),
        "scheduler": scheduler,
        "cost": cost,
        "sim": lambda v: (_mapping(v, "sim"), sim_from_config(v, "sim")),
    }


def _mapping(v: Any, name: str) -> None:
    if not isinstance(v, dict):
        raise ConfigError(name, "must be a mapping")


class Resolver:
    """Turns a spec's points into resolved configs, run keys and row identity values."""

    def __init__(self, spec: SweepSpec, conf_dir: SearchPath | Path | None = None,
                 version: str | None = None, where: str = "grid"):
        self.spec = spec
        # the config search path (a single Path: only that directory, as before)
        self.search_path = as_search_path(conf_dir)
        self.where = where  # the config path errors name: "grid" in sweeps, "overrides" in compose
        self.version = version
        params = spec.params
        self.group_idx = [i for i, p in enumerate(params) if p.is_group]
        self.scalar_idx = [i for i, p in enumerate(params) if not p.is_group]
        self.params = params
        self.kinds = {p.key: param_type(p) for p in params}
        self._combos: dict[tuple, Combination] = {}
        self._parsed: dict[tuple[str, str], Any] = {}
        self._checked: set[tuple[str, str]] = set()
        self._validators: dict[str, Callable[[Any], None]] | None = None

    # -- combinations ---------------------------------------------------------------
    def group_values(self, point: tuple) -> tuple:
        """The group choices of a point (its combination's identity)."""
        return tuple(point[i] for i in self.group_idx)

    def _compose(self, overrides: tuple[str, ...]) -> Combination:
        """One Hydra compose (inside an initialised Hydra), as a Combination."""
        from hydra import compose
        from hydra.errors import HydraException
        from omegaconf.errors import OmegaConfBaseException

        try:
            cfg = compose(config_name="config", overrides=list(overrides), return_hydra_config=True)
            choices = dict(cfg.hydra.runtime.choices)
            with open_dict(cfg):
                del cfg["hydra"]
            base = OmegaConf.to_container(cfg, resolve=True)
        except (yaml.YAMLError, UnicodeDecodeError) as exc:  # a config file itself is broken
            raise ConfigError(*broken_config_file(exc, self.search_path)) from None
        except (HydraException, OmegaConfBaseException, ValueError, TypeError) as exc:
            # ValueError, TypeError: Hydra's own for a group given a number or a list of them
            detail = one_line(str(exc))
            if isinstance(exc, (ValueError, TypeError)):
                detail = f"cannot compose {' '.join(overrides)}: {detail}"
            if self.where == "overrides":  # dream.compose: the user's own overrides
                raise ConfigError("overrides", detail) from None
            raise ConfigError("overrides", f"{' '.join(overrides)}: {detail}") from None
        assert isinstance(base, dict)
        return Combination(
            overrides=overrides, cfg=cfg, base=base,
            digests={str(k): section_digest(v) for k, v in base.items()},
            choices={k: v for k, v in choices.items() if not k.startswith("hydra/")},
            interpolated=_has_interpolation(OmegaConf.to_container(cfg, resolve=False)),
        )

    def _overrides(self, g: tuple) -> tuple[str, ...]:
        return tuple(self.spec.overrides) + tuple(
            f"{self.params[i].element}={v}" for i, v in zip(self.group_idx, g))

    def compose_all(self, combos: Iterable[tuple]) -> None:
        """Compose every given combination not yet composed, under one Hydra initialisation.

        A group option whose compose differs from the defaults only in its own section
        (no nested defaults touching other groups, no interpolation) is composed once on
        its own; a combination of such options is assembled from their sections, which is
        what Hydra's merge of independent packages gives. 10 workloads x 27 hardware x 4
        schedulers then cost 42 composes instead of 1,080. Any other combination is
        composed whole.
        """
        todo = [g for g in dict.fromkeys(combos) if g not in self._combos]
        if not todo:
            return
        with hydra_context(self.search_path):
            if len(todo) <= 2 or not self.group_idx:
                for g in todo:
                    self._combos[g] = self._compose(self._overrides(g))
                return
            base = self._compose(tuple(self.spec.overrides))
            alone: dict[tuple[int, str], Combination | None] = {}
            for g in todo:
                for j, (i, v) in enumerate(zip(self.group_idx, g)):
                    if (i, v) not in alone:
                        alone[(i, v)] = self._isolated(base, i, v)
            for g in todo:
                parts = [alone[(i, v)] for i, v in zip(self.group_idx, g)]
                if base.interpolated or any(c is None for c in parts):
                    self._combos[g] = self._compose(self._overrides(g))
                    continue
                config = dict(base.base)
                digests = dict(base.digests)
                choices = dict(base.choices)
                for i, c in zip(self.group_idx, parts):
                    key = self.params[i].key
                    config[key] = c.base[key]
                    digests[key] = c.digests[key]
                    choices[key] = c.choices[key]
                cfg = OmegaConf.create(config)
                OmegaConf.set_struct(cfg, True)  # as compose returns it: unknown keys are errors
                self._combos[g] = Combination(self._overrides(g), cfg, config, digests, choices, False)

    def _isolated(self, base: Combination, i: int, value: str) -> Combination | None:
        """The compose of one group option, if it changes only its own section (else None)."""
        p = self.params[i]
        if p.element != p.key or "/" in p.key or p.key not in base.base:
            return None  # +group, group@package, nested groups: compose whole combinations
        c = self._compose(tuple(self.spec.overrides) + (f"{p.element}={value}",))
        same_rest = all(c.digests.get(k) == d for k, d in base.digests.items() if k != p.key) \
            and set(c.digests) == set(base.digests)
        same_choices = {k: v for k, v in c.choices.items() if k != p.key} == \
            {k: v for k, v in base.choices.items() if k != p.key}
        return c if same_rest and same_choices and not c.interpolated else None

    def combination(self, point: tuple) -> Combination:
        """The composed combination of a point (composed now if needed)."""
        g = self.group_values(point)
        if g not in self._combos:
            self.compose_all([g])
        return self._combos[g]

    def shadow_notes(self) -> list[str]:
        """One line per chosen option a user config file takes over from a built-in."""
        from dream.config import shadow_notes

        chosen: dict[tuple[str, str], None] = {}
        for c in self._combos.values():
            for g, v in c.choices.items():
                if v is not None:
                    chosen[(g, str(v))] = None
        notes: dict[str, None] = {}
        for g, v in chosen:
            notes.update(dict.fromkeys(shadow_notes(self.search_path, {g: v})))
        return list(notes)

    @property
    def combinations(self) -> list[Combination]:
        """Every combination composed so far."""
        return list(self._combos.values())

    # -- patching -------------------------------------------------------------------
    def _override(self, element: str, value: Any) -> Any:
        """A parsed Hydra override `element=value` (memoised)."""
        from hydra.core.override_parser.overrides_parser import OverridesParser
        from hydra.core.override_parser.types import Override

        text = Override._get_value_element_as_str(value)
        memo = (element, text)
        if memo not in self._parsed:
            self._parsed[memo] = OverridesParser.create().parse_override(f"{element}={text}")
        return self._parsed[memo]

    def _hydra_patch(self, combo: Combination, patches: list[tuple[Param, Any]]) -> dict:
        """Apply patches exactly as Hydra's compose would, on a copy of the composed config."""
        from hydra._internal.config_loader_impl import ConfigLoaderImpl
        from hydra.errors import HydraException
        from omegaconf.errors import OmegaConfBaseException

        cfg = copy.deepcopy(combo.cfg)
        overrides = [self._override(p.element, v) for p, v in patches]
        try:
            ConfigLoaderImpl._apply_overrides_to_config(overrides, cfg)
            out = OmegaConf.to_container(cfg, resolve=True)
        except (HydraException, OmegaConfBaseException) as exc:
            lines = " ".join(o.input_line for o in overrides)
            msg = " ".join(str(exc).strip().split())
            if self.where == "overrides":
                raise ConfigError("overrides", msg) from None
            raise ConfigError("grid", f"cannot apply {lines} to {' '.join(combo.overrides) or 'the defaults'}: "
                              f"{msg}") from None
        assert isinstance(out, dict)
        return out

    def resolve(self, point: tuple) -> tuple[dict, str, dict[str, str]]:
        """A point's resolved config, its run key, and the digests of the sections its patches changed."""
        combo = self.combination(point)
        patches = [(self.params[i], point[i]) for i in self.scalar_idx]
        if not patches:
            return combo.base, key_from_digests(combo.digests, self.version), {}
        config: Any = combo.base
        fast = not combo.interpolated
        if fast:
            for p, v in patches:
                if p.element != p.key or isinstance(v, (dict, list)) or (
                        isinstance(v, str) and "${" in v):
                    fast = False  # +/++ keys, @package and containers: Hydra semantics
                    break
                config = _cow_set(config, p.key.split("."), v)
                if config is _MISSING:
                    fast = False
                    break
        if fast:
            digests = dict(combo.digests)
            touched = {}
            for p, _ in patches:
                s = p.key.split(".", 1)[0]
                if s not in touched:
                    touched[s] = digests[s] = section_digest(config[s])
        else:
            config = self._hydra_patch(combo, patches)
            digests = {str(k): section_digest(v) for k, v in config.items()}
            touched = {k: d for k, d in digests.items() if combo.digests.get(k) != d}
            touched.update({k: section_digest(None) for k in combo.digests if k not in digests})
        return config, key_from_digests(digests, self.version), touched

    # -- validation -----------------------------------------------------------------
    def validate(self, point: tuple, config: dict, touched: Mapping[str, str]) -> None:
        """Validate a point: the first of each combination whole, then each distinct patched section once."""
        combo = self.combination(point)
        if not combo.validated:
            # the whole config of the combination's first point: a base may be incomplete
            # (cost.params.path: ???) until its patches fill it in
            try:
                build_spec(config)
            except ConfigError as exc:
                raise ConfigError(exc.path, f"{exc.message} (in point {self.describe(point) or ''} "
                                  f"composed from {' '.join(combo.overrides) or 'the defaults'})") from None
            combo.validated = True
            self._checked.update(touched.items())
            return
        if not touched:
            return
        if self._validators is None:
            self._validators = _validators()
        for memo in sorted(touched.items()):
            s = memo[0]
            if memo in self._checked:
                continue
            check = self._validators.get(s)
            try:
                # an unknown or deleted section: only the whole config can say if that is fine
                if check is None or s not in config:
                    build_spec(config)
                else:
                    check(config[s])
            except ConfigError as exc:
                raise ConfigError(exc.path, f"{exc.message} (in point {self.describe(point)})") from None
            self._checked.add(memo)

    # -- rows -----------------------------------------------------------------------
    def describe(self, point: tuple) -> str:
        """A point as override text, e.g. `workload=vr_gaming sim.seed=3`."""
        from hydra.core.override_parser.types import Override

        return " ".join(f"{p.element}={Override._get_value_element_as_str(v)}"
                        for p, v in zip(self.params, point))

    def row_base(self, point: tuple, config: Mapping[str, Any]) -> dict[str, Any]:
        """The identity and parameter columns of a point's row."""
        combo = self.combination(point)
        sim = config.get("sim")
        row: dict[str, Any] = {g: combo.choices.get(g) for g in IDENTITY_GROUPS}
        row["seed"] = sim.get("seed") if isinstance(sim, dict) else None
        row.update(self.param_columns(point))
        return row

    def param_columns(self, point: tuple) -> dict[str, Any]:
        """The swept parameters' columns of a point's row (no config needed)."""
        return {p.key: column_value(self.kinds[p.key], v) for p, v in zip(self.params, point)}


# -- dream.compose: the same reuse for one-off calls ---------------------------------
_RESOLVERS: dict[tuple, Resolver] = {}
# the composed bases, per (search path, composed overrides): shared by the resolvers of
# every set of patched keys, so `sim.seed=3` after `sim.alpha=1` composes nothing new
_BASES: dict[tuple, dict] = {}
_MAX_RESOLVERS = 256


def _split_overrides(overrides: list[str], sp: SearchPath) -> tuple[list[str], list[tuple[str, Any]]]:
    """(overrides composed with Hydra, value overrides patched afterwards as (key, value)).

    Only plain `a.b=value` settings of existing keys are patched; group choices, +/++/~,
    packages, hydra.* and anything else is composed. When the order of the two kinds could
    matter (a key set twice, or also named by a composed override) everything is composed.
    """
    from hydra.core.override_parser.types import Override, ValueType

    fixed: list[str] = []
    scalars: list[tuple[str, Any]] = []
    for line in overrides:
        ov = _parse(line)
        key = ov.key_or_group
        if (ov.is_add() or ov.is_force_add() or ov.is_delete() or ov.package is not None
                or ov.is_hydra_override() or ov.is_sweep_override() or "." not in key
                or "/" in key or ov.value_type != ValueType.ELEMENT):
            fixed.append(line)
        else:
            scalars.append((key, Override._convert_value(ov.value())))
    keys = [k for k, _ in scalars]
    # a composed value override (not a group choice) in the same section as a patched key:
    # their relative order matters, so leave both to Hydra
    value_sections = {_parse(line).key_or_group.split(".", 1)[0] for line in fixed
                      if not sp.is_group(_parse(line).key_or_group)}
    if len(set(keys)) != len(keys) or any(k.split(".", 1)[0] in value_sections for k in keys):
        return list(overrides), []
    return fixed, scalars


_PARSED: dict[str, Any] = {}


def _parse(line: str) -> Any:
    """A parsed override (memoised: a notebook loop repeats the same lines)."""
    if line not in _PARSED:
        from hydra.core.override_parser.overrides_parser import OverridesParser
        from hydra.errors import HydraException

        try:
            _PARSED[line] = OverridesParser.create().parse_override(line)
        except HydraException as exc:
            raise ConfigError("overrides", f"cannot parse {line!r}: {one_line(str(exc))}") from None
    return _PARSED[line]


def compose_cached(overrides: list[str], sp: SearchPath) -> tuple[dict, dict[str, str | None]]:
    """The resolved config of `overrides` (plain dict, shared: do not edit) and the group choices.

    One Resolver per (search path, composed overrides, patched keys) keeps the composed
    base, so a loop over seeds or parameter values composes once.
    """
    fixed, scalars = _split_overrides(overrides, sp)
    memo = (sp.dirs, tuple(fixed), tuple(k for k, _ in scalars))
    resolver = _RESOLVERS.get(memo)
    if resolver is None:
        params = tuple(Param(key=k, element=k, is_group=False, values=(v,)) for k, v in scalars)
        spec = SweepSpec(name="compose", overrides=tuple(fixed), grid=params, zip=())
        resolver = Resolver(spec, sp, where="overrides")
        # no swept groups: the only combination is (), composed from `fixed` alone
        resolver._combos = _BASES.setdefault((sp.dirs, tuple(fixed)), {})
        if len(_RESOLVERS) >= _MAX_RESOLVERS:
            _RESOLVERS.pop(next(iter(_RESOLVERS)))
            if len(_BASES) > _MAX_RESOLVERS:
                _BASES.pop(next(iter(_BASES)))
        _RESOLVERS[memo] = resolver
    point = tuple(v for _, v in scalars)
    config, _, _ = resolver.resolve(point)
    combo = resolver.combination(point)
    # whether the result depends on more than the files and the overrides (${oc.env:...},
    # resolvers): such a config must not be remembered across processes
    _LAST_INTERPOLATED[0] = combo.interpolated or any(isinstance(v, str) and "${" in v for v in point)
    return config, dict(combo.choices)


_LAST_INTERPOLATED = [False]


def last_compose_interpolated() -> bool:
    """Whether the last compose_cached result came from a config with ${...} interpolations."""
    return _LAST_INTERPOLATED[0]
