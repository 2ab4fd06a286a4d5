"""Space-agnostic graph features of a :class:`~nasrepro.spaces.NetworkSpec`.

Every space lowers to the same IR, so one featurizer serves all of them, and a model
fitted on the cell table can answer for chain and hierarchical architectures. The
features are simple graph statistics, which are strong predictors of accuracy
(GRAF, Kadlecova et al., 2024):

* ``ops.s{k}.{op}``: live edges with ``op`` in stage ``k`` (stage = number of stride-2
  blocks so far, capped at 2);
* ``blocks.*``: numbers of blocks by kind, and of cells without an input-output path;
* ``width.s{k}.mean`` / ``.max`` and ``width.out``: channel counts per stage;
* ``depth.*``: longest and shortest input-output path through the whole network, in
  ops and in parametric ops (convolutions), summed over the blocks in sequence;
* ``cell.*`` and ``paths.*``: per-cell statistics averaged over the cell blocks: live
  edges and nodes, in- and out-degrees, input-output paths by length, paths through
  each op, paths by their number of parametric ops (``paths.param_free`` has none:
  skips and pools only) and by how far they widen the receptive field (``paths.rf*``);
* ``params`` and ``flops``: counted analytically, equal to what
  ``nasrepro.bench.harness._compiler.compile_network`` builds and what torch's ``FlopCounterMode`` counts.

No torch is imported here; :func:`count_params` and :func:`count_flops` (in
:mod:`nasrepro.spaces`, so that tables can use them too) follow the compiler's module
definitions op by op.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from nasrepro.spaces import Block, BlockKind, CellSpec, NetworkSpec, Op
from nasrepro.spaces._count import (
    DEFAULT_INPUT_SHAPE,
    DEFAULT_NUM_CLASSES,
    count_flops,
    count_params,
    count_static,
)

__all__ = [
    "features",
    "features_many",
    "feature_names",
    "count_params",
    "count_flops",
    "DEFAULT_INPUT_SHAPE",
    "DEFAULT_NUM_CLASSES",
]


_MAX_STAGES = 3
_MAX_PATH_LEN = 6  # path-length bins 1..5, then "6 or more"
_POSITIONS = 3  # paths.at{i}.{op}: paths whose i-th op (from the input) is op
_MAX_PARAM = 3  # paths.param{k}: paths with k parametric ops, k = 1, 2, then "3 or more"
_MAX_RF = 3  # paths.rf{2k}: paths that widen the receptive field by 2k, then "6 or more"
_OPS: tuple[Op, ...] = tuple(op for op in Op if op is not Op.NONE)
_PARAM_FREE = frozenset({Op.SKIP, Op.AVGPOOL3X3, Op.MAXPOOL3X3})
# Receptive-field growth of each op, in units of 2 samples: (kernel - 1) / 2 summed over
# its spatial kernels as ``nasrepro.bench.harness._compiler`` builds them.
_RF_UNITS = {
    Op.SKIP: 0,
    Op.CONV1X1: 0,
    Op.CONV3X3: 1,
    Op.CONV5X5: 2,
    Op.DWCONV3X3: 1,
    Op.SEPCONV3X3: 1,
    Op.MBCONV_E3_K3: 1,
    Op.MBCONV_E6_K5: 2,
    Op.AVGPOOL3X3: 1,
    Op.MAXPOOL3X3: 1,
}
_REDUCTION_KINDS = (BlockKind.RESBLOCK, BlockKind.POOLREDUCE, BlockKind.POOL)
# Parametric depth of the longest / shortest path through a reduction block.
_REDUCTION_DEPTH = {
    BlockKind.RESBLOCK: (2, 1),
    BlockKind.POOLREDUCE: (1, 1),
    BlockKind.POOL: (0, 0),
}
_CELL_STATS: tuple[str, ...] = (
    "cell.live_edges",
    "cell.live_nodes",
    "cell.in_degree.mean",
    "cell.in_degree.max",
    "cell.out_degree.mean",
    "cell.out_degree.max",
    "cell.output_in_degree",
    "cell.input_out_degree",
    "cell.longest_path",
    "cell.shortest_path",
    *(f"paths.len{n}" for n in range(1, _MAX_PATH_LEN)),
    f"paths.len{_MAX_PATH_LEN}+",
    "paths.total",
    *(f"paths.with.{op.value}" for op in _OPS),
    "paths.param_free",
    *(f"paths.param{k}" for k in range(1, _MAX_PARAM)),
    f"paths.param{_MAX_PARAM}+",
    *(f"paths.rf{2 * k}" for k in range(_MAX_RF)),
    f"paths.rf{2 * _MAX_RF}+",
    *(f"paths.conv_rf{2 * k}" for k in range(_MAX_RF)),
    f"paths.conv_rf{2 * _MAX_RF}+",
    "cell.projections",
    *(f"cell.from_input.{op.value}" for op in _OPS),
    *(f"cell.to_output.{op.value}" for op in _OPS),
    *(f"paths.at{i}.{op.value}" for i in range(_POSITIONS) for op in _OPS),
    *(f"paths.last.{op.value}" for op in _OPS),
)


@functools.cache
def feature_names() -> tuple[str, ...]:
    """The stable names of the entries of :func:`features`, in order.

    Example:
        >>> names = feature_names()
        >>> names[0], names[-2:]
        ('ops.s0.skip', ('params', 'flops'))
    """
    names = [f"ops.s{s}.{op.value}" for s in range(_MAX_STAGES) for op in _OPS]
    names += ["blocks.total", "blocks.cell", "blocks.dead_cells"]
    names += [f"blocks.{k.value}" for k in _REDUCTION_KINDS]
    for s in range(_MAX_STAGES):
        names += [f"width.s{s}.mean", f"width.s{s}.max"]
    names += ["width.out"]
    names += ["depth.ops_max", "depth.ops_min", "depth.param_max", "depth.param_min"]
    names += list(_CELL_STATS)
    names += ["params", "flops"]
    return tuple(names)


# --------------------------------------------------------------------------- cells
@dataclass(frozen=True)
class _CellInfo:
    """Structure of one cell DAG that does not depend on channels."""

    op_counts: tuple[int, ...]  # live edges per op of _OPS
    stats: tuple[float, ...]  # _CELL_STATS
    dead: bool  # no input-output path: the cell outputs zeros
    longest: int  # ops on the longest input-output path
    shortest: int
    param_longest: int  # parametric ops on the path with most / fewest of them
    param_shortest: int
    edges: tuple[tuple[str, bool, bool], ...]  # per edge: op value, leaves node 0, live


def _count_paths(n: int, edges: Sequence[tuple[int, int, int]], keep: Sequence[bool]) -> int:
    """Input-output paths whose every edge ``i`` has ``keep[i]``."""
    count = [0] * n
    count[0] = 1
    for (src, dst, _), ok in zip(edges, keep, strict=True):  # sorted by src
        if ok:
            count[dst] += count[src]
    return count[n - 1]


@functools.lru_cache(maxsize=65536)
def _cell_info(cell: CellSpec, skip_proj: bool = False, pool_proj: bool = False) -> _CellInfo:
    """Structure of ``cell``; ``skip_proj`` / ``pool_proj``: skips / pools leaving node 0
    carry a 1x1 projection conv (the block changes channels or resolution), so they
    count as parametric."""
    n = cell.n_nodes
    live_set = set(cell.live_edges())
    live_ops = sorted(live_set, key=lambda e: (e[0], e[1]))
    live = [(src, dst, _OPS.index(op)) for src, dst, op in live_ops]
    op_counts = tuple(sum(1 for e in live if e[2] == k) for k in range(len(_OPS)))
    # Paths by length: by_len[v][l] = number of paths 0 -> v with l edges (l capped).
    by_len = [[0] * (_MAX_PATH_LEN + 1) for _ in range(n)]
    by_len[0][0] = 1
    inf = math.inf
    longest, shortest = [-inf] * n, [inf] * n
    p_long, p_short = [-inf] * n, [inf] * n
    longest[0] = shortest[0] = p_long[0] = p_short[0] = 0
    # Paths by parametric ops and by receptive-field growth, binned like by_len.
    by_param = [[0] * (_MAX_PARAM + 1) for _ in range(n)]
    by_rf = [[0] * (_MAX_RF + 1) for _ in range(n)]
    by_conv_rf = [[0] * (_MAX_RF + 1) for _ in range(n)]  # growth by parametric ops only
    by_param[0][0] = by_rf[0][0] = by_conv_rf[0][0] = 1
    proj = {Op.SKIP: skip_proj, Op.AVGPOOL3X3: pool_proj, Op.MAXPOOL3X3: pool_proj}
    free = [
        op in _PARAM_FREE and not (src == 0 and proj[op]) for src, _, op in live_ops
    ]  # per live edge
    for (src, dst, k_op), is_free in zip(live, free, strict=True):
        for k in range(_MAX_PATH_LEN + 1):
            by_len[dst][min(k + 1, _MAX_PATH_LEN)] += by_len[src][k]
        w = 0 if is_free else 1
        rf = _RF_UNITS[_OPS[k_op]]
        for k in range(_MAX_PARAM + 1):
            by_param[dst][min(k + w, _MAX_PARAM)] += by_param[src][k]
        for k in range(_MAX_RF + 1):
            by_rf[dst][min(k + rf, _MAX_RF)] += by_rf[src][k]
            by_conv_rf[dst][min(k + rf * w, _MAX_RF)] += by_conv_rf[src][k]
        longest[dst] = max(longest[dst], longest[src] + 1)
        shortest[dst] = min(shortest[dst], shortest[src] + 1)
        p_long[dst] = max(p_long[dst], p_long[src] + w)
        p_short[dst] = min(p_short[dst], p_short[src] + w)
    out = n - 1
    dead = not live
    n_ops = len(_OPS)
    total = _count_paths(n, live, [True] * len(live))
    with_op = [total - _count_paths(n, live, [e[2] != k for e in live]) for k in range(n_ops)]
    param_free = _count_paths(n, live, free)
    projections = sum(
        1
        for (_, _, op), is_free in zip(live_ops, free, strict=True)
        if op in _PARAM_FREE and not is_free
    )
    nodes = {v for e in live for v in e[:2]}
    inner = sorted(nodes - {0, out})
    indeg_of, outdeg_of = [0] * n, [0] * n
    for src, dst, _ in live:
        outdeg_of[src] += 1
        indeg_of[dst] += 1
    indeg = [indeg_of[v] for v in inner]
    outdeg = [outdeg_of[v] for v in inner]
    # Ops by position: to_out[v] = paths v -> output; by_len[v][i] = paths 0 -> v of i edges.
    to_out = [0] * n
    to_out[out] = 1
    for src, dst, _ in reversed(live):  # sorted by src, so every dst is final when read
        to_out[src] += to_out[dst]
    from_input, to_output = [0] * n_ops, [0] * n_ops
    at = [[0] * n_ops for _ in range(_POSITIONS)]
    last = [0] * n_ops
    for src, dst, k in live:
        from_input[k] += src == 0
        to_output[k] += dst == out
        for i in range(_POSITIONS):
            at[i][k] += by_len[src][i] * to_out[dst]
        if dst == out:
            last[k] += sum(by_len[src])
    stats = (
        len(live),
        len(nodes),
        sum(indeg) / len(indeg) if indeg else 0.0,
        max(indeg, default=0),
        sum(outdeg) / len(outdeg) if outdeg else 0.0,
        max(outdeg, default=0),
        indeg_of[out],
        outdeg_of[0],
        0 if dead else longest[out],
        0 if dead else shortest[out],
        *by_len[out][1:],
        total,
        *with_op,
        param_free,
        *by_param[out][1:],
        *by_rf[out],
        *by_conv_rf[out],
        projections,
        *from_input,
        *to_output,
        *(v for row in at for v in row),
        *last,
    )
    return _CellInfo(
        op_counts,
        tuple(float(v) for v in stats),
        dead,
        0 if dead else int(longest[out]),
        0 if dead else int(shortest[out]),
        0 if dead else int(p_long[out]),
        0 if dead else int(p_short[out]),
        tuple((op.value, src == 0, (src, dst, op) in live_set) for src, dst, op in cell.edges),
    )


# ------------------------------------------------------------------ features
def _stage_of(blocks: Sequence[Block]) -> list[int]:
    stages, s = [], 0
    for b in blocks:
        s += b.stride == 2
        stages.append(min(s, _MAX_STAGES - 1))
    return stages


def features(
    spec: NetworkSpec,
    input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE,
    num_classes: int = DEFAULT_NUM_CLASSES,
) -> np.ndarray:
    """The graph features of one network, named by :func:`feature_names`.

    Args:
        spec: The lowered network (``space.lower(arch, **protocol.macro())``).
        input_shape: ``(channels, length)`` or ``(channels, height, width)`` of the
            protocol's data; the default is MNIST-1D's ``(1, 40)``.
        num_classes: Classes of the protocol's data (10 for MNIST-1D).

    Returns:
        float64 array of shape ``(len(feature_names()),)``.

    Example:
        >>> import numpy as np
        >>> from nasrepro.spaces import get_space
        >>> space = get_space("chain")
        >>> spec = space.lower(space.parse("conv3x3@1.0|skip@1.0|mbconv_e3_k3@0.5"), C=16, N=1)
        >>> x = features(spec)
        >>> float(dict(zip(feature_names(), x))["ops.s1.skip"])
        1.0
    """
    params, flops = count_static(spec, input_shape, num_classes)
    n_ops = len(_OPS)
    ops = np.zeros((_MAX_STAGES, n_ops))
    widths: list[list[int]] = [[] for _ in range(_MAX_STAGES)]
    kinds = dict.fromkeys(_REDUCTION_KINDS, 0)
    cell_stats: list[tuple[float, ...]] = []
    dead = 0
    depth = np.zeros(4)  # ops max / min, parametric max / min
    for b, s in zip(spec.blocks, _stage_of(spec.blocks), strict=True):
        widths[s].append(b.c_out)
        if b.cell is None:
            kinds[b.kind] += 1
            d_max, d_min = _REDUCTION_DEPTH[b.kind]
            depth += (d_max, d_min, d_max, d_min)
            continue
        info = _cell_info(b.cell, b.c_in != b.c_out or b.stride != 1, b.c_in != b.c_out)
        ops[s] += info.op_counts
        cell_stats.append(info.stats)
        dead += info.dead
        depth += (info.longest, info.shortest, info.param_longest, info.param_shortest)
    n_cells = len(cell_stats)
    width = [f(w) if w else 0.0 for w in widths for f in (np.mean, max)]
    per_cell = np.mean(cell_stats, axis=0) if cell_stats else np.zeros(len(_CELL_STATS))
    return np.concatenate(
        [
            ops.ravel(),
            [len(spec.blocks), n_cells, dead, *kinds.values()],
            width,
            [spec.out_channels],
            depth,
            per_cell,
            [params, flops],
        ]
    ).astype(np.float64)


#: From this many networks on, :func:`features_many` computes the features as arrays
#: (``nasrepro.surrogate._batch_features``); below it, numpy's per-call overhead makes
#: the per-network loop faster (``benchmarks/surrogate_speed.py`` measures both).
BATCH_MIN = 16


def features_many(
    specs: Iterable[NetworkSpec],
    input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE,
    num_classes: int = DEFAULT_NUM_CLASSES,
    *,
    vectorised: bool | None = None,
) -> np.ndarray:
    """:func:`features` of many networks, shape ``(n, len(feature_names()))``.

    Args:
        specs: The networks.
        input_shape, num_classes: As for :func:`features`.
        vectorised: Compute them as arrays (equal to the per-network loop, bit for
            bit); ``None`` chooses by batch size (:data:`BATCH_MIN`).
    """
    specs = list(specs)
    if vectorised is None:
        vectorised = len(specs) >= BATCH_MIN
    if vectorised:
        from nasrepro.surrogate._batch_features import batch_features

        return batch_features(specs, input_shape, num_classes)
    rows = [features(s, input_shape, num_classes) for s in specs]
    if not rows:
        return np.zeros((0, len(feature_names())))
    return np.stack(rows)
