"""Parameters and forward FLOPs of a :class:`~nasrepro.spaces.NetworkSpec`, counted analytically.

The counts equal what ``nasrepro.bench.harness._compiler.compile_network`` builds and
what torch's ``FlopCounterMode`` counts on it (tests check both), without importing
torch, so any layer can use them: the surrogate's features, and tables imported from
other benchmarks that lack parameter and FLOP columns.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

from nasrepro.spaces._spec import Block, BlockKind, CellSpec, NetworkSpec, Op

__all__ = [
    "count_params",
    "count_flops",
    "count_static",
    "DEFAULT_INPUT_SHAPE",
    "DEFAULT_NUM_CLASSES",
]

#: MNIST-1D: one channel of length 40.
DEFAULT_INPUT_SHAPE: tuple[int, ...] = (1, 40)
DEFAULT_NUM_CLASSES = 10


@functools.lru_cache(maxsize=65536)
def _cell_edges(cell: CellSpec) -> tuple[tuple[str, bool, bool], ...]:
    """Per edge of ``cell``: its op value, whether it leaves node 0, whether it is live."""
    live = set(cell.live_edges())
    return tuple((op.value, src == 0, (src, dst, op) in live) for src, dst, op in cell.edges)


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
            for op, from_input, live in _cell_edges(b.cell):
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

    def stem(self, in_channels: int, channels: int, size: tuple[int, ...]) -> None:
        """The stem: conv 3 (stride 1) and BN."""
        self.conv(in_channels, channels, 3, size)
        self.bn(channels)

    def head(self, channels: int, num_classes: int) -> None:
        """The head: BN, (ReLU, pooling,) and the linear layer with its bias."""
        self.bn(channels)
        self.params += channels * num_classes + num_classes
        self.flops += 2 * channels * num_classes

    def network(self, spec: NetworkSpec, input_shape: tuple[int, ...], num_classes: int) -> None:
        in_channels, *spatial = input_shape
        size = tuple(spatial)
        self.stem(in_channels, spec.stem_channels, size)
        for b in spec.blocks:
            size = self.block(b, size)
        self.head(spec.out_channels, num_classes)


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


def count_static(
    spec: NetworkSpec,
    input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE,
    num_classes: int = DEFAULT_NUM_CLASSES,
) -> tuple[int, int]:
    """``(count_params(...), count_flops(...))`` in one pass."""
    return _count(spec, input_shape, num_classes)
