"""AS: action segmentation with the Encoder-Decoder TCN (Lea et al., CVPR 2017).

Architecture (from the paper): per-frame feature vectors go through an encoder of two
temporal conv layers (64 then 96 filters of duration d, each followed by normalised
ReLU and 2x max pooling in time) and a mirrored decoder (2x upsampling by repetition,
then temporal convs with 96 then 64 filters), and a time-distributed fully connected
softmax classifier per time step. Temporal convs are written as `conv` with X = time,
Y = 1, R = 1, S = d.

Input: 128-dimensional spatial-CNN frame features (the features the paper uses on
50 Salads), filter duration d = 25, 18 classes (50 Salads "mid" granularity: 17 actions
plus background). The paper runs on whole videos of varying length; a per-frame cost
needs a fixed window, and we choose T = 640 time steps (our choice).

Result: 5 layers and 0.353 GMAC (table: 4 layers, 0.35 GMAC). Departure: the table
leaves out the per-time-step classifier; we keep it because it is part of the published
model. It adds 0.7 MMAC (0.2%).
"""

from __future__ import annotations

from dream.workload.layers import LayerTable, make_layer_table
from dream.workload.model import DEFAULT_VARIANTS, ModelDef, scale_channels

FEATURES = 128  # input feature dimension per time step
N_CLASSES = 18
FILTER_DURATION = 25
WINDOW = 640  # time steps per job (our choice, see module docstring)
ENCODER = (64, 96)  # filters per encoder layer; the decoder mirrors them
DIVISOR = 8


def _tconv(name: str, c_out: int, c_in: int, t: int) -> tuple:
    """A temporal conv of FILTER_DURATION steps producing t outputs ('same' padding)."""
    return (name, "conv", c_out, c_in, 1, t, 1, FILTER_DURATION, 1)


def build(width: float = 1.0) -> LayerTable:
    """ED-TCN layer table at a width multiplier (filter counts scaled)."""
    filters = [scale_channels(f, width, DIVISOR) for f in ENCODER]
    rows = []
    c, t = FEATURES, WINDOW
    for i, f in enumerate(filters):  # conv, then 2x max pool in time
        rows.append(_tconv(f"enc{i + 1}", f, c, t))
        c, t = f, t // 2
    for i, f in enumerate(reversed(filters)):  # 2x upsample, then conv
        t *= 2
        rows.append(_tconv(f"dec{i + 1}", f, c, t))
        c = f
    rows.append(("classifier", "fc", N_CLASSES, c, 1, t, 1, 1, 1))  # per time step
    return make_layer_table(rows)


MODEL = ModelDef(
    name="ed_tcn",
    task="AS",
    build=build,
    # Width-accuracy ratios (0.90 / 0.96 / 1.0) follow the slimmable-network trade-off
    # (Yu et al., ICLR 2019, slimmable MobileNet v2 top-1 at 0.5x/0.75x/1.0x); applying
    # them to ED-TCN segmentation accuracy is our assumption.
    variants=DEFAULT_VARIANTS,
    dynamic=(),  # four convs over a window: nothing natural to skip
    source=(
        "C. Lea et al., 'Temporal Convolutional Networks for Action Segmentation and "
        "Detection', CVPR 2017 (ED-TCN)"
    ),
)
