"""Sub-accelerator and system specs."""

from __future__ import annotations

from dataclasses import dataclass

DATAFLOWS = ("WS", "OS", "RS")


@dataclass(frozen=True)
class Accelerator:
    """One sub-accelerator.

    Bandwidths are in data elements (one operand word) per cycle, as in MAESTRO;
    buffers in KiB; the clock in GHz, so cycles / (clock_ghz * 1e6) is milliseconds.
    """

    name: str
    dataflow: str
    num_pes: int
    noc_bw: float = 256.0
    offchip_bw: float = 128.0
    clock_ghz: float = 1.0
    l1_kib: float = 16.0
    l2_kib: float = 4096.0

    def __post_init__(self) -> None:
        if self.dataflow not in DATAFLOWS:
            raise ValueError(f"dataflow {self.dataflow!r}: allowed {list(DATAFLOWS)}")
        for name in ("num_pes", "noc_bw", "offchip_bw", "clock_ghz", "l1_kib", "l2_kib"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")

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
