"""The model zoo: one module per network, each exposing `MODEL` (a ModelDef).

Adding a model: write `dream/workload/zoo/<name>.py` with a `build(width)` function
and a `MODEL = ModelDef(...)`, then add its module name to `_MODULES` below.
"""

from __future__ import annotations

import importlib

from dream.workload.model import ModelDef

# one registration line per model
_MODULES = (
    "ritnet",  # ES eye segmentation
    "fbnet_c",  # GE gaze estimation
    "hand_graph_cnn",  # HT hand tracking
    "rgbd_200",  # DR depth refinement
    "ed_tcn",  # AS action segmentation
    "res8_narrow",  # KD keyword detection
    "emformer",  # SR speech recognition
    "hrvit_b1",  # SS semantic segmentation
    "d2go_faster_rcnn",  # OD object detection
    "midas_small",  # DE depth estimation
    "planercnn",  # PD plane detection
)

_REGISTRY: dict[str, ModelDef] | None = None


def registry() -> dict[str, ModelDef]:
    """All zoo models by name (imported on first use)."""
    global _REGISTRY
    if _REGISTRY is None:
        reg: dict[str, ModelDef] = {}
        for mod in _MODULES:
            model = importlib.import_module(f"{__name__}.{mod}").MODEL
            reg[model.name] = model
        _REGISTRY = reg
    return _REGISTRY


def get_model(name: str) -> ModelDef:
    """A zoo model by name; KeyError lists the known names."""
    reg = registry()
    if name not in reg:
        raise KeyError(f"unknown model {name!r}; known: {sorted(reg)}")
    return reg[name]
