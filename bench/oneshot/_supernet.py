"""A weight-sharing supernet compiled from the IR.

The supernet is the protocol's macro skeleton (stem, stages, reductions, head) as
:func:`~nasrepro.bench.harness.compile_network` builds it, with every cell block
replaced by a :class:`SuperCell`: each edge holds one module per candidate op, built by
the compiler's own :func:`~nasrepro.bench.harness._compiler.make_op`. Which ops an edge
offers is read from the space, not assumed: decision ``e`` of ``space.decisions()`` set
to choice ``k`` must lower to a cell whose edge ``e`` carries op ``k`` and nothing else
changes (:func:`candidate_ops`). A space whose decisions do not map onto cell edges
this way has no one-shot form and is refused.

All cells share one architecture (one logit vector per edge), as in DARTS and in
NAS-Bench-201's search models. Four ways to run a forward pass, set before calling:

* :meth:`Supernet.set_path` ``(codes)``: one op per edge (uniform single-path for RSPS
  and SETN's weight steps, a policy sample for ENAS). Edges that cannot reach the output
  are skipped exactly as the compiler skips them, so the supernet on a path computes
  what the stand-alone network computes with the same weights.
* :meth:`Supernet.set_weights` ``(w)``: every edge is ``sum_k w[e, k] * op_k(x)``
  (DARTS' continuous relaxation, SETN's arch step).
* :meth:`Supernet.set_hard` ``(h, index)``: GDAS' straight-through Gumbel sample; only
  op ``index[e]`` is computed, and the other entries of ``h`` (zero in the forward pass)
  enter as constants so that the gradient reaches every logit.

BatchNorm always normalizes with the batch's statistics (``track_running_stats`` off),
as NAS-Bench-201's search models do: running statistics averaged over different paths
describe no single cell. Adapted: the BN layers stay affine, unlike DARTS' search cells
and NAS-Bench-201's search models (``"affine": False`` in ``DARTS-V1.py``, ``GDAS.py``
and ``ENAS.py`` of ``exps/NAS-Bench-201-algos``), so that the supernet's modules are
exactly the compiler's and a path can be copied into a stand-alone network
(:meth:`Supernet.extract`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from nasrepro.bench.harness._compiler import CellModule, Network, compile_network, make_op
from nasrepro.spaces import BlockKind, CellSpec, NetworkSpec, Op, SearchSpace
from nasrepro.spaces._errors import ConfigError
from nasrepro.tables import Protocol

__all__ = ["Supernet", "SuperCell", "candidate_ops"]


def candidate_ops(
    space: SearchSpace[Any], macro: dict[str, Any]
) -> tuple[CellSpec, list[list[Op]]]:
    """The template cell of ``space`` and the IR op of each choice of each edge.

    Lowers the all-zero choice and, for every decision ``e`` and choice ``k``, the
    architecture that differs from it only there; the lowered cell must differ only
    in the op of edge ``e``.

    Raises:
        ConfigError: The space has no fixed-length categorical view, or its decisions
            are not one op per cell edge (no one-shot form).
    """
    dec = space.decisions()
    if dec is None:
        raise ConfigError(
            f"space {space.name!r} has no categorical view (decisions() is None), so it has "
            "no one-shot form; the one-shot track runs on the cell space"
        )

    def cell_of(codes: np.ndarray) -> CellSpec:
        spec = space.lower(dec.from_codes(codes), **macro)
        cells = [b.cell for b in spec.blocks if b.kind is BlockKind.CELL]
        if not cells or any(c != cells[0] for c in cells):
            raise ConfigError(
                f"space {space.name!r} does not repeat one cell in every cell block, so it "
                "has no one-shot form; the one-shot track runs on the cell space"
            )
        assert cells[0] is not None
        return cells[0]

    base_codes = np.zeros(dec.n_decisions, dtype=np.int64)
    template = cell_of(base_codes)
    if len(template.edges) != dec.n_decisions:
        raise ConfigError(
            f"space {space.name!r} has {dec.n_decisions} decisions but its cell has "
            f"{len(template.edges)} edges; the one-shot supernet needs one op per edge"
        )
    ops: list[list[Op]] = []
    for e in range(dec.n_decisions):
        row = []
        for k in range(int(dec.n_choices[e])):
            codes = base_codes.copy()
            codes[e] = k
            cell = cell_of(codes)
            for j, (a, b) in enumerate(zip(cell.edges, template.edges, strict=True)):
                if a[:2] != b[:2] or (j != e and a[2] is not b[2]):
                    raise ConfigError(
                        f"space {space.name!r}: decision {dec.names[e]!r} does not map to "
                        "one cell edge, so it has no one-shot form"
                    )
            row.append(cell.edges[e][2])
        ops.append(row)
    return template, ops


class _MixedEdge(nn.Module):
    def __init__(self, ops: Sequence[Op], dims: int, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.ops = nn.ModuleList(make_op(op, dims, c_in, c_out, stride) for op in ops)


class SuperCell(nn.Module):
    """One cell block of the supernet: every edge is a :class:`_MixedEdge`."""

    def __init__(
        self, template: CellSpec, ops: list[list[Op]], dims: int, c_in: int, c_out: int, stride: int
    ) -> None:
        super().__init__()
        if any(a[1] > b[1] for a, b in zip(template.edges, template.edges[1:], strict=False)):
            raise ConfigError("the supernet needs the cell's edges sorted by destination node")
        self.template = template
        self.edge_ops = ops
        self.edges = nn.ModuleList(
            _MixedEdge(row, dims, c_in if src == 0 else c_out, c_out, stride if src == 0 else 1)
            for (src, _, _), row in zip(template.edges, ops, strict=True)
        )
        self.n_nodes, self.c_out, self.stride = template.n_nodes, c_out, stride
        self._plans: dict[tuple[int, ...], list[tuple[int, list[tuple[int, int]]]]] = {}

    def plan(self, codes: tuple[int, ...]) -> list[tuple[int, list[tuple[int, int]]]]:
        """``(dst, [(src, edge)])`` over the live edges of the path ``codes``, as
        :class:`~nasrepro.bench.harness.CellModule` orders them."""
        cached = self._plans.get(codes)
        if cached is not None:
            return cached
        cell = CellSpec(
            self.n_nodes,
            tuple(
                (s, d, self.edge_ops[e][k])
                for e, ((s, d, _), k) in enumerate(zip(self.template.edges, codes, strict=True))
            ),
        )
        live = set(cell.live_edges())
        plan: dict[int, list[tuple[int, int]]] = {}
        for e, edge in enumerate(cell.edges):
            if edge in live:
                plan.setdefault(edge[1], []).append((edge[0], e))
        out = sorted(plan.items())
        self._plans[codes] = out
        return out

    def op(self, e: int, k: int) -> nn.Module:
        """The module of op ``k`` on edge ``e``."""
        return cast(_MixedEdge, self.edges[e]).ops[k]

    def _zeros(self, x: torch.Tensor) -> torch.Tensor:
        shape = list(x.shape)
        shape[1] = self.c_out
        shape[2:] = [(s - 1) // self.stride + 1 for s in shape[2:]]
        return x.new_zeros(shape)

    def forward_path(self, x: torch.Tensor, codes: tuple[int, ...]) -> torch.Tensor:
        nodes: dict[int, torch.Tensor] = {0: x}
        for dst, ins in self.plan(codes):
            src, e = ins[0]
            acc = self.op(e, codes[e])(nodes[src])
            for src, e in ins[1:]:
                acc = acc + self.op(e, codes[e])(nodes[src])
            nodes[dst] = acc
        out = nodes.get(self.n_nodes - 1)
        return self._zeros(x) if out is None else out

    def forward_weighted(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x] + [None] * (self.n_nodes - 1)
        for e, (src, dst, _) in enumerate(self.template.edges):
            xs = nodes[src]
            assert xs is not None  # edges are sorted by destination, sources come first
            y = w[e, 0] * self.op(e, 0)(xs)
            for k in range(1, len(self.edge_ops[e])):
                y = y + w[e, k] * self.op(e, k)(xs)
            prev = nodes[dst]
            nodes[dst] = y if prev is None else prev + y
        out = nodes[-1]
        assert out is not None
        return out

    def forward_hard(self, x: torch.Tensor, h: torch.Tensor, index: Sequence[int]) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x] + [None] * (self.n_nodes - 1)
        for e, (src, dst, _) in enumerate(self.template.edges):
            xs = nodes[src]
            assert xs is not None
            k = index[e]
            y = h[e, k] * self.op(e, k)(xs)
            rest = h[e].sum() - h[e, k]  # exactly 0 forward; carries the other gradients
            y = y + rest
            prev = nodes[dst]
            nodes[dst] = y if prev is None else prev + y
        out = nodes[-1]
        assert out is not None
        return out


def _no_running_stats(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.track_running_stats = False
            m.register_buffer("running_mean", None)
            m.register_buffer("running_var", None)
            m.register_buffer("num_batches_tracked", None)


class Supernet(nn.Module):
    """The weight-sharing network of a cell space under a protocol's macro skeleton.

    Args:
        space: The search space (its ``decisions()`` must map one-to-one onto cell edges).
        protocol: Supplies the macro (``C``, ``N``, reduction).
        in_channels, num_classes, dims: Input channels, classes, 1-D or 2-D input.

    Attributes:
        n_edges, n_ops: Shape of the architecture parameters ``(n_edges, n_ops)``.
        op_names: The space's name of each choice (``space.decisions().choices[0]``).

    Example:
        >>> from nasrepro.spaces import get_space
        >>> from nasrepro.tables import get_protocol
        >>> net = Supernet(get_space("cell"), get_protocol("mnist1d-tiny"), 1, 10, 1)
        >>> net.n_edges, net.n_ops
        (6, 5)
    """

    def __init__(
        self,
        space: SearchSpace[Any],
        protocol: Protocol,
        in_channels: int,
        num_classes: int,
        dims: int,
    ) -> None:
        super().__init__()
        self.space, self.protocol = space, protocol
        self.dec = space.decisions()
        template, ops = candidate_ops(space, protocol.macro())
        widths = {len(r) for r in ops}
        if len(widths) != 1:
            raise ConfigError(f"space {space.name!r} offers different op counts per edge")
        self.n_edges, self.n_ops = len(ops), widths.pop()
        assert self.dec is not None
        self.op_names = tuple(self.dec.choices[0])
        spec = space.lower(
            self.dec.from_codes(np.zeros(self.n_edges, dtype=np.int64)), **protocol.macro()
        )
        self.spec: NetworkSpec = spec
        self.in_channels, self.num_classes, self.dims = in_channels, num_classes, dims
        base = compile_network(spec, in_channels, num_classes, dims)
        for i, b in enumerate(spec.blocks):
            if b.kind is BlockKind.CELL:
                base.cells[i] = SuperCell(template, ops, dims, b.c_in, b.c_out, b.stride)
        self.net: Network = base
        _no_running_stats(self)
        self._mode: tuple[Any, ...] = ("unset",)

    # -- how the next forward pass runs -------------------------------------------------
    def set_path(self, codes: Sequence[int]) -> None:
        """One op per edge: ``codes[e]`` indexes ``op_names``."""
        c = tuple(int(v) for v in codes)
        if len(c) != self.n_edges or not all(0 <= v < self.n_ops for v in c):
            raise ValueError(
                f"a path needs {self.n_edges} op indices in 0..{self.n_ops - 1}, got {c}"
            )
        self._mode = ("path", c)

    def set_weights(self, w: torch.Tensor) -> None:
        """Every edge computes ``sum_k w[e, k] * op_k``; ``w`` has shape ``(n_edges, n_ops)``."""
        if tuple(w.shape) != (self.n_edges, self.n_ops):
            raise ValueError(
                f"weights need shape {(self.n_edges, self.n_ops)}, got {tuple(w.shape)}"
            )
        self._mode = ("weighted", w)

    def set_hard(self, h: torch.Tensor, index: Sequence[int]) -> None:
        """GDAS: ``h`` is a straight-through one-hot ``(n_edges, n_ops)``, ``index`` its argmax."""
        self._mode = ("hard", h, tuple(int(v) for v in index))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mode = self._mode
        if mode[0] == "unset":
            raise RuntimeError("set_path, set_weights or set_hard before the forward pass")
        net = self.net
        x = net.stem(x)
        for cell in net.cells:
            if isinstance(cell, SuperCell):
                if mode[0] == "path":
                    x = cell.forward_path(x, mode[1])
                elif mode[0] == "weighted":
                    x = cell.forward_weighted(x, mode[1])
                else:
                    x = cell.forward_hard(x, mode[1], mode[2])
            else:
                x = cell(x)
        x = net.global_pooling(net.lastact(x))
        return net.classifier(x.flatten(1))

    def weight_parameters(self) -> list[nn.Parameter]:
        """The network weights (every parameter of the supernet)."""
        return list(self.parameters())

    # -- paths as architectures -----------------------------------------------------------
    def arch_of(self, codes: Sequence[int]) -> Any:
        """The space's architecture of a path."""
        assert self.dec is not None
        return self.dec.from_codes(np.asarray(codes, dtype=np.int64))

    def codes_of(self, arch: Any) -> tuple[int, ...]:
        """The path of an architecture of the space."""
        assert self.dec is not None
        return tuple(int(v) for v in self.dec.to_codes(arch))

    def extract(self, codes: Sequence[int]) -> Network:
        """The stand-alone network of a path, with the supernet's weights copied in.

        Its BatchNorm layers get fresh running statistics (the supernet keeps none), so
        compare the two in training mode, where both normalize by the batch.
        """
        c = tuple(int(v) for v in codes)
        arch = self.arch_of(c)
        net = compile_network(
            self.space.lower(arch, **self.protocol.macro()),
            self.in_channels,
            self.num_classes,
            self.dims,
        )
        for i, blk in enumerate(net.cells):
            src = self.net.cells[i]
            if isinstance(src, SuperCell):
                for e, layer in enumerate(cast(CellModule, blk).layers):
                    _copy(src.op(e, c[e]), layer)
            else:
                _copy(src, blk)
        for name in ("stem", "lastact", "classifier"):
            _copy(getattr(self.net, name), getattr(net, name))
        return net


def _copy(src: nn.Module, dst: nn.Module) -> None:
    missing, unexpected = dst.load_state_dict(src.state_dict(), strict=False)
    stats = ("running_mean", "running_var", "num_batches_tracked")
    if unexpected or any(not k.endswith(stats) for k in missing):
        raise RuntimeError(f"supernet and network disagree: {missing=}, {unexpected=}")
