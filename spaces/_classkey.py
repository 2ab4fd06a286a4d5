"""Class keys of lowered networks: one key per network up to relabelling.

Two architecture strings can name the same network: NAS-Bench-201 cells that differ
only on dead edges, hierarchical architectures whose motif indices are permuted or
whose nodes are numbered differently, a motif edge followed by ``identity``. A
bounded space's ``canonical()`` maps each to one representative, but unbounded spaces
identify nothing (sampled tables give every string its own class), so held-out sets
and cross-validation folds grouped by string let one network sit on both sides.

:func:`network_class_key` keys a lowered :class:`NetworkSpec` so that networks which
compute the same expression get the same key, whatever space they come from. Each
cell is written as an expression over its input, by the rule of NAS-Bench-201's
``to_unique_str(consider_zero=True)`` (as :func:`nasrepro.spaces._cell.class_key`
applies it to the cell space), generalised to any cell DAG of the IR:

* node 0 (the block input) is ``0``;
* an edge ``i -> j`` with op ``o`` gives the term ``#`` (zero) when ``o`` is ``none``
  or node ``i`` is exactly ``#``; node ``i``'s expression itself when ``o`` is an
  identity (``skip`` where the compiler makes it :class:`torch.nn.Identity`: every
  edge except those leaving node 0 of a block that changes channels or stride); and
  ``(expr_i)@o`` (``o``'s :class:`Op` value) otherwise;
* a node is its terms sorted as strings and joined by ``+``; a node without incoming
  edges is ``#``.

The cell's expression is its output node's. The network's key is the sha256 of the
stem width and, per block in order, its kind, channels, stride and (for a cell block)
the sha256 of its cell's expression: the macro skeleton is compared exactly, the
cells up to relabelling.

What this identifies, and what not (it is NAS-Bench-201's notion, quirks included):

* sums are order-free and node numbers do not matter, so permuted motif indices,
  relabelled nodes and dead edges (which lowering removes, or which become ``#``
  terms) give one key, and an identity edge passes its input on unchanged;
* on the cell space the keys partition the 15,625 cells into exactly the 6,466
  classes of ``CellSpace.canonical`` (``tests/spaces/test_classkey.py``). That
  partition depends on the spelling: zero terms stay in a sum (``A+#`` differs from
  ``A``), and an identity-connected sum is spliced into the next sum as one string, so
  two sums merge only where their terms sort alike. A Merkle hash of each node's
  multiset of ``(op, predecessor hash)`` gives 6,900 classes (identity sums kept
  whole) or 5,755 (flattened), so it is not used;
* the expression does not see shared sub-computations: ``dw(x) + dw(dw(x))`` with one
  ``dw`` module on the input edge and a second one after it is keyed like the network
  where an identity edge lets both terms use the same ``dw`` output. In the shipped
  hierarchical training sample (1,000 architectures, 947 keys) two keys hold
  architectures that trained to different accuracies for this reason. For keeping
  test architectures apart from training ones this errs on the safe side: it drops
  more, never fewer;
* ``op(#)`` is zero, as in NAS-Bench-201, although a compiled ReLU-conv-BN of zero
  trains its BN shift.

Cost: an expression is as long as the cell's input-output paths written out, a few
hundred characters on the default hierarchical space (535 at most over its 1,200
shipped architectures), 15 KB at most over 2,000 samples of Liu et al.'s ``M=6,
n2=4, n3=5`` size; it would grow exponentially with the depth of a densely connected
DAG. Time, measured 2026-12-07 on the 2-core development machine (shared, under
``nice``): :func:`cell_expression` of a cell 4 us, :func:`network_class_key` of a
lowered cell-space network 8 us; see :func:`class_keys` for batches.

Example:
    >>> from nasrepro.spaces import get_space
    >>> space = get_space("hierarchical", M=2)  # two motifs, to keep the strings short
    >>> a = "m0=(none|none,none) m1=(none|conv1x1,none) top=(m1|none,none|none,m1,none)"
    >>> b = "m0=(none|conv1x1,none) m1=(none|none,none) top=(m0|none,none|none,m0,none)"
    >>> ka, kb = lowered_class_keys(space, [a, b], C=8, N=1, reduction="pool")
    >>> ka == kb
    True
    >>> cell_expression(space.flatten(space.parse(a)))
    '((0)@conv1x1)@conv1x1'
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from nasrepro.spaces._columns import BLOCK_KINDS, IR_OPS, SpecColumns
from nasrepro.spaces._digest import _KIND_STABLE, network_rows_digests
from nasrepro.spaces._spec import CellSpec, NetworkSpec, Op

__all__ = ["cell_expression", "network_class_key", "class_keys", "lowered_class_keys"]

#: The expression of the block input and of zero.
_INPUT, _ZERO = "0", "#"
#: Prefixed to every network's hashed bytes, so a class key never equals a digest.
_TAG = b"nasrepro class key 1\n"


def _expression(
    n_nodes: int, edges: Sequence[tuple[int, int, Op]], input_skip_is_identity: bool
) -> str:
    """The output node's expression (see the module docstring); ``edges`` in any order."""
    incoming: list[list[tuple[int, Op]]] = [[] for _ in range(n_nodes)]
    for src, dst, op in edges:
        incoming[dst].append((src, op))
    expr = [_INPUT]
    for j in range(1, n_nodes):
        terms = []
        for src, op in incoming[j]:
            e = expr[src]
            if op is Op.NONE or e == _ZERO:
                terms.append(_ZERO)
            elif op is Op.SKIP and (src or input_skip_is_identity):
                terms.append(e)
            else:
                terms.append(f"({e})@{op.value}")
        expr.append("+".join(sorted(terms)) if terms else _ZERO)
    return expr[-1]


def cell_expression(cell: CellSpec, *, input_skip_is_identity: bool = True) -> str:
    """The expression a cell computes over its input, as NAS-Bench-201 writes it.

    Args:
        cell: The cell DAG.
        input_skip_is_identity: Whether ``skip`` edges leaving node 0 are identities:
            true in a block that keeps channels and stride; false where they resample
            (the compiler then makes them a 1x1 ReLU-conv-BN), so they count as an op.

    Returns:
        The output node's expression, e.g. ``'(0)@conv3x3+0'``.
    """
    return _expression(cell.n_nodes, cell.edges, input_skip_is_identity)


def class_keys(cols: SpecColumns) -> list[str]:
    """The class key (sha256 hex) of each network of ``cols``, in order.

    Networks get one key exactly where they share the macro skeleton and their cells
    share their :func:`cell_expression` (see the module docstring). A cell that
    several blocks share is written out once.

    Cost, 2026-12-07 (2 shared cores, ``nice``): all 15,625 cells under
    ``mnist1d-tiny``'s macro, lowered by ``lower_columns`` and keyed, 0.22-0.33 s
    (14-21 us a cell, the lowering included); the 1,200 shipped hierarchical
    architectures 0.024 s (20 us each).

    Args:
        cols: ``n`` lowered networks.

    Raises:
        ConfigError: The blocks of the columns are not in network order.
    """
    block_cell = np.zeros((len(cols.net), 32), dtype=np.uint8)
    blocks = np.flatnonzero(cols.cell >= 0)
    # a skip leaving node 0 is an identity where the block keeps channels and stride
    ident = (cols.c_in[blocks] == cols.c_out[blocks]) & (cols.stride[blocks] == 1)
    # each (cell, identity or not) is written out once, however many blocks share it
    pairs, inverse = np.unique(2 * cols.cell[blocks] + ident, return_inverse=True)
    digests = np.zeros((len(pairs), 32), dtype=np.uint8)
    for i, pair in enumerate(pairs.tolist()):
        u = pair // 2
        live = cols.cell_op[u] >= 0  # -1 pads a cell with fewer edges
        edges = zip(
            cols.cell_src[u, live].tolist(),
            cols.cell_dst[u, live].tolist(),
            [IR_OPS[o] for o in cols.cell_op[u, live].tolist()],
            strict=True,
        )
        text = _expression(int(cols.cell_nodes[u]), list(edges), bool(pair % 2))
        digests[i] = np.frombuffer(hashlib.sha256(text.encode()).digest(), dtype=np.uint8)
    block_cell[blocks] = digests[inverse.reshape(-1)]
    return network_rows_digests(cols, block_cell, _TAG)


def network_class_key(spec: NetworkSpec) -> str:
    """The class key (sha256 hex) of one lowered network: :func:`class_keys` of it,
    computed without building columns (8 us for a cell-space network, 2026-12-07)."""
    h = hashlib.sha256(_TAG)
    h.update(struct.pack("<q", spec.stem_channels))
    cells: dict[tuple[int, bool], bytes] = {}
    for b in spec.blocks:
        digest = bytes(32)
        if b.cell is not None:
            ident = b.c_in == b.c_out and b.stride == 1
            memo = (id(b.cell), ident)
            if memo not in cells:
                text = _expression(b.cell.n_nodes, b.cell.edges, ident)
                cells[memo] = hashlib.sha256(text.encode()).digest()
            digest = cells[memo]
        kind = int(_KIND_STABLE[BLOCK_KINDS.index(b.kind)])
        h.update(struct.pack("<5q", kind, b.c_in, b.c_out, b.stride, b.cell is not None))
        h.update(digest)
    return h.hexdigest()


def lowered_class_keys(space: Any, archs: Sequence[Any], **macro: Any) -> list[str]:
    """The class key of each architecture as ``space`` lowers it under ``macro``.

    Args:
        space: A :class:`~nasrepro.spaces.SearchSpace`.
        archs: Architectures of that space or their strings, ``(n,)``.
        **macro: The macro arguments of ``lower`` (a protocol's ``macro()``); the keys
            of one space under one macro are comparable, others are not.

    Returns:
        ``n`` sha256 hex strings (:func:`class_keys` of ``space.lower_columns``).
    """
    if not len(archs):
        return []
    return class_keys(space.lower_columns(list(archs), **macro))
