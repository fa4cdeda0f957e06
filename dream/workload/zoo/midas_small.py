"""MiDaS v2.1 small: monocular depth estimation (DE).

Source: Ranftl et al., "Towards Robust Monocular Depth Estimation: Mixing Datasets for
Zero-shot Cross-dataset Transfer", TPAMI 2022 (MiDaS; the v2.1 "small" release of the
isl-org/MiDaS repository), on an EfficientNet-Lite3 encoder (Tan and Le, EfficientNet,
ICML 2019; the Lite variants drop squeeze-excite and fix the stem and head widths).

- encoder: EfficientNet-Lite3 (width 1.2, depth 1.4) up to its last block: a 3x3 stem to
  32 channels, then inverted-residual stages with 24, 32, 48, 96, 136, 232, 384
  channels and 1, 3, 3, 5, 5, 6, 1 blocks; features are tapped at 1/4, 1/8, 1/16 and
  1/32 (32, 48, 136, 384 channels);
- decoder: 3x3 convolutions lift the taps to 64, 128, 256, 512 channels; four
  RefineNet-style fusion blocks (two 3x3 residual conv units each, one for the deepest,
  2x upsampling and a 1x1 output conv that halves the channels) climb back to 1/2;
- head: 3x3 conv to 32, 2x upsampling, 3x3 conv, 1x1 conv to one depth channel.

Input: 256 x 256 (the small model's native resolution).

Layer count: 97 (table 92, +5.4%). MACs: with depthwise layers counted as depthwise we
land at 4.60 GMAC; the table's 18.5 GMAC is XRBench's encoding, which writes depthwise
convolutions as dense ones (docs/workloads.md). Written dense, our layers would give
53.4 GMAC: the 5x5 depthwise layers on 816- and 1392-channel maps dominate that figure.
We keep true depthwise layers, since that is the work the network does.
"""

from __future__ import annotations

from dream.workload.layers import LayerTable, make_layer_table
from dream.workload.model import ModelDef, Variant, scale_channels

INPUT_HW = 256
STEM = 32
# EfficientNet-Lite3 stages: (kernel, out channels, stride, repeats, expansion)
STAGES = (
    (3, 24, 1, 1, 1),
    (3, 32, 2, 3, 6),
    (5, 48, 2, 3, 6),
    (3, 96, 2, 5, 6),
    (5, 136, 1, 5, 6),
    (5, 232, 2, 6, 6),
    (3, 384, 1, 1, 6),
)
TAP_AFTER_STAGE = (1, 2, 4, 6)  # encoder stages whose outputs feed the decoder
DECODER = (64, 128, 256, 512)  # decoder channels per tap ("features" 64, expand=True)
HEAD = 32


class _Net:
    """Accumulates layer rows while tracking the feature map's channels and size."""

    def __init__(self, c: int, hw: int) -> None:
        self.rows: list = []
        self.c, self.hw = c, hw

    def conv(self, name: str, k: int, r: int, stride: int = 1, op: str = "conv") -> None:
        """Append a 'same'-padded convolution; updates the tracked feature map."""
        self.hw = -(-self.hw // stride)
        c = k if op == "dwconv" else self.c
        self.rows.append((name, op, k, c, self.hw, self.hw, r, r, stride))
        self.c = k

    def mbconv(self, name: str, r: int, out: int, stride: int, e: int) -> None:
        """Inverted residual without squeeze-excite: [1x1 expand], dw r x r, 1x1 project."""
        if e != 1:
            self.conv(f"{name}.pw", self.c * e, 1)
        self.conv(f"{name}.dw", self.c, r, stride, op="dwconv")
        self.conv(f"{name}.pwl", out, 1)


def _rcu(rows: list, name: str, c: int, hw: int) -> None:
    """RefineNet residual conv unit: two 3x3 convolutions at c channels."""
    rows.append((f"{name}.conv1", "conv", c, c, hw, hw, 3, 3, 1))
    rows.append((f"{name}.conv2", "conv", c, c, hw, hw, 3, 3, 1))


def build(width: float = 1.0) -> LayerTable:
    """Layer table of MiDaS v2.1 small at 256 x 256, channels scaled by `width`."""
    net = _Net(3, INPUT_HW)
    net.conv("enc.stem", scale_channels(STEM, width, 8), 3, 2)
    taps = []  # (channels, size) of each encoder tap
    for s, (r, c, stride, n, e) in enumerate(STAGES):
        for j in range(n):
            out = scale_channels(c, width, 8)
            net.mbconv(f"enc.stage{s}.{j}", r, out, stride if j == 0 else 1, e)
        if s in TAP_AFTER_STAGE:
            taps.append((net.c, net.hw))
    dec = [scale_channels(c, width, 8) for c in DECODER]
    rows = net.rows
    for i, ((c, hw), d) in enumerate(zip(taps, dec)):
        rows.append((f"dec.layer{i + 1}_rn", "conv", d, c, hw, hw, 3, 3, 1))
    # fusion blocks from the deepest tap up: [rcu1 on the skip], rcu2, 2x up, 1x1 out
    for i in (3, 2, 1, 0):
        c, hw = dec[i], taps[i][1]
        name = f"dec.refinenet{i + 1}"
        if i != 3:  # the deepest block has no skip input to refine
            _rcu(rows, f"{name}.rcu1", c, hw)
        _rcu(rows, f"{name}.rcu2", c, hw)
        out = c // 2 if i != 0 else c  # the shallowest block does not halve
        rows.append((f"{name}.out_conv", "conv", out, c, 2 * hw, 2 * hw, 1, 1, 1))
    half = INPUT_HW // 2
    c = dec[0]
    head = scale_channels(HEAD, width, 8)
    rows += [
        ("head.conv1", "conv", c // 2, c, half, half, 3, 3, 1),
        ("head.conv2", "conv", head, c // 2, INPUT_HW, INPUT_HW, 3, 3, 1),
        ("head.depth", "conv", 1, head, INPUT_HW, INPUT_HW, 1, 1, 1),
    ]
    return make_layer_table(rows)


MODEL = ModelDef(
    name="midas_small",
    task="DE",
    build=build,
    # Relative accuracies: ImageNet top-1 of MobileNetV2 at width 0.5 / 0.75 / 1.0
    # (65.4 / 69.8 / 72.0, Sandler et al., CVPR 2018), an inverted-residual encoder like
    # EfficientNet-Lite. That depth accuracy scales alike is our assumption.
    variants=(
        Variant("w0.5", 0.5, 0.91),
        Variant("w0.75", 0.75, 0.97),
        Variant("w1.0", 1.0, 1.0),
    ),
    dynamic=(),
    source=(
        "Ranftl et al., Towards Robust Monocular Depth Estimation (MiDaS), TPAMI 2022; "
        "v2.1 small: EfficientNet-Lite3 encoder (Tan and Le, ICML 2019) + RefineNet decoder"
    ),
)
