"""PlaneRCNN at quarter resolution: piecewise-planar reconstruction / plane detection (PD).

Source: Liu et al., "PlaneRCNN: 3D Plane Detection and Reconstruction from a Single
Image", CVPR 2019, and the authors' public implementation (NVlabs/planercnn), a
Mask R-CNN (He et al., ICCV 2017) with:

- backbone: ResNet-101 (stride on each stage's first 1x1, as in the Mask R-CNN port it
  builds on) with an FPN (256 channels, P2-P6);
- RPN: shared 3x3 conv to 512 channels and 1x1 objectness / box convs (3 anchors per
  location), applied to each pyramid level;
- depth decoder: a 3x3 conv per pyramid level and an upsample-and-conv path from P6 to
  half the input resolution, then a 3x3 depth prediction;
- per-plane heads: the box classifier (7 x 7 ROI features plus 64 coordinate channels,
  a 7 x 7 conv to 1024, a 1x1 conv, class / box / plane-normal predictors over 7 anchor
  normals + background), the mask head (four 3x3 convs on 14 x 14 ROIs, a 2x2
  transposed conv, a 1x1 to the 8 classes), and the segmentation-refinement U-Net, which
  runs once per plane with the mean of the other planes' features concatenated
  ("accumulate", hence the doubled input channels);
- the refinement's global branch (whole-image mask and depth), run once.

Quarter resolution: PlaneRCNN zero-pads a 480 x 640 frame to a 640 x 640 square; we
feed a quarter of the frame per side, 120 x 160, without the padding rows (they carry
no content, and the original's depth decoder crops them off anyway). Strided layers
round up ("same" padding). The refinement U-Net runs at 48 x 64, a quarter per side of
the original's 192 x 256.

Dynamic layers: the per-plane heads (20 rows: box classifier, mask head, per-plane
refinement) are a repeat block run once per detected plane, n ~ Poisson(6) clipped to
[1, 20]. The table holds them once (nominal); one pass costs 0.816 GMAC.

Departure: the reference implementation scores all 1000 post-NMS proposals with the box
classifier (16 MMAC each, so 16 GMAC, twice the rest of the network). We count the
classifier once per detected plane, inside the per-plane block, as for the mask head.

Layer count: 164 (table 153, +7.2%; we write the RPN once per pyramid level). MACs:
nominal (one plane) 8.65 GMAC (table 7.52, +15.0%); expected 12.73 GMAC (E[n] = 6.0).
Every layer is the published network at this input size, so we do not trim it to fit
the table.
"""

from __future__ import annotations

from dream.workload.layers import LayerTable, make_layer_table
from dream.workload.model import DynamicBlock, ModelDef, Variant, scale_channels

INPUT_H, INPUT_W = 120, 160  # a quarter of the 480 x 640 frame per side
REFINE_H, REFINE_W = 48, 64
RESNET_BLOCKS = (3, 4, 23, 3)  # ResNet-101
FPN = 256
RPN_MID = 512
ANCHORS = 3  # aspect ratios per location
NUM_CLASSES = 8  # 7 anchor normals + background
COORD_CHANNELS = 64  # coordinate-map features pooled with each ROI
PLANE_LAYERS = 20  # rows of the per-plane block
# refinement input: image (3) + per-plane mask / depth channels (5) + coordinates (2)
REFINE_IN = 10


def _c(c: int, width: float) -> int:
    """Width-scaled channel count (multiples of 8)."""
    return scale_channels(c, width, 8)


def _resnet(rows: list, width: float) -> list[tuple[int, int, int]]:
    """ResNet-101 trunk; returns (channels, h, w) of C2..C5."""
    h, w = -(-INPUT_H // 2), -(-INPUT_W // 2)
    stem = _c(64, width)
    rows.append(("C1.conv", "conv", stem, 3, h, w, 7, 7, 2))
    h, w = -(-h // 2), -(-w // 2)  # 3x3 stride-2 max pool
    cin, taps = stem, []
    for s, n in enumerate(RESNET_BLOCKS):
        mid, out = _c(64 * 2**s, width), _c(256 * 2**s, width)
        for b in range(n):
            stride = 2 if (b == 0 and s > 0) else 1
            if stride == 2:
                h, w = -(-h // 2), -(-w // 2)
            p = f"C{s + 2}.{b}"
            rows.append((f"{p}.conv1", "conv", mid, cin, h, w, 1, 1, stride))
            rows.append((f"{p}.conv2", "conv", mid, mid, h, w, 3, 3, 1))
            rows.append((f"{p}.conv3", "conv", out, mid, h, w, 1, 1, 1))
            if b == 0:  # projection shortcut
                rows.append((f"{p}.downsample", "conv", out, cin, h, w, 1, 1, stride))
            cin = out
        taps.append((out, h, w))
    return taps


def _deconv(name: str, k: int, c: int, h: int, w: int, taps: int) -> tuple:
    """A stride-2 transposed conv as the conv with the same MACs: each of its h x w outputs
    reads taps x taps inputs per channel (1 for a 2x2 kernel, 2 for a 4x4 one)."""
    return (name, "conv", k, c, h, w, taps, taps, 1)


def build(width: float = 1.0) -> LayerTable:
    """Layer table of quarter-resolution PlaneRCNN with one plane, width-scaled."""
    rows: list = []
    taps = _resnet(rows, width)
    f = _c(FPN, width)
    # FPN: laterals top-down, then the 3x3 output convs
    for lvl in (5, 4, 3, 2):
        c, h, w = taps[lvl - 2]
        rows.append((f"fpn.P{lvl}.lateral", "conv", f, c, h, w, 1, 1, 1))
    for lvl in (5, 4, 3, 2):
        _, h, w = taps[lvl - 2]
        rows.append((f"fpn.P{lvl}.out", "conv", f, f, h, w, 3, 3, 1))
    sizes = {lvl: taps[lvl - 2][1:] for lvl in (2, 3, 4, 5)}
    sizes[6] = (-(-sizes[5][0] // 2), -(-sizes[5][1] // 2))  # P6: stride-2 subsampling
    rpn = _c(RPN_MID, width)
    for lvl in (2, 3, 4, 5, 6):
        h, w = sizes[lvl]
        rows += [
            (f"rpn.P{lvl}.shared", "conv", rpn, f, h, w, 3, 3, 1),
            (f"rpn.P{lvl}.class", "conv", 2 * ANCHORS, rpn, h, w, 1, 1, 1),
            (f"rpn.P{lvl}.bbox", "conv", 4 * ANCHORS, rpn, h, w, 1, 1, 1),
        ]
    # depth decoder: a 3x3 conv per level from P6 to P2; between levels, upsample 2x,
    # concatenate and conv (the output lands on the next level's grid, the last one on
    # half the input resolution)
    d, d_out = _c(128, width), _c(64, width)
    path = (6, 5, 4, 3, 2)
    grids = [sizes[lvl] for lvl in path[1:]] + [(2 * sizes[2][0], 2 * sizes[2][1])]
    for i, (lvl, (nh, nw)) in enumerate(zip(path, grids)):
        rows.append((f"depth.conv{i + 1}", "conv", d, f, *sizes[lvl], 3, 3, 1))
        k = d if i + 1 < len(path) else d_out
        cin = d if i == 0 else 2 * d  # later steps also take the path from above
        rows.append((f"depth.deconv{i + 1}", "conv", k, cin, nh, nw, 3, 3, 1))
    rows.append(("depth.pred", "conv", 1, d_out, *grids[-1], 3, 3, 1))

    # ---- per-plane block ----
    fc = _c(1024, width)
    m = _c(256, width)
    rows += [
        ("plane.cls.conv1", "conv", fc, f + COORD_CHANNELS, 1, 1, 7, 7, 1),
        ("plane.cls.conv2", "conv", fc, fc, 1, 1, 1, 1, 1),
        ("plane.cls.class", "fc", NUM_CLASSES, fc, 1, 1, 1, 1, 1),
        ("plane.cls.bbox", "fc", 4 * NUM_CLASSES, fc, 1, 1, 1, 1, 1),
        ("plane.cls.normal", "fc", 3 * NUM_CLASSES, fc, 1, 1, 1, 1, 1),
        ("plane.mask.conv1", "conv", m, f, 14, 14, 3, 3, 1),
        ("plane.mask.conv2", "conv", m, m, 14, 14, 3, 3, 1),
        ("plane.mask.conv3", "conv", m, m, 14, 14, 3, 3, 1),
        ("plane.mask.conv4", "conv", m, m, 14, 14, 3, 3, 1),
        _deconv("plane.mask.deconv", m, m, 28, 28, 1),
        ("plane.mask.conv5", "conv", NUM_CLASSES, m, 28, 28, 1, 1, 1),
    ]
    r0, r1, r2, r3 = _c(16, width), _c(32, width), _c(64, width), _c(128, width)
    H, W = REFINE_H, REFINE_W
    rows += [
        ("plane.refine.conv_0", "conv", r1, REFINE_IN, H, W, 3, 3, 1),
        ("plane.refine.conv_1", "conv", r2, 2 * r1, H // 2, W // 2, 3, 3, 2),
        ("plane.refine.conv_1_1", "conv", r2, 2 * r2, H // 2, W // 2, 3, 3, 1),
        ("plane.refine.conv_2", "conv", r3, 2 * r2, H // 4, W // 4, 3, 3, 2),
        ("plane.refine.conv_2_1", "conv", r3, 2 * r3, H // 4, W // 4, 3, 3, 1),
        _deconv("plane.refine.up_2", r2, r3, H // 2, W // 2, 2),
        _deconv("plane.refine.up_1", r1, 2 * r2, H, W, 2),
        ("plane.refine.pred.conv", "conv", r0, 2 * r1, H, W, 3, 3, 1),
        ("plane.refine.pred.out", "conv", 1, r0, H, W, 3, 3, 1),
    ]
    # ---- whole-image refinement outputs, once ----
    rows += [
        _deconv("refine.global_up_2", r2, r3, H // 2, W // 2, 2),
        _deconv("refine.global_up_1", r1, 2 * r2, H, W, 2),
        ("refine.global_pred.conv", "conv", r0, 2 * r1, H, W, 3, 3, 1),
        ("refine.global_pred.out", "conv", 1, r0, H, W, 3, 3, 1),
        ("refine.depth_pred.conv", "conv", r0, 2 * r1, H, W, 3, 3, 1),
        ("refine.depth_pred.out", "conv", 1, r0, H, W, 3, 3, 1),
    ]
    return make_layer_table(rows)


_PLANE_START = next(i for i, n in enumerate(build()["name"]) if n.startswith("plane."))

MODEL = ModelDef(
    name="planercnn",
    task="PD",
    build=build,
    # Relative accuracies: ImageNet top-1 of slimmable ResNet-50 at width 0.5 / 0.75 /
    # 1.0 (72.1 / 74.9 / 76.0, Yu et al., Slimmable Neural Networks, ICLR 2019). That
    # plane-detection quality scales alike is our assumption.
    variants=(
        Variant("w0.5", 0.5, 0.95),
        Variant("w0.75", 0.75, 0.985),
        Variant("w1.0", 1.0, 1.0),
    ),
    dynamic=(
        DynamicBlock(
            "per_plane_heads",
            start=_PLANE_START,
            stop=_PLANE_START + PLANE_LAYERS,
            kind="repeat",
            mean=6.0,
            min_repeat=1,
            max_repeat=20,
        ),
    ),
    source=(
        "Liu et al., PlaneRCNN: 3D Plane Detection and Reconstruction from a Single Image, "
        "CVPR 2019 (ResNet-101-FPN Mask R-CNN + depth decoder + refinement network)"
    ),
)
