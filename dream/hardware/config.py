"""Hardware configs to validated System specs."""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

from dream.errors import ConfigError
from dream.hardware.dataflow import available_dataflows, load_dataflow
from dream.hardware.spec import DATAFLOWS, Accelerator, System
from dream.validation import finite_number, sequence

_ACC_FIELDS = ("name", "dataflow", "num_pes", "noc_bw", "offchip_bw", "clock_ghz", "l1_kib", "l2_kib")


def _positive(value: Any, path: str, integer: bool = False) -> float:
    # the shared check refuses NaN, inf, booleans and strings with the same message everywhere
    return finite_number(path, value, 0, lo_open=True, integer=integer)


def generated_accelerators(cfg: Mapping[str, Any], path: str) -> list[dict[str, Any]]:
    """Sub-accelerators of a parametric setting: a PE budget split over a dataflow mix.

    mix: dataflows joined by "_" (e.g. "ws_os", "ws_os_ws_os"); first_share: the share of
    PEs in the first sub-accelerator (the rest split equally); noc_bw: per sub-accelerator.
    """
    mix = str(cfg.get("mix", ""))
    flows = [m.upper() for m in mix.split("_") if m]
    bad = [f for f in flows if f not in DATAFLOWS]
    if not flows or bad:
        raise ConfigError(f"{path}.mix", f"got {mix!r}; dataflows {list(DATAFLOWS)} joined by '_', e.g. ws_os")
    total = _positive(cfg.get("total_pes"), f"{path}.total_pes", integer=True)
    n = len(flows)
    first = cfg.get("first_share")
    if first is None:
        shares = [1.0 / n] * n
    else:
        first = finite_number(f"{path}.first_share", first)
        if not (0 < first < 1) or n < 2:
            raise ConfigError(f"{path}.first_share", f"must lie in (0, 1) with two or more sub-accelerators, got {first}")
        shares = [first] + [(1.0 - first) / (n - 1)] * (n - 1)
    noc = _positive(cfg.get("noc_bw", 256), f"{path}.noc_bw")
    accs, counts = [], {}
    for f, share in zip(flows, shares):
        pes = int(round(total * share))
        if pes < 1:
            raise ConfigError(f"{path}.first_share", "leaves a sub-accelerator with no PEs")
        i = counts.get(f, 0)
        counts[f] = i + 1
        accs.append({"name": f"{f.lower()}{i}", "dataflow": f, "num_pes": pes, "noc_bw": noc,
                     "l2_kib": max(2048, pes)})
    return accs


def system_from_config(cfg: Mapping[str, Any], path: str = "hardware",
                       dataflow_dirs: Sequence[str | os.PathLike] | None = None) -> System:
    """Validate a hardware config into a System; raise ConfigError naming the path.

    Either `accelerators` lists the sub-accelerators, or `mix` + `total_pes` (+
    `first_share`, `noc_bw`) generate them (see generated_accelerators). A
    sub-accelerator's `dataflow` names a file <name>.yaml found in `dataflow_dirs` (in
    order; a user's conf dir/dataflow first) or the built-in dream/conf/dataflow, or is a
    path to a .yaml file; its directives are parsed and checked against the PEs now.
    """
    if not isinstance(cfg, Mapping):
        raise ConfigError(path, "must be a mapping with name, offchip_bw, accelerators")
    raw_accs = cfg.get("accelerators")
    if raw_accs is None and cfg.get("mix") is not None:
        raw_accs = generated_accelerators(cfg, path)
    if not raw_accs:
        raise ConfigError(f"{path}.accelerators", "a system needs at least one sub-accelerator")
    offchip = _positive(cfg.get("offchip_bw", 128.0), f"{path}.offchip_bw")
    accs = []
    for i, raw in enumerate(sequence(f"{path}.accelerators", raw_accs, "a list of sub-accelerators")):
        ap = f"{path}.accelerators[{i}]"
        if not isinstance(raw, Mapping):
            raise ConfigError(ap, f"a sub-accelerator is a mapping with fields {list(_ACC_FIELDS)}")
        unknown = sorted(set(raw) - set(_ACC_FIELDS))
        if unknown:
            raise ConfigError(f"{ap}.{unknown[0]}", f"unknown field; allowed: {list(_ACC_FIELDS)}")
        dataflow = raw.get("dataflow")
        if not isinstance(dataflow, str) or not dataflow.strip():
            raise ConfigError(f"{ap}.dataflow", f"is required: a dataflow name, one of "
                              f"{available_dataflows(dataflow_dirs)}, or a .yaml file")
        flow = load_dataflow(dataflow, dataflow_dirs, where=f"{ap}.dataflow")
        if raw.get("num_pes") is None:
            raise ConfigError(f"{ap}.num_pes", "is required")
        num_pes = _positive(raw["num_pes"], f"{ap}.num_pes", integer=True)
        flow.check_fits(num_pes, f"{ap}.dataflow")
        kwargs: dict[str, Any] = {
            "name": str(raw.get("name", f"acc{i}")),
            "dataflow": flow.name,
            "num_pes": num_pes,
            "offchip_bw": offchip,
            "flow": flow,
        }
        for f in ("noc_bw", "offchip_bw", "clock_ghz", "l1_kib", "l2_kib"):
            if raw.get(f) is not None:
                kwargs[f] = _positive(raw[f], f"{ap}.{f}")
        accs.append(Accelerator(**kwargs))
    declared = cfg.get("total_pes")
    if declared is not None and cfg.get("mix") is None and sum(a.num_pes for a in accs) != declared:
        raise ConfigError(f"{path}.total_pes", f"is {declared} but the sub-accelerators add up to {sum(a.num_pes for a in accs)}")
    names = [a.name for a in accs]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}.accelerators", f"sub-accelerator names must be unique, got {names}")
    return System(name=str(cfg.get("name", "system")), accelerators=tuple(accs), offchip_bw=offchip)
