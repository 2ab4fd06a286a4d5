"""Space methods take an architecture's string and an int seed, as researchers pass them.

``space.canonical(s)`` raised numpy's ``IndexError: only integers, slices ...``,
``space.mutate(s, rng)`` an ``AttributeError``, and ``space.sample(0)`` another.
"""

from __future__ import annotations

import numpy as np
import pytest

from nasrepro.spaces import SpaceError, get_space

ARCHS = {
    "cell": "|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|",
    "chain": "conv3x3@1.0|skip@0.5|mbconv_e6_k5@1.5",
}


@pytest.mark.parametrize("name", ["cell", "chain", "hierarchical"])
def test_strings_and_int_seeds_give_what_objects_and_generators_give(name: str) -> None:
    space = get_space(name)
    s = ARCHS.get(name) or space.sample(np.random.default_rng(5)).to_string()
    a = space.parse(s)
    assert space.canonical(s) == space.canonical(a)
    assert space.neighbors(s) == space.neighbors(a)
    assert np.array_equal(space.encode(s), space.encode(a))
    assert space.lower(s, C=8, N=1) == space.lower(a, C=8, N=1)
    b = space.sample(np.random.default_rng(1))
    assert space.distance(s, b.to_string()) == space.distance(a, b)
    assert space.index_of(s) == space.index_of(a)
    assert space.sample(7) == space.sample(np.random.default_rng(7))
    assert space.sample(np.int64(7)) == space.sample(7)
    assert space.mutate(s, 3) == space.mutate(a, np.random.default_rng(3))
    assert space.mutate(a, rng=np.random.default_rng(3)) == space.mutate(a, 3)


def test_a_malformed_string_gets_the_parse_error() -> None:
    with pytest.raises(SpaceError, match="node"):
        get_space("cell").canonical("|nor_conv_3x3~0|+|none~0|")


@pytest.mark.parametrize("name", ["cell", "chain", "hierarchical"])
def test_surrounding_whitespace_of_a_pasted_string_is_ignored(name: str) -> None:
    space = get_space(name)
    s = ARCHS.get(name) or space.sample(np.random.default_rng(5)).to_string()
    assert space.parse(f"  {s}\n") == space.parse(s) == space.parse(f"\t{s} ")
    with pytest.raises(SpaceError):
        space.parse(" \n ")


def test_a_table_answers_a_pasted_string() -> None:
    from nasrepro.tables import load_default

    t = load_default()
    s = ARCHS["cell"]
    assert t.query(s + "\n").test_acc == t.query(s).test_acc
    assert np.array_equal(t.rows([s, f" {s} "]), t.rows([s, s]))
