"""The models a scenario may name: the zoo plus models a user brings as layer-table files."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, Mapping

from dream.errors import ConfigError
from dream.validation import finite_number, sequence
from dream.workload.layers import LayerTable, load_layer_table
from dream.workload.model import DEFAULT_VARIANTS, DynamicBlock, ModelDef, Variant, width_scaled
from dream.workload.xrbench import xrbench_models
from dream.workload.zoo import registry

_FILE_MODEL_FIELDS = {"file", "task", "variants", "dynamic"}
_BLOCK_FIELDS = {"name", "start", "stop", "kind", "p", "mean", "min_repeat", "max_repeat"}

MAX_REPEAT = 100  # repeat counts above this overflow the Poisson table (factorials in floats)

_FILE_CACHE: dict[tuple[str, float], LayerTable] = {}


def _build_from_file(path: str, where: str, width: float) -> LayerTable:
    key = (path, Path(path).stat().st_mtime if Path(path).exists() else 0.0)
    if key not in _FILE_CACHE:
        _FILE_CACHE[key] = load_layer_table(path, where)
    return width_scaled(_FILE_CACHE[key], width)


def _parse_variants(raw: Any, where: str) -> tuple[Variant, ...]:
    if raw is None:
        return DEFAULT_VARIANTS
    out = []
    for i, v in enumerate(sequence(where, raw, "a list of variants")):
        vp = f"{where}[{i}]"
        if not isinstance(v, Mapping) or "width" not in v or "accuracy" not in v:
            raise ConfigError(vp, "a variant needs numeric width and accuracy, e.g. {width: 0.5, accuracy: 0.9}")
        width = finite_number(f"{vp}.width", v["width"], 0, 1, lo_open=True)
        acc = finite_number(f"{vp}.accuracy", v["accuracy"], 0, 1, lo_open=True)
        out.append(Variant(str(v.get("name", f"w{width:g}")), width, acc))
    if not out:
        raise ConfigError(where, "needs at least one variant")
    return tuple(out)


def _parse_dynamic(raw: Any, n_layers: int, where: str) -> tuple[DynamicBlock, ...]:
    blocks = []
    for i, b in enumerate(sequence(where, raw or [], "a list of dynamic blocks")):
        bp = f"{where}[{i}]"
        if not isinstance(b, Mapping):
            raise ConfigError(bp, f"a dynamic block is a mapping with fields {sorted(_BLOCK_FIELDS)}")
        unknown = sorted(set(b) - _BLOCK_FIELDS)
        if unknown:
            raise ConfigError(f"{bp}.{unknown[0]}", f"unknown field; allowed: {sorted(_BLOCK_FIELDS)}")
        kind = b.get("kind")
        if kind not in ("probability", "repeat"):
            raise ConfigError(f"{bp}.kind", f"got {kind!r}; allowed: probability, repeat")
        start = finite_number(f"{bp}.start", b.get("start", -1), integer=True)
        stop = finite_number(f"{bp}.stop", b.get("stop", -1), integer=True)
        if not 0 <= start < stop <= n_layers:
            raise ConfigError(bp, f"layer range [{start}, {stop}) must lie within [0, {n_layers})")
        p = finite_number(f"{bp}.p", b.get("p", 1.0), 0.0, 1.0)
        # the repeat distribution is tabulated up to max_repeat with factorials in floats
        mean = finite_number(f"{bp}.mean", b.get("mean", 1.0), 0.0, MAX_REPEAT)
        lo = finite_number(f"{bp}.min_repeat", b.get("min_repeat", 0), 0, MAX_REPEAT, integer=True)
        hi = finite_number(f"{bp}.max_repeat", b.get("max_repeat", 1), 0, MAX_REPEAT, integer=True)
        if kind == "repeat" and not (mean >= 0 and 0 <= lo <= hi):
            raise ConfigError(bp, "a repeat block needs mean >= 0 and 0 <= min_repeat <= max_repeat")
        blocks.append(DynamicBlock(str(b.get("name", f"block{i}")), start, stop, kind, p, mean, lo, hi))
    return tuple(blocks)


def model_catalog(user_models: Mapping[str, Any] | None, path: str = "workload.models") -> dict[str, ModelDef]:
    """Zoo models, XRBench's encodings (by network name) and the user's file models."""
    catalog = dict(registry())
    if user_models is not None and not isinstance(user_models, Mapping):
        raise ConfigError(path, f"must be a mapping of model names to file models, got {user_models!r}")
    catalog.update(xrbench_models())
    for name, raw in (user_models or {}).items():
        where = f"{path}.{name}"
        if not isinstance(raw, Mapping):
            raise ConfigError(where, "a file model is a mapping with file, task, variants, dynamic")
        unknown = sorted(set(raw) - _FILE_MODEL_FIELDS)
        if unknown:
            raise ConfigError(f"{where}.{unknown[0]}", f"unknown field; allowed: {sorted(_FILE_MODEL_FIELDS)}")
        if not raw.get("file"):
            raise ConfigError(f"{where}.file", "is required: a CSV or Parquet layer table")
        file = str(Path(str(raw["file"])).expanduser().resolve())
        base = load_layer_table(file, f"{where}.file")  # validates now, before anything runs
        _FILE_CACHE[(file, Path(file).stat().st_mtime)] = base
        catalog[str(name)] = ModelDef(
            name=str(name),
            task=str(raw.get("task", name)),
            build=partial(_build_from_file, file, f"{where}.file"),
            variants=_parse_variants(raw.get("variants"), f"{where}.variants"),
            dynamic=_parse_dynamic(raw.get("dynamic"), len(base), f"{where}.dynamic"),
            source=f"layer table {file}",
        )
    return catalog
