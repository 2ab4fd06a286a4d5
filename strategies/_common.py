"""Helpers shared by strategies: categorical decisions, de-duplication, candidate pools."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from nasrepro.spaces import CELL_OPS, Architecture, CellArch, CellSpace, SearchSpace

__all__ = ["Decisions", "decisions_of", "canonical_key", "candidate_pool"]


class Decisions:
    """A space seen as a fixed list of categorical decisions (the cell space: 6 edges x 5 ops).

    Strategies that keep a per-decision distribution (REINFORCE's policy, BOHB's
    kernel density) need this view; :func:`decisions_of` says whether a space has it.

    Attributes:
        n_choices: Number of choices of each decision, shape ``(n_decisions,)``.
    """

    def __init__(self, n_choices: Iterable[int]) -> None:
        self.n_choices = np.asarray(list(n_choices), dtype=np.int64)

    @property
    def n_decisions(self) -> int:
        return len(self.n_choices)

    def to_codes(self, arch: Architecture) -> np.ndarray:
        """Choice index of every decision, int64 ``(n_decisions,)``."""
        raise NotImplementedError

    def from_codes(self, codes: np.ndarray) -> Architecture:
        """The architecture with these choice indices (``(n_decisions,)`` ints)."""
        raise NotImplementedError


class _CellDecisions(Decisions):
    def __init__(self) -> None:
        super().__init__([len(CELL_OPS)] * 6)

    def to_codes(self, arch: Architecture) -> np.ndarray:
        if not isinstance(arch, CellArch):
            raise TypeError(f"expected a CellArch, got {type(arch).__name__}")
        return np.array([CELL_OPS.index(o) for o in arch.ops], dtype=np.int64)

    def from_codes(self, codes: np.ndarray) -> Architecture:
        return CellArch(tuple(CELL_OPS[int(c)] for c in codes))


def decisions_of(space: SearchSpace[Any]) -> Decisions | None:
    """The categorical-decision view of ``space``, or ``None`` if it has none."""
    if isinstance(space, CellSpace):
        return _CellDecisions()
    return None


def canonical_key(space: SearchSpace[Any], arch: Architecture) -> str:
    """String of the canonical representative of ``arch``: equal for equivalent ones."""
    return space.canonical(arch).to_string()


def candidate_pool(
    space: SearchSpace[Any],
    rng: np.random.Generator,
    parents: list[Architecture],
    n_random: int,
    n_mutations: int,
    exclude: set[str],
) -> list[Architecture]:
    """Candidates for an acquisition function: random samples and mutants of ``parents``.

    Args:
        space: The space.
        rng: Random source.
        parents: Architectures to mutate (the best ones so far), best first.
        n_random: How many uniform samples.
        n_mutations: How many mutants of each parent.
        exclude: Canonical keys already evaluated or pending; they are left out.

    Returns:
        Distinct, not yet evaluated architectures (possibly empty).
    """
    out: list[Architecture] = []
    seen = set(exclude)

    def add(a: Architecture) -> None:
        k = canonical_key(space, a)
        if k not in seen:
            seen.add(k)
            out.append(a)

    for p in parents:
        for _ in range(n_mutations):
            add(space.mutate(p, rng))
    for _ in range(n_random):
        add(space.sample(rng))
    return out
