"""ES: RITNet eye segmentation (Chaudhary et al., ICCVW 2019).

Architecture (from the paper): a DenseNet-style U-Net with a constant channel width
m = 32. Five down blocks (the first at full resolution, the others after a 2x2
average pool), each with five convolutions and dense skips:
3x3 conv, then twice [1x1 conv over the concatenation so far, 3x3 conv].
Four up blocks (nearest 2x upsampling, concatenated with the encoder skip), each with
four convolutions: twice [1x1 conv over the concatenation, 3x3 conv]. A final 1x1
conv gives the four classes (background, sclera, iris, pupil). 5 x 5 + 4 x 4 + 1 =
42 layers.

Input: a single-channel infrared eye image. OpenEDS frames are 640x400; the default
here is that frame downscaled 4x to 160x100 (H x W = 100 x 160), which is the size
the XRBench table's cost corresponds to. At 160x100 this builder gives 42 layers and
1.03 GMAC (table: 42 layers, 1.04 GMAC). At the full 640x400 the same network costs
about 16.4 GMAC (MACs scale with pixels); pass `input_hw=(400, 640)` to get it.

Departure: none in the network; only the input resolution is chosen to match the
workload table (and XRBench's ES latency reference), not the native OpenEDS size.
Up-block outputs take the size of their encoder skip (odd sizes such as 25 rows
round down in the pool and are restored by the skip), as any U-Net on odd sizes must.
"""

from __future__ import annotations

from dream.workload.layers import LayerTable, make_layer_table
from dream.workload.model import DEFAULT_VARIANTS, ModelDef, scale_channels

IN_CHANNELS = 1  # grayscale IR eye image
N_CLASSES = 4  # background, sclera, iris, pupil
CHANNELS = 32  # RITNet's constant channel width m
N_DOWN = 5
DEFAULT_INPUT_HW = (100, 160)  # OpenEDS 400x640 frame downscaled 4x


def _down_block(rows: list, i: int, c_in: int, m: int, h: int, w: int) -> None:
    """Dense down block: 3x3, then twice (1x1 over the concatenation, 3x3)."""
    p = f"down{i}"
    rows.append((f"{p}.conv1", "conv", m, c_in, h, w, 3, 3, 1))
    rows.append((f"{p}.conv21", "conv", m, c_in + m, h, w, 1, 1, 1))
    rows.append((f"{p}.conv22", "conv", m, m, h, w, 3, 3, 1))
    rows.append((f"{p}.conv31", "conv", m, c_in + 2 * m, h, w, 1, 1, 1))
    rows.append((f"{p}.conv32", "conv", m, m, h, w, 3, 3, 1))


def _up_block(rows: list, i: int, m: int, h: int, w: int) -> None:
    """Up block on [upsampled, skip]: twice (1x1 over the concatenation, 3x3)."""
    p = f"up{i}"
    rows.append((f"{p}.conv11", "conv", m, 2 * m, h, w, 1, 1, 1))
    rows.append((f"{p}.conv12", "conv", m, m, h, w, 3, 3, 1))
    rows.append((f"{p}.conv21", "conv", m, 3 * m, h, w, 1, 1, 1))
    rows.append((f"{p}.conv22", "conv", m, m, h, w, 3, 3, 1))


def build(width: float = 1.0, input_hw: tuple[int, int] = DEFAULT_INPUT_HW) -> LayerTable:
    """RITNet layer table at a width multiplier (channel width m scaled)."""
    m = scale_channels(CHANNELS, width, 4)
    h, w = input_hw
    sizes = []  # (h, w) of each down block
    rows: list = []
    for i in range(N_DOWN):
        if i > 0:  # 2x2 average pool before blocks 2..5
            h, w = h // 2, w // 2
        sizes.append((h, w))
        _down_block(rows, i + 1, IN_CHANNELS if i == 0 else m, m, h, w)
    # decoder: each up block works at the resolution of the matching encoder skip
    for j, (h, w) in enumerate(reversed(sizes[:-1])):
        _up_block(rows, j + 1, m, h, w)
    h, w = sizes[0]
    rows.append(("out_conv", "conv", N_CLASSES, m, h, w, 1, 1, 1))
    return make_layer_table(rows)


MODEL = ModelDef(
    name="ritnet",
    task="ES",
    build=build,
    # Width-accuracy ratios (0.90 / 0.96 / 1.0) follow the slimmable-network trade-off
    # (Yu et al., ICLR 2019, slimmable MobileNet v2 top-1 at 0.5x/0.75x/1.0x); RITNet
    # publishes no width sweep, so applying them to eye segmentation is our assumption.
    variants=DEFAULT_VARIANTS,
    dynamic=(),  # a dense per-pixel segmenter: no natural skip or per-object head
    source=(
        "A. K. Chaudhary et al., 'RITnet: Real-time Semantic Segmentation of the Eye for "
        "Gaze Tracking', ICCV Workshops (OpenEDS) 2019"
    ),
)
