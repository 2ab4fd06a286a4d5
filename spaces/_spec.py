"""The op-level network description that every search space lowers to.

A :class:`NetworkSpec` is a macro skeleton (stem, a sequence of blocks, head) whose
cell blocks are DAGs over a closed vocabulary of primitive ops (:class:`Op`). One
compiler (:func:`nasrepro.bench.harness._compiler.compile_network`) turns it into a
torch module and one featurizer (:mod:`nasrepro.surrogate`) turns it into features, so
a new space needs no training or featurizing code of its own: its ``lower()`` builds a
spec (:func:`nb201_skeleton` wraps a :class:`CellSpec` in NAS-Bench-201's skeleton),
and must accept the keywords ``C``, ``N`` and ``reduction`` (a key of
:data:`REDUCTIONS`) that training protocols pass. The space still implements every
abstract method of :class:`~nasrepro.spaces.SearchSpace` (sampling, mutation,
neighbours, encoding, canonical form, distance) and the hooks its users need (for
example ``decisions()`` for REINFORCE and BOHB); see ``docs/spaces.md`` and
``examples/my_space.py``.

Semantics, shared by the compiler and the featurizer:

* A :class:`CellSpec` has ``n_nodes`` nodes. Node 0 is the block input, node
  ``n_nodes - 1`` the block output. Every other node is the *sum* of the ops on its
  incoming edges; an edge always goes from a lower to a higher node index.
* In a ``CELL`` block with ``c_in != c_out`` or ``stride != 1``, the ops on edges
  leaving node 0 map ``c_in -> c_out`` with the block's stride; every other edge maps
  ``c_out -> c_out`` with stride 1.
* A ``RESBLOCK`` block is NAS-Bench-201's residual reduction: two ReLU-Conv-BN 3x3
  (the first strided) plus an AvgPool(2)-Conv1x1 shortcut. A ``POOLREDUCE`` block is
  a light reduction: AvgPool(2) then ReLU-Conv1x1-BN. A ``POOL`` block has no
  parameters: AvgPool(2), then every channel repeated ``c_out // c_in`` times.
* The head is BN-ReLU, global average pooling and a linear layer.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from nasrepro.spaces._errors import ConfigError

__all__ = [
    "Op",
    "BlockKind",
    "CellSpec",
    "Block",
    "NetworkSpec",
    "REDUCTIONS",
    "reduction_kind",
    "nb201_skeleton",
]


class Op(enum.Enum):
    """Primitive ops of the IR. Values are stable names used in JSON and features."""

    NONE = "none"
    SKIP = "skip"
    CONV1X1 = "conv1x1"
    CONV3X3 = "conv3x3"
    CONV5X5 = "conv5x5"
    DWCONV3X3 = "dwconv3x3"
    SEPCONV3X3 = "sepconv3x3"
    MBCONV_E3_K3 = "mbconv_e3_k3"
    MBCONV_E6_K5 = "mbconv_e6_k5"
    AVGPOOL3X3 = "avgpool3x3"
    MAXPOOL3X3 = "maxpool3x3"


class BlockKind(enum.Enum):
    """Kinds of macro blocks."""

    CELL = "cell"
    RESBLOCK = "resblock"
    POOLREDUCE = "poolreduce"
    POOL = "pool"


#: Reduction names accepted by ``lower(..., reduction=...)`` and protocols.
REDUCTIONS: dict[str, BlockKind] = {
    "resblock": BlockKind.RESBLOCK,
    "poolreduce": BlockKind.POOLREDUCE,
    "pool": BlockKind.POOL,
}


def reduction_kind(reduction: str) -> BlockKind:
    """The block kind of a reduction name; ``ValueError`` naming the choices otherwise."""
    try:
        return REDUCTIONS[reduction]
    except KeyError:
        raise ConfigError(f"unknown {reduction=}; expected one of {sorted(REDUCTIONS)}") from None


@dataclass(frozen=True)
class CellSpec:
    """A DAG over primitive ops.

    Args:
        n_nodes: Number of nodes, input (0) and output (``n_nodes - 1``) included.
        edges: ``(src, dst, op)`` triples with ``0 <= src < dst < n_nodes``.
    """

    n_nodes: int
    edges: tuple[tuple[int, int, Op], ...]

    def __post_init__(self) -> None:
        if self.n_nodes < 2:
            raise ValueError(f"a cell needs at least 2 nodes, got {self.n_nodes=}")
        for src, dst, op in self.edges:
            if not (0 <= src < dst < self.n_nodes):
                raise ValueError(
                    f"edge ({src}, {dst}) must satisfy 0 <= src < dst < {self.n_nodes}"
                )
            if not isinstance(op, Op):
                raise TypeError(f"edge op must be an Op, got {op!r}")

    def live_edges(self) -> tuple[tuple[int, int, Op], ...]:
        """Edges that can influence the output: not ``none`` and on an input-output path."""
        edges = [e for e in self.edges if e[2] is not Op.NONE]
        from_input = {0}
        for src, dst, _ in sorted(edges, key=lambda e: e[1]):
            if src in from_input:
                from_input.add(dst)
        to_output = {self.n_nodes - 1}
        for src, dst, _ in sorted(edges, key=lambda e: -e[0]):
            if dst in to_output:
                to_output.add(src)
        return tuple(e for e in edges if e[0] in from_input and e[1] in to_output)

    def to_dict(self) -> dict[str, Any]:
        return {"n_nodes": self.n_nodes, "edges": [[s, d, op.value] for s, d, op in self.edges]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CellSpec:
        return cls(int(d["n_nodes"]), tuple((int(s), int(t), Op(o)) for s, t, o in d["edges"]))


@dataclass(frozen=True)
class Block:
    """One macro block: a cell or a reduction.

    Args:
        kind: The block kind.
        c_in: Input channels.
        c_out: Output channels.
        stride: Spatial stride (1 or 2).
        cell: The cell DAG, for ``BlockKind.CELL`` only.
    """

    kind: BlockKind
    c_in: int
    c_out: int
    stride: int = 1
    cell: CellSpec | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, BlockKind):
            try:  # its value, as to_dict writes it ("cell", "resblock", ...)
                object.__setattr__(self, "kind", BlockKind(self.kind))
            except ValueError:
                raise ValueError(
                    f"block kind {self.kind!r}; expected a BlockKind or one of "
                    f"{[k.value for k in BlockKind]}"
                ) from None
        if (self.kind is BlockKind.CELL) != (self.cell is not None):
            raise ValueError("a CELL block needs a cell, and only a CELL block may have one")
        if self.stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {self.stride=}")
        if self.c_in < 1 or self.c_out < 1:
            raise ValueError(f"channels must be positive, got {self.c_in=}, {self.c_out=}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "c_in": self.c_in,
            "c_out": self.c_out,
            "stride": self.stride,
            "cell": None if self.cell is None else self.cell.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Block:
        cell = None if d.get("cell") is None else CellSpec.from_dict(d["cell"])
        return cls(BlockKind(d["kind"]), int(d["c_in"]), int(d["c_out"]), int(d["stride"]), cell)


@dataclass(frozen=True)
class NetworkSpec:
    """A whole network: stem conv-BN, blocks in order, then the BN-ReLU-pool-linear head.

    Args:
        stem_channels: Output channels of the stem convolution (3 wide, stride 1).
        blocks: The macro blocks, in order; channel counts must chain.
        space: Name of the space this came from (provenance only).
        arch: Architecture string it was lowered from (provenance only).
    """

    stem_channels: int
    blocks: tuple[Block, ...]
    space: str = ""
    arch: str = ""

    def __post_init__(self) -> None:
        c = self.stem_channels
        for i, b in enumerate(self.blocks):
            if b.c_in != c:
                raise ValueError(f"block {i} expects {b.c_in} channels but receives {c}")
            c = b.c_out

    @property
    def out_channels(self) -> int:
        return self.blocks[-1].c_out if self.blocks else self.stem_channels

    def to_dict(self) -> dict[str, Any]:
        return {
            "stem_channels": self.stem_channels,
            "blocks": [b.to_dict() for b in self.blocks],
            "space": self.space,
            "arch": self.arch,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NetworkSpec:
        return cls(
            int(d["stem_channels"]),
            tuple(Block.from_dict(b) for b in d["blocks"]),
            d.get("space", ""),
            d.get("arch", ""),
        )

    def digest(self) -> str:
        """sha256 of the structure (provenance fields excluded)."""
        d = self.to_dict()
        d.pop("space")
        d.pop("arch")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()


def nb201_skeleton(
    cell: CellSpec, *, C: int, N: int, reduction: str, space: str, arch: str
) -> NetworkSpec:
    """NAS-Bench-201's macro skeleton around one cell DAG.

    A ``C``-channel stem, then three stages of ``N`` copies of ``cell`` with ``C``,
    ``2C`` and ``4C`` channels, separated by stride-2 reduction blocks. The cell and
    hierarchical spaces both lower through it.

    Args:
        cell: The cell DAG used in every cell block.
        C: Channels of the stem and the first stage.
        N: Cells per stage.
        reduction: A key of :data:`REDUCTIONS` (``"resblock"`` is NAS-Bench-201's).
        space: Provenance: the space name.
        arch: Provenance: the architecture string.
    """
    kind = reduction_kind(reduction)
    if C < 1 or N < 1:
        raise ValueError(f"need positive {C=} and {N=}")
    blocks: list[Block] = []
    c = C
    for stage in range(3):
        if stage:
            blocks.append(Block(kind, c, 2 * c, 2))
            c *= 2
        blocks.extend(Block(BlockKind.CELL, c, c, 1, cell) for _ in range(N))
    return NetworkSpec(C, tuple(blocks), space, arch)
