"""Many networks as flat arrays: the columnar form of :class:`NetworkSpec`.

Featurizing a batch needs every block and every cell edge as numbers, not as Python
objects. :class:`SpecColumns` holds them so. :meth:`SpecColumns.from_specs` converts
lowered specs (any space); a space may build the columns directly from its
architecture strings without creating specs at all (``SearchSpace.lower_columns``),
which is what makes batched surrogate queries fast on the cell space. Both routes
must give equal arrays, up to the numbering of cells (tests check it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nasrepro.spaces._spec import BlockKind, CellSpec, NetworkSpec, Op

__all__ = ["SpecColumns", "BLOCK_KINDS", "IR_OPS"]

#: Codes of the block kinds and ops in the columns: their index in these tuples.
BLOCK_KINDS: tuple[BlockKind, ...] = tuple(BlockKind)
IR_OPS: tuple[Op, ...] = tuple(Op)
_KIND_CODE = {id(k): i for i, k in enumerate(BLOCK_KINDS)}
_OP_CODE = {id(op): i for i, op in enumerate(IR_OPS)}  # by identity: Enum hashing is slow


@dataclass(frozen=True)
class SpecColumns:
    """``n`` networks with ``B`` blocks in all and ``U`` distinct cells.

    Attributes:
        stems: Stem channels of each network, ``(n,)``.
        net: Network of each block, ``(B,)``, non-decreasing (blocks in order).
        kind: Block kind, as an index into :data:`BLOCK_KINDS`, ``(B,)``.
        c_in, c_out, stride: The blocks' channels and stride, ``(B,)``.
        cell: The block's cell (row of the cell arrays), or -1 for a reduction, ``(B,)``.
        cell_nodes: Node count of each cell, ``(U,)``.
        cell_src, cell_dst, cell_op: Each cell's edges in its own order, ``(U, E)``;
            ``cell_op`` indexes :data:`IR_OPS`, and -1 pads cells with fewer edges.
    """

    stems: np.ndarray
    net: np.ndarray
    kind: np.ndarray
    c_in: np.ndarray
    c_out: np.ndarray
    stride: np.ndarray
    cell: np.ndarray
    cell_nodes: np.ndarray
    cell_src: np.ndarray
    cell_dst: np.ndarray
    cell_op: np.ndarray

    def __len__(self) -> int:
        return len(self.stems)

    @classmethod
    def from_specs(cls, specs: Sequence[NetworkSpec]) -> SpecColumns:
        """The columns of lowered networks. Cells are shared by identity: a space that
        reuses one :class:`CellSpec` object for many blocks stores it once."""
        rows = [(a, b) for a, spec in enumerate(specs) for b in spec.blocks]
        B = len(rows)

        def col(values: object) -> np.ndarray:
            return np.fromiter(values, dtype=np.int64, count=B)  # type: ignore[call-overload]

        cell_of: dict[int, int] = {}
        cells: list[CellSpec] = []
        block_cell = np.full(B, -1, dtype=np.int64)
        for i, (_, b) in enumerate(rows):
            if b.cell is not None:
                u = cell_of.get(id(b.cell))
                if u is None:
                    u = cell_of[id(b.cell)] = len(cells)
                    cells.append(b.cell)
                block_cell[i] = u
        E = max((len(c.edges) for c in cells), default=0)
        src = np.zeros((len(cells), E), dtype=np.int64)
        dst = np.zeros((len(cells), E), dtype=np.int64)
        op = np.full((len(cells), E), -1, dtype=np.int64)
        flat = [
            (u, j, s, d, _OP_CODE[id(o)])
            for u, c in enumerate(cells)
            for j, (s, d, o) in enumerate(c.edges)
        ]
        if flat:
            uu, jj, ss, dd, oo = np.array(flat, dtype=np.int64).T
            src[uu, jj], dst[uu, jj], op[uu, jj] = ss, dd, oo
        return cls(
            stems=np.fromiter((s.stem_channels for s in specs), dtype=np.int64, count=len(specs)),
            net=col(r[0] for r in rows),
            kind=col(_KIND_CODE[id(r[1].kind)] for r in rows),
            c_in=col(r[1].c_in for r in rows),
            c_out=col(r[1].c_out for r in rows),
            stride=col(r[1].stride for r in rows),
            cell=block_cell,
            cell_nodes=np.fromiter((c.n_nodes for c in cells), dtype=np.int64, count=len(cells)),
            cell_src=src,
            cell_dst=dst,
            cell_op=op,
        )

    @classmethod
    def tiled(
        cls,
        skeleton: NetworkSpec,
        cell_nodes: np.ndarray,
        cell_src: np.ndarray,
        cell_dst: np.ndarray,
        cell_op: np.ndarray,
    ) -> SpecColumns:
        """``n = len(cell_nodes)`` copies of ``skeleton``, whose cell blocks all hold one
        cell; copy ``i``'s cell is row ``i`` of the cell arrays (as in the class).

        The cell and hierarchical spaces lower every architecture to one skeleton
        around its own cell, so their batch lowering builds the skeleton once.
        """
        n = len(cell_nodes)
        tpl = cls.from_specs([skeleton])
        net = np.repeat(np.arange(n, dtype=np.int64), len(tpl.net))
        return cls(
            stems=np.full(n, skeleton.stem_channels, dtype=np.int64),
            net=net,
            kind=np.tile(tpl.kind, n),
            c_in=np.tile(tpl.c_in, n),
            c_out=np.tile(tpl.c_out, n),
            stride=np.tile(tpl.stride, n),
            cell=np.where(np.tile(tpl.cell >= 0, n), net, -1),
            cell_nodes=np.asarray(cell_nodes, dtype=np.int64),
            cell_src=np.asarray(cell_src, dtype=np.int64),
            cell_dst=np.asarray(cell_dst, dtype=np.int64),
            cell_op=np.asarray(cell_op, dtype=np.int64),
        )
