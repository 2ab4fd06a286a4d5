"""The NAS-Bench-201 cell space: 4 nodes, 6 edges, 5 ops, 15,625 cells."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from nasrepro.spaces._base import (
    Architecture,
    Decisions,
    SearchSpace,
    SpaceError,
    quote,
    register_space,
)
from nasrepro.spaces._columns import IR_OPS, SpecColumns
from nasrepro.spaces._errors import ConfigError
from nasrepro.spaces._spec import CellSpec, NetworkSpec, Op, nb201_skeleton

__all__ = ["CellArch", "CellSpace", "CELL_OPS", "CELL_EDGES"]

#: The five candidate ops, in the order used by enumeration and encodings.
CELL_OPS: tuple[str, ...] = (
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
)
#: The six edges as ``(dst, src)``, in the order of the arch string.
CELL_EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))

_OP_TO_IR = {
    "none": Op.NONE,
    "skip_connect": Op.SKIP,
    "nor_conv_1x1": Op.CONV1X1,
    "nor_conv_3x3": Op.CONV3X3,
    "avg_pool_3x3": Op.AVGPOOL3X3,
}
_N_OPS = len(CELL_OPS)
_N_EDGES = len(CELL_EDGES)
_OP_CODE = {op: k for k, op in enumerate(CELL_OPS)}
_IR_CODE = np.array([IR_OPS.index(_OP_TO_IR[op]) for op in CELL_OPS], dtype=np.int64)
# Token codes of the three inputs (src 0, 1, 2) of a node: "op~src" -> op index.
_TOKEN_CODE = [{f"{op}~{src}": k for k, op in enumerate(CELL_OPS)} for src in range(3)]


def _fast_ops(s: str) -> tuple[int, ...] | None:
    """The op codes of a cell string exactly as ``to_string`` writes it, else ``None``."""
    p = s.split("|")
    if len(p) != 10 or p[0] or p[9] or p[2] != "+" or p[5] != "+":
        return None
    t0, t1, t2 = _TOKEN_CODE
    ops = (t0.get(p[1]), t0.get(p[3]), t1.get(p[4]), t0.get(p[6]), t1.get(p[7]), t2.get(p[8]))
    return None if None in ops else ops  # type: ignore[return-value]


_ZERO = "#"


@dataclass(frozen=True)
class CellArch(Architecture):
    """A NAS-Bench-201 cell: one op per edge, in :data:`CELL_EDGES` order.

    Example:
        >>> a = CellArch.from_string(
        ...     "|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
        >>> a.ops[0], a.index
        ('nor_conv_3x3', 9918)
    """

    ops: tuple[str, ...]
    space_name: ClassVar[str] = "cell"

    def __post_init__(self) -> None:
        if len(self.ops) != _N_EDGES:
            raise SpaceError(f"a cell has {_N_EDGES} edges, got {len(self.ops)} ops")
        for k, op in enumerate(self.ops):
            if op not in _OP_TO_IR:
                raise SpaceError(f"edge {k}: unknown op {quote(op)}; expected one of {CELL_OPS}")

    def to_string(self) -> str:
        parts = []
        for dst in (1, 2, 3):
            toks = [f"{self.ops[k]}~{src}" for k, (d, src) in enumerate(CELL_EDGES) if d == dst]
            parts.append("|" + "|".join(toks) + "|")
        return "+".join(parts)

    @classmethod
    def from_string(cls, s: str) -> CellArch:
        if not isinstance(s, str):
            raise TypeError(f"expected an arch string, got {type(s).__name__}")
        s = s.strip()  # a pasted string's newline or spaces
        if not s:
            raise SpaceError(
                "position 0: empty cell string; expected '|op~0|+|op~0|op~1|+|op~0|op~1|op~2|'"
            )
        parts = s.split("+")
        if len(parts) != 3:
            # too many: where the first extra '+' is; too few: the end, where one is missing
            at = len("+".join(parts[:3])) if len(parts) > 3 else len(s)
            raise SpaceError(
                f"position {at}: expected 3 node groups separated by '+', found "
                f"{len(parts)} in {quote(s)}"
            )
        ops: list[str] = []
        pos = 0
        for node, part in enumerate(parts, start=1):
            if not (part.startswith("|") and part.endswith("|") and len(part) >= 2):
                raise SpaceError(
                    f"position {pos}: node {node} group {quote(part)} must start and end with '|'"
                )
            toks = part[1:-1].split("|")
            if len(toks) != node:
                raise SpaceError(
                    f"position {pos}: node {node} needs {node} inputs, found {len(toks)} in {quote(part)}"
                )
            tpos = pos + 1
            for src, tok in enumerate(toks):
                op, sep, idx = tok.partition("~")
                if not sep:
                    raise SpaceError(f"position {tpos}: expected 'op~{src}', found {quote(tok)}")
                if op not in _OP_TO_IR:
                    raise SpaceError(
                        f"position {tpos}: unknown op {quote(op)}; expected one of {', '.join(CELL_OPS)}"
                    )
                if idx != str(src):
                    raise SpaceError(
                        f"position {tpos + len(op) + 1}: node {node} input {src} must read "
                        f"'~{src}', found '~{idx}'"
                    )
                ops.append(op)
                tpos += len(tok) + 1
            pos += len(part) + 1
        return cls(tuple(ops))

    @property
    def index(self) -> int:
        """Position in :meth:`CellSpace.enumerate` (base-5 digits, first edge first)."""
        i = 0
        for op in self.ops:
            i = i * _N_OPS + CELL_OPS.index(op)
        return i

    @classmethod
    def from_index(cls, index: int) -> CellArch:
        if not 0 <= index < _N_OPS**_N_EDGES:
            raise SpaceError(f"cell index must be in [0, {_N_OPS**_N_EDGES}), got {index=}")
        digits = []
        for _ in range(_N_EDGES):
            index, d = divmod(index, _N_OPS)
            digits.append(CELL_OPS[d])
        return cls(tuple(reversed(digits)))


def class_key(ops: tuple[str, ...]) -> str:
    """The equivalence-class key of a cell, as NAS-Bench-201 defines it.

    Each node is written as an expression over the input, which is written ``0``; the
    cell's key is the output node's expression. For an edge ``i -> j`` with op ``o``,
    the term is

    * ``#`` (zero) when ``o`` is ``none`` or node ``i`` is exactly ``#``;
    * node ``i``'s expression itself when ``o`` is ``skip_connect``;
    * ``(expr_i)@o`` otherwise.

    A node's expression is its terms sorted as strings and joined by ``+``, so sums
    are order-free. This is the rule of NAS-Bench-201's reference
    ``to_unique_str(consider_zero=True)``, quirks included, which we keep so that the
    partition is exactly its 6,466 classes:

    * zero terms stay in a sum (``A+#`` differs from ``A``), and a node with several
      all-zero inputs (``#+#``) is not itself treated as zero;
    * a skip-connected sum is spliced into the next sum as one string, so whether
      two cells merge depends on how their terms sort. This is why the notation
      (``0``, ``(...)@op``) must be exactly the reference's: another spelling of the
      same expressions gives a different partition (6,344 classes).
    """
    expr = ["0"]
    for dst in (1, 2, 3):
        terms = []
        for k, (d, src) in enumerate(CELL_EDGES):
            if d != dst:
                continue
            op, e = ops[k], expr[src]
            if op == "none" or e == _ZERO:
                terms.append(_ZERO)
            elif op == "skip_connect":
                terms.append(e)
            else:
                terms.append(f"({e})@{op}")
        expr.append("+".join(sorted(terms)))
    return expr[3]


@functools.lru_cache(maxsize=1)
def _partition() -> tuple[np.ndarray, tuple[int, ...]]:
    """``(canon_of, reps)``: each index's representative index, and the sorted reps."""
    canon_of = np.empty(_N_OPS**_N_EDGES, dtype=np.int64)
    first: dict[str, int] = {}
    for i, ops in enumerate(itertools.product(CELL_OPS, repeat=_N_EDGES)):
        canon_of[i] = first.setdefault(class_key(ops), i)
    canon_of.setflags(write=False)
    return canon_of, tuple(sorted(first.values()))


class CellDecisions(Decisions):
    """The cell as 6 decisions (its edges, in arch-string order) of 5 ops each."""

    def __init__(self) -> None:
        super().__init__([f"{src}->{dst}" for dst, src in CELL_EDGES], [CELL_OPS] * _N_EDGES)

    def to_codes(self, arch: Architecture) -> np.ndarray:
        if not isinstance(arch, CellArch):
            raise TypeError(f"expected a CellArch, got {type(arch).__name__}")
        return np.array([CELL_OPS.index(o) for o in arch.ops], dtype=np.int64)

    def from_codes(self, codes: np.ndarray) -> Architecture:
        return CellArch(tuple(CELL_OPS[int(c)] for c in codes))


@register_space("cell")
class CellSpace(SearchSpace[CellArch]):
    """NAS-Bench-201's cell space (Dong & Yang, ICLR 2020).

    Enumeration order: the six edge ops read as a base-5 number, first edge of the
    arch string most significant, ops in :data:`CELL_OPS` order. So index 0 is the
    all-``none`` cell and index 15,624 is the all-``avg_pool_3x3`` cell.

    The canonical representative of a class is its member with the lowest index.
    """

    arch_type: ClassVar[type[Architecture]] = CellArch
    bounded: ClassVar[bool] = True
    # Isomorphic cells lower to different networks (the lowering keeps dead edges and
    # their parameters): 1,067 of 1,067 classes with several members among 20,000
    # sampled cells got differing surrogate predictions, up to 31 points apart, before
    # the surrogate featurized representatives (2026-12-07).
    features_of_canonical: ClassVar[bool] = True

    def sample(self, rng: np.random.Generator) -> CellArch:
        return CellArch(tuple(CELL_OPS[int(i)] for i in rng.integers(0, _N_OPS, _N_EDGES)))

    def mutate(self, arch: CellArch, rng: np.random.Generator) -> CellArch:
        edge = int(rng.integers(_N_EDGES))
        choices = [o for o in CELL_OPS if o != arch.ops[edge]]
        ops = list(arch.ops)
        ops[edge] = choices[int(rng.integers(len(choices)))]
        return CellArch(tuple(ops))

    def neighbors(self, arch: CellArch) -> list[CellArch]:
        out = []
        for edge in range(_N_EDGES):
            for op in CELL_OPS:
                if op != arch.ops[edge]:
                    ops = list(arch.ops)
                    ops[edge] = op
                    out.append(CellArch(tuple(ops)))
        return out

    def distance(self, a: CellArch, b: CellArch) -> int:
        return sum(x != y for x, y in zip(a.ops, b.ops, strict=True))

    def encode(self, arch: CellArch, kind: str = "adjacency") -> np.ndarray:
        """Feature vector of a cell.

        ``kind="adjacency"``: one-hot op per edge, shape ``(30,)``.
        ``kind="path"``: BANANAS path encoding (White et al. 2021), one bit per
        input-to-output path and op sequence without ``none``, shape ``(100,)``: a
        block per path (4 + 16 + 16 + 64), the two length-2 paths kept apart. The
        authors' ``nas_bench_201/cell_201.py`` ``encode_paths`` has 155 bits instead:
        ``none`` counts as an op and both length-2 paths share one block. Ours is
        equal for cells that compute the same paths (9,445 distinct codes over the
        15,625 cells; the 341 cells with no live path all encode as zeros).
        """
        if kind == "adjacency":
            x = np.zeros((_N_EDGES, _N_OPS), dtype=np.float32)
            x[np.arange(_N_EDGES), [CELL_OPS.index(o) for o in arch.ops]] = 1.0
            return x.ravel()
        if kind == "path":
            return _path_encoding(arch.ops)
        raise ConfigError(f"unknown encoding {kind=}; expected 'adjacency' or 'path'")

    def encodings(self) -> tuple[str, ...]:
        return ("adjacency", "path")

    def decisions(self) -> CellDecisions:
        return CellDecisions()

    def index_of(self, arch: CellArch) -> int:
        return arch.index

    def canonical(self, arch: CellArch) -> CellArch:
        canon_of, _ = _partition()
        return CellArch.from_index(int(canon_of[arch.index]))

    def canonical_index(self, arch: CellArch) -> int:
        """Index of the canonical representative of ``arch``."""
        return int(_partition()[0][arch.index])

    def canonical_indices(self) -> np.ndarray:
        """Representative index of every cell, shape ``(15625,)``, read-only."""
        return _partition()[0]

    def representative_indices(self) -> tuple[int, ...]:
        """Indices of the canonical representatives, sorted (6,466 of them)."""
        return _partition()[1]

    def representatives(self) -> list[CellArch]:
        """The canonical representatives in index order (6,466 of them)."""
        return [CellArch.from_index(i) for i in _partition()[1]]

    def enumerate(self) -> Iterator[CellArch]:
        for ops in itertools.product(CELL_OPS, repeat=_N_EDGES):
            yield CellArch(ops)

    @property
    def size(self) -> int:
        return _N_OPS**_N_EDGES

    def lower(
        self, arch: CellArch, *, C: int = 16, N: int = 5, reduction: str = "resblock", **macro: Any
    ) -> NetworkSpec:
        """NAS-Bench-201's skeleton: 3 stages of ``N`` cells (C, 2C, 4C channels).

        Args:
            reduction: ``"resblock"`` (NAS-Bench-201's residual block),
                ``"poolreduce"`` (AvgPool(2) + 1x1 conv) or ``"pool"`` (AvgPool(2)
                and repeated channels, no parameters).
        """
        if macro:
            raise TypeError(f"unexpected macro arguments {sorted(macro)}")
        cell = CellSpec(
            4,
            tuple(
                (src, dst, _OP_TO_IR[op])
                for (dst, src), op in zip(CELL_EDGES, arch.ops, strict=True)
            ),
        )
        return nb201_skeleton(
            cell, C=C, N=N, reduction=reduction, space="cell", arch=arch.to_string()
        )

    def lower_columns(
        self,
        archs: Sequence[CellArch | str],
        *,
        C: int = 16,
        N: int = 5,
        reduction: str = "resblock",
        **macro: Any,
    ) -> SpecColumns:
        """:meth:`lower` of many cells as arrays, without building a spec per cell.

        Every cell lowers to the same skeleton, so the skeleton is built once and the
        cells' ops are read straight from their strings. A string that is not exactly
        as :meth:`CellArch.to_string` writes it goes through :meth:`parse`, which names
        the error.
        """
        if macro:
            raise TypeError(f"unexpected macro arguments {sorted(macro)}")
        n = len(archs)
        codes = np.empty((n, _N_EDGES), dtype=np.int64)
        for i, a in enumerate(archs):
            ops = _fast_ops(a) if isinstance(a, str) else None
            if ops is None:
                arch = self.parse(a) if isinstance(a, str) else a
                ops = tuple(_OP_CODE[op] for op in arch.ops)
            codes[i] = ops
        dummy = CellSpec(4, tuple((src, dst, Op.NONE) for dst, src in CELL_EDGES))
        return SpecColumns.tiled(
            nb201_skeleton(dummy, C=C, N=N, reduction=reduction, space="cell", arch=""),
            np.full(n, 4, dtype=np.int64),
            np.tile(np.array([src for _, src in CELL_EDGES], dtype=np.int64), (n, 1)),
            np.tile(np.array([dst for dst, _ in CELL_EDGES], dtype=np.int64), (n, 1)),
            _IR_CODE[codes],
        )

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "bounded": True,
            "size": self.size,
            "canonical_classes": len(self.representative_indices()),
            "ops": list(CELL_OPS),
            "edges": [f"{src}->{dst}" for dst, src in CELL_EDGES],
            "reference": "NAS-Bench-201 (Dong & Yang, ICLR 2020)",
        }


def _paths() -> list[tuple[int, ...]]:
    """Input-to-output paths as tuples of edge indices."""
    e = {pair: k for k, pair in enumerate(CELL_EDGES)}
    return [
        (e[3, 0],),
        (e[1, 0], e[3, 1]),
        (e[2, 0], e[3, 2]),
        (e[1, 0], e[2, 1], e[3, 2]),
    ]


def _path_encoding(ops: tuple[str, ...]) -> np.ndarray:
    live = CELL_OPS[1:]  # paths through 'none' do not exist
    out = []
    for path in _paths():
        block = np.zeros(len(live) ** len(path), dtype=np.float32)
        if all(ops[k] != "none" for k in path):
            j = 0
            for k in path:
                j = j * len(live) + live.index(ops[k])
            block[j] = 1.0
        out.append(block)
    return np.concatenate(out)
