"""Grouping cells for batched training: which cells to stack so that little is wasted."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from nasrepro.bench.harness._batched_modules import (
    _OP_COST,
    _users_plan,
)
from nasrepro.spaces import Architecture, NetworkSpec, Op, get_space

__all__ = ["group_cells", "batch_waste"]

logger = logging.getLogger(__name__)


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
