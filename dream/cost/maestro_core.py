"""MAESTRO's data-centric cost analysis, vectorised over layers and iteration cases.

This module reproduces the analysis of MAESTRO (Kwon et al., "Understanding Reuse,
Performance, and Hardware Cost of DNN Dataflows: A Data-Centric Approach", MICRO'19 and
IEEE Micro'20) as embedded in XRBench-MAESTRO (XRBench/XRBench-MLSys2023, lib/include:
DFA_cluster-analysis, DFA_cluster-unit, CA_reuse-analysis, CA_cost-analysis-engine,
HET_cost-class; maestro-project/maestro: AHW_noc-model). The code is ours; each step
names the part of the analysis it follows. Everything is computed for many layers at
once: arrays have shape (L,) per layer or (cases, L) per iteration case and layer. There
is no Python loop over layers; loops run over cluster levels and directives only.

Steps (docs/cost-model.md gives the full account):

1. Cluster analysis: directives are split into cluster levels at Cluster(n). The top
   level has floor(PEs / prod(n)) sub-clusters, each lower level n of its own. Per level,
   output-row/column maps become input-row/column maps (Y' of size s -> Y of size s+R-1),
   dimensions the level does not name are inherited from the level above as temporal
   maps of the same size and offset (put first), and dimensions nobody names are mapped
   whole (TemporalMap(D, D), appended). A lower level's dimension is min(map size, the
   upper dimension).
2. Per level, every combination of per-directive iteration states (init/unroll, steady,
   edge: 3^m cases) is one "case"; its occurrence count is a product over directives of
   ceil-divided iteration counts (steady: iterations - 1 or - 2 when an edge exists).
3. Per case: partial outputs (psums), outputs, and per input tensor the volume loaded
   into the sub-clusters given what is reused from the previous step (the innermost
   changing directive decides what is new). Step delay = max(ingress NoC, compute,
   egress NoC) with NoC delay = hops x hop latency + ceil(volume / bandwidth) - 1;
   compute = psums at the innermost level, the whole sub-cluster runtime above it.
4. Runtime = sum over cases of occurrences x step delay. Buffer accesses are summed the
   same way; energy (XRBench) = MAC energy x (MACs + l1 x L1 accesses + l2 x L2 accesses)
   from the top level's counts; the L2 requirement is 2 x (first-step ingress + egress).

Integer arithmetic follows C++ semantics (truncating division), which matters for layers
whose input is smaller than their filter (MAESTRO still returns a cost for them).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from dream.hardware.dataflow import Dataflow, Directive

I64 = np.int64
INIT, STEADY, EDGE, UNROLL = 0, 1, 2, 3
# the input tensor set MAESTRO unrolls missing dimensions of, in its (sorted) order
INPUT_VARS = ("C", "K", "R", "S", "X", "Y")
SLIDING = {"Y": "R", "X": "S"}  # reference dimension -> its sliding (filter) dimension
REFERENCE = {"R": "Y", "S": "X"}
TENSORS_IN = (("input", ("C", "Y", "X")), ("weight", ("K", "C", "R", "S")))
OUTPUT_CONV = ("K", "Y", "X")
OUTPUT_DW = ("C", "Y", "X")  # MAESTRO's DWCONV: the output carries the input channel


def _tdiv(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """C++ integer division (truncates toward zero); b > 0."""
    q = a // b
    return np.where((a < 0) & (q * b != a), q + 1, q)


def _ceil(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MAESTRO's `a / b + (a % b != 0)` in C++ integer semantics; b > 0."""
    return _tdiv(a, b) + (np.fmod(a, b) != 0)


@dataclass
class _Map:
    """A map directive of one level with per-layer size and offset (int64 arrays)."""

    spatial: bool
    dim: str
    size: np.ndarray
    ofs: np.ndarray


@dataclass
class LevelResult:
    """Per-layer results of one cluster level (int64 arrays of shape (L,))."""

    runtime: np.ndarray
    computations: np.ndarray
    l2_reads: np.ndarray   # upstream reads (input + weight)
    l2_writes: np.ndarray  # upstream writes (input + weight + output)
    l1_reads: np.ndarray   # downstream reads (input + weight + output)
    l1_writes: np.ndarray  # downstream writes (input + weight + output)
    l2_req: np.ndarray     # upstream buffer requirement, elements (double-buffered)


def _input_centric(level: Sequence[Directive]) -> list[Directive]:
    """Y'/X' maps as Y/X maps, by MAESTRO's rule (DFA_cluster-analysis ConvertToInputCentric).

    An output-row map of size s becomes an input-row map of size s + R - 1, R being the
    size of the R map at the same level or, when the level names no R, MAESTRO's default:
    the number of directives at the level. Offsets are unchanged.
    """
    n = len(level)
    r = next((d.size for d in level if d.dim == "R"), n)
    s = next((d.size for d in level if d.dim == "S"), n)
    out = []
    for d in level:
        if d.dim == "Y'":
            d = Directive(d.kind, "Y", d.size + r - 1, d.offset, d.line)
        elif d.dim == "X'":
            d = Directive(d.kind, "X", d.size + s - 1, d.offset, d.line)
        out.append(d)
    return out


def build_levels(flow: Dataflow, dims: Mapping[str, np.ndarray], stride: np.ndarray,
                 num_pes: int) -> list[tuple[list[_Map], dict[str, np.ndarray], int]]:
    """Cluster analysis: per level (top first) its full map list, dimensions and cluster count.

    Follows DFA_cluster-analysis: input-centric conversion, inheritance of missing
    directives from the level above (as temporal maps, prepended in reverse order),
    unrolling of dimensions no level names, MAESTRO's outer-stride adjustment of row and
    column maps of strided layers (applied per layer here), and lower-level dimensions
    min(map size, upper dimension).
    """
    L = len(stride)
    levels = flow.levels()
    sizes = flow.cluster_sizes()
    prod = int(np.prod(sizes)) if sizes else 1
    units = prod * (num_pes // prod)
    counts = [units // prod] + sizes
    out = []
    prev: list[_Map] | None = None
    cur = {k: np.asarray(v, I64) for k, v in dims.items()}
    full_r, full_s = cur["R"], cur["S"]
    strided = stride > 1
    for i, level in enumerate(levels):
        maps = [_Map(d.kind == "S", d.dim, np.full(L, d.size, I64), np.full(L, d.offset, I64))
                for d in _input_centric(level)]
        named = {m.dim for m in maps}
        if prev is not None:
            for up in prev:
                if up.dim not in named:
                    maps.insert(0, _Map(False, up.dim, up.size.copy(), up.ofs.copy()))
                    named.add(up.dim)
        for v in INPUT_VARS:
            if v not in named:
                maps.append(_Map(False, v, cur[v].copy(), cur[v].copy()))
        if strided.any():
            for m in maps:
                if m.dim in SLIDING:
                    slide = full_r if m.dim == "Y" else full_s
                    hit = strided & (m.size >= slide)
                    out_map = (m.size + stride - slide) // stride
                    size = out_map * np.minimum(stride, slide) + np.maximum(slide - stride, 0)
                    ofs = out_map * stride
                    if i > 0:
                        ofs = np.where(slide < stride, out_map * slide, ofs)
                    m.size = np.where(hit, size, m.size)
                    m.ofs = np.where(hit, ofs, m.ofs)
        out.append((maps, cur, counts[i]))
        by_dim = {m.dim: m for m in maps}
        cur = {v: np.minimum(by_dim[v].size, cur[v]) for v in INPUT_VARS}
        prev = maps
    return out


def analyse_level(maps: list[_Map], D: Mapping[str, np.ndarray], n: int, noc_bw: float,
                  sub_delay: np.ndarray | None, dw: np.ndarray,
                  hop_latency: int = 1, hops: int = 1) -> LevelResult:
    """One cluster level of CA_cost-analysis-engine: sum over iteration cases.

    `maps` are the level's directives (outermost first) with per-layer sizes; `D` the
    level's dimensions; `n` its number of sub-clusters; `sub_delay` the runtime of one
    sub-cluster step (None at the innermost level, where compute = psums per PE, one MAC
    per cycle); `dw` marks depthwise layers (output coupled to C instead of K).
    """
    L = len(dw)
    m = len(maps)
    idx = {mp.dim: j for j, mp in enumerate(maps)}
    Dv = [D[mp.dim] for mp in maps]
    adj = [D[mp.dim] - D[SLIDING[mp.dim]] + 1 if mp.dim in SLIDING else D[mp.dim] for mp in maps]
    size = [mp.size for mp in maps]
    ofs = [mp.ofs for mp in maps]
    sp = [mp.spatial for mp in maps]
    # DFA_cluster-unit predicates per directive
    unrolled, init_edge, init_unroll = [], [], []
    for j in range(m):
        if sp[j]:
            unrolled.append((n - 1) * ofs[j] + size[j] >= Dv[j])
            init_edge.append(ofs[j] * n > Dv[j])
            init_unroll.append(ofs[j] * n >= Dv[j])
        else:
            unrolled.append(size[j] >= Dv[j])
            init_edge.append(size[j] > Dv[j])
            init_unroll.append(size[j] >= Dv[j])
    k = sp.index(True)  # the upper spatial map decides spatial edges
    base = ofs[k] * n
    sp_rem = np.fmod(adj[k], base)
    has_sp_edge = sp_rem != 0
    edge_clusters = np.where(adj[k] <= size[k], 1, _tdiv(sp_rem, ofs[k]))
    # occurrence factor of each directive per digit (0: init/unroll, 1: steady, 2: edge)
    factors, digits = [], []
    for j in range(m):
        if sp[j]:
            iters = _ceil(adj[j], ofs[j] * n)
            edge = has_sp_edge
        else:
            iters = _ceil(adj[j], ofs[j])
            edge = np.fmod(adj[j], ofs[j]) != 0
        steady = np.where(unrolled[j], 0, iters - 1 - edge)
        edge_f = np.where(~edge | init_edge[j] | init_unroll[j], 0, 1).astype(I64)
        f = np.stack([np.ones(L, I64), steady, edge_f])
        factors.append(f)
        allowed = [0] + [d for d in (1, 2) if f[d].any()]
        digits.append(allowed)
    cases = np.array(list(itertools.product(*digits)), dtype=np.int64)  # (nc, m)
    nc = len(cases)
    first = np.all(cases == 0, axis=1)[:, None]  # MAESTRO's case 0: every directive Init
    # per-(case, layer) status and occurrence count
    st, occ = [], np.ones((nc, L), I64)
    for j in range(m):
        dj = cases[:, j][:, None]
        zero_status = np.where(first, INIT, np.where(unrolled[j][None, :], UNROLL, INIT))
        st.append(np.where(dj == 0, zero_status, dj))
        occ = occ * factors[j][cases[:, j]]
    # prime changing directive: the innermost steady or edge one (per case, CA_reuse-analysis)
    changing = cases != 0
    prime = np.where(changing.any(axis=1), m - 1 - np.argmax(changing[:, ::-1], axis=1), -1)
    prime = prime[:, None]
    # partial outputs (psums), psums of a spatial-edge PE, and outputs (GetNumOutputs)
    psum = np.ones((nc, L), I64)
    psum_e = np.ones((nc, L), I64)
    target_k = np.ones((nc, L), I64)
    target_c = np.ones((nc, L), I64)
    for j, mp in enumerate(maps):
        s = st[j]
        if not sp[j]:
            edge_size = Dv[j] - _tdiv(Dv[j], ofs[j]) * ofs[j]
            act = np.where(s == EDGE, edge_size,
                           np.where(((s == INIT) | (s == UNROLL)) & init_edge[j], Dv[j], size[j]))
            act_e = act
        else:
            cond = (s == EDGE) | ((s == INIT) & init_edge[j])
            small = Dv[j] < size[j]
            act = np.where(cond & small, Dv[j], size[j])
            rem = np.fmod(Dv[j], ofs[j])
            act_e = np.where(cond & ~small, np.where(rem == 0, size[j], rem), act)
        if mp.dim in SLIDING:
            sl = size[idx[SLIDING[mp.dim]]]
            t_act = np.where(size[j] < sl, act, size[j] - sl + 1)
            psum = psum * np.maximum(act - sl + 1, 1)
            psum_e = psum_e * np.maximum(act_e - sl + 1, 1)
            target_k = target_k * t_act
            target_c = target_c * t_act
        elif mp.dim in REFERENCE:
            psum = psum * size[j]
            psum_e = psum_e * size[j]
        else:
            psum = psum * act
            psum_e = psum_e * act_e
            if mp.dim == "K":
                target_k = target_k * act
            elif mp.dim == "C":
                target_c = target_c * act
    target = np.where(dw, target_c, target_k)
    # spatial edge and active sub-clusters (first spatial directive's state)
    sk = st[k]
    is_sp_edge = (sk == EDGE) | (((sk == INIT) | (sk == UNROLL)) & init_edge[k])
    active = np.where(is_sp_edge, edge_clusters, n)
    valid = (occ != 0) & (psum != 0)
    occv = np.where(valid, occ, 0)
    # tensor loads (CA_reuse-analysis GetPELoadVolume / GetSpatialLoadVolume)
    mapped = size
    unique = [np.minimum(size[j], ofs[j]) for j in range(m)]
    tp_edge = [np.fmod(Dv[j], ofs[j]) for j in range(m)]
    ingress = np.zeros((nc, L), I64)
    l2_reads = np.zeros(L, I64)
    l1_writes = np.zeros(L, I64)
    l1_reads = np.zeros(L, I64)
    l2_req = np.zeros(L, I64)
    l2_writes = np.zeros(L, I64)
    for _, coupled in TENSORS_IN:
        js = sorted(idx[v] for v in coupled)
        has_sp = any(sp[j] for j in js)
        tprime = np.full((nc, L), -1, I64)
        full_unroll = np.ones((nc, L), bool)
        full1 = np.ones(L, I64)
        full0 = np.ones(L, I64)
        vol1 = np.ones((nc, L), I64)
        vol0 = np.ones((nc, L), I64)
        for j in js:
            s = st[j]
            qual = (s != UNROLL) & ((s != INIT) | (prime > j))
            tprime = np.where(qual, j, tprime)  # js ascending: the last qualifier is the max
            full_unroll &= s == UNROLL
            if sp[j]:
                full1 = full1 * mapped[j]
                full0 = full0 * unique[j]
                vol1 = vol1 * mapped[j]
                vol0 = vol0 * unique[j]
            else:
                tm = np.where(init_edge[j], tp_edge[j], mapped[j])
                full1 = full1 * tm
                full0 = full0 * tm if has_sp else full0 * 0
                v = np.where(prime == j, unique[j], np.where(s == UNROLL, Dv[j], mapped[j]))
                vol1 = vol1 * v
                vol0 = vol0 * v
        l2_writes = l2_writes + np.prod([D[v] for v in coupled], axis=0)

        def load(full: np.ndarray, vol: np.ndarray) -> np.ndarray:
            return np.where(prime == -1, full,
                            np.where(full_unroll, 0,
                                     np.where(tprime == -1, full,
                                              np.where(tprime != prime, 0, vol))))

        pe1 = load(full1, vol1)
        spatial_load = pe1
        if has_sp:
            pe0 = load(full0, vol0)
            spatial_load = pe1 + np.where(active > 1, (active - 1) * pe0, 0)
        l2_reads = l2_reads + (occv * spatial_load).sum(axis=0)
        l1_writes = l1_writes + (occv * pe1 * active).sum(axis=0)
        l1_reads = l1_reads + (active * occv * psum).sum(axis=0)
        ingress = ingress + spatial_load
        l2_req = l2_req + np.where(valid[0], 2 * spatial_load[0], 0)  # case 0 is row 0
    # output tensor: written once upstream, psums accumulate downstream
    out_size = np.where(dw, D["C"], D["K"]) * (D["Y"] - D["R"] + 1) * (D["X"] - D["S"] + 1)
    l2_writes = l2_writes + out_size
    l1_writes = l1_writes + (occv * psum).sum(axis=0)
    l1_reads = l1_reads + (occv * (psum - 1)).sum(axis=0)
    l2_req = l2_req + np.where(valid[0], 2 * target[0], 0)
    # delays: double-buffered step = max(ingress, compute, egress); AHW_noc-model delay
    bw = noc_bw
    head = hops * hop_latency

    def noc(volume: np.ndarray) -> np.ndarray:
        return head + _ceil(volume, np.asarray(bw, I64)) - 1

    comp = psum if sub_delay is None else np.where(sub_delay == 0, psum, sub_delay[None, :])
    step = np.maximum(np.maximum(noc(target), comp), noc(ingress))
    runtime = (occv * step).sum(axis=0)
    computations = (occv * ((active - 1) * psum + psum_e)).sum(axis=0)
    return LevelResult(runtime, computations, l2_reads, l2_writes, l1_reads, l1_writes, l2_req)


def analyse(flow: Dataflow, dims: Mapping[str, np.ndarray], stride: np.ndarray, dw: np.ndarray,
            num_pes: int, noc_bw: float) -> tuple[list[LevelResult], list]:
    """Every cluster level of a dataflow for many layers; results innermost first.

    dims: K, C, R, S and Y, X (INPUT rows and columns), int64 arrays of shape (L,);
    stride: (L,) row/column stride; dw: (L,) bool, depthwise layers. NoC bandwidth in
    elements per cycle, the same at every level (as XRBench configures it).
    """
    levels = build_levels(flow, dims, np.asarray(stride, I64), num_pes)
    results: list[LevelResult] = []
    sub = None
    for maps, D, n in reversed(levels):
        res = analyse_level(maps, D, n, int(noc_bw), sub, np.asarray(dw, bool))
        results.append(res)
        sub = res.runtime
    return results, levels
