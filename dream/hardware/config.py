"""Hardware configs to validated System specs."""

from __future__ import annotations

from typing import Any, Mapping

from dream.errors import ConfigError
from dream.hardware.spec import DATAFLOWS, Accelerator, System

_ACC_FIELDS = ("name", "dataflow", "num_pes", "noc_bw", "offchip_bw", "clock_ghz", "l1_kib", "l2_kib")


def _positive(value: Any, path: str, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(path, f"must be a positive number, got {value!r}")
    if integer and int(value) != value:
        raise ConfigError(path, f"must be a positive integer, got {value!r}")
    if not value > 0:
        raise ConfigError(path, f"must be > 0, got {value!r}")
    return int(value) if integer else float(value)


def system_from_config(cfg: Mapping[str, Any], path: str = "hardware") -> System:
    """Validate a hardware config into a System; raise ConfigError naming the path."""
    if not isinstance(cfg, Mapping):
        raise ConfigError(path, "must be a mapping with name, offchip_bw, accelerators")
    raw_accs = cfg.get("accelerators")
    if not raw_accs:
        raise ConfigError(f"{path}.accelerators", "a system needs at least one sub-accelerator")
    offchip = _positive(cfg.get("offchip_bw", 128.0), f"{path}.offchip_bw")
    accs = []
    for i, raw in enumerate(raw_accs):
        ap = f"{path}.accelerators[{i}]"
        if not isinstance(raw, Mapping):
            raise ConfigError(ap, f"a sub-accelerator is a mapping with fields {list(_ACC_FIELDS)}")
        unknown = sorted(set(raw) - set(_ACC_FIELDS))
        if unknown:
            raise ConfigError(f"{ap}.{unknown[0]}", f"unknown field; allowed: {list(_ACC_FIELDS)}")
        dataflow = str(raw.get("dataflow", ""))
        if dataflow not in DATAFLOWS:
            raise ConfigError(f"{ap}.dataflow", f"unknown dataflow {raw.get('dataflow')!r}; allowed: {list(DATAFLOWS)}")
        if raw.get("num_pes") is None:
            raise ConfigError(f"{ap}.num_pes", "is required")
        kwargs: dict[str, Any] = {
            "name": str(raw.get("name", f"acc{i}")),
            "dataflow": dataflow,
            "num_pes": _positive(raw["num_pes"], f"{ap}.num_pes", integer=True),
            "offchip_bw": offchip,
        }
        for f in ("noc_bw", "offchip_bw", "clock_ghz", "l1_kib", "l2_kib"):
            if raw.get(f) is not None:
                kwargs[f] = _positive(raw[f], f"{ap}.{f}")
        accs.append(Accelerator(**kwargs))
    names = [a.name for a in accs]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}.accelerators", f"sub-accelerator names must be unique, got {names}")
    return System(name=str(cfg.get("name", "system")), accelerators=tuple(accs), offchip_bw=offchip)
