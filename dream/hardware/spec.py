"""Sub-accelerator and system specs."""

from __future__ import annotations

from dataclasses import dataclass, field

from dream.errors import ConfigError
from dream.hardware.dataflow import BUILTIN_NAMES, Dataflow, load_dataflow

# the built-in dataflows (dream/conf/dataflow); a user adds more as files
DATAFLOWS = BUILTIN_NAMES


@dataclass(frozen=True)
class Accelerator:
    """One sub-accelerator.

    Bandwidths are in data elements (one operand word) per cycle, as in MAESTRO;
    buffers in KiB; the clock in GHz, so cycles / (clock_ghz * 1e6) is milliseconds.
    `dataflow` names the dataflow; `flow` holds its directives (resolved from the
    built-in dataflows by name when not given; dream/hardware/dataflow.py).
    """

    name: str
    dataflow: str
    num_pes: int
    noc_bw: float = 256.0
    offchip_bw: float = 128.0
    clock_ghz: float = 1.0
    l1_kib: float = 16.0
    l2_kib: float = 4096.0
    flow: Dataflow | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.flow is None:
            try:
                flow = load_dataflow(self.dataflow, where=f"accelerator {self.name!r}.dataflow")
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
            object.__setattr__(self, "flow", flow)
        for name in ("num_pes", "noc_bw", "offchip_bw", "clock_ghz", "l1_kib", "l2_kib"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        # whether the dataflow's clusters fit the PEs is checked where it matters: by the
        # hardware config and by the cost models that map the dataflow

    def cycles_to_ms(self, cycles: float) -> float:
        """Convert cycles of this sub-accelerator to milliseconds."""
        return cycles / (self.clock_ghz * 1e6)


@dataclass(frozen=True)
class System:
    """Sub-accelerators sharing one off-chip memory."""

    name: str
    accelerators: tuple[Accelerator, ...]
    offchip_bw: float = 128.0

    @property
    def num_pes(self) -> int:
        """Total PEs over all sub-accelerators."""
        return sum(a.num_pes for a in self.accelerators)
