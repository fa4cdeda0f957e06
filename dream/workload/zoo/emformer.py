"""Emformer, 24 layers: streaming speech recognition (SR).

Source: Shi et al., "Emformer: Efficient Memory Transformer Based Acoustic Model for
Low Latency Streaming Speech Recognition", ICASSP 2021. The LibriSpeech model stacks 24
Emformer layers with model dimension 512, 8 attention heads and a 2048-wide
feed-forward network.

One job is one streaming step: the encoder consumes one block of 128 acoustic frames
(center segment plus right-context look-ahead). The paper evaluates several segment and
look-ahead sizes; 128 frames per step is our choice. Keys and values of the left context
are cached from the previous step (the Emformer cache), so only the new frames are
projected, but attention reads them: each query attends over 160 keys (128 new frames
and 32 cached left-context frames; the few augmented-memory slots are neglected).

Five rows per Emformer layer, all `fc` with Y x X = tokens (Y = 1, X = 128 frames):
  qkv       fused query/key/value projection, 512 -> 3 x 512
  attn      the score (Q K^T) and weighted-value (A V) products: both cost
            frames x keys x 512 MACs, so they are one row with Y = 2 (products)
  out_proj  512 -> 512
  ffn1      512 -> 2048
  ffn2      2048 -> 512
Layer norms, softmax and the summary-vector query (one token) are not MAC work we
model. Input feature stacking/projection and the RNN-T predictor/joiner are outside the
encoder and are not counted (as in the domain table).

Result: 120 layers (table 120) and 10.17 GMAC (table 9.66, +5.2%; the attention
products add 0.50 GMAC that a projection-only count leaves out).
"""

from __future__ import annotations

from dream.workload.layers import LayerTable, make_layer_table
from dream.workload.model import DEFAULT_VARIANTS, ModelDef, scale_channels

NUM_LAYERS = 24
D_MODEL = 512
FFN_DIM = 2048
FRAMES = 128  # new frames per streaming step (center segment + right context)
KEYS = 160  # frames each query attends over: new frames + cached left context


def build(width: float = 1.0) -> LayerTable:
    """Layer table of the 24-layer Emformer encoder for one segment, width-scaled."""
    d = scale_channels(D_MODEL, width, 8)
    f = scale_channels(FFN_DIM, width, 8)
    rows = []
    for i in range(NUM_LAYERS):
        p = f"layer{i}"
        rows += [
            (f"{p}.qkv", "fc", 3 * d, d, 1, FRAMES, 1, 1, 1),
            (f"{p}.attn", "fc", KEYS, d, 2, FRAMES, 1, 1, 1),
            (f"{p}.out_proj", "fc", d, d, 1, FRAMES, 1, 1, 1),
            (f"{p}.ffn1", "fc", f, d, 1, FRAMES, 1, 1, 1),
            (f"{p}.ffn2", "fc", d, f, 1, FRAMES, 1, 1, 1),
        ]
    return make_layer_table(rows)


MODEL = ModelDef(
    name="emformer",
    task="SR",
    build=build,
    # No published width-sliced Emformer exists: the default 0.90 / 0.96 relative
    # accuracies are our assumption.
    variants=DEFAULT_VARIANTS,
    dynamic=(),
    source=(
        "Shi et al., Emformer: Efficient Memory Transformer Based Acoustic Model for "
        "Low Latency Streaming Speech Recognition, ICASSP 2021 (24 layers, d=512, "
        "8 heads, FFN 2048)"
    ),
)
