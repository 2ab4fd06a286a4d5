"""A new search space in about 140 lines: a 3-node cell, one op per edge (64 cells).

Nodes 0 (input), 1 and 2 (output); edges ``0->1``, ``0->2`` and ``1->2`` each carry
one of :data:`TINY_OPS`. An architecture string lists the three ops in that order,
e.g. ``"conv3x3,skip,none"``. Importing this file registers the space as
``"tinycell"``; to make the command line, sweep workers and the leaderboard's contract
check see it too, name the file in the environment::

    NASREPRO_PLUGINS=examples/my_space.py nasrepro space sample tinycell -n 3
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from nasrepro.spaces import (
    Architecture,
    CellSpec,
    Decisions,
    NetworkSpec,
    Op,
    SearchSpace,
    SpaceError,
    nb201_skeleton,
    register_space,
)

#: The candidate ops of every edge, and the IR op each one lowers to.
TINY_OPS: dict[str, Op] = {
    "none": Op.NONE,
    "skip": Op.SKIP,
    "conv3x3": Op.CONV3X3,
    "avgpool3x3": Op.AVGPOOL3X3,
}
#: The edges ``(src, dst)``, in the order of the architecture string.
EDGES = ((0, 1), (0, 2), (1, 2))


@dataclass(frozen=True)  # frozen: architectures are dictionary keys
class TinyCellArch(Architecture):
    ops: tuple[str, str, str]
    space_name: ClassVar[str] = "tinycell"  # the name it is registered under

    def __post_init__(self) -> None:
        bad = [op for op in self.ops if op not in TINY_OPS]
        if len(self.ops) != len(EDGES) or bad:
            raise SpaceError(f"expected {len(EDGES)} ops of {list(TINY_OPS)}, got {self.ops}")

    def to_string(self) -> str:
        return ",".join(self.ops)

    @classmethod
    def from_string(cls, s: str) -> TinyCellArch:
        return cls(tuple(s.strip().split(",")))  # type: ignore[arg-type]


class TinyCellDecisions(Decisions):
    """One categorical decision per edge (REINFORCE and BOHB need this view)."""

    def __init__(self) -> None:
        super().__init__([f"{s}->{d}" for s, d in EDGES], [list(TINY_OPS)] * len(EDGES))

    def to_codes(self, arch: Architecture) -> np.ndarray:
        if not isinstance(arch, TinyCellArch):
            raise TypeError(f"expected a TinyCellArch, got {type(arch).__name__}")
        return np.array([list(TINY_OPS).index(op) for op in arch.ops], dtype=np.int64)

    def from_codes(self, codes: np.ndarray) -> TinyCellArch:
        return TinyCellArch(tuple(list(TINY_OPS)[int(c)] for c in codes))  # type: ignore[arg-type]


@register_space("tinycell")
class TinyCellSpace(SearchSpace[TinyCellArch]):
    """All 64 cells; bounded, so it also enumerates and has a size."""

    arch_type = TinyCellArch
    bounded = True

    def sample(self, rng: np.random.Generator) -> TinyCellArch:
        return TinyCellArch(tuple(rng.choice(list(TINY_OPS), size=len(EDGES))))  # type: ignore[arg-type]

    def mutate(self, arch: TinyCellArch, rng: np.random.Generator) -> TinyCellArch:
        moves = self.neighbors(arch)
        return moves[int(rng.integers(len(moves)))]

    def neighbors(self, arch: TinyCellArch) -> list[TinyCellArch]:
        out = []
        for k, new in itertools.product(range(len(EDGES)), TINY_OPS):
            if new != arch.ops[k]:
                out.append(TinyCellArch((*arch.ops[:k], new, *arch.ops[k + 1 :])))  # type: ignore[arg-type]
        return out

    def distance(self, a: TinyCellArch, b: TinyCellArch) -> int:
        return sum(x != y for x, y in zip(a.ops, b.ops, strict=True))

    def encode(self, arch: TinyCellArch, kind: str = "adjacency") -> np.ndarray:
        """One-hot op of every edge, shape ``(3 * 4,)``."""
        if kind != "adjacency":
            raise SpaceError(f"unknown encoding {kind=}; expected one of {self.encodings()}")
        return np.eye(len(TINY_OPS), dtype=np.float32)[self.decisions().to_codes(arch)].ravel()

    def canonical(self, arch: TinyCellArch) -> TinyCellArch:
        """The path through node 1 is dead when either of its edges is ``none``."""
        a, b, c = arch.ops
        return TinyCellArch(("none", b, "none") if "none" in (a, c) else (a, b, c))

    def lower(
        self,
        arch: TinyCellArch,
        *,
        C: int = 16,
        N: int = 1,
        reduction: str = "resblock",
        **macro: Any,
    ) -> NetworkSpec:
        """NAS-Bench-201's skeleton (three stages of ``N`` cells) around this cell."""
        if macro:
            raise TypeError(f"unexpected macro arguments {sorted(macro)}")
        cell = CellSpec(
            3, tuple((s, d, TINY_OPS[op]) for (s, d), op in zip(EDGES, arch.ops, strict=True))
        )
        return nb201_skeleton(
            cell, C=C, N=N, reduction=reduction, space=self.name, arch=arch.to_string()
        )

    def decisions(self) -> TinyCellDecisions:
        return TinyCellDecisions()

    def enumerate(self) -> Iterator[TinyCellArch]:
        for ops in itertools.product(TINY_OPS, repeat=len(EDGES)):
            yield TinyCellArch(ops)

    @property
    def size(self) -> int:
        return len(TINY_OPS) ** len(EDGES)
