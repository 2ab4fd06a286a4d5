"""The chain space: string format, moves, distance, encoding and lowering."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nasrepro.spaces._chain as chain_module
from nasrepro.spaces import (
    CHAIN_OPS,
    CHAIN_WIDTHS,
    BlockKind,
    ChainArch,
    ChainSpace,
    Op,
    SpaceError,
    get_space,
)
from nasrepro.spaces._chain import reduction_indices

EXAMPLE = "conv3x3@1.0|mbconv_e6_k5@0.75|skip@1.0"
LAYERS = st.lists(st.tuples(st.sampled_from(CHAIN_OPS), st.sampled_from(CHAIN_WIDTHS)), min_size=2)


def _arch(layers: list[tuple[str, float]]) -> ChainArch:
    return ChainArch(tuple(o for o, _ in layers), tuple(w for _, w in layers))


@pytest.fixture(scope="module")
def space() -> ChainSpace:
    sp = get_space("chain")
    assert isinstance(sp, ChainSpace)
    return sp


def test_docstring_examples() -> None:
    res = doctest.testmod(chain_module, raise_on_error=False)
    assert res.failed == 0 and res.attempted > 0  # examples exist, and pass


def test_example_round_trips(space: ChainSpace) -> None:
    arch = space.parse(EXAMPLE)
    assert arch.ops == ("conv3x3", "mbconv_e6_k5", "skip")
    assert arch.widths == (1.0, 0.75, 1.0)
    assert arch.to_string() == EXAMPLE
    assert len(arch) == 3


@settings(max_examples=60, deadline=None)
@given(layers=LAYERS.filter(lambda x: len(x) <= 12))
def test_any_chain_round_trips(space: ChainSpace, layers: list[tuple[str, float]]) -> None:
    arch = _arch(layers)
    assert space.parse(arch.to_string()) == arch
    assert ChainArch.from_dict(arch.to_dict()) == arch


@pytest.mark.parametrize(
    ("bad", "pattern"),
    [
        ("", r"position 0: empty chain string; expected 'op@width'"),
        ("conv7x7@1.0", r"position 0: expected an op, one of conv3x3, .*found 'conv7x7'"),
        ("conv3x3@1.0|conv3x3", r"position 19: expected '@' after op 'conv3x3'"),
        (
            "conv3x3@1.0|skip@1",
            r"position 17: expected a width, one of 0.5, 0.75, 1.0, 1.5; found '1'",
        ),
        ("conv3x3@1.0||skip@1.0", r"position 12: expected an op"),
        ("conv3x3@1.0|", r"position 12: expected an op"),
        ("conv3x3@2.0", r"position 8: expected a width"),
        ("conv3x3@1.0| skip@1.0", r"position 12: expected an op"),
    ],
)
def test_malformed_strings(space: ChainSpace, bad: str, pattern: str) -> None:
    with pytest.raises(SpaceError, match=pattern):
        space.parse(bad)


def test_arch_validation() -> None:
    with pytest.raises(SpaceError, match="same length"):
        ChainArch(("skip",), (1.0, 1.0))
    with pytest.raises(SpaceError, match="at least one layer"):
        ChainArch((), ())
    with pytest.raises(SpaceError, match="unknown op"):
        ChainArch(("conv7x7",), (1.0,))
    with pytest.raises(SpaceError, match="unknown width"):
        ChainArch(("skip",), (2.0,))
    assert ChainArch(("skip",), (1,)) == ChainArch(("skip",), (1.0,))


def test_space_bounds() -> None:
    with pytest.raises(SpaceError, match="L_min"):
        ChainSpace(L_max=3, L_min=4)
    small = ChainSpace(L_max=3, L_min=1)
    with pytest.raises(SpaceError, match="outside"):
        small.parse("skip@1.0|skip@1.0|skip@1.0|skip@1.0")
    rng = np.random.default_rng(0)
    lengths = {len(small.sample(rng)) for _ in range(200)}
    assert lengths == {1, 2, 3}


def test_reduction_indices() -> None:
    assert reduction_indices(12) == (4, 8)
    assert reduction_indices(3) == (1, 2)
    assert reduction_indices(2) == (0, 1)
    assert reduction_indices(1) == (0,)
    for n in range(1, 40):
        assert reduction_indices(n) == tuple(sorted({n // 3, 2 * n // 3}))


def test_mutation_respects_bounds() -> None:
    space = ChainSpace(L_max=3, L_min=3)
    rng = np.random.default_rng(0)
    arch = space.sample(rng)
    for _ in range(100):
        child = space.mutate(arch, rng)
        assert len(child) == 3
        assert space.distance(arch, child) == 1


def test_mutation_uses_every_move(space: ChainSpace) -> None:
    rng = np.random.default_rng(1)
    arch = space.parse("conv3x3@1.0|skip@0.5|conv5x5@1.5|dwsep3x3@0.75")
    kinds = set()
    for _ in range(200):
        child = space.mutate(arch, rng)
        if len(child) != len(arch):
            kinds.add("insert" if len(child) > len(arch) else "remove")
        elif child.ops != arch.ops:
            kinds.add("op")
        else:
            kinds.add("width")
    assert kinds == {"op", "width", "insert", "remove"}


def test_neighbors_count(space: ChainSpace) -> None:
    arch = space.parse("conv3x3@1.0|skip@0.5|conv5x5@1.5")
    nbrs = space.neighbors(arch)
    # 3 * 5 op changes, 3 * 3 width changes, then the distinct insertions and removals
    # (inserting a copy of a layer next to itself gives the same chain twice).
    expected = set()
    layers = list(arch.layers)
    for i in range(len(layers) + 1):
        for op in CHAIN_OPS:
            for w in CHAIN_WIDTHS:
                expected.add(_arch([*layers[:i], (op, w), *layers[i:]]))
    for i in range(len(layers)):
        expected.add(_arch(layers[:i] + layers[i + 1 :]))
    assert len(set(nbrs)) == len(nbrs) == 3 * 5 + 3 * 3 + len(expected)
    assert expected <= set(nbrs)


@settings(max_examples=60, deadline=None)
@given(a=LAYERS.filter(lambda x: len(x) <= 8), b=LAYERS.filter(lambda x: len(x) <= 8))
def test_distance_is_a_metric(
    space: ChainSpace, a: list[tuple[str, float]], b: list[tuple[str, float]]
) -> None:
    x, y = _arch(a), _arch(b)
    d = space.distance(x, y)
    assert d == space.distance(y, x)
    assert d >= abs(len(x) - len(y))
    assert d <= 2 * max(len(x), len(y))
    for n in space.neighbors(x)[:20]:
        assert abs(space.distance(n, y) - d) <= 1


def test_distance_examples(space: ChainSpace) -> None:
    p = space.parse
    assert space.distance(p("skip@1.0|skip@1.0"), p("skip@1.0|skip@1.0")) == 0
    assert space.distance(p("skip@1.0|skip@1.0"), p("conv3x3@0.5|skip@1.0")) == 2
    assert space.distance(p("skip@1.0|skip@1.0"), p("skip@1.0|skip@1.0|skip@1.0")) == 1
    assert space.distance(p("conv3x3@1.0|skip@1.0|skip@1.0"), p("skip@1.0|skip@1.0")) == 1
    assert space.distance(p("conv3x3@1.0|skip@1.0"), p("skip@1.0|conv3x3@1.0")) == 2


def test_encode(space: ChainSpace) -> None:
    arch = space.parse(EXAMPLE)
    x = space.encode(arch)
    assert x.shape == (10 * 12 + 1,)
    grid = x[:-1].reshape(12, 10)
    assert grid[:3, :6].sum(axis=1).tolist() == [1.0] * 3
    assert grid[:3, 6:].sum(axis=1).tolist() == [1.0] * 3
    assert not grid[3:].any()
    assert grid[1, CHAIN_OPS.index("mbconv_e6_k5")] == 1.0
    assert grid[1, 6 + CHAIN_WIDTHS.index(0.75)] == 1.0
    assert x[-1] == pytest.approx(3 / 12)
    with pytest.raises(ValueError, match="unknown encoding"):
        space.encode(arch, kind="path")


def test_canonical_is_identity(space: ChainSpace) -> None:
    arch = space.sample(np.random.default_rng(3))
    assert space.canonical(arch) is arch


def test_lower_channels_and_strides(space: ChainSpace) -> None:
    arch = space.parse("conv3x3@1.0|skip@0.5|mbconv_e3_k3@1.5|dwsep3x3@0.75|conv5x5@1.0|skip@1.0")
    spec = space.lower(arch, C=16)
    assert spec.stem_channels == 16
    assert spec.space == "chain" and spec.arch == arch.to_string()
    assert [b.kind for b in spec.blocks] == [BlockKind.CELL] * 6
    # Reductions at 6 // 3 = 2 and 12 // 3 = 4.
    assert [b.stride for b in spec.blocks] == [1, 1, 2, 1, 2, 1]
    assert [b.c_out for b in spec.blocks] == [16, 8, 48, 24, 64, 64]
    assert [b.c_in for b in spec.blocks] == [16, 16, 8, 48, 24, 64]
    ops = [b.cell.edges[0][2] for b in spec.blocks if b.cell is not None]
    assert ops == [Op.CONV3X3, Op.SKIP, Op.MBCONV_E3_K3, Op.SEPCONV3X3, Op.CONV5X5, Op.SKIP]
    assert all(b.cell is not None and b.cell.n_nodes == 2 for b in spec.blocks)


def test_lower_repeats(space: ChainSpace) -> None:
    arch = space.parse("conv3x3@1.0|skip@0.5|conv5x5@1.5")
    spec = space.lower(arch, C=4, N=3)
    assert len(spec.blocks) == 9
    assert [b.stride for b in spec.blocks] == [1, 1, 1, 2, 1, 1, 2, 1, 1]
    assert [b.c_out for b in spec.blocks] == [4, 4, 4, 4, 4, 4, 24, 24, 24]
    assert all(b.c_in == b.c_out for k, b in enumerate(spec.blocks) if k % 3)
    assert min(b.c_out for b in space.lower(arch, C=1).blocks) >= 1


def test_lower_rejects_unknown_arguments(space: ChainSpace) -> None:
    arch = space.parse(EXAMPLE)
    with pytest.raises(TypeError, match="unexpected macro"):
        space.lower(arch, stem="wide")
    with pytest.raises(ValueError, match="unknown reduction"):
        space.lower(arch, reduction="maxpool")
    # Every protocol's reduction is accepted; a chain reduces in its own layers.
    assert space.lower(arch, reduction="resblock") == space.lower(arch, reduction="pool")
    with pytest.raises(ValueError, match="positive"):
        space.lower(arch, C=0)
