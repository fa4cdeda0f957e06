"""Cost models (MAESTRO's analysis by default, our older analytical model, or a user's
table) and cached per-variant cost tables.

Public API:
    layer_costs(layers, accelerator)      per-layer latency_cycles / energy_nj (a DataFrame)
                                          of the default model (MAESTRO)
    COST_MODELS, make_cost_model(...)     the registry of cost models, built from config
    cost_table(...), clear_cache()        cached CostTable per (model variant, sub-accelerator)
"""

from __future__ import annotations

import hashlib
import weakref
from typing import TYPE_CHECKING, Any, Hashable, Mapping

import numpy as np

from dream.cost.analytical import AnalyticalCostModel
from dream.cost.base import CostModel, CostTable, memo_by_identity
from dream.cost.maestro import MaestroCostModel, clear_memo
from dream.cost.table import TableCostModel
from dream.errors import ConfigError
from dream.hardware import Accelerator
from dream.workload.layers import DIM_COLUMNS, LayerTable, validate_layer_table

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "COST_MODELS",
    "AnalyticalCostModel",
    "CostModel",
    "CostTable",
    "MaestroCostModel",
    "TableCostModel",
    "clear_cache",
    "cost_table",
    "layer_costs",
    "make_cost_model",
]

# one registration line per cost model
COST_MODELS: dict[str, type[CostModel]] = {
    MaestroCostModel.name: MaestroCostModel,
    AnalyticalCostModel.name: AnalyticalCostModel,
    TableCostModel.name: TableCostModel,
}

_DEFAULT = MaestroCostModel()
_CACHE: dict[tuple[Hashable, str, str | None, bytes, Hashable], CostTable] = {}
# id(layer table) -> (weak reference to it, content digest)
_FINGERPRINTS: dict[int, tuple[weakref.ref, bytes]] = {}


def make_cost_model(name: str, params: Mapping[str, Any] | None, where: str) -> CostModel:
    """Build a registered cost model from config; ConfigError names `where` and what is allowed."""
    if name not in COST_MODELS:
        raise ConfigError(f"{where}.name" if where else "name",
                          f"unknown cost model {name!r}; allowed: {sorted(COST_MODELS)}")
    if params is not None and not isinstance(params, Mapping):
        raise ConfigError(f"{where}.params", "must be a mapping of parameter names to values")
    return COST_MODELS[name].from_params(dict(params or {}), where)


def cost_table(
    cost_model: CostModel, model_name: str, variant: str | None, layers: LayerTable,
    acc: Accelerator,
) -> CostTable:
    """The cost table of a model variant on a sub-accelerator, computed once per process.

    The cache key is (cost model identity, model name, variant, a fingerprint of the
    layer table's contents, sub-accelerator spec): two models that share a name (a user's
    file edited between runs, test models) never share a table.
    """
    key = (cost_model.key, model_name, variant, layers_fingerprint(layers), cost_model.acc_key(acc))
    table = _CACHE.get(key)
    if table is None:
        cols = cost_model.table_columns(layers, acc, model_name, variant)
        table = _CACHE[key] = CostTable.build(
            cols["latency_cycles"], cols["energy_nj"], acc.clock_ghz,
            cols.get("offchip_bytes"), cols.get("l2_bytes"),
        )
    return table


def layers_fingerprint(layers: LayerTable) -> bytes:
    """A content digest of a layer table (ops and dimensions), memoised per table object.

    Layer tables are built once and reused (ModelDef caches them), so the digest is
    computed once per table object and looked up by identity afterwards: a warm lookup
    must cost microseconds, not a pass over the table. Tables are not mutated in place.
    """
    return memo_by_identity(_FINGERPRINTS, layers, _digest)


def _digest(layers: LayerTable) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    h.update("|".join(map(str, layers["op"].tolist())).encode())
    for col in DIM_COLUMNS:
        h.update(np.ascontiguousarray(layers[col], np.int64).tobytes())
    return h.digest()


def clear_cache() -> None:
    """Forget every cached cost table and layer-table digest (for benchmarks and tests)."""
    _CACHE.clear()
    _FINGERPRINTS.clear()
    clear_memo()


def layer_costs(layers: "LayerTable | pd.DataFrame", accelerator: Accelerator) -> "pd.DataFrame":
    """Per-layer latency_cycles and energy_nj (float64) of the default model (MAESTRO).

    One row per input row, in the same order (and, for a DataFrame, with the same index).
    The table is validated first (ConfigError names the bad row); `name` and `stride` are
    optional.
    """
    import pandas as pd

    checked = validate_layer_table(layers, "layers")
    lat, en = _DEFAULT.costs(checked, accelerator)
    return pd.DataFrame({"latency_cycles": lat, "energy_nj": en}, index=getattr(layers, "index", None))
