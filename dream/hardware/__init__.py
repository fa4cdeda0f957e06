"""Hardware: sub-accelerators (dataflow, PEs, bandwidths, buffers) and systems of them."""

from dream.hardware.dataflow import Dataflow, Directive, find_dataflow, load_dataflow
from dream.hardware.spec import DATAFLOWS, Accelerator, System

__all__ = ["DATAFLOWS", "Accelerator", "Dataflow", "Directive", "System", "find_dataflow",
           "load_dataflow"]
