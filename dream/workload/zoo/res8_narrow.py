"""KD: keyword spotting with res8-narrow (Tang & Lin, ICASSP 2018).

Architecture (from the paper): a 3x3 conv with 19 feature maps (the "narrow" width;
res8 proper has 45), a 4x3 average pool (time x frequency), three residual blocks of
two 3x3 convs each (19 maps, 'same' padding, no dilation in res8), global average
pooling and a fully connected softmax over the 12 Speech Commands classes (10 keywords,
silence, unknown): 1 + 6 + 1 = 8 layers.

Input: 40 MFCCs per 30 ms window with a 10 ms shift over one second, 101 frames x 40
coefficients (H x W = 101 x 40).

Result: 8 layers and 7.0 MMAC = 0.0070 GMAC (table: 8 layers, 0.005 GMAC; +41%).
Departure, from an ambiguity in the counting: the paper's own table gives 5.65 M
multiplies for res8-narrow, below the padded network written out layer by layer
(7.0 M), and the workload table's encoding uses unpadded convolutions, under which a
3x3 conv on a 25x13 map loses its border (a quarter of the outputs). We keep the
published padded layers; the model is tiny either way (microseconds on any system).
"""

from __future__ import annotations

from dream.workload.layers import LayerTable, make_layer_table
from dream.workload.model import ModelDef, Variant, scale_channels

INPUT_HW = (101, 40)  # frames x MFCCs
N_CLASSES = 12
CHANNELS = 19  # res8-narrow
POOL = (4, 3)  # average pool after the first conv (time, frequency)
N_RES_BLOCKS = 3


def build(width: float = 1.0) -> LayerTable:
    """res8-narrow layer table at a width multiplier (feature maps scaled)."""
    c = scale_channels(CHANNELS, width)
    h, w = INPUT_HW
    rows = [("conv0", "conv", c, 1, h, w, 3, 3, 1)]
    h, w = h // POOL[0], w // POOL[1]
    for b in range(N_RES_BLOCKS):
        for j in range(2):
            rows.append((f"res{b + 1}.conv{j + 1}", "conv", c, c, h, w, 3, 3, 1))
    rows.append(("fc", "fc", N_CLASSES, c, 1, 1, 1, 1, 1))  # after global average pool
    return make_layer_table(rows)


MODEL = ModelDef(
    name="res8_narrow",
    task="KD",
    build=build,
    # Tang & Lin report res8 (45 maps) at about 94% and res8-narrow (19 maps, 0.42x) at
    # about 90% test accuracy, i.e. ~4% relative loss for a 2.4x narrower net. Narrowing
    # further is our extrapolation of that trend (assumption): 0.75x -> 0.98, 0.5x -> 0.94.
    variants=(
        Variant("w0.5", 0.5, 0.94),
        Variant("w0.75", 0.75, 0.98),
        Variant("w1.0", 1.0, 1.0),
    ),
    dynamic=(),  # the KD -> SR cascade is task-level; inside the model nothing is skipped
    source=(
        "R. Tang and J. Lin, 'Deep Residual Learning for Small-Footprint Keyword "
        "Spotting', ICASSP 2018 (res8-narrow)"
    ),
)
