"""Compile a :class:`~nasrepro.spaces.NetworkSpec` into a torch module, for 1-D or 2-D input.

With 2-D input, ``C=16``, ``N=5`` and 10 classes, a cell-space spec builds the same
network as NAS-Bench-201's reference ``TinyNetwork``: the same modules in the same
order, hence the same parameter count (checked over all 15,625 cells in the tests).
Conv layers followed by an affine BatchNorm carry no bias, as in the reference.

Edges that cannot reach the output (``none`` edges, and edges cut off by them) keep
their modules, so parameter counts match the reference, but are skipped in
``forward``; their outputs never influence the logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nasrepro.spaces import Block, BlockKind, CellSpec, NetworkSpec, Op
from nasrepro.spaces._errors import ConfigError

__all__ = ["compile_network", "Network", "CellModule", "GlobalAvgPool"]


def _conv(dims: int) -> type[nn.Conv1d] | type[nn.Conv2d]:
    return nn.Conv1d if dims == 1 else nn.Conv2d


def _bn(dims: int, c: int) -> nn.Module:
    return nn.BatchNorm1d(c) if dims == 1 else nn.BatchNorm2d(c)


def _relu_conv_bn(dims: int, c_in: int, c_out: int, k: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.ReLU(inplace=False),
        _conv(dims)(c_in, c_out, k, stride=stride, padding=k // 2, bias=False),
        _bn(dims, c_out),
    )


class _Pool(nn.Module):
    """3-wide pooling, with a 1x1 ReLU-Conv-BN first when channels change (as NAS-Bench-201)."""

    def __init__(self, dims: int, c_in: int, c_out: int, stride: int, mode: str) -> None:
        super().__init__()
        self.preprocess = None if c_in == c_out else _relu_conv_bn(dims, c_in, c_out, 1)
        if mode == "avg" and dims == 1 and stride == 1:
            self.op: nn.Module = _AvgPool3Seq()
        elif mode == "avg":
            pool = nn.AvgPool1d if dims == 1 else nn.AvgPool2d
            self.op = pool(3, stride=stride, padding=1, count_include_pad=False)
        else:
            self.op = (nn.MaxPool1d if dims == 1 else nn.MaxPool2d)(3, stride=stride, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.preprocess is not None:
            x = self.preprocess(x)
        return self.op(x)


class _AvgPool3Seq(nn.Module):
    """``AvgPool1d(3, 1, 1, count_include_pad=False)`` as a sum of shifted copies.

    The same function (up to float rounding), about twice as fast on small CPU
    tensors, where ``avg_pool1d`` pays a large fixed cost per call.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[-1]
        if n < 2:
            return x
        xp = nn.functional.pad(x, (1, 1))
        inv = torch.full((n,), 1.0 / 3.0, dtype=x.dtype, device=x.device)
        inv[0] = inv[-1] = 0.5
        return (xp[..., :-2] + xp[..., 1:-1] + xp[..., 2:]) * inv


class _Zero(nn.Module):
    """The ``none`` op: no parameters; never evaluated (its edges are pruned)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class _DepthwiseConv(nn.Module):
    """ReLU, depthwise 3-wide conv, BN; a 1x1 ReLU-Conv-BN first when channels change."""

    def __init__(self, dims: int, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.preprocess = None if c_in == c_out else _relu_conv_bn(dims, c_in, c_out, 1)
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            _conv(dims)(c_out, c_out, 3, stride=stride, padding=1, groups=c_out, bias=False),
            _bn(dims, c_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.preprocess is not None:
            x = self.preprocess(x)
        return self.op(x)


class _MBConv(nn.Module):
    """MobileNetV2 inverted residual: expand 1x1, depthwise k, project 1x1 (Sandler et al. 2018)."""

    def __init__(self, dims: int, c_in: int, c_out: int, stride: int, e: int, k: int) -> None:
        super().__init__()
        conv, mid = _conv(dims), c_in * e
        self.body = nn.Sequential(
            conv(c_in, mid, 1, bias=False),
            _bn(dims, mid),
            nn.ReLU(inplace=False),
            conv(mid, mid, k, stride=stride, padding=k // 2, groups=mid, bias=False),
            _bn(dims, mid),
            nn.ReLU(inplace=False),
            conv(mid, c_out, 1, bias=False),
            _bn(dims, c_out),
        )
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


def make_op(op: Op, dims: int, c_in: int, c_out: int, stride: int) -> nn.Module:
    """The torch module of one primitive op."""
    conv = _conv(dims)
    if op is Op.NONE:
        return _Zero()
    if op is Op.SKIP:
        if stride == 1 and c_in == c_out:
            return nn.Identity()
        return _relu_conv_bn(dims, c_in, c_out, 1, stride)
    if op in (Op.CONV1X1, Op.CONV3X3, Op.CONV5X5):
        k = {Op.CONV1X1: 1, Op.CONV3X3: 3, Op.CONV5X5: 5}[op]
        return _relu_conv_bn(dims, c_in, c_out, k, stride)
    if op is Op.DWCONV3X3:
        return _DepthwiseConv(dims, c_in, c_out, stride)
    if op is Op.SEPCONV3X3:
        return nn.Sequential(
            nn.ReLU(inplace=False),
            conv(c_in, c_in, 3, stride=stride, padding=1, groups=c_in, bias=False),
            conv(c_in, c_out, 1, bias=False),
            _bn(dims, c_out),
        )
    if op is Op.MBCONV_E3_K3:
        return _MBConv(dims, c_in, c_out, stride, 3, 3)
    if op is Op.MBCONV_E6_K5:
        return _MBConv(dims, c_in, c_out, stride, 6, 5)
    if op is Op.AVGPOOL3X3:
        return _Pool(dims, c_in, c_out, stride, "avg")
    if op is Op.MAXPOOL3X3:
        return _Pool(dims, c_in, c_out, stride, "max")
    raise ValueError(f"no torch module for {op=}")


class CellModule(nn.Module):
    """A DAG cell: every node is the sum of its incoming edges (see ``NetworkSpec``)."""

    def __init__(self, cell: CellSpec, dims: int, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            make_op(op, dims, c_in if src == 0 else c_out, c_out, stride if src == 0 else 1)
            for src, _, op in cell.edges
        )
        live = set(cell.live_edges())
        # (dst, [(src, layer index)]) for every node that a live edge enters, in order.
        plan: dict[int, list[tuple[int, int]]] = {}
        for i, edge in enumerate(cell.edges):
            if edge in live:
                plan.setdefault(edge[1], []).append((edge[0], i))
        self.plan = sorted(plan.items())
        self.n_nodes, self.c_out, self.stride = cell.n_nodes, c_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes: dict[int, torch.Tensor] = {0: x}
        for dst, ins in self.plan:
            acc = self.layers[ins[0][1]](nodes[ins[0][0]])
            for src, i in ins[1:]:
                acc = acc + self.layers[i](nodes[src])
            nodes[dst] = acc
        out = nodes.get(self.n_nodes - 1)
        if out is None:  # no live path: the cell computes zero
            shape = list(x.shape)
            shape[1] = self.c_out
            shape[2:] = [(s - 1) // self.stride + 1 for s in shape[2:]]
            out = x.new_zeros(shape)
        return out


class _ResBlock(nn.Module):
    """NAS-Bench-201's residual reduction block (``ResNetBasicblock``)."""

    def __init__(self, dims: int, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv_a = _relu_conv_bn(dims, c_in, c_out, 3, stride)
        self.conv_b = _relu_conv_bn(dims, c_out, c_out, 3, 1)
        self.downsample: nn.Module | None
        if stride == 2:
            pool = nn.AvgPool1d if dims == 1 else nn.AvgPool2d
            self.downsample = nn.Sequential(
                pool(kernel_size=2, stride=2, padding=0),
                _conv(dims)(c_in, c_out, 1, bias=False),
            )
        elif c_in != c_out:
            self.downsample = _relu_conv_bn(dims, c_in, c_out, 1)
        else:
            self.downsample = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        return residual + self.conv_b(self.conv_a(x))


def _pool_reduce(dims: int, c_in: int, c_out: int, stride: int) -> nn.Module:
    pool = nn.AvgPool1d if dims == 1 else nn.AvgPool2d
    layers: list[nn.Module] = [pool(kernel_size=2, stride=2)] if stride == 2 else []
    return nn.Sequential(*layers, _relu_conv_bn(dims, c_in, c_out, 1))


class _PoolRepeat(nn.Module):
    """The parameter-free ``POOL`` reduction: AvgPool(2), then each channel repeated."""

    def __init__(self, dims: int, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        if c_out % c_in:
            raise ValueError(
                f"a 'pool' reduction needs c_out divisible by c_in, got {c_in=}, {c_out=}"
            )
        pool = nn.AvgPool1d if dims == 1 else nn.AvgPool2d
        self.pool = pool(kernel_size=2, stride=2) if stride == 2 else nn.Identity()
        self.repeats = c_out // c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(x)
        return x.repeat_interleave(self.repeats, dim=1) if self.repeats > 1 else x


def _block(b: Block, dims: int) -> nn.Module:
    if b.kind is BlockKind.CELL:
        assert b.cell is not None  # guaranteed by Block.__post_init__
        return CellModule(b.cell, dims, b.c_in, b.c_out, b.stride)
    if b.kind is BlockKind.RESBLOCK:
        return _ResBlock(dims, b.c_in, b.c_out, b.stride)
    if b.kind is BlockKind.POOLREDUCE:
        return _pool_reduce(dims, b.c_in, b.c_out, b.stride)
    if b.kind is BlockKind.POOL:
        return _PoolRepeat(dims, b.c_in, b.c_out, b.stride)
    raise ValueError(f"no torch module for block kind {b.kind}")


class GlobalAvgPool(nn.Module):
    """Average over all positions, ``(B, C, *spatial) -> (B, C, 1[, 1])``.

    On CPU this calls the adaptive average pooling kernel (output size 1) that the
    shipped tables were trained with, so their numbers stay bitwise reproducible. On
    any other device it is a mean over the spatial dimensions: CUDA has no
    deterministic backward for adaptive average pooling, so the deterministic mode that
    training enforces would raise ``adaptive_avg_pool2d_backward_cuda does not have a
    deterministic implementation`` at the first backward pass (torch's documentation of
    ``use_deterministic_algorithms`` lists it). The two agree to float rounding.
    """

    def __init__(self, dims: int) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu":
            return spatial_mean(x)
        return F.adaptive_avg_pool1d(x, 1) if self.dims == 1 else F.adaptive_avg_pool2d(x, 1)


def spatial_mean(x: torch.Tensor) -> torch.Tensor:
    """``x`` averaged over its dimensions after the second, kept as size-1 dimensions."""
    return x.mean(dim=tuple(range(2, x.dim())), keepdim=True)


class Network(nn.Module):
    """Stem conv-BN, blocks, then BN-ReLU, global average pooling and a linear head.

    Input shape ``(batch, in_channels, length)`` for ``dims=1`` and
    ``(batch, in_channels, height, width)`` for ``dims=2``; output ``(batch, num_classes)``.
    """

    def __init__(self, spec: NetworkSpec, in_channels: int, num_classes: int, dims: int) -> None:
        super().__init__()
        c = spec.stem_channels
        self.stem = nn.Sequential(
            _conv(dims)(in_channels, c, 3, padding=1, bias=False), _bn(dims, c)
        )
        self.cells = nn.ModuleList(_block(b, dims) for b in spec.blocks)
        c = spec.out_channels
        self.lastact = nn.Sequential(_bn(dims, c), nn.ReLU(inplace=True))
        self.global_pooling = GlobalAvgPool(dims)
        self.classifier = nn.Linear(c, num_classes)
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        x = self.global_pooling(self.lastact(x))
        return self.classifier(x.flatten(1))

    def num_parameters(self) -> int:
        """Parameters of the network (trainable or not, buffers excluded).

        Equal to ``nasrepro.surrogate.count_params(spec, input_shape, num_classes)``,
        which counts them from the spec without torch (a test holds the two equal).
        """
        return sum(p.numel() for p in self.parameters())


def compile_network(
    spec: NetworkSpec, in_channels: int, num_classes: int, dims: int = 1
) -> Network:
    """Build the torch module described by ``spec``.

    Args:
        spec: The network description (from ``space.lower(arch)``).
        in_channels: Channels of the input (1 for MNIST-1D, 3 for CIFAR-10).
        num_classes: Number of output logits.
        dims: 1 for sequences ``(B, C, L)``, 2 for images ``(B, C, H, W)``.

    Example:
        >>> from nasrepro.spaces import get_space
        >>> space = get_space("cell")
        >>> arch = space.parse("|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
        >>> net = compile_network(space.lower(arch, C=16, N=5), in_channels=3, num_classes=10, dims=2)
        >>> net.num_parameters()
        802426
    """
    if not isinstance(spec, NetworkSpec):
        raise ConfigError(
            f"compile_network needs a NetworkSpec, got {type(spec).__name__}; lower the "
            "architecture first: space.lower(arch, **protocol.macro()) (or C=..., N=...)"
        )
    if dims not in (1, 2):
        raise ValueError(f"dims must be 1 or 2, got {dims=}")
    if in_channels < 1 or num_classes < 1:
        raise ValueError(f"need positive {in_channels=} and {num_classes=}")
    return Network(spec, in_channels, num_classes, dims)
