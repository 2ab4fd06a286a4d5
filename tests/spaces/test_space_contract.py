"""Contract tests run over every registered space: registering a space enrols it here.

The tests ship in the package (:mod:`nasrepro.spaces.testing`), so a user's space runs
the same ones; the built-in spaces' own checks follow.
"""

from __future__ import annotations

import numpy as np

from nasrepro.spaces import get_space, list_spaces
from nasrepro.spaces.testing import *  # noqa: F401,F403


def test_registry_holds_the_three_spaces() -> None:
    assert {"cell", "chain", "hierarchical"} <= set(list_spaces())


def test_the_bounded_built_in_space_gives_its_enumeration_position() -> None:
    """The shipped contract lets a bounded space keep the default ``index_of`` (None);
    the cell space must not: tables check their row order with it, and ``space canonical
    --json`` prints it (an audit's mutant returning None passed every other test)."""
    space = get_space("cell")
    rng = np.random.default_rng(0)
    for _ in range(20):
        arch = space.sample(rng)
        index = space.index_of(arch)
        assert index is not None and index == arch.index  # type: ignore[attr-defined]
    assert [space.index_of(a) for a in list(space.enumerate())[:5]] == [0, 1, 2, 3, 4]
    for name in ("chain", "hierarchical"):
        other = get_space(name)
        assert other.index_of(other.sample(rng)) is None
