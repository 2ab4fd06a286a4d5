"""The graph features of many networks at once, as numpy arrays.

:func:`nasrepro.surrogate.features` defines the features one network at a time, in
plain Python; it is the readable definition. This module computes the same numbers
for a batch, bit for bit (``tests/surrogate/test_batch_features.py`` checks it on
1,000 sampled architectures per space):

1. the distinct cells of the batch (by value, with the two projection flags of their
   block) are gathered, and every per-cell statistic is computed by one dynamic
   programme over their edges, vectorised over the cells: column ``j`` holds each
   cell's ``j``-th edge in source order, so a node's value is final before any edge
   leaves it;
2. every block of every network becomes one row of flat arrays (network, kind,
   channels, stride, cell); stages, spatial sizes and FLOPs follow by scans over the
   block position and table lookups;
3. the per-network sums are accumulated in block order (``np.add.at`` is unbuffered and
   ordered), so even the float averages round exactly as the per-network code does.

Parameter and FLOP counts come from :mod:`nasrepro.spaces._count`'s own per-edge and
per-block functions, cached by their arguments.
"""

from __future__ import annotations

import functools
import gc
import itertools
from collections.abc import Sequence

import numpy as np

from nasrepro.spaces import Block, BlockKind, NetworkSpec, Op
from nasrepro.spaces._columns import BLOCK_KINDS, IR_OPS, SpecColumns
from nasrepro.spaces._count import _check_shape, _Counter, _edge_cost, _out_size
from nasrepro.surrogate import _features as F

__all__ = ["batch_features"]

_N_OPS = len(F._OPS)
# IR op code (index into IR_OPS; -1 pads) -> index into the featurizer's ops, -1 for none
_IR_TO_K = np.array([F._OPS.index(op) if op in F._OPS else -1 for op in IR_OPS] + [-1])
_FREE = np.array([op in F._PARAM_FREE for op in F._OPS])
_IS_SKIP = np.array([op is Op.SKIP for op in F._OPS])
_IS_POOL = np.array([op in (Op.AVGPOOL3X3, Op.MAXPOOL3X3) for op in F._OPS])
_RF = np.array([F._RF_UNITS[op] for op in F._OPS])
_KINDS = BLOCK_KINDS
_KIND_CODE = {k: i for i, k in enumerate(_KINDS)}
_RED_DEPTH = np.array(
    [
        (*F._REDUCTION_DEPTH[k], *F._REDUCTION_DEPTH[k])
        if k in F._REDUCTION_DEPTH
        else (0, 0, 0, 0)
        for k in _KINDS
    ],
    dtype=np.float64,
)  # per kind code: ops max / min, parametric max / min
_N_STATS = len(F._CELL_STATS)


# ---------------------------------------------------------------- cells, batched
def _cell_table(
    n_nodes: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    ir_op: np.ndarray,
    skip_proj: np.ndarray,
    pool_proj: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per-cell statistics of ``U`` cells, each with the projection flags of its block.

    The cells are given as :class:`~nasrepro.spaces.SpecColumns` holds them: node
    counts ``(U,)`` and edges ``(U, E)`` with ops indexing ``IR_OPS`` (-1: padding).

    Returns ``(op_counts (U, n_ops), stats (U, len(_CELL_STATS)), extra (U, 5), edges)``
    where ``extra`` is ``(dead, longest, shortest, param_longest, param_shortest)``, all
    as :func:`nasrepro.surrogate._features._cell_info` computes them, and ``edges`` is
    ``(op, from_node0, live)``, each ``(U, E)``: the edges in source order, with op
    ``n_ops`` for ``none`` and padding.
    """
    U, E = src.shape
    n = int(n_nodes.max(initial=2))
    # Sort each cell's edges by source (stable: ties keep their order), padding last.
    order = np.argsort(np.where(ir_op >= 0, src, n), axis=1, kind="stable")
    src = np.take_along_axis(src, order, axis=1)
    dst = np.take_along_axis(dst, order, axis=1)
    opk = _IR_TO_K[np.take_along_axis(ir_op, order, axis=1)]  # -1: none or padding
    rows = np.arange(U)
    out = n_nodes - 1
    present = opk >= 0
    # Liveness: reachable from the input and reaching the output through present edges.
    from_in = np.zeros((U, n), dtype=bool)
    from_in[:, 0] = True
    for j in range(E):
        from_in[rows, dst[:, j]] |= present[:, j] & from_in[rows, src[:, j]]
    to_out = np.zeros((U, n), dtype=bool)
    to_out[rows, out] = True
    for j in reversed(range(E)):
        to_out[rows, src[:, j]] |= present[:, j] & to_out[rows, dst[:, j]]
    live_all = present & from_in[rows[:, None], src] & to_out[rows[:, None], dst]
    # The statistics count a repeated (src, dst, op) edge once, as the set of live edges
    # of the per-network code does; parameters and FLOPs count every copy.
    # An edge repeats when an equal one comes earlier: sort each cell's edge keys
    # (stably, so the first of equals stays first) and compare neighbours.
    key = np.where(present, (src * n + dst) * (_N_OPS + 1) + opk, -1 - np.arange(E))
    by_key = np.argsort(key, axis=1, kind="stable")
    sorted_key = np.take_along_axis(key, by_key, axis=1)
    repeat = np.zeros((U, E), dtype=bool)
    repeat[rows[:, None], by_key[:, 1:]] = sorted_key[:, 1:] == sorted_key[:, :-1]
    live = live_all & ~repeat
    k_op = np.where(live, opk, 0)
    # Per-cell sums by op are bincounts over (cell, op) of the live edges.
    live_at = np.flatnonzero(live)  # flat (cell, edge) indices
    cell_op = (live_at // E) * _N_OPS + k_op.ravel()[live_at]

    def by_op(weights: np.ndarray | None = None) -> np.ndarray:
        w = None if weights is None else weights.ravel()[live_at]
        return np.bincount(cell_op, w, minlength=U * _N_OPS).reshape(U, _N_OPS)

    op_counts = by_op()
    # A path takes one out-edge at each node it visits, so a cell has at most
    # prod(out-degree) <= e ** (E / e) paths: below 2 ** 15 while E <= 28 and below
    # 2 ** 31 while E <= 56. Every count below (and the products in `via`) is at most
    # that, so the smallest integer type that holds it is exact and halves the traffic.
    it = np.int16 if E <= 28 else np.int32 if E <= 56 else np.int64
    from_node0 = src == 0
    proj = np.where(
        _IS_SKIP[k_op], skip_proj[:, None], np.where(_IS_POOL[k_op], pool_proj[:, None], False)
    )
    free = live & _FREE[k_op] & ~(from_node0 & proj)
    w = np.where(free, 0, 1)
    rf = _RF[k_op]

    L, P, R = F._MAX_PATH_LEN, F._MAX_PARAM, F._MAX_RF
    # Path counts by length, by parametric length, by receptive field and by conv-only
    # receptive field: four histograms per node, side by side in one array.
    caps = (L, P, R, R)
    cuts = np.cumsum((0, *(c + 1 for c in caps)))
    n_bins = int(cuts[-1])
    # Per node: the four histograms, then the path counts by op (paths that avoid op k
    # for k < n_ops, all paths, parameter-free paths), side by side in one array so
    # that a step gathers and adds them at once.
    per_node = np.zeros((U, n, n_bins + _N_OPS + 2), dtype=it)
    hist, counts = per_node[:, :, :n_bins], per_node[:, :, n_bins:]
    by_len, by_param, by_rf, by_conv_rf = (hist[:, :, a:b] for a, b in itertools.pairwise(cuts))
    hist[:, 0, cuts[:-1]] = 1
    counts[:, 0, :] = 1
    # longest, shortest, parametric longest and shortest path to each node
    ends = np.empty((U, n, 4))
    ends[:, :, 0::2] = -np.inf
    ends[:, :, 1::2] = np.inf
    ends[:, 0, :] = 0
    bin_hist = np.repeat(np.arange(len(caps)), np.diff(cuts))  # each bin's histogram
    bin_base = cuts[:-1][bin_hist]
    bin_k = np.arange(n_bins) - bin_base  # each bin's value
    bin_cap = np.array(caps)[bin_hist]
    # An edge's bins move by (1, w, rf, rf * w) in the four histograms; its class
    # w * (rf_max + 1) + rf picks each bin's target from a small table.
    rf_max = int(_RF.max())
    shift_class = w * (rf_max + 1) + rf
    bin_target = np.array(
        [
            bin_base + np.minimum(bin_k + np.array((1, wc, rc, rc * wc))[bin_hist], bin_cap)
            for wc in (0, 1)
            for rc in range(rf_max + 1)
        ]
    )
    # Node-major views: row u * n + v is node v of cell u. Each step touches only the
    # cells whose j-th edge is live, and one node per cell, so `+=` never repeats an index.
    node_v, ends_v = per_node.reshape(U * n, -1), ends.reshape(U * n, 4)
    for j in range(E):
        r = np.flatnonzero(live[:, j])
        if not len(r):
            continue
        s, d = r * n + src[r, j], r * n + dst[r, j]
        at_s = node_v[s]
        # Every bin of the source moves up by its histogram's step (1, w, rf, rf * w),
        # capped at the last bin; one bincount over (cell, target bin) adds them up.
        target = bin_target[shift_class[r, j]] + (np.arange(len(r)) * n_bins)[:, None]
        moved = np.bincount(target.ravel(), at_s[:, :n_bins].ravel(), minlength=len(r) * n_bins)
        at_s[:, :n_bins] = moved.reshape(len(r), n_bins)  # whole counts: exact
        # an edge of op k ends every path that avoids k; a parametric one, the free ones
        at_s[np.arange(len(r)), n_bins + k_op[r, j]] = 0
        at_s[:, -1] *= free[r, j]
        node_v[d] += at_s
        e_s = ends_v[s]
        e_s[:, 0:2] += 1
        e_s[:, 2:4] += w[r, j][:, None]
        e_d = ends_v[d]
        e_d[:, 0::2] = np.maximum(e_d[:, 0::2], e_s[:, 0::2])
        e_d[:, 1::2] = np.minimum(e_d[:, 1::2], e_s[:, 1::2])
        ends_v[d] = e_d
    longest, shortest, p_long, p_short = (ends[:, :, k] for k in range(4))
    # degrees count the live edges (each once per copy, as the steps above)
    live_u, live_e = np.nonzero(live)
    outdeg = np.bincount(live_u * n + src[live_u, live_e], minlength=U * n).reshape(U, n)
    indeg = np.bincount(live_u * n + dst[live_u, live_e], minlength=U * n).reshape(U, n)
    dead = ~live.any(axis=1)
    total = counts[rows, out, _N_OPS]
    with_op = total[:, None] - counts[rows, out, :_N_OPS]
    param_free = counts[rows, out, _N_OPS + 1]
    projections = (live & _FREE[k_op] & ~free).sum(axis=1)
    node = np.arange(n)
    touched = np.zeros((U, n), dtype=bool)  # nodes with a live edge
    touched[live_u, src[live_u, live_e]] = True
    touched[live_u, dst[live_u, live_e]] = True
    inner = touched & (node != 0) & (node != out[:, None])
    n_inner = inner.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        in_mean = np.where(n_inner > 0, (indeg * inner).sum(axis=1) / n_inner, 0.0)
        out_mean = np.where(n_inner > 0, (outdeg * inner).sum(axis=1) / n_inner, 0.0)
    in_max = (indeg * inner).max(axis=1, initial=0)
    out_max = (outdeg * inner).max(axis=1, initial=0)
    # Ops by position: paths from each node to the output, then per live edge.
    paths_out = np.zeros((U, n), dtype=it)
    paths_out[rows, out] = 1
    for j in reversed(range(E)):
        paths_out[rows, src[:, j]] += paths_out[rows, dst[:, j]] * live[:, j]
    into_out = live & (dst == out[:, None])
    from_input = by_op(from_node0)
    to_output = by_op(into_out)
    len_at_src = by_len[rows[:, None], src]  # (U, E, L + 1), final values
    via = len_at_src[:, :, : F._POSITIONS] * paths_out[rows[:, None], dst][:, :, None]  # (U, E, P)
    # (whole path counts, so the float sums are exact)
    at = np.stack([by_op(via[:, :, p]) for p in range(F._POSITIONS)], axis=1)
    last = by_op(len_at_src.sum(axis=2) * into_out)
    n_live = live.sum(axis=1)
    n_nodes_live = touched.sum(axis=1)
    lo = np.where(dead, 0, longest[rows, out])
    sh = np.where(dead, 0, shortest[rows, out])
    stats = np.column_stack(
        [
            n_live,
            n_nodes_live,
            in_mean,
            in_max,
            out_mean,
            out_max,
            indeg[rows, out],
            outdeg[:, 0],
            lo,
            sh,
            by_len[rows, out, 1:],
            total,
            with_op,
            param_free,
            by_param[rows, out, 1:],
            by_rf[rows, out],
            by_conv_rf[rows, out],
            projections,
            from_input,
            to_output,
            at.reshape(U, -1),
            last,
        ]
    ).astype(np.float64, copy=False)
    assert stats.shape[1] == _N_STATS
    extra = np.column_stack(
        [
            dead,
            lo,
            sh,
            np.where(dead, 0, p_long[rows, out]),
            np.where(dead, 0, p_short[rows, out]),
        ]
    ).astype(np.float64)
    edge_op = np.where(opk >= 0, opk, _N_OPS)
    return op_counts, stats, extra, (edge_op, from_node0, live_all)


# ------------------------------------------------------------------- networks
def _unique_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a non-negative int array and each row's index among them.

    Rows are packed into one int64 where they fit (much faster than
    ``np.unique(axis=0)``); the order of the distinct rows is irrelevant here.
    """
    hi = x.max(axis=0, initial=0) + 1
    if x.min(initial=0) >= 0 and float(np.prod(hi.astype(np.float64))) < 2.0**62:
        mult = np.concatenate([np.cumprod(hi[::-1])[::-1][1:], [1]]).astype(np.int64)
        packed = x @ mult
        vals, first, inv = np.unique(packed, return_index=True, return_inverse=True)
        return x[first], inv.reshape(-1)
    keys, inv = np.unique(x, axis=0, return_inverse=True)
    return keys, inv.reshape(-1)


@functools.lru_cache(maxsize=65536)
def _reduction_cost(
    kind: BlockKind, c_in: int, c_out: int, stride: int, size: tuple[int, ...]
) -> tuple[int, int]:
    c = _Counter(len(size))
    c.block(Block(kind, c_in, c_out, stride), size)
    return c.params, c.flops


@functools.lru_cache(maxsize=4096)
def _cell_edge_costs(
    c_in: int, c_out: int, stride: int, size: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Params and FLOPs of every op (``_OPS`` order, then ``none``) on an edge leaving
    node 0 (row 0) or another node (row 1) of a cell block with these settings;
    shapes ``(2, n_ops + 1)``."""
    dims = len(size)
    out = _out_size(size, stride)
    configs = ((c_in, c_out, stride, size, dims), (c_out, c_out, 1, out, dims))
    params = np.zeros((2, _N_OPS + 1), dtype=np.int64)
    flops = np.zeros((2, _N_OPS + 1), dtype=np.int64)
    for r, cfg in enumerate(configs):
        for k, op in enumerate((*F._OPS, Op.NONE)):
            params[r, k], flops[r, k] = _edge_cost(op.value, *cfg)
    return params, flops


def _stem_head(stem: int, out_c: int, shape: tuple[int, ...], num_classes: int) -> tuple[int, int]:
    c = _Counter(len(shape) - 1)
    c.stem(shape[0], stem, shape[1:])
    c.head(out_c, num_classes)
    return c.params, c.flops


def _steps(seg: np.ndarray) -> list[np.ndarray]:
    """For non-decreasing ``seg``: the indices of the first element of every segment,
    then of every second element, and so on (see :func:`_ordered_add`)."""
    n = len(seg)
    if not n:
        return []
    heads = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])
    pos = np.arange(n) - np.repeat(heads, np.diff(np.r_[heads, n]))
    by_pos = np.argsort(pos, kind="stable")
    ends = np.cumsum(np.bincount(pos))
    return [by_pos[a:b] for a, b in zip(np.r_[0, ends[:-1]].tolist(), ends.tolist(), strict=True)]


#: Distinct value rows up to which :func:`_ordered_add` sums whole-number columns by a
#: product of counts (a chain batch has about 6 distinct cells; hierarchical ones, one
#: per network).
_FEW_ROWS = 64


def _ordered_add(
    out: np.ndarray,
    index: np.ndarray,
    values: np.ndarray,
    steps: list[np.ndarray],
    take: np.ndarray | None = None,
) -> None:
    """``np.add.at(out, index, values[take])`` with the same bits, where ``steps`` are
    :func:`_steps` of the segments (networks) and ``index`` is constant on none of
    their elements twice within a step (so a per-network or finer index).

    ``np.add.at`` adds the values of each output one after the other, in order; so does
    this, one step per position within the segments, each a plain fancy ``+=`` over
    every segment at once: much faster than ``np.add.at``, which goes one element at a
    time, and ``values[take]`` (blocks x statistics) is never built whole. Where
    ``take`` picks among few value rows, columns of whole numbers (counts: every
    statistic but the degree means) are summed as one product of per-row counts, which
    is exact, and only the other columns go step by step.
    """
    if take is not None and len(values) <= _FEW_ROWS and out.ndim == 2 and len(index):
        # Columns of whole numbers sum exactly in any order (every partial sum is a whole
        # number below 2**53): as counts of each value row per output row, times them.
        whole = np.all(values == np.rint(values), axis=0)
        whole &= np.abs(values).max(axis=0, initial=0) * len(index) < 2.0**52
        if whole.any():
            counts = np.bincount(index * len(values) + take, minlength=len(out) * len(values))
            counts = counts.reshape(len(out), len(values)).astype(np.float64)
            out[:, whole] += counts @ values[:, whole]
            if whole.all():
                return
            rest = np.flatnonzero(~whole)
            part = out[:, rest]
            _ordered_add(part, index, values[:, rest], steps, take)
            out[:, rest] = part
            return
    every = np.arange(len(out))
    for rows in steps:
        at = index[rows]
        add = values[rows if take is None else take[rows]]
        if len(at) == len(out) and np.array_equal(at, every):
            out += add  # every row once, in order (as every network has this step)
        else:
            out[at] += add


def batch_features(
    specs: Sequence[NetworkSpec] | SpecColumns,
    input_shape: Sequence[int] = F.DEFAULT_INPUT_SHAPE,
    num_classes: int = F.DEFAULT_NUM_CLASSES,
) -> np.ndarray:
    """:func:`~nasrepro.surrogate.features` of every network, ``(n, n_features)``, vectorised.

    Args:
        specs: Lowered networks, or their columns (``SearchSpace.lower_columns``).
        input_shape, num_classes: As for :func:`~nasrepro.surrogate.features`.

    The garbage collector is paused meanwhile: the specs of a large batch hold millions
    of objects, and each collection triggered by the temporary tuples would walk them all.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        cols = specs if isinstance(specs, SpecColumns) else SpecColumns.from_specs(specs)
        return _batch_features(cols, input_shape, num_classes)
    finally:
        if enabled:
            gc.enable()


def _batch_features(cols: SpecColumns, input_shape: Sequence[int], num_classes: int) -> np.ndarray:
    shape = _check_shape(input_shape)
    n_feat = len(F.feature_names())
    N = len(cols)
    if not N:
        return np.zeros((0, n_feat))
    # 1. The blocks, and the distinct (cell, projection flags) among them.
    A, K, Cin, Cout, S = cols.net, cols.kind, cols.c_in, cols.c_out, cols.stride
    stems = cols.stems
    is_cell = cols.cell >= 0
    ci = np.flatnonzero(is_cell)
    skip_flag = (Cin != Cout) | (S != 1)
    pool_flag = Cin != Cout
    Uid = np.full(len(A), -1, dtype=np.int64)
    if len(ci):
        keys3 = np.column_stack([cols.cell[ci], skip_flag[ci], pool_flag[ci]]).astype(np.int64)
        distinct, Uid[ci] = _unique_rows(keys3)
        c = distinct[:, 0]
        op_counts, stats, extra, (edge_op, edge_fi, edge_live) = _cell_table(
            cols.cell_nodes[c],
            cols.cell_src[c],
            cols.cell_dst[c],
            cols.cell_op[c],
            distinct[:, 1].astype(bool),
            distinct[:, 2].astype(bool),
        )
    nb = np.bincount(A, minlength=N)
    start = np.concatenate([[0], np.cumsum(nb)[:-1]])
    pos = np.arange(len(A)) - start[A]
    # 2. Stage of each block (stride-2 blocks so far, capped) and its input size.
    two = (S == 2).astype(np.int64)
    cum = np.cumsum(two)
    stage = np.minimum(cum - (cum[start] - two[start])[A], F._MAX_STAGES - 1)
    size_in = np.empty((len(A), len(shape) - 1), dtype=np.int64)
    size = np.tile(np.array(shape[1:], dtype=np.int64), (N, 1))
    conv_like = is_cell | (K == _KIND_CODE[BlockKind.RESBLOCK])
    for p in range(int(nb.max(initial=0))):
        at = pos == p
        a = A[at]
        size_in[at] = size[a]
        st = S[at][:, None]
        size[a] = np.where(
            conv_like[at][:, None],
            (size[a] - 1) // st + 1,
            np.where(st == 2, size[a] // 2, size[a]),
        )
    # 3. Params and FLOPs of each block, from the counter's own functions, by settings.
    settings = np.column_stack([K, Cin, Cout, S, size_in])
    keys, inv = _unique_rows(settings)
    b_params = np.zeros(len(A), dtype=np.int64)
    b_flops = np.zeros(len(A), dtype=np.int64)
    red = keys[:, 0] != _KIND_CODE[BlockKind.CELL]
    for k in np.flatnonzero(red).tolist():
        kc, c_in, c_out, st, *sz = keys[k].tolist()
        b_params[inv == k], b_flops[inv == k] = _reduction_cost(
            _KINDS[kc], c_in, c_out, st, tuple(sz)
        )
    if len(ci):
        cell_keys = np.flatnonzero(~red)
        tab = {
            int(k): _cell_edge_costs(*keys[k, 1:4].tolist(), tuple(keys[k, 4:].tolist()))
            for k in cell_keys
        }
        remap = np.full(len(keys), -1, dtype=np.int64)
        remap[cell_keys] = np.arange(len(cell_keys))
        P_tab = np.stack([tab[int(k)][0] for k in cell_keys])  # (n_cfg, 2, n_ops + 1)
        F_tab = np.stack([tab[int(k)][1] for k in cell_keys])
        u_ci = Uid[ci]
        ops, row = edge_op[u_ci], np.where(edge_fi[u_ci], 0, 1)  # (n, E)
        c = remap[inv[ci]][:, None]
        b_params[ci] = P_tab[c, row, ops].sum(axis=1)
        b_flops[ci] = (F_tab[c, row, ops] * edge_live[u_ci]).sum(axis=1)
    out_c = stems.copy()
    has = nb > 0
    out_c[has] = Cout[start[has] + nb[has] - 1]
    params = np.bincount(A, weights=None, minlength=N).astype(np.int64) * 0
    flops = params.copy()
    steps_all = _steps(A)
    _ordered_add(params, A, b_params, steps_all)
    _ordered_add(flops, A, b_flops, steps_all)
    pairs, pinv = _unique_rows(np.column_stack([stems, out_c]))
    ends = np.array([_stem_head(int(a), int(b), shape, num_classes) for a, b in pairs.tolist()])
    params += ends[pinv, 0]
    flops += ends[pinv, 1]
    # 4. Per-network sums, accumulated in block order.
    X = np.zeros((N, n_feat))
    col = F._MAX_STAGES * _N_OPS
    n_cells = np.bincount(A[ci], minlength=N)
    steps_cells = _steps(A[ci])
    if len(ci):
        ops_part = np.zeros((N, F._MAX_STAGES, _N_OPS))
        _ordered_add(
            ops_part.reshape(N * F._MAX_STAGES, _N_OPS),
            A[ci] * F._MAX_STAGES + stage[ci],
            op_counts.astype(np.float64),
            steps_cells,
            Uid[ci],
        )
        X[:, :col] = ops_part.reshape(N, -1)
        X[:, col + 2] = np.bincount(A[ci], weights=extra[Uid[ci], 0], minlength=N)
    X[:, col] = nb
    X[:, col + 1] = n_cells
    for r, kind in enumerate(F._REDUCTION_KINDS):
        X[:, col + 3 + r] = np.bincount(A[K == _KIND_CODE[kind]], minlength=N)
    col += 3 + len(F._REDUCTION_KINDS)
    for s in range(F._MAX_STAGES):
        m = stage == s
        cnt = np.bincount(A[m], minlength=N)
        tot = np.bincount(A[m], weights=Cout[m].astype(np.float64), minlength=N)
        mx = np.zeros(N)
        if m.any():  # max is exact in any order: per run of equal network ids
            a_m = A[m]
            heads = np.flatnonzero(np.r_[True, a_m[1:] != a_m[:-1]])
            mx[a_m[heads]] = np.maximum.reduceat(Cout[m].astype(np.float64), heads)
        X[:, col] = np.where(cnt > 0, tot / np.maximum(cnt, 1), 0.0)
        X[:, col + 1] = mx
        col += 2
    X[:, col] = out_c
    col += 1
    per_block = _RED_DEPTH[K]
    if len(ci):
        per_block[ci] = extra[Uid[ci], 1:]
    depth = np.zeros((N, 4))
    _ordered_add(depth, A, per_block, steps_all)
    X[:, col : col + 4] = depth
    col += 4
    if len(ci):
        sums = np.zeros((N, _N_STATS))
        _ordered_add(sums, A[ci], stats, steps_cells, Uid[ci])
        X[:, col : col + _N_STATS] = np.where(
            n_cells[:, None] > 0, sums / np.maximum(n_cells, 1)[:, None], 0.0
        )
    col += _N_STATS
    X[:, col] = params
    X[:, col + 1] = flops
    return X
