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

No torch is imported here; :func:`count_params` and :func:`count_flops` follow the
compiler's module definitions op by op.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from nasrepro.spaces import Block, BlockKind, CellSpec, NetworkSpec, Op

__all__ = [
    "features",
    "features_many",
    "feature_names",
    "count_params",
    "count_flops",
    "DEFAULT_INPUT_SHAPE",
    "DEFAULT_NUM_CLASSES",
]

#: MNIST-1D: one channel of length 40.
DEFAULT_INPUT_SHAPE: tuple[int, ...] = (1, 40)
DEFAULT_NUM_CLASSES = 10

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


# ------------------------------------------------------------- params and FLOPs
def _out_size(size: tuple[int, ...], stride: int) -> tuple[int, ...]:
    """Spatial size after a padded odd-kernel conv or pool with ``stride``."""
    return tuple((n - 1) // stride + 1 for n in size)


def _half(size: tuple[int, ...]) -> tuple[int, ...]:
    """Spatial size after ``AvgPool(2)``."""
    return tuple(n // 2 for n in size)


class _Counter:
    """Parameters and forward FLOPs (2 per multiply-add, convs and linear layers only).

    ``flops`` follows torch's ``FlopCounterMode``: a convolution costs
    ``2 * c_out * (c_in / groups) * k**dims * prod(out_size)`` per sample.
    """

    def __init__(self, dims: int) -> None:
        self.dims = dims
        self.params = 0
        self.flops = 0

    def conv(
        self, c_in: int, c_out: int, k: int, out: tuple[int, ...], groups: int = 1, run: bool = True
    ) -> None:
        macs = c_out * (c_in // groups) * k**self.dims
        self.params += macs
        if run:
            self.flops += 2 * macs * math.prod(out)

    def bn(self, c: int) -> None:
        self.params += 2 * c

    def rcb(self, c_in: int, c_out: int, k: int, out: tuple[int, ...], run: bool) -> None:
        """ReLU-Conv-BN."""
        self.conv(c_in, c_out, k, out, run=run)
        self.bn(c_out)

    def op(
        self, op: Op, c_in: int, c_out: int, stride: int, size: tuple[int, ...], run: bool
    ) -> None:
        """One edge of a cell, as ``nasrepro.bench.harness._compiler.make_op`` builds it."""
        out = _out_size(size, stride)
        if op is Op.NONE:
            return
        if op is Op.SKIP:
            if stride != 1 or c_in != c_out:
                self.rcb(c_in, c_out, 1, out, run)
        elif op in (Op.CONV1X1, Op.CONV3X3, Op.CONV5X5):
            k = {Op.CONV1X1: 1, Op.CONV3X3: 3, Op.CONV5X5: 5}[op]
            self.rcb(c_in, c_out, k, out, run)
        elif op in (Op.DWCONV3X3, Op.AVGPOOL3X3, Op.MAXPOOL3X3):
            if c_in != c_out:  # 1x1 ReLU-Conv-BN at the input resolution first
                self.rcb(c_in, c_out, 1, size, run)
            if op is Op.DWCONV3X3:
                self.conv(c_out, c_out, 3, out, groups=c_out, run=run)
                self.bn(c_out)
        elif op is Op.SEPCONV3X3:
            self.conv(c_in, c_in, 3, out, groups=c_in, run=run)
            self.conv(c_in, c_out, 1, out, run=run)
            self.bn(c_out)
        elif op in (Op.MBCONV_E3_K3, Op.MBCONV_E6_K5):
            e, k = (3, 3) if op is Op.MBCONV_E3_K3 else (6, 5)
            mid = c_in * e
            self.conv(c_in, mid, 1, size, run=run)
            self.bn(mid)
            self.conv(mid, mid, k, out, groups=mid, run=run)
            self.bn(mid)
            self.conv(mid, c_out, 1, out, run=run)
            self.bn(c_out)
        else:  # pragma: no cover - every Op is handled above
            raise ValueError(f"no parameter count for {op=}")

    def block(self, b: Block, size: tuple[int, ...]) -> tuple[int, ...]:
        """Count one block; returns its output spatial size."""
        if b.kind is BlockKind.CELL:
            assert b.cell is not None  # guaranteed by Block.__post_init__
            out = _out_size(size, b.stride)
            first = (b.c_in, b.c_out, b.stride, size, self.dims)
            other = (b.c_out, b.c_out, 1, out, self.dims)
            for op, from_input, live in _cell_info(b.cell).edges:
                params, flops = _edge_cost(op, *(first if from_input else other))
                self.params += params
                self.flops += flops if live else 0
            return out
        if b.kind is BlockKind.RESBLOCK:
            out = _out_size(size, b.stride)
            self.rcb(b.c_in, b.c_out, 3, out, True)
            self.rcb(b.c_out, b.c_out, 3, out, True)
            if b.stride == 2:
                self.conv(b.c_in, b.c_out, 1, _half(size))
            elif b.c_in != b.c_out:
                self.rcb(b.c_in, b.c_out, 1, out, True)
            return out
        out = _half(size) if b.stride == 2 else size
        if b.kind is BlockKind.POOLREDUCE:
            self.rcb(b.c_in, b.c_out, 1, out, True)
        elif b.kind is not BlockKind.POOL:  # pragma: no cover
            raise ValueError(f"no parameter count for block kind {b.kind}")
        return out

    def network(self, spec: NetworkSpec, input_shape: tuple[int, ...], num_classes: int) -> None:
        in_channels, *spatial = input_shape
        size = tuple(spatial)
        self.conv(in_channels, spec.stem_channels, 3, size)
        self.bn(spec.stem_channels)
        for b in spec.blocks:
            size = self.block(b, size)
        c = spec.out_channels
        self.bn(c)
        self.params += c * num_classes + num_classes
        self.flops += 2 * c * num_classes


@functools.lru_cache(maxsize=8192)
def _edge_cost(
    op: str, c_in: int, c_out: int, stride: int, size: tuple[int, ...], dims: int
) -> tuple[int, int]:
    """Parameters and FLOPs of one cell edge (``op`` is an ``Op`` value)."""
    c = _Counter(dims)
    c.op(Op(op), c_in, c_out, stride, size, run=True)
    return c.params, c.flops


def _check_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(int(v) for v in input_shape)
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise ValueError(
            f"input_shape must be (channels, length) or (channels, height, width) with "
            f"positive entries, got {input_shape=}"
        )
    return shape


def _count(spec: NetworkSpec, input_shape: Sequence[int], num_classes: int) -> tuple[int, int]:
    shape = _check_shape(input_shape)
    c = _Counter(len(shape) - 1)
    c.network(spec, shape, num_classes)
    return c.params, c.flops


def count_params(
    spec: NetworkSpec,
    input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE,
    num_classes: int = DEFAULT_NUM_CLASSES,
) -> int:
    """Parameters of the network ``nasrepro.bench.harness._compiler.compile_network`` builds from ``spec``.

    Modules on dead edges count (the compiler keeps them), as in NAS-Bench-201.

    Args:
        spec: The network.
        input_shape: ``(channels, length)`` or ``(channels, height, width)``.
        num_classes: Outputs of the linear head.
    """
    return _count(spec, input_shape, num_classes)[0]


def count_flops(
    spec: NetworkSpec,
    input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE,
    num_classes: int = DEFAULT_NUM_CLASSES,
) -> int:
    """Forward FLOPs of one sample, as torch's ``FlopCounterMode`` counts them.

    Only convolutions and the linear head count (2 per multiply-add, bias excluded);
    edges that cannot reach a cell's output are never run and cost nothing.

    Args:
        spec: The network.
        input_shape: ``(channels, length)`` or ``(channels, height, width)``.
        num_classes: Outputs of the linear head.
    """
    return _count(spec, input_shape, num_classes)[1]


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
    params, flops = _count(spec, input_shape, num_classes)
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


def features_many(
    specs: Iterable[NetworkSpec],
    input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE,
    num_classes: int = DEFAULT_NUM_CLASSES,
) -> np.ndarray:
    """:func:`features` of many networks, shape ``(n, len(feature_names()))``."""
    rows = [features(s, input_shape, num_classes) for s in specs]
    if not rows:
        return np.zeros((0, len(feature_names())))
    return np.stack(rows)
