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
from functools import lru_cache
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
    if a.size == 0 or a.min() >= 0:  # the common case: floor and truncation agree
        return q
    return np.where((a < 0) & (q * b != a), q + 1, q)


def _ceil(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MAESTRO's `a / b + (a % b != 0)` in C++ integer semantics; b > 0."""
    if a.size == 0 or a.min() >= 0:
        return -(-a // b)
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


@lru_cache(maxsize=256)
def _static_levels(flow: Dataflow) -> tuple[tuple[Directive, ...], ...]:
    """The user directives of each level in input-centric form (static per dataflow)."""
    return tuple(tuple(_input_centric(level)) for level in flow.levels())


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
    levels = _static_levels(flow)
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
                for d in level]
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


def analyse_reference(flow: Dataflow, dims: Mapping[str, np.ndarray], stride: np.ndarray,
                      dw: np.ndarray, num_pes: int, noc_bw: float
                      ) -> tuple[list[LevelResult], list]:
    """Every cluster level, one level at a time (the plain form; `analyse` is the fused one).

    Results innermost first; the last is the top level.

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


# dimension codes of the fused evaluation
_CODE = {v: i for i, v in enumerate(INPUT_VARS)}  # C K R S X Y -> 0..5
_PARTNER = {"Y": "R", "X": "S"}


@dataclass(frozen=True)
class _Plan:
    """The static part of a dataflow's cluster analysis on `num_pes` PEs (no layer data).

    Per level l and position j (every level maps the same six dimensions after cluster
    analysis): the dimension code, spatial flag, where the map's size comes from (0: the
    directive's constant, 1: the level's dimension (unrolled), 2: the map at position
    srcpos of the level above (inherited)), and lookup tables for the evaluation.
    """

    n: np.ndarray        # (NL,) sub-clusters per level
    dimid: np.ndarray    # (NL, m) dimension code at each position
    sp: np.ndarray       # (NL, m) spatial map?
    kind: np.ndarray     # (NL, m) size source
    srcpos: np.ndarray   # (NL, m) inherited from this position of the level above
    size: np.ndarray     # (NL, m) constant sizes (kind 0)
    ofs: np.ndarray      # (NL, m) constant offsets (kind 0)
    pos: np.ndarray      # (NL, 6) position of each dimension code
    partner: np.ndarray  # (NL, m) position of the filter map next to a row/column map
    is_ref: np.ndarray   # (NL, m) row/column (Y, X) map
    is_sl: np.ndarray    # (NL, m) filter (R, S) map
    kpos: np.ndarray     # (NL,) upper spatial map
    cpl: np.ndarray      # (2, NL, m) coupling of input and weight tensors
    hsp: np.ndarray      # (2, NL) tensor has a spatially mapped dimension
    tensor_pos: np.ndarray  # (NL, 7) positions of the input's then the weight's dimensions


@lru_cache(maxsize=256)
def _plan(flow: Dataflow, num_pes: int) -> _Plan:
    """Cluster analysis without layer data (DFA_cluster-analysis), cached per dataflow."""
    levels = _static_levels(flow)
    sizes = flow.cluster_sizes()
    prod = int(np.prod(sizes)) if sizes else 1
    counts = [(prod * (num_pes // prod)) // prod] + sizes
    rows = []
    prev = None
    for level in levels:
        maps = [(d.kind == "S", d.dim, 0, -1, d.size, d.offset) for d in level]
        named = {x[1] for x in maps}
        if prev is not None:
            for p, up in enumerate(prev):
                if up[1] not in named:
                    maps.insert(0, (False, up[1], 2, p, 0, 0))
                    named.add(up[1])
        for v in INPUT_VARS:
            if v not in named:
                maps.append((False, v, 1, -1, 0, 0))
        # inherited positions refer to the previous level's final order
        rows.append(maps)
        prev = maps
    NL, m = len(rows), len(INPUT_VARS)
    dimid = np.array([[_CODE[x[1]] for x in r] for r in rows])
    sp = np.array([[x[0] for x in r] for r in rows])
    kind = np.array([[x[2] for x in r] for r in rows])
    srcpos = np.array([[x[3] for x in r] for r in rows])
    size = np.array([[x[4] for x in r] for r in rows], I64)
    ofs = np.array([[x[5] for x in r] for r in rows], I64)
    pos = np.argsort(dimid, axis=1)
    partner = np.array([[pos[l, _CODE[_PARTNER[INPUT_VARS[c]]]] if INPUT_VARS[c] in _PARTNER
                         else j for j, c in enumerate(dimid[l])] for l in range(NL)])
    is_ref = (dimid == _CODE["Y"]) | (dimid == _CODE["X"])
    is_sl = (dimid == _CODE["R"]) | (dimid == _CODE["S"])
    cpl = np.stack([np.isin(dimid, [_CODE[v] for v in coupled]) for _, coupled in TENSORS_IN])
    hsp = (cpl & sp[None]).any(axis=2)
    tensor_pos = pos[:, [_CODE[v] for _, coupled in TENSORS_IN for v in coupled]]
    return _Plan(np.array(counts, I64), dimid, sp, kind, srcpos, size, ofs, pos, partner,
                 is_ref, is_sl, sp.argmax(axis=1), cpl, hsp, tensor_pos)


@lru_cache(maxsize=1024)
def _cases(allowed_st: bytes, allowed_ed: bytes, mergeable: bytes, NL: int, m: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Iteration cases of every level: digits (rows, m), level, all-init flag, prime position.

    Digits: 0 init/unroll, 1 steady, 2 edge, 3 "init or steady" merged. A directive outer
    to the prime (innermost changing) one contributes the same step quantities whether it
    is in its init or a steady iteration (same mapped sizes, same reuse decision), so the
    two cases are one case with occurrence factor 1 + steady iterations. That holds for
    temporal maps and for spatial maps with size >= offset (`mergeable`); other spatial
    maps keep both cases. MAESTRO enumerates them separately; the sums are equal.
    """
    st = np.frombuffer(allowed_st, bool).reshape(NL, m)
    ed = np.frombuffer(allowed_ed, bool).reshape(NL, m)
    mg = np.frombuffer(mergeable, bool).reshape(NL, m)
    rows, row_lv, primes = [], [], []
    for lv in range(NL):
        rows.append((0,) * m)
        row_lv.append(lv)
        primes.append(-1)
        for p in range(m):
            here = [1] * bool(st[lv, p]) + [2] * bool(ed[lv, p])
            if not here:
                continue
            outer = []
            for j in range(p):
                if st[lv, j] and mg[lv, j]:
                    opts = [3]
                elif st[lv, j]:
                    opts = [0, 1]
                else:
                    opts = [0]
                outer.append(opts + [2] * bool(ed[lv, j]))
            for combo in itertools.product(*outer, here):
                rows.append(tuple(combo) + (0,) * (m - p - 1))
                row_lv.append(lv)
                primes.append(p)
    CS = np.array(rows, I64)
    # a steady outer directive that is not merged is itself "changing" only if innermost;
    # the prime is the innermost steady/edge position (digit 1 or 2)
    ch = (CS == 1) | (CS == 2)
    prime = np.where(ch.any(axis=1), m - 1 - np.argmax(ch[:, ::-1], axis=1), -1)
    return CS, np.array(row_lv, I64), ~CS.any(axis=1), prime


def analyse(flow: Dataflow, dims: Mapping[str, np.ndarray], stride: np.ndarray, dw: np.ndarray,
            num_pes: int, noc_bw: float, hop_latency: int = 1, hops: int = 1) -> LevelResult:
    """The top level's results for many layers, every level and case evaluated at once.

    Same arithmetic as `analyse_level` per level (CA_cost-analysis-engine), arranged for
    speed: each level has the same six dimensions after cluster analysis, so per-level,
    per-directive quantities stack into (levels, 6, L) arrays; the iteration cases of all
    levels are enumerated together and only (case, layer) pairs that occur (non-zero
    occurrence count) are evaluated, as flat (pairs, 6) arrays. Per-layer sums are
    bincounts over the pairs (exact: every sum stays far below 2^53). Only the runtime
    couples levels (a level's compute delay is its sub-cluster's runtime), so it is summed
    level by level, innermost first; buffer and MAC counts are needed at the top only.
    """
    stride = np.asarray(stride, I64)
    dw = np.asarray(dw, bool)
    L = len(stride)
    pl = _plan(flow, num_pes)
    NL, m = pl.dimid.shape
    DM = np.stack([np.asarray(dims[v], I64) for v in INPUT_VARS])  # (6, L) by code
    full_sl = DM[np.where(pl.dimid == _CODE["Y"], _CODE["R"], _CODE["S"])]  # (NL, m, L)
    strided = stride > 1
    any_strided = bool(strided.any())
    SZ = np.empty((NL, m, L), I64)
    OF = np.empty((NL, m, L), I64)
    DV = np.empty((NL, m, L), I64)
    for l in range(NL):
        dv = DM[pl.dimid[l]]  # (m, L): this level's dimension at each position
        k = pl.kind[l][:, None]
        if l == 0:
            up_sz = up_of = np.zeros((m, L), I64)
        else:
            up_sz, up_of = SZ[l - 1][pl.srcpos[l]], OF[l - 1][pl.srcpos[l]]
        sz = np.where(k == 0, pl.size[l][:, None], np.where(k == 1, dv, up_sz))
        of = np.where(k == 0, pl.ofs[l][:, None], np.where(k == 1, dv, up_of))
        if any_strided:  # MAESTRO's ApplyOuterStride, per layer
            slide = full_sl[l]
            hit = strided & pl.is_ref[l][:, None] & (sz >= slide)
            out_map = (sz + stride - slide) // stride
            new_sz = out_map * np.minimum(stride, slide) + np.maximum(slide - stride, 0)
            new_of = out_map * stride
            if l > 0:
                new_of = np.where(slide < stride, out_map * slide, new_of)
            sz = np.where(hit, new_sz, sz)
            of = np.where(hit, new_of, of)
        SZ[l], OF[l], DV[l] = sz, of, dv
        DM = np.minimum(sz[pl.pos[l]], DM)  # the next level's dimensions
    AD = DV - np.where(pl.is_ref[:, :, None], DV[np.arange(NL)[:, None], pl.partner] - 1, 0)
    n = pl.n
    NN = n[:, None, None]
    SP3 = pl.sp[:, :, None]
    # DFA_cluster-unit predicates for every level and directive
    UN = np.where(SP3, (NN - 1) * OF + SZ >= DV, SZ >= DV)
    IE = np.where(SP3, OF * NN > DV, SZ > DV)
    IU = np.where(SP3, OF * NN >= DV, SZ >= DV)
    lv_ix = np.arange(NL)
    kpos = pl.kpos
    ADk, OFk, SZk = AD[lv_ix, kpos], OF[lv_ix, kpos], SZ[lv_ix, kpos]  # (NL, L)
    sp_rem = np.fmod(ADk, OFk * n[:, None])
    EC = np.where(ADk <= SZk, 1, _tdiv(sp_rem, OFk))
    ITER = _ceil(AD, np.where(SP3, OF * NN, OF))
    EDG = np.where(SP3, (sp_rem != 0)[:, None, :], np.fmod(AD, OF) != 0)
    STF = np.where(UN, 0, ITER - 1 - EDG)
    EDF = (EDG & ~IE & ~IU).astype(I64)
    F = np.stack([np.ones_like(STF), STF, EDF, 1 + STF], axis=2)  # (NL, m, 4, L)
    mergeable = ~pl.sp | (pl.size >= pl.ofs)
    CS, LV, FIRST, PRIME = _cases(STF.any(axis=2).tobytes(), EDF.any(axis=2).tobytes(),
                                  mergeable.tobytes(), NL, m)
    J = np.arange(m)
    OCC = F[LV[:, None], J[None, :], CS].prod(axis=1)  # (rows, L)
    r, li = np.nonzero(OCC)  # pairs, grouped by level (rows are level by level)
    occ = OCC[r, li]
    lv = LV[r]
    P = len(lv)
    # one gather of every per-(level, position, layer) quantity at the pairs
    flat = ((lv * m)[:, None] + J[None, :]) * L + li[:, None]  # (P, m)
    stacked = np.stack([SZ, OF, DV, UN, IE]).reshape(5, -1)
    sz, of, dv, un, ie = stacked[:, flat]
    un, ie = un.astype(bool), ie.astype(bool)
    dg = CS[r]
    prime = PRIME[r]
    sp = pl.sp[lv]
    st = np.where(dg == 0, np.where(FIRST[r][:, None] | ~un, INIT, UNROLL),
                  np.where(dg == 3, np.where(un, UNROLL, INIT), dg))
    is_init = st == INIT
    is_unroll = st == UNROLL
    is_edge = st == EDGE
    # mapped sizes per state (GetNumOutputs)
    rem = dv % of  # dimensions are positive: MAESTRO's D - (D / ofs) * ofs
    act_t = np.where(is_edge, rem, np.where((is_init | is_unroll) & ie, dv, sz))
    cond = is_edge | (is_init & ie)
    small = dv < sz
    act_s = np.where(cond & small, dv, sz)
    act_se = np.where(cond & ~small, np.where(rem == 0, sz, rem), act_s)
    act = np.where(sp, act_s, act_t)
    act_e = np.where(sp, act_se, act_t)
    sl = sz[np.arange(len(lv))[:, None], pl.partner[lv]]
    is_ref, is_sl = pl.is_ref[lv], pl.is_sl[lv]
    psum = np.where(is_ref, np.maximum(act - sl + 1, 1), np.where(is_sl, sz, act)).prod(axis=1)
    psum_e = np.where(is_ref, np.maximum(act_e - sl + 1, 1),
                      np.where(is_sl, sz, act_e)).prod(axis=1)
    out_code = np.where(dw[li], _CODE["C"], _CODE["K"])[:, None]
    target = np.where(is_ref, np.where(sz < sl, act, sz - sl + 1),
                      np.where(pl.dimid[lv] == out_code, act, 1)).prod(axis=1)
    occ = np.where(psum != 0, occ, 0)  # a case without partial outputs is skipped
    rows = np.arange(P)
    kp = kpos[lv]
    st_k = st[rows, kp]
    sp_edge = (st_k == EDGE) | ((st_k != STEADY) & ie[rows, kp])
    active = np.where(sp_edge, EC[lv, li], n[lv])
    # tensor loads with reuse (GetPELoadVolume, GetSpatialLoadVolume), both tensors at once:
    # a load is a product over the tensor's dimensions; spatial maps give their mapped
    # (first PE) or unique (other PEs) size, temporal maps a full-mapped or a reuse size
    rows2 = rows[:, None]
    uniq = np.minimum(sz, of)
    tm = np.where(ie, rem, sz)
    vt = np.where(J[None, :] == prime[:, None], uniq, np.where(is_unroll, dv, sz))
    qual = ~is_unroll & (~is_init | (prime[:, None] > J[None, :]))
    # per position: (first-PE full, other-PE full, first-PE reuse, other-PE reuse) sizes
    vals = np.stack([np.where(sp, sz, tm), np.where(sp, uniq, tm),
                     np.where(sp, sz, vt), np.where(sp, uniq, vt)])  # (4, P, m)
    # both input tensors at once: positions of input (C, Y, X) then weight (K, C, R, S) dims
    at = pl.tensor_pos[lv]  # (P, 7)
    g7 = (rows2, at)
    v7 = vals[:, rows2, at]  # (4, P, 7)
    k_in = len(TENSORS_IN[0][1])
    v = np.stack([v7[:, :, :k_in].prod(axis=2), v7[:, :, k_in:].prod(axis=2)], axis=1)
    q7 = np.where(qual[g7], at, -1)
    u7 = is_unroll[g7]
    tprime = np.stack([q7[:, :k_in].max(axis=1), q7[:, k_in:].max(axis=1)])  # (2, P)
    full_unroll = np.stack([u7[:, :k_in].all(axis=1), u7[:, k_in:].all(axis=1)])
    keep = (prime == -1) | (~full_unroll & ((tprime == -1) | (tprime == prime)))
    use_full = (prime == -1) | (tprime == -1)
    pe1 = np.where(keep, np.where(use_full, v[0], v[2]), 0)  # (2, P)
    pe0 = np.where(keep, np.where(use_full, v[1], v[3]), 0)
    hsp = pl.hsp[:, lv]
    load = (pe1 + np.where(hsp & (active > 1), (active - 1) * pe0, 0)).sum(axis=0)
    pe1_sum = pe1.sum(axis=0)
    ingress = load
    # runtime, innermost level first: a level's compute delay is its sub-cluster's runtime
    head = hops * hop_latency
    bw = np.asarray(int(noc_bw), I64)
    # volumes are non-negative: ceil(v / bw) = -(-v // bw)
    noc_max = head - 1 - (-np.maximum(target, ingress) // bw)
    bounds = np.searchsorted(lv, np.arange(NL + 1))
    sub = None
    runtime = np.zeros(L)
    for level in range(NL - 1, -1, -1):
        a, b = bounds[level], bounds[level + 1]
        comp = psum[a:b] if sub is None else np.where(sub[li[a:b]] == 0, psum[a:b],
                                                          sub[li[a:b]])
        runtime = np.bincount(li[a:b], weights=occ[a:b] * np.maximum(noc_max[a:b], comp),
                              minlength=L)
        sub = runtime
    # buffer accesses and MACs of the top level (level 0 = pairs [0, b))
    b = bounds[1]
    t_li, t_occ, t_psum, t_act = li[:b], occ[:b], psum[:b], active[:b]

    def top(w: np.ndarray) -> np.ndarray:
        return np.bincount(t_li, weights=w, minlength=L)

    l2_reads = top(t_occ * ingress[:b])
    l1_writes = top(t_occ * (pe1_sum[:b] * t_act + t_psum))
    l1_reads = top(t_occ * (2 * t_act * t_psum + t_psum - 1))
    computations = top(t_occ * ((t_act - 1) * t_psum + psum_e[:b]))
    l2_req = top(np.where(FIRST[r[:b]] & (t_occ != 0), 2 * (ingress[:b] + target[:b]), 0))
    D0 = {v: np.asarray(dims[v], I64) for v in INPUT_VARS}
    out_size = np.where(dw, D0["C"], D0["K"]) * (D0["Y"] - D0["R"] + 1) * (D0["X"] - D0["S"] + 1)
    l2_writes = (D0["C"] * D0["Y"] * D0["X"] + D0["K"] * D0["C"] * D0["R"] * D0["S"]
                 + out_size)
    return LevelResult(runtime, computations, l2_reads, l2_writes.astype(np.float64),
                       l1_reads, l1_writes, l2_req)
