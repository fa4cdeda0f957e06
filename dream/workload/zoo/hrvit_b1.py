"""HRViT-b1 with a SegFormer all-MLP head: semantic segmentation (SS).

Source: Gu et al., "Multi-Scale High-Resolution Vision Transformer for Semantic
Segmentation", CVPR 2022, and the authors' public release (facebookresearch/HRViT),
whose b1 configuration we follow:

- stem: two 3x3 stride-2 convolutions (3 -> 32 -> 64), reaching 1/4 resolution;
- six stages whose branches (1/4, 1/8, 1/16, 1/32; 32, 64, 128, 256 channels) open one
  by one; per stage and branch the transformer block counts are
  (1), (1, 1), (1, 1, 6), (1, 1, 6), (1, 1, 6, 2), (1, 1, 2, 2);
- before each stage a cross-resolution fusion module (depthwise strided conv + 1x1 conv
  to go down, 1x1 conv + nearest upsampling to go up) and, per branch, a patch
  embedding (1x1 conv + depthwise 3x3);
- each HRViT block: a q/v projection, cross-shaped window attention (window widths
  1, 2, 7, 7 per branch) with a parallel depthwise 3x3 on v, an output projection, the
  diversity-enhanced shortcut (two small fc layers), and the MixCFN (fc, depthwise 3x3
  and 5x5 on the two channel halves, fc) with expansion 4;
- SegFormer head: per-branch 1x1 to 256 channels, a 1x1 fusion of the four, and the
  classifier (19 Cityscapes classes).

Input: 480 x 640, a VGA camera frame (the paper evaluates 512 x 512 ADE20K crops and
1024 x 1024 Cityscapes crops; the input size is a deployment choice); 19 output classes
(Cityscapes). At a 512 x 512 crop this builder would give 15.1 GMAC.

Layer rows: the four attention matrix products of a block (scores and weighted values
of the horizontal and vertical stripes) are one `fc` row per block: with N = H x W
queries, stripes of width ws and C channels their MACs sum to N x C x ws x (H + W),
exactly an fc with K = ws x (H + W) outputs over C inputs. Depthwise layers are real
`dwconv` rows.

Result: 443 layers (table 423, +4.7%) and 17.94 GMAC (table 20.1, -10.8%).
"""

from __future__ import annotations

import math

from dream.workload.layers import LayerTable, make_layer_table
from dream.workload.model import DEFAULT_VARIANTS, ModelDef, scale_channels

INPUT_H, INPUT_W = 480, 640  # a VGA camera frame
NUM_CLASSES = 19
STEM_CHANNELS = 64
BRANCH_CHANNELS = (32, 64, 128, 256)
WINDOW = (1, 2, 7, 7)  # cross-shaped stripe width per branch
MLP_RATIO = 4
HEAD_CHANNELS = 256
# transformer blocks per branch in each of the six stages
BLOCKS = ((1,), (1, 1), (1, 1, 6), (1, 1, 6), (1, 1, 6, 2), (1, 1, 2, 2))


def _des_split(c: int) -> tuple[int, int]:
    """The diversity-enhanced shortcut factors C as k x p with p a power of two >= sqrt(C)."""
    p = 1 << math.ceil(math.log2(c) / 2)
    return math.ceil(c / p), p


def _block(rows: list, name: str, c: int, h: int, w: int, ws: int) -> None:
    """One HRViT block on a branch with c channels at h x w."""
    hid = c * MLP_RATIO
    k, p = _des_split(c)
    rows += [
        (f"{name}.attn.to_qv", "fc", 2 * c, c, h, w, 1, 1, 1),
        # all four stripe products; see the module docstring
        (f"{name}.attn.stripes", "fc", ws * (h + w), c, h, w, 1, 1, 1),
        (f"{name}.attn.v_dwconv", "dwconv", c, c, h, w, 3, 3, 1),
        (f"{name}.attn.proj", "fc", c, c, h, w, 1, 1, 1),
        # DES: a p x p linear on each of the k groups, then a k x k linear across groups
        (f"{name}.des.right", "fc", p, p, h, w * k, 1, 1, 1),
        (f"{name}.des.left", "fc", k, k, h, w * p, 1, 1, 1),
        (f"{name}.cfn.fc1", "fc", hid, c, h, w, 1, 1, 1),
        (f"{name}.cfn.dw3", "dwconv", hid // 2, hid // 2, h, w, 3, 3, 1),
        (f"{name}.cfn.dw5", "dwconv", hid - hid // 2, hid - hid // 2, h, w, 5, 5, 1),
        (f"{name}.cfn.fc2", "fc", c, hid, h, w, 1, 1, 1),
    ]


def _fusion(
    rows: list, name: str, cin: list[int], cout: list[int], sizes: list[tuple[int, int]]
) -> None:
    """Cross-resolution fusion: every output branch sums resampled copies of every input."""
    for i, oc in enumerate(cout):
        for j, ic in enumerate(cin):
            if j < i:  # higher resolution input: depthwise strided conv, then 1x1
                f = 2 ** (i - j)
                h, w = sizes[i]
                rows.append((f"{name}.to{i}.from{j}.dw", "dwconv", ic, ic, h, w, f + 1, f + 1, f))
                rows.append((f"{name}.to{i}.from{j}.pw", "conv", oc, ic, h, w, 1, 1, 1))
            elif j > i:  # lower resolution input: 1x1 at its own size, then upsample
                h, w = sizes[j]
                rows.append((f"{name}.to{i}.from{j}.pw", "conv", oc, ic, h, w, 1, 1, 1))


def build(width: float = 1.0) -> LayerTable:
    """Layer table of HRViT-b1 + SegFormer head at 480 x 640, channels scaled by `width`."""
    ch = [scale_channels(c, width, 8) for c in BRANCH_CHANNELS]
    stem = scale_channels(STEM_CHANNELS, width, 8)
    head = scale_channels(HEAD_CHANNELS, width, 8)
    sizes = [(INPUT_H // 4 // 2**b, INPUT_W // 4 // 2**b) for b in range(4)]
    rows: list = [
        ("stem.conv1", "conv", stem // 2, 3, INPUT_H // 2, INPUT_W // 2, 3, 3, 2),
        ("stem.conv2", "conv", stem, stem // 2, *sizes[0], 3, 3, 2),
    ]
    cur = [stem]  # channels of the branches entering the next stage
    for s, blocks in enumerate(BLOCKS):
        n_out = len(blocks)
        # a new branch opens when the stage has more branches than its input
        fused = cur if n_out == len(cur) else cur + [ch[n_out - 1]]
        _fusion(rows, f"s{s}.fuse", cur, fused, sizes)
        for b in range(n_out):
            h, w = sizes[b]
            rows.append((f"s{s}.b{b}.embed.pw", "conv", ch[b], fused[b], h, w, 1, 1, 1))
            rows.append((f"s{s}.b{b}.embed.dw", "dwconv", ch[b], ch[b], h, w, 3, 3, 1))
            for k in range(blocks[b]):
                _block(rows, f"s{s}.b{b}.blk{k}", ch[b], h, w, WINDOW[b])
        cur = ch[:n_out]
    for b in range(4):
        rows.append((f"head.linear{b}", "conv", head, ch[b], *sizes[b], 1, 1, 1))
    rows.append(("head.fuse", "conv", head, 4 * head, *sizes[0], 1, 1, 1))
    rows.append(("head.cls", "conv", NUM_CLASSES, head, *sizes[0], 1, 1, 1))
    return make_layer_table(rows)


MODEL = ModelDef(
    name="hrvit_b1",
    task="SS",
    build=build,
    # No published width-sliced HRViT exists: the default 0.90 / 0.96 relative accuracies
    # (close to MobileNetV2's ImageNet width-multiplier ratios) are our assumption.
    variants=DEFAULT_VARIANTS,
    dynamic=(),
    source=(
        "Gu et al., Multi-Scale High-Resolution Vision Transformer for Semantic "
        "Segmentation (HRViT), CVPR 2022; b1 configuration with a SegFormer head "
        "(Xie et al., NeurIPS 2021)"
    ),
)
