"""Digests of lowered networks: a record of *what network* an architecture string became.

An architecture string names a network only through its space's code: edit the space
so that an op lowers differently and the same string trains another network. Sweeps,
tables and ``reproduce`` record these digests so that such an edit is caught instead
of silently mixing two networks under one name.

:func:`network_digests` hashes each network of a :class:`SpecColumns` on its own: the
stem width, then every block in order (kind, channels, stride and, for a cell block,
the cell's node count and edges ``(src, dst, op)``). It does not depend on how the
columns were built (:meth:`SpecColumns.from_specs` or a space's ``lower_columns``),
on the numbering or sharing of cells, on the padding width of the cell arrays, on the
other networks of the batch, or on the order of :class:`Op` and :class:`BlockKind`
(ops and kinds are hashed by their names). Provenance (``space``, ``arch``) is not
hashed. :func:`specs_digest` combines architecture strings and their network digests
into one digest of a whole list.

Cost, measured 2026-12-07 on a development machine (2 shared CPU cores): all 15,625
cell-space architectures, lowered with ``lower_columns`` and hashed, take 0.1-0.3 s
(0.10 s under ``synthetic-smoke``'s macro and 0.13 s under ``cifar10-nb201``'s when
the cores are idle; ``lower_columns`` about 0.05 s of it), and a whole cell sweep's
6,466 representatives 0.04 s; 5,000 sampled chain or hierarchical architectures take
0.1-0.2 s. So sweeps and tables digest all their architectures, not a subset.

Example:
    >>> from nasrepro.spaces import get_space
    >>> space = get_space("cell")
    >>> a = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    >>> macro = {"C": 8, "N": 1, "reduction": "pool"}
    >>> (d,) = lowered_digests(space, [a], **macro)
    >>> d == network_digests(SpecColumns.from_specs([space.lower(a, **macro)]))[0]
    True
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from nasrepro.spaces._columns import BLOCK_KINDS, IR_OPS, SpecColumns
from nasrepro.spaces._errors import ConfigError

__all__ = ["network_digests", "lowered_digests", "specs_digest"]


def _stable_code(name: str) -> int:
    """A 63-bit integer of ``name``: the same whatever the enum's order."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little") >> 1


#: Op and block-kind codes of the columns mapped to codes of their names.
_OP_STABLE = np.array([_stable_code(f"op:{op.value}") for op in IR_OPS], dtype="<i8")
_KIND_STABLE = np.array([_stable_code(f"kind:{k.value}") for k in BLOCK_KINDS], dtype="<i8")


def _cell_digests(cols: SpecColumns) -> np.ndarray:
    """sha256 of each cell's node count and edges, padding stripped: ``(U, 32)`` uint8."""
    U = len(cols.cell_nodes)
    out = np.zeros((U, 32), dtype=np.uint8)
    if U == 0:
        return out
    op = cols.cell_op
    E = op.shape[1] if op.ndim == 2 else 0
    live = op >= 0
    k = live.sum(axis=1)
    if not np.array_equal(live, np.arange(E) < k[:, None]):
        raise ConfigError("cell_op pads (-1) must come after a cell's edges; fix the columns")
    for n_edges in np.unique(k).tolist():
        rows = np.flatnonzero(k == n_edges)
        mat = np.ascontiguousarray(
            np.concatenate(
                [
                    cols.cell_nodes[rows, None],
                    np.full((len(rows), 1), n_edges, dtype=np.int64),
                    cols.cell_src[rows, :n_edges],
                    cols.cell_dst[rows, :n_edges],
                    _OP_STABLE[op[rows, :n_edges]],
                ],
                axis=1,
            ),
            dtype="<i8",
        )
        for u, row in zip(rows.tolist(), mat, strict=True):
            out[u] = np.frombuffer(hashlib.sha256(row.tobytes()).digest(), dtype=np.uint8)
    return out


def network_digests(cols: SpecColumns) -> list[str]:
    """The sha256 (hex) of each network of ``cols``, in order: ``len(cols)`` strings.

    Args:
        cols: ``n`` lowered networks (see the module docstring for what is hashed).

    Raises:
        ConfigError: The columns are inconsistent (blocks out of network order, or
            padding inside a cell's edges).
    """
    if len(cols) == 0:
        return []
    _check_order(cols)
    cells = _cell_digests(cols)
    has = cols.cell >= 0
    block_cell = np.zeros((len(cols.net), 32), dtype=np.uint8)
    block_cell[has] = cells[cols.cell[has]]
    return network_rows_digests(cols, block_cell)


def _check_order(cols: SpecColumns) -> None:
    net = np.asarray(cols.net, dtype=np.int64)
    if len(net) and (np.any(np.diff(net) < 0) or net[0] < 0 or net[-1] >= len(cols)):
        raise ConfigError("the blocks of the columns are not in network order; fix the columns")


def network_rows_digests(
    cols: SpecColumns, block_cell: np.ndarray, prefix: bytes = b""
) -> list[str]:
    """The sha256 (hex) of each network of ``cols`` from a digest of each block's cell.

    Hashes ``prefix``, the stem width, then every block in order (kind, channels,
    stride, whether it has a cell, and its row of ``block_cell``). With the cells'
    edge digests and no prefix this is :func:`network_digests`; the class keys
    (:mod:`nasrepro.spaces._classkey`) pass digests of the cells' expressions.

    Args:
        cols: ``n`` lowered networks.
        block_cell: 32 bytes per block, ``(B, 32)`` uint8 (zeros for a reduction).
        prefix: Bytes hashed first, to keep kinds of digest apart.

    Raises:
        ConfigError: The blocks are not in network order.
    """
    n = len(cols)
    if n == 0:
        return []
    _check_order(cols)
    net = np.asarray(cols.net, dtype=np.int64)
    has = cols.cell >= 0
    fixed = np.ascontiguousarray(
        np.stack(
            [_KIND_STABLE[cols.kind], cols.c_in, cols.c_out, cols.stride, has.astype(np.int64)],
            axis=1,
        ),
        dtype="<i8",
    ).view(np.uint8)
    rows = np.ascontiguousarray(np.concatenate([fixed, block_cell], axis=1))  # (B, 72)
    bounds = np.searchsorted(net, np.arange(n + 1)).tolist()
    stems = np.ascontiguousarray(cols.stems, dtype="<i8")
    out = []
    for i in range(n):
        h = hashlib.sha256(prefix)
        h.update(stems[i : i + 1].tobytes())
        h.update(rows[bounds[i] : bounds[i + 1]].tobytes())
        out.append(h.hexdigest())
    return out


def lowered_digests(space: Any, archs: Sequence[str], **macro: Any) -> list[str]:
    """The network digest of each architecture string as ``space`` lowers it now.

    Args:
        space: A :class:`~nasrepro.spaces.SearchSpace`.
        archs: Architecture strings of that space, ``(n,)``.
        **macro: The macro arguments of ``lower`` (a protocol's ``macro()``).

    Returns:
        ``n`` sha256 hex strings (:func:`network_digests` of ``space.lower_columns``).
    """
    return network_digests(space.lower_columns(list(archs), **macro))


def specs_digest(archs: Sequence[str], digests: Sequence[str]) -> str:
    """One sha256 (hex) of architecture strings and their network digests, in order.

    Args:
        archs: Architecture strings, ``(n,)``.
        digests: Their :func:`network_digests`, ``(n,)``.
    """
    if len(archs) != len(digests):
        raise ConfigError(f"{len(archs)} architectures but {len(digests)} digests")
    h = hashlib.sha256()
    for a, d in zip(archs, digests, strict=True):
        h.update(f"{a}\t{d}\n".encode())
    return h.hexdigest()
