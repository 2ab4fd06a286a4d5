"""Helpers shared by strategies: categorical decisions, de-duplication, candidate pools."""

from __future__ import annotations

from typing import Any

import numpy as np

from nasrepro.spaces import Architecture, Decisions, SearchSpace

__all__ = ["Decisions", "decisions_of", "canonical_key", "candidate_pool"]


def decisions_of(space: SearchSpace[Any]) -> Decisions | None:
    """The categorical-decision view of ``space`` (:meth:`SearchSpace.decisions`), or ``None``."""
    return space.decisions()


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
