"""HT: 3D hand shape and pose from one RGB image (Ge et al., CVPR 2019), at half width.

Architecture (from the paper and its public model definition):

1. Heat-map network: a two-stack hourglass (Newell et al., ECCV 2016) on a 256x256 RGB
   crop. Stem: 7x7 stride-2 conv, a bottleneck residual, 2x2 max pool, two residuals
   (64x64 from here on). Each hourglass has four levels and two residual modules per
   position (26 residuals); after it come two residuals, a 1x1 conv, and a 1x1 conv to
   21 joint heat-maps; between the stacks 1x1 convs remap features and heat-maps.
   Residuals are pre-activation bottlenecks (1x1 to half, 3x3, 1x1 back, plus a 1x1
   projection when the width changes).
2. Latent feature encoder: 1x1 convs of the last heat-maps and features (summed), then
   four stages of two residuals and a 2x2 max pool, 64x64 -> 4x4, flattened.
3. Mesh graph CNN: two fully connected layers to 80 coarse vertices x 64 features, then
   two blocks of [4x graph upsampling, two Chebyshev graph convs (order 3)] to the 1280
   mesh vertices x 3 coordinates.
4. Pose graph CNN: two blocks of [two Chebyshev graph convs, 4x graph pooling] from the
   mesh, then two linear layers to the 20 root-relative joint depths.

A Chebyshev graph conv of order K on V vertices is written as an `fc` layer applied at
V positions with K * F_in inputs (the sparse Laplacian products are a few MACs per
edge and left out, as they are not PE-array work).

"Half width" (the XRBench variant): every channel count of the convolutional parts
(1 and 2) is halved, so the hourglass runs at 128 features instead of 256 and the latent
vector has 2048 entries. The graph CNNs keep their published widths at width 1.0.

Result: 224 layers and 4.13 GMAC (table: 224 layers, 3.72 GMAC; +11%, because the
table's encoding uses unpadded convolutions, which trim every 3x3 layer's output map,
while the published network pads them).

Dynamic: parts 2-4 (shape and pose from the heat-maps) run only when the heat-maps
show a hand; with no hand in view the job ends after the hourglass. We assume a hand is
visible in 80% of frames (our assumption; XR hand trackers idle when hands leave the
field of view, but no public duty cycle exists).
"""

from __future__ import annotations

from dream.workload.layers import LayerTable, make_layer_table
from dream.workload.model import DEFAULT_VARIANTS, DynamicBlock, ModelDef, scale_channels

IN_CHANNELS = 3
INPUT_SIZE = 256  # square RGB hand crop
N_JOINTS = 21
HALF = 0.5  # the XRBench "half width" hourglass / encoder
DIVISOR = 8
N_STACKS = 2
HG_DEPTH = 4
N_MODULES = 2  # residual modules per hourglass position (published default)
N_ENC_STAGES = 4  # latent encoder: residual pairs each followed by a 2x2 max pool

# graph CNN widths (Ge et al. code defaults) and mesh sizes
MESH_COARSE_VERTS = 80
MESH_VERTS = 1280
CHEB_K = 3
MESH_FEATS = (64, 32)  # feature widths of the two mesh graph-conv blocks
POSE_FEATS = (32, 64)  # feature widths of the two pose graph-conv blocks
GRAPH_FC = 512
MESH_OUT = 3  # (u, v, d) per vertex
POSE_OUT = N_JOINTS - 1  # root-relative depth of each non-root joint

HAND_PRESENT_P = 0.8  # our assumption, see the module docstring


def _residual(rows: list, name: str, c_in: int, c_out: int, n: int) -> None:
    """Pre-activation bottleneck residual at an n x n map (1x1 projection if widths differ)."""
    mid = c_out // 2
    rows.append((f"{name}.conv1", "conv", mid, c_in, n, n, 1, 1, 1))
    rows.append((f"{name}.conv2", "conv", mid, mid, n, n, 3, 3, 1))
    rows.append((f"{name}.conv3", "conv", c_out, mid, n, n, 1, 1, 1))
    if c_in != c_out:
        rows.append((f"{name}.proj", "conv", c_out, c_in, n, n, 1, 1, 1))


def _modules(rows: list, name: str, c: int, n: int) -> None:
    """N_MODULES residuals in a row at width c."""
    for j in range(N_MODULES):
        _residual(rows, f"{name}.{j}", c, c, n)


def _hourglass(rows: list, name: str, depth: int, c: int, n: int) -> None:
    """One hourglass level in forward order: skip branch, pool, lower levels, back up."""
    _modules(rows, f"{name}.up1", c, n)
    _modules(rows, f"{name}.low1", c, n // 2)
    if depth > 1:
        _hourglass(rows, f"{name}.low2", depth - 1, c, n // 2)
    else:
        _modules(rows, f"{name}.low2", c, n // 2)
    _modules(rows, f"{name}.low3", c, n // 2)


def _cheb(rows: list, name: str, f_in: int, f_out: int, verts: int) -> None:
    """Chebyshev graph conv: a linear map of K stacked basis features at every vertex."""
    rows.append((name, "fc", f_out, CHEB_K * f_in, 1, verts, 1, 1, 1))


def _heatmap_net(rows: list, width: float) -> tuple[int, int]:
    """Two-stack hourglass; returns (feature channels, map size)."""
    stem = scale_channels(64, width * HALF, DIVISOR)
    r1 = scale_channels(128, width * HALF, DIVISOR)
    f = scale_channels(256, width * HALF, DIVISOR)
    n = INPUT_SIZE // 2
    rows.append(("hm.conv1", "conv", stem, IN_CHANNELS, n, n, 7, 7, 2))
    _residual(rows, "hm.r1", stem, r1, n)
    n //= 2  # max pool
    _residual(rows, "hm.r4", r1, r1, n)
    _residual(rows, "hm.r5", r1, f, n)
    for s in range(N_STACKS):
        _hourglass(rows, f"hg{s}", HG_DEPTH, f, n)
        _modules(rows, f"hg{s}.res", f, n)
        rows.append((f"hg{s}.lin", "conv", f, f, n, n, 1, 1, 1))
        rows.append((f"hg{s}.heatmap", "conv", N_JOINTS, f, n, n, 1, 1, 1))
        if s < N_STACKS - 1:  # feed features and heat-maps into the next stack
            rows.append((f"hg{s}.ll", "conv", f, f, n, n, 1, 1, 1))
            rows.append((f"hg{s}.hm_remap", "conv", f, N_JOINTS, n, n, 1, 1, 1))
    return f, n


def _feature_encoder(rows: list, f: int, n: int) -> int:
    """Heat-maps + features -> a flat latent vector; returns its length."""
    rows.append(("enc.heatmap_conv", "conv", f, N_JOINTS, n, n, 1, 1, 1))
    rows.append(("enc.feature_conv", "conv", f, f, n, n, 1, 1, 1))
    for i in range(N_ENC_STAGES):
        _modules(rows, f"enc.stage{i}", f, n)
        n //= 2  # max pool
    return f * n * n


def _mesh_net(rows: list, latent: int, width: float) -> None:
    """FC to the coarse graph, then two [upsample x4, two graph convs] blocks."""
    fc = scale_channels(GRAPH_FC, width, DIVISOR)
    f0, f1 = (scale_channels(c, width, DIVISOR) for c in MESH_FEATS)
    rows.append(("mesh.fc1", "fc", fc, latent, 1, 1, 1, 1, 1))
    rows.append(("mesh.fc2", "fc", f0 * MESH_COARSE_VERTS, fc, 1, 1, 1, 1, 1))
    v = MESH_COARSE_VERTS * 4
    _cheb(rows, "mesh.gc0.0", f0, f0, v)
    _cheb(rows, "mesh.gc0.1", f0, f1, v)
    v *= 4
    _cheb(rows, "mesh.gc1.0", f1, f1, v)
    _cheb(rows, "mesh.gc1.1", f1, MESH_OUT, v)


def _pose_net(rows: list, width: float) -> None:
    """Two [two graph convs, pool x4] blocks from the mesh, then two linear layers."""
    f0, f1 = (scale_channels(c, width, DIVISOR) for c in POSE_FEATS)
    fc = scale_channels(GRAPH_FC, width, DIVISOR)
    v = MESH_VERTS
    _cheb(rows, "pose.gc0.0", MESH_OUT, f0, v)
    _cheb(rows, "pose.gc0.1", f0, f0, v)
    v //= 4
    _cheb(rows, "pose.gc1.0", f0, f1, v)
    _cheb(rows, "pose.gc1.1", f1, f1, v)
    v //= 4
    rows.append(("pose.fc1", "fc", fc, f1 * v, 1, 1, 1, 1, 1))
    rows.append(("pose.fc2", "fc", POSE_OUT, fc, 1, 1, 1, 1, 1))


def _layer_rows(width: float) -> tuple[list, int]:
    """All rows, and the index of the first row after the heat-map network."""
    rows: list = []
    f, n = _heatmap_net(rows, width)
    first_shape_layer = len(rows)
    latent = _feature_encoder(rows, f, n)
    _mesh_net(rows, latent, width)
    _pose_net(rows, width)
    return rows, first_shape_layer


def build(width: float = 1.0) -> LayerTable:
    """Hand graph CNN (half-width hourglass) layer table at a width multiplier."""
    rows, _ = _layer_rows(width)
    return make_layer_table(rows)


_ROWS, _SHAPE_START = _layer_rows(1.0)

MODEL = ModelDef(
    name="hand_graph_cnn",
    task="HT",
    build=build,
    # Width-accuracy ratios (0.90 / 0.96 / 1.0) follow the slimmable-network trade-off
    # (Yu et al., ICLR 2019, slimmable MobileNet v2 top-1 at 0.5x/0.75x/1.0x); applying
    # them to hand pose error is our assumption (the paper has no width sweep).
    variants=DEFAULT_VARIANTS,
    dynamic=(
        DynamicBlock(
            name="shape_pose_if_hand",
            start=_SHAPE_START,
            stop=len(_ROWS),
            kind="probability",
            p=HAND_PRESENT_P,
        ),
    ),
    source=(
        "L. Ge et al., '3D Hand Shape and Pose Estimation from a Single RGB Image', "
        "CVPR 2019 (two-stack hourglass + graph CNN), at half width"
    ),
)
