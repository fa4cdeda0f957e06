"""The models a scenario may name: the zoo plus models a user brings as layer-table files."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from dream.errors import ConfigError
from dream.workload.layers import load_layer_table
from dream.workload.model import DEFAULT_VARIANTS, DynamicBlock, ModelDef, Variant, width_scaled
from dream.workload.xrbench import xrbench_models
from dream.workload.zoo import registry

_FILE_MODEL_FIELDS = {"file", "task", "variants", "dynamic"}
_BLOCK_FIELDS = {"name", "start", "stop", "kind", "p", "mean", "min_repeat", "max_repeat"}

_FILE_CACHE: dict[tuple[str, float], pd.DataFrame] = {}


def _build_from_file(path: str, where: str, width: float) -> pd.DataFrame:
    key = (path, Path(path).stat().st_mtime if Path(path).exists() else 0.0)
    if key not in _FILE_CACHE:
        _FILE_CACHE[key] = load_layer_table(path, where)
    return width_scaled(_FILE_CACHE[key], width)


def _parse_variants(raw: Any, where: str) -> tuple[Variant, ...]:
    if raw is None:
        return DEFAULT_VARIANTS
    out = []
    for i, v in enumerate(raw):
        vp = f"{where}[{i}]"
        try:
            width, acc = float(v["width"]), float(v["accuracy"])
        except (KeyError, TypeError, ValueError):
            raise ConfigError(vp, "a variant needs numeric width and accuracy, e.g. {width: 0.5, accuracy: 0.9}") from None
        if not 0 < width <= 1:
            raise ConfigError(f"{vp}.width", f"must lie in (0, 1], got {width}")
        if not 0 < acc <= 1:
            raise ConfigError(f"{vp}.accuracy", f"must lie in (0, 1], got {acc}")
        out.append(Variant(str(v.get("name", f"w{width:g}")), width, acc))
    if not out:
        raise ConfigError(where, "needs at least one variant")
    return tuple(out)


def _parse_dynamic(raw: Any, n_layers: int, where: str) -> tuple[DynamicBlock, ...]:
    blocks = []
    for i, b in enumerate(raw or ()):
        bp = f"{where}[{i}]"
        unknown = sorted(set(b) - _BLOCK_FIELDS)
        if unknown:
            raise ConfigError(f"{bp}.{unknown[0]}", f"unknown field; allowed: {sorted(_BLOCK_FIELDS)}")
        kind = b.get("kind")
        if kind not in ("probability", "repeat"):
            raise ConfigError(f"{bp}.kind", f"got {kind!r}; allowed: probability, repeat")
        start, stop = int(b.get("start", -1)), int(b.get("stop", -1))
        if not 0 <= start < stop <= n_layers:
            raise ConfigError(bp, f"layer range [{start}, {stop}) must lie within [0, {n_layers})")
        p = float(b.get("p", 1.0))
        if not 0 <= p <= 1:
            raise ConfigError(f"{bp}.p", f"is a probability and must lie in [0, 1], got {p}")
        mean = float(b.get("mean", 1.0))
        lo, hi = int(b.get("min_repeat", 0)), int(b.get("max_repeat", 1))
        if kind == "repeat" and not (mean >= 0 and 0 <= lo <= hi):
            raise ConfigError(bp, "a repeat block needs mean >= 0 and 0 <= min_repeat <= max_repeat")
        blocks.append(DynamicBlock(str(b.get("name", f"block{i}")), start, stop, kind, p, mean, lo, hi))
    return tuple(blocks)


def model_catalog(user_models: Mapping[str, Any] | None, path: str = "workload.models") -> dict[str, ModelDef]:
    """Zoo models, XRBench's encodings (by network name) and the user's file models."""
    catalog = dict(registry())
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
