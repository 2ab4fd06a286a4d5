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

Every model starts from the parameters that :func:`nasrepro.bench.harness._train.train` draws
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
    >>> from nasrepro.bench.harness import train_batched
    >>> results = train_batched(
    ...     ["|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    ...      "|skip_connect~0|+|nor_conv_1x1~0|none~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"],
    ...     "synthetic-smoke", seeds=[0, 1], static=False)
    >>> [r.seed for r in results]
    [0, 1]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nasrepro.bench.harness._compiler import (
    CellModule,
    GlobalAvgPool,
    Network,
    _AvgPool3Seq,
    _Pool,
    _PoolRepeat,
)
from nasrepro.spaces import BlockKind, CellSpec, NetworkSpec, Op
from nasrepro.spaces._errors import ConfigError

__all__ = ["BatchedNetwork", "BATCHED_SPACES"]

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
        GlobalAvgPool,
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
        nets: The K single networks from :func:`nasrepro.bench.harness._compiler.compile_network` (their
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
            raise ConfigError(
                f"batched training needs architectures of the spaces {BATCHED_SPACES}, whose "
                f"cells share one skeleton; got space {s.space!r} ({s.arch!r}); train it with "
                "nasrepro.bench.harness._train.train instead"
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
