"""Batched multi-architecture training: K cells of the cell space trained as one module.

Training one tiny cell network at a time leaves an accelerator idle, because every
step is dominated by per-kernel overhead. :func:`train_batched` trains ``K`` cells of
the ``cell`` space (all of which share NAS-Bench-201's macro skeleton and edge list,
and differ only in the op on each edge) together, as one stacked module:

* Activations are stacked on the channel axis: model ``k`` owns channels
  ``[k * c, (k + 1) * c)`` of a ``(B, K * c, *spatial)`` tensor, and row ``b`` of the
  batch holds sample ``b`` of *each model's own* batch.
* Every convolution is one grouped convolution (``groups=K``) whose weight is the K
  models' weights stacked; every BatchNorm normalises the ``K * c`` stacked channels,
  which is exactly a per-model BatchNorm because channels never mix; the K linear
  heads are one batched matrix product.
* On each cell edge, the ops that some model uses (on a live edge) are computed for
  the smallest contiguous range of models that covers their users, and a per-model
  one-hot mask keeps each model's own op; when the users fill less than 3/4 of that
  range, the op runs on a gathered copy of its users' channels instead. Ops that no
  model uses on an edge are skipped; :func:`group_cells` orders cells so that the
  users of an op sit together.
* The loss is the sum of the K models' mean cross-entropies, so each model's
  parameters receive exactly the gradient of its own loss, and SGD (element-wise)
  updates each model as single-model training would.

Every model starts from the parameters that :func:`nasrepro.bench.train.train` draws
for its seed (the K single networks are built with their seeds and their parameters
copied into the stacked tensors) and sees its seed's data order. The results are the
same :class:`~nasrepro.tables.TrialResult` records, equal to single-model training up
to float rounding (tested to a relative 1e-4 on losses). Rounding does differ: oneDNN
and cuDNN pick other kernels for grouped convolutions, so some gradients differ in
the last bits, and SGD amplifies such differences over a long training just as it
amplifies those between two convolution backends of single-model training (on CPU,
single training with and without oneDNN drifts apart by as much as batched and
single training do).

On CPU the grouped convolutions are compute-bound and no faster per model than K
separate ones, and the stacked activations leave the caches; what batching saves
there is per-op overhead, a modest gain (``benchmarks/batched_throughput.py``).
Because batched numbers match single-model training only to float tolerance, not
bit for bit, sweeps batch only when asked (``--batched K``), on any device. Results
carry ``versions["trainer"] == "batched"``, and ``nasrepro reproduce`` then compares
with the table within seed noise instead of bitwise.

``epoch_time_s`` of a batched result is the wall time of the batched epoch divided by
``K``, the amortised share of each model.

Example:
    >>> from nasrepro.bench.batched import train_batched
    >>> results = train_batched(
    ...     ["|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    ...      "|skip_connect~0|+|nor_conv_1x1~0|none~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"],
    ...     "synthetic-smoke", seeds=[0, 1], static=False)
    >>> [r.seed for r in results]
    [0, 1]
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nasrepro.bench.nn import (
    CellModule,
    Network,
    _AvgPool3Seq,
    _Pool,
    _PoolRepeat,
    compile,
    count_params,
)
from nasrepro.bench.protocol import Protocol, get_protocol
from nasrepro.bench.train import (
    _augment,
    _device_name,
    _flops,
    _latency,
    deterministic,
    get_splits,
    prepare,
    resolve_spec,
    versions,
)
from nasrepro.spaces import Architecture, BlockKind, CellSpec, NetworkSpec, Op, get_space
from nasrepro.tables import METRIC_NAMES, TrialResult

__all__ = [
    "BatchedNetwork",
    "BatchedRun",
    "fit_batched",
    "train_batched",
    "group_cells",
    "batch_waste",
    "BATCHED_SPACES",
]

logger = logging.getLogger(__name__)

#: Spaces whose architectures share one skeleton and edge list, so they can be batched.
BATCHED_SPACES = ("cell",)

#: Ops a batched cell edge can hold (NAS-Bench-201's vocabulary).
_CELL_OPS = (Op.NONE, Op.SKIP, Op.CONV1X1, Op.CONV3X3, Op.AVGPOOL3X3)

#: Rough relative cost of an op on a cell edge (kernel taps of its convolution, 1-D),
#: used by :func:`batch_waste` and :func:`group_cells`.
_OP_COST = {Op.CONV3X3: 3.0, Op.CONV1X1: 1.0, Op.AVGPOOL3X3: 0.1, Op.SKIP: 0.0}

#: Samples times models of one evaluation forward pass (bounds evaluation memory).
_EVAL_SAMPLE_MODELS = 1 << 16


class _Links:
    """Where each single model's tensors live inside the stacked ones.

    A stacked tensor holds K equal blocks along dim 0, block ``i`` being model ``i``'s
    tensor, reshaped. Each link is ``(stacked, start, stop, single)``: rows
    ``start:stop`` of ``stacked`` hold ``single``.
    """

    def __init__(self) -> None:
        self.links: list[tuple[torch.Tensor, int, int, torch.Tensor]] = []

    def fill(self, stacked: torch.Tensor, parts: Sequence[torch.Tensor | None]) -> None:
        """Copy ``parts[i]`` into block ``i`` of ``stacked`` and remember where it went."""
        rows = stacked.shape[0] // len(parts)
        with torch.no_grad():
            for i, part in enumerate(parts):
                if part is None:
                    continue
                block = stacked[i * rows : (i + 1) * rows]
                if part.numel() != block.numel():
                    raise ValueError(
                        f"cannot stack a tensor of shape {tuple(part.shape)} into blocks of "
                        f"shape {tuple(block.shape)}"
                    )
                block.copy_(part.detach().reshape(block.shape))
                self.links.append((stacked, i * rows, (i + 1) * rows, part))

    def export(self) -> None:
        """Copy every stacked block back into its single-model tensor."""
        with torch.no_grad():
            for stacked, start, stop, single in self.links:
                single.copy_(stacked[start:stop].reshape(single.shape).to(single.device))


def _tensor(m: nn.Module | None, name: str) -> torch.Tensor | None:
    """Parameter or buffer ``name`` of ``m`` (``None`` when ``m`` is)."""
    if m is None:
        return None
    t = getattr(m, name)
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{type(m).__name__}.{name} is not a tensor")
    return t


def _first(mods: Sequence[nn.Module | None]) -> nn.Module:
    for m in mods:
        if m is not None:
            return m
    raise ValueError("cannot stack a list of modules that are all None")


class _GConv(nn.Module):
    """K convolutions as one grouped convolution.

    Input ``(B, K * c_in, *spatial)``, output ``(B, K * c_out, *spatial')``.
    """

    def __init__(self, convs: Sequence[nn.Module | None], links: _Links) -> None:
        super().__init__()
        ref = _first(convs)
        if not isinstance(ref, nn.Conv1d | nn.Conv2d):
            raise TypeError(f"expected a convolution, got {type(ref).__name__}")
        for c in convs:
            if c is not None and (
                not isinstance(c, type(ref))
                or c.weight.shape != ref.weight.shape
                or (c.stride, c.padding, c.groups) != (ref.stride, ref.padding, ref.groups)
                or c.bias is not None
            ):
                raise ValueError(f"convolutions differ across models: {c} vs {ref}")
        if ref.groups != 1 or ref.bias is not None or ref.padding_mode != "zeros":
            raise ValueError(f"cannot stack {ref}: only plain bias-free convolutions")
        self.k = len(convs)
        self.dims = ref.weight.ndim - 2
        self.stride = ref.stride
        self.padding = ref.padding
        self.weight = nn.Parameter(
            torch.zeros((self.k * ref.weight.shape[0], *ref.weight.shape[1:]))
        )
        links.fill(self.weight, [_tensor(c, "weight") for c in convs])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = F.conv1d if self.dims == 1 else F.conv2d
        return conv(x, self.weight, None, self.stride, self.padding, 1, self.k)


class _GBatchNorm(nn.Module):
    """K BatchNorms as one BatchNorm over the ``K * c`` stacked channels.

    Models without a module (``None``) get weight 1, bias 0 and unit running variance.
    """

    running_mean: torch.Tensor
    running_var: torch.Tensor

    def __init__(self, bns: Sequence[nn.Module | None], links: _Links) -> None:
        super().__init__()
        ref = _first(bns)
        if not isinstance(ref, nn.BatchNorm1d | nn.BatchNorm2d):
            raise TypeError(f"expected a BatchNorm, got {type(ref).__name__}")
        if not (ref.affine and ref.track_running_stats) or ref.momentum is None:
            raise ValueError(f"cannot stack {ref}: needs affine, running stats and a momentum")
        c = ref.num_features
        for b in bns:
            if b is not None and (
                not isinstance(b, type(ref))
                or (b.num_features, b.eps, b.momentum) != (c, ref.eps, ref.momentum)
            ):
                raise ValueError(f"BatchNorms differ across models: {b} vs {ref}")
        k = len(bns)
        self.eps, self.momentum = float(ref.eps), float(ref.momentum)
        self.weight = nn.Parameter(torch.ones(k * c))
        self.bias = nn.Parameter(torch.zeros(k * c))
        self.register_buffer("running_mean", torch.zeros(k * c))
        self.register_buffer("running_var", torch.ones(k * c))
        for name in ("weight", "bias", "running_mean", "running_var"):
            links.fill(getattr(self, name), [_tensor(b, name) for b in bns])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training,
            self.momentum,
            self.eps,
        )


class _GHead(nn.Module):
    """K linear heads as one batched matrix product: ``(B, K * c) -> (K, B, n_classes)``.

    ``baddbmm`` runs each model's product as ``F.linear`` does, bit for bit on CPU.
    """

    def __init__(self, linears: Sequence[nn.Linear], links: _Links) -> None:
        super().__init__()
        ref = linears[0]
        for lin in linears:
            if lin.weight.shape != ref.weight.shape or lin.bias is None:
                raise ValueError(f"linear heads differ across models: {lin} vs {ref}")
        self.k, self.n_in = len(linears), ref.in_features
        self.weight = nn.Parameter(torch.zeros(self.k, ref.out_features, ref.in_features))
        self.bias = nn.Parameter(torch.zeros(self.k, 1, ref.out_features))
        links.fill(self.weight, [lin.weight for lin in linears])
        links.fill(self.bias, [lin.bias for lin in linears])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xk = x.view(x.shape[0], self.k, self.n_in).transpose(0, 1)  # (K, B, c)
        return torch.baddbmm(self.bias, xk, self.weight.transpose(1, 2))


def _stack(mods: Sequence[nn.Module | None], links: _Links) -> nn.Module:
    """The stacked version of K structurally equal modules (``None``: model absent).

    Handles what the compiler builds for NAS-Bench-201 ops and reductions:
    sequentials, bias-free convolutions, BatchNorms and parameter-free modules that
    act on each channel alone (ReLU, identity, average pooling).
    """
    ref = _first(mods)
    for m in mods:
        if m is not None and type(m) is not type(ref):
            raise ValueError(
                f"modules differ across models: {type(m).__name__} vs {type(ref).__name__}"
            )
    if isinstance(ref, nn.Sequential):
        n = len(ref)
        if any(m is not None and len(m) != n for m in mods):  # type: ignore[arg-type]
            raise ValueError("sequentials of different lengths cannot be stacked")
        return nn.Sequential(
            *(_stack([None if m is None else m[i] for m in mods], links) for i in range(n))  # type: ignore[index]
        )
    if isinstance(ref, nn.Conv1d | nn.Conv2d):
        return _GConv(mods, links)
    if isinstance(ref, nn.BatchNorm1d | nn.BatchNorm2d):
        return _GBatchNorm(mods, links)
    if _channelwise(ref):
        return ref
    if isinstance(ref, _Pool) and ref.preprocess is None:
        return _stack([m.op if isinstance(m, _Pool) else None for m in mods], links)
    raise TypeError(f"batched training cannot stack a {type(ref).__name__}")


def _channelwise(m: nn.Module) -> bool:
    """Parameter-free modules that act on each channel alone."""
    kinds: tuple[type[nn.Module], ...] = (
        nn.ReLU,
        nn.Identity,
        nn.AvgPool1d,
        nn.AvgPool2d,
        nn.AdaptiveAvgPool1d,
        nn.AdaptiveAvgPool2d,
        _AvgPool3Seq,
    )
    return isinstance(m, kinds)


#: An op whose users fill less than this share of their model range is computed on
#: a gathered copy of its users' channels instead of on the whole range.
_GATHER_BELOW = 0.75


def _users_plan(who: Sequence[int]) -> tuple[int, int, bool]:
    """``(start, stop, gather)`` for an op used by models ``who`` (ascending)."""
    start, stop = who[0], who[-1] + 1
    return start, stop, len(who) < _GATHER_BELOW * (stop - start)


@dataclass(frozen=True)
class _EdgeOp:
    """One op of a batched edge.

    It runs on the channels of models ``start <= k < stop`` (masked when some of them
    do not use it) or, when ``gathered``, on a copy of its users' channels only.
    """

    op: Op
    start: int
    stop: int
    index: int  # position in the edge's ModuleList
    masked: bool
    gathered: bool


class _BatchedCell(nn.Module):
    """K cells with the same edge list and (possibly) different ops per edge.

    Input and output ``(B, K * c, *spatial)``.
    """

    def __init__(
        self,
        cells: Sequence[CellModule],
        specs: Sequence[CellSpec],
        c: int,
        dims: int,
        links: _Links,
    ) -> None:
        super().__init__()
        k = len(cells)
        self.k, self.c, self.n_nodes = k, c, specs[0].n_nodes
        pairs = [(s, d) for s, d, _ in specs[0].edges]
        live = [set(spec.live_edges()) for spec in specs]
        self.ops = nn.ModuleList()
        self.plan: list[tuple[int, int, list[_EdgeOp]]] = []  # (src, dst, ops) per edge
        for e, (src, dst) in enumerate(pairs):
            users: dict[Op, list[int]] = {}
            for m, spec in enumerate(specs):
                edge = spec.edges[e]
                if edge in live[m]:
                    users.setdefault(edge[2], []).append(m)
            edge_mods = nn.ModuleList()
            entries: list[_EdgeOp] = []
            for op in _CELL_OPS:  # a fixed op order, whatever the models
                if op not in users:
                    continue
                who = users[op]
                start, stop, gathered = _users_plan(who)
                members = who if gathered else range(start, stop)
                parts = [cells[m].layers[e] if m in who else None for m in members]
                edge_mods.append(_stack(parts, links))
                masked = not gathered and len(who) != stop - start
                if gathered:
                    self.register_buffer(f"users_{e}_{op.value}", torch.tensor(who))
                if masked:  # one-hot op choice of each model in the range, per channel
                    keep = torch.zeros(stop - start, c)
                    keep[[m - start for m in who]] = 1.0
                    self.register_buffer(f"keep_{e}_{op.value}", keep.reshape(1, -1, *[1] * dims))
                entries.append(_EdgeOp(op, start, stop, len(edge_mods) - 1, masked, gathered))
            self.ops.append(edge_mods)
            self.plan.append((src, dst, entries))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes: dict[int, torch.Tensor] = {0: x}
        b, spatial = x.shape[0], x.shape[2:]
        for dst in range(1, self.n_nodes):
            parts: list[_Part] = []
            ys: list[torch.Tensor] = []
            for e, (src, d, entries) in enumerate(self.plan):
                if d != dst or src not in nodes:
                    continue
                for entry in entries:
                    name = f"{e}_{entry.op.value}"
                    lo, hi = entry.start * self.c, entry.stop * self.c
                    idx = getattr(self, f"users_{name}") if entry.gathered else None
                    if idx is None:
                        xin = nodes[src][:, lo:hi]
                    else:
                        xin = nodes[src].view(b, self.k, self.c, *spatial).index_select(1, idx)
                        xin = xin.view(b, -1, *spatial)
                    ys.append(self.ops[e][entry.index](xin))  # type: ignore[index]
                    keep = getattr(self, f"keep_{name}") if entry.masked else None
                    parts.append((lo, hi, keep, idx))
            if ys:
                nodes[dst] = _NodeSum.apply(x, self.k, parts, *ys)
        out = nodes.get(self.n_nodes - 1)
        return torch.zeros_like(x) if out is None else out


#: ``(lo, hi, keep, users)`` of one op output summed into a node: its channel range and
#: mask, or (when ``users`` is set) the models whose channels it holds, in order.
_Part = tuple[int, int, torch.Tensor | None, torch.Tensor | None]


class _NodeSum(torch.autograd.Function):
    """A node of K stacked cells: the sum of op outputs that each cover some models.

    Into zeros shaped like ``like`` ``(B, K * c, *spatial)``, in order, each output ``y``
    is added at its channel range (``out[:, lo:hi] += y * keep``) or at its users'
    channels. Each model adds its own ops' outputs and exact zeros, in edge order, so
    its node is summed as in single-model training. Backward hands each output its
    part of the gradient (a view, for ranges without a mask).
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, like: torch.Tensor, k: int, parts: list[_Part], *ys: torch.Tensor
    ) -> torch.Tensor:
        ctx.parts, ctx.k = parts, k
        out = torch.zeros_like(like)
        per_model = out.view(out.shape[0], k, -1, *out.shape[2:])
        for (lo, hi, keep, users), y in zip(parts, ys, strict=True):
            if users is not None:
                per_model.index_add_(1, users, y.view(y.shape[0], len(users), -1, *y.shape[2:]))
            elif keep is None:
                out[:, lo:hi].add_(y)
            else:
                out[:, lo:hi].addcmul_(y, keep)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        b, spatial = grad.shape[0], grad.shape[2:]
        per_model = grad.view(b, ctx.k, -1, *spatial)
        grads = []
        for lo, hi, keep, users in ctx.parts:
            if users is not None:
                grads.append(per_model.index_select(1, users).view(b, -1, *spatial))
            else:
                grads.append(grad[:, lo:hi] if keep is None else grad[:, lo:hi] * keep)
        return (None, None, None, *grads)


class _BatchedResBlock(nn.Module):
    """K NAS-Bench-201 residual reduction blocks, stacked."""

    def __init__(self, blocks: Sequence[nn.Module], links: _Links) -> None:
        super().__init__()
        self.conv_a = _stack([b.conv_a for b in blocks], links)  # type: ignore[misc]
        self.conv_b = _stack([b.conv_b for b in blocks], links)  # type: ignore[misc]
        down = [b.downsample for b in blocks]
        self.downsample = None if down[0] is None else _stack(down, links)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        return residual + self.conv_b(self.conv_a(x))


class _BatchedPoolRepeat(nn.Module):
    """K parameter-free ``POOL`` reductions: AvgPool(2), then each model's channels repeated."""

    def __init__(self, block: nn.Module, k: int) -> None:
        super().__init__()
        if not isinstance(block, _PoolRepeat):
            raise TypeError(f"not a 'pool' reduction block: {block}")
        self.pool, self.repeats = block.pool, block.repeats
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(x)
        if self.repeats == 1:
            return x
        b, kc, *spatial = x.shape
        y = x.reshape(b, self.k, kc // self.k, *spatial).repeat_interleave(self.repeats, dim=2)
        return y.reshape(b, kc * self.repeats, *spatial)


class BatchedNetwork(nn.Module):
    """K compiled cell-space networks as one stacked module.

    Args:
        nets: The K single networks from :func:`nasrepro.bench.nn.compile` (their
            parameters are copied in, and :meth:`export` copies them back).
        specs: Their specs; they must share the skeleton and the cells' edge list.

    Input ``(B, K * in_channels, *spatial)`` (model ``k`` reads channels
    ``[k * in_channels, (k + 1) * in_channels)``), output ``(K, B, num_classes)``.
    """

    def __init__(self, nets: Sequence[Network], specs: Sequence[NetworkSpec]) -> None:
        super().__init__()
        if len(nets) != len(specs) or not nets:
            raise ValueError(f"need as many specs as networks, got {len(nets)=}, {len(specs)=}")
        _check_stackable(specs)
        self.k = len(nets)
        self._links = _Links()
        self._nets = list(nets)  # not submodules: export() writes into them
        links = self._links
        dims = nets[0].dims
        self.stem = _stack([n.stem for n in nets], links)
        blocks: list[nn.Module] = []
        for i, b in enumerate(specs[0].blocks):
            mods = [n.cells[i] for n in nets]
            if b.kind is BlockKind.CELL:
                cells = [s.blocks[i].cell for s in specs]
                blocks.append(_BatchedCell(mods, cells, b.c_out, dims, links))  # type: ignore[arg-type]
            elif b.kind is BlockKind.RESBLOCK:
                blocks.append(_BatchedResBlock(mods, links))
            elif b.kind is BlockKind.POOLREDUCE:
                blocks.append(_stack(mods, links))
            elif b.kind is BlockKind.POOL:
                blocks.append(_BatchedPoolRepeat(mods[0], self.k))
            else:
                raise ValueError(f"batched training has no stacked form of block kind {b.kind}")
        self.cells = nn.ModuleList(blocks)
        self.lastact = _stack([n.lastact for n in nets], links)
        self.global_pooling = nets[0].global_pooling
        self.classifier = _GHead([n.classifier for n in nets], links)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        x = self.global_pooling(self.lastact(x))
        return self.classifier(x.flatten(1))

    def shared(self, x: torch.Tensor) -> torch.Tensor:
        """Run every model on one input ``(B, in_channels, *spatial)`` -> ``(K, B, n_classes)``."""
        return self(x.repeat(1, self.k, *([1] * (x.ndim - 2))))

    def export(self) -> list[Network]:
        """The K single networks, with the stacked (trained) parameters copied back in.

        Their BatchNorm ``num_batches_tracked`` counters are not updated (the protocol's
        BatchNorm momentum is fixed, so they play no part in the computation).
        """
        self._links.export()
        return self._nets


def _check_stackable(specs: Sequence[NetworkSpec]) -> None:
    """Raise ``ValueError`` unless all specs are cell-space networks of one skeleton."""
    ref = specs[0]
    for s in specs:
        if s.space not in BATCHED_SPACES:
            raise ValueError(
                f"batched training needs architectures of the spaces {BATCHED_SPACES}, whose "
                f"cells share one skeleton; got space {s.space!r} ({s.arch!r}); train it with "
                "nasrepro.bench.train.train instead"
            )
        shape = [(b.kind, b.c_in, b.c_out, b.stride) for b in s.blocks]
        if s.stem_channels != ref.stem_channels or shape != [
            (b.kind, b.c_in, b.c_out, b.stride) for b in ref.blocks
        ]:
            raise ValueError(
                f"{s.arch!r} has another macro skeleton than {ref.arch!r}; batch only "
                "architectures lowered with the same protocol"
            )
        for b, rb in zip(s.blocks, ref.blocks, strict=True):
            if b.cell is None or rb.cell is None:
                continue
            if b.c_in != b.c_out or b.stride != 1:
                raise ValueError(
                    f"cannot batch a cell block with {b.c_in=}, {b.c_out=}, {b.stride=}"
                )
            if [e[:2] for e in b.cell.edges] != [e[:2] for e in rb.cell.edges]:
                raise ValueError(f"{s.arch!r} and {ref.arch!r} have cells with different edges")
            bad = [op for _, _, op in b.cell.edges if op not in _CELL_OPS]
            if bad:
                raise ValueError(f"{s.arch!r} has ops {bad} outside {[o.value for o in _CELL_OPS]}")


# ----------------------------------------------------------------------------- grouping


def _edge_ops(spec: NetworkSpec) -> tuple[Op, ...]:
    """The op on each edge of the first cell, ``none`` for edges cut off from the output."""
    cell = next(b.cell for b in spec.blocks if b.cell is not None)
    live = set(cell.live_edges())
    return tuple(e[2] if e in live else Op.NONE for e in cell.edges)


def _lower_all(archs: Sequence[str | Architecture], space: str) -> list[NetworkSpec]:
    sp = get_space(space)
    out = []
    for a in archs:
        arch = sp.parse(a) if isinstance(a, str) else a
        out.append(sp.lower(arch, C=1, N=1))
    return out


def batch_waste(archs: Sequence[str | Architecture], *, space: str = "cell") -> float:
    """Fraction of a batch's cell-edge compute that no model keeps.

    An op on an edge is computed for the contiguous range of models covering its
    users (in the given order), and models in the range that do not use it are waste;
    unless its users fill less than 3/4 of the range, in which case their channels are
    gathered (a copy, but no wasted compute). Ops are weighted by a rough cost (conv
    3x3: 3, conv 1x1: 1, pooling: 0.1).

    Returns:
        A number in ``[0, 1)``; 0 when nothing is computed in vain.
    """
    ops = [_edge_ops(s) for s in _lower_all(archs, space)]
    done = kept = 0.0
    for e in range(len(ops[0]) if ops else 0):
        for op, cost in _OP_COST.items():
            who = [m for m, o in enumerate(ops) if o[e] is op]
            if who:
                start, stop, gathered = _users_plan(who)
                done += cost * (len(who) if gathered else stop - start)
                kept += cost * len(who)
    return 0.0 if done == 0 else 1.0 - kept / done


def group_cells(
    archs: Sequence[str | Architecture], k: int, *, space: str = "cell"
) -> list[list[int]]:
    """Cut ``archs`` into batches of at most ``k``, ordered to waste little compute.

    Cells are sorted by the op on each live edge (dead edges count as ``none``),
    edges in order and ops by decreasing cost, so that the cells of a batch share
    ops on the leading edges and each op's range of users stays short. Ties keep the
    given order.

    Args:
        archs: Architectures (objects or strings of ``space``).
        k: Largest batch size.
        space: Space of string architectures.

    Returns:
        Lists of indices into ``archs``; every index appears exactly once.

    Example:
        >>> group_cells(["|nor_conv_3x3~0|+|none~0|none~1|+|none~0|nor_conv_3x3~1|none~2|",
        ...              "|skip_connect~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|",
        ...              "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|avg_pool_3x3~1|none~2|"], 2)
        [[0, 2], [1]]
    """
    if k < 1:
        raise ValueError(f"batch size must be positive, got {k=}")
    rank = {op: r for r, op in enumerate(sorted(_OP_COST, key=lambda o: -_OP_COST[o]))}
    rank[Op.NONE] = len(rank)
    keys = [tuple(rank[o] for o in _edge_ops(s)) for s in _lower_all(archs, space)]
    order = sorted(range(len(keys)), key=lambda i: keys[i])
    return [order[i : i + k] for i in range(0, len(order), k)]


# ----------------------------------------------------------------------------- training


@dataclass
class BatchedRun:
    """What :func:`fit_batched` returns: one result per model, and the trained module."""

    results: list[TrialResult]
    model: BatchedNetwork


def _stack_inputs(x: torch.Tensor) -> torch.Tensor:
    """``(K, B, c, *spatial)`` -> ``(B, K * c, *spatial)``."""
    k, b, c, *spatial = x.shape
    return x.transpose(0, 1).reshape(b, k * c, *spatial)


def _cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy ``(K, B)`` of logits ``(K, B, n_classes)`` and labels ``(K, B)``.

    Each row goes through the same log-softmax kernel as in single-model training, so
    the gradients match it bit for bit.
    """
    k, b, n = logits.shape
    return F.cross_entropy(logits.reshape(k * b, n), y.reshape(k * b), reduction="none").view(k, b)


def _autocast(device: torch.device, amp: bool) -> contextlib.AbstractContextManager[None]:
    if not amp:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


@torch.no_grad()
def _evaluate(
    model: BatchedNetwork, x: torch.Tensor, y: torch.Tensor, bs: int, amp: bool
) -> tuple[list[float], list[float]]:
    """Per-model mean cross-entropy and accuracy (percent), each a list of length K."""
    model.eval()
    loss = torch.zeros(model.k, dtype=torch.float64, device=x.device)
    correct = torch.zeros(model.k, dtype=torch.long, device=x.device)
    for i in range(0, len(y), bs):
        with _autocast(x.device, amp):
            logits = model.shared(x[i : i + bs]).float()  # (K, b, n_classes)
        yb = y[i : i + bs].expand(model.k, -1)  # (K, b)
        loss += _cross_entropy(logits, yb).sum(1).double()
        correct += (logits.argmax(2) == yb).sum(1)
    return (loss / len(y)).tolist(), (100.0 * correct.double() / len(y)).tolist()


def fit_batched(
    archs: Sequence[Architecture | NetworkSpec | str],
    protocol: Protocol | str,
    seeds: int | Sequence[int],
    device: str = "cpu",
    *,
    space: str | None = None,
    data_root: str | None = None,
    amp: bool = False,
    static: bool = True,
) -> BatchedRun:
    """Train K cells together; like :func:`train_batched`, but also returns the module.

    See :func:`train_batched` for the arguments.
    """
    p = get_protocol(protocol)
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was requested but CUDA is not available; use cpu")
    if not archs:
        raise ValueError("no architectures given to train_batched")
    seed_list = [int(seeds)] * len(archs) if isinstance(seeds, int) else [int(s) for s in seeds]
    if len(seed_list) != len(archs):
        raise ValueError(f"need one seed per architecture, got {len(seed_list)=}, {len(archs)=}")
    resolved = [resolve_spec(a, p, space) for a in archs]
    specs = [r[0] for r in resolved]
    for _, arch_str, space_name in resolved:
        if space_name not in BATCHED_SPACES:
            raise ValueError(
                f"batched training supports the spaces {BATCHED_SPACES} (one shared skeleton); "
                f"{arch_str!r} is from {space_name!r}; train it with nasrepro.bench.train.train"
            )
    _check_stackable(specs)
    data = prepare(get_splits(p, data_root), dev)
    dims = data.x_train.ndim - 2
    if p.augment == "crop_flip" and dims != 2:
        raise ValueError(f"augment 'crop_flip' needs 2-D data; {p.dataset} is {dims}-D")

    deterministic(dev)
    nets = []
    for spec, seed in zip(specs, seed_list, strict=True):
        torch.manual_seed(seed)  # the draws of single-model training, model by model
        nets.append(compile(spec, data.x_train.shape[1], data.num_classes, dims))
    model = BatchedNetwork(nets, specs).to(dev)
    k = model.k
    gens = [torch.Generator().manual_seed(s) for s in seed_list]
    logger.info("training %d cells as one batched module on %s", k, dev)

    n = len(data.y_train)
    bs = p.batch_size
    steps_per_epoch = n // bs
    total_steps = steps_per_epoch * p.epochs
    eval_bs = max(1, min(p.eval_batch_size, max(bs, _EVAL_SAMPLE_MODELS // k)))
    opt = torch.optim.SGD(
        model.parameters(),
        lr=p.lr,
        momentum=p.momentum,
        nesterov=p.nesterov,
        weight_decay=p.weight_decay,
    )
    history: list[dict[str, list[float]]] = [{m: [] for m in METRIC_NAMES} for _ in range(k)]
    step = 0
    for _epoch in range(p.epochs):
        model.train()
        t0 = time.perf_counter()
        perm = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(dev)  # (K, n)
        loss_sum = torch.zeros(k, device=dev)
        correct = torch.zeros(k, dtype=torch.long, device=dev)
        for b in range(steps_per_epoch):
            for g in opt.param_groups:
                g["lr"] = 0.5 * p.lr * (1.0 + math.cos(math.pi * step / total_steps))
            idx = perm[:, b * bs : (b + 1) * bs]  # (K, B)
            xs, y = data.x_train[idx], data.y_train[idx]  # (K, B, c, *spatial), (K, B)
            if p.augment == "crop_flip":
                xs = torch.stack([_augment(xs[m], gens[m]) for m in range(k)])
            with _autocast(dev, amp):
                logits = model(_stack_inputs(xs)).float()  # (K, B, n_classes)
            losses = _cross_entropy(logits, y).mean(1)  # (K,)
            opt.zero_grad(set_to_none=True)
            losses.sum().backward()
            opt.step()
            loss_sum += losses.detach() * bs
            correct += (logits.detach().argmax(2) == y).sum(1)
            step += 1
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        epoch_time = (time.perf_counter() - t0) / k
        seen = steps_per_epoch * bs
        vl, va = _evaluate(model, data.x_valid, data.y_valid, eval_bs, amp)
        tl, ta = _evaluate(model, data.x_test, data.y_test, eval_bs, amp)
        tr_loss = (loss_sum.double() / seen).tolist()
        tr_acc = (100.0 * correct.double() / seen).tolist()
        for m in range(k):
            row = {
                "train_loss": tr_loss[m],
                "train_acc": tr_acc[m],
                "valid_loss": vl[m],
                "valid_acc": va[m],
                "test_loss": tl[m],
                "test_acc": ta[m],
                "epoch_time_s": epoch_time,
            }
            for key, v in row.items():
                history[m][key].append(v)

    singles = model.export() if static else nets
    vers = versions() | {"trainer": "batched"} | ({"amp": "bfloat16"} if amp else {})
    results = []
    for m, (net, (_, arch_str, space_name)) in enumerate(zip(singles, resolved, strict=True)):
        flops, latency = 0, float("nan")
        if static:
            net.to(dev)
            flops = _flops(net, data.x_valid[:1])
            latency = _latency(net, data.x_valid[: p.eval_batch_size])
            net.to("cpu")
        results.append(
            TrialResult(
                arch=arch_str,
                space=space_name,
                seed=seed_list[m],
                protocol_id=p.id,
                device=dev.type,
                history=history[m],
                params=count_params(net),
                flops=flops,
                latency_s=latency,
                versions=vers,
                device_name=_device_name(dev),
            )
        )
    return BatchedRun(results, model)


def train_batched(
    archs: Sequence[Architecture | NetworkSpec | str],
    protocol: Protocol | str,
    seeds: int | Sequence[int],
    device: str = "cpu",
    *,
    space: str | None = None,
    data_root: str | None = None,
    amp: bool = False,
    static: bool = True,
) -> list[TrialResult]:
    """Train K cells of the cell space under ``protocol`` together, as one stacked module.

    Each model ``k`` starts from the parameters that ``train(archs[k], protocol,
    seeds[k])`` would draw, sees the same batches in the same order, and gets the
    same per-epoch metrics up to float rounding.

    Args:
        archs: K architectures of the ``cell`` space (objects, strings with ``space``,
            or lowered specs); other spaces raise ``ValueError``.
        protocol: A :class:`Protocol` or a registered name.
        seeds: One seed for all models, or one per model.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:K"``.
        space: Space name when ``archs`` are strings (default ``"cell"``).
        data_root: Dataset root, for datasets read from disk (CIFAR-10).
        amp: Run forward passes under bfloat16 autocast. Off by default: it changes
            the numbers (results then carry ``versions["amp"]``).
        static: Also measure FLOPs and latency of each trained single network.

    Returns:
        One :class:`~nasrepro.tables.TrialResult` per architecture, in order.
        ``epoch_time_s`` is the batched epoch's wall time divided by K.
    """
    run = fit_batched(
        archs,
        protocol,
        seeds,
        device,
        space=space,
        data_root=data_root,
        amp=amp,
        static=static,
    )
    return run.results
