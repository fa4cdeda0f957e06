"""Hardware: sub-accelerators (dataflow, PEs, bandwidths, buffers) and systems of them."""

from dream.hardware.spec import DATAFLOWS, Accelerator, System

__all__ = ["DATAFLOWS", "Accelerator", "System"]
