"""The hierarchical space: string format, Liu et al.'s mutation, canonical form, flattening."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nasrepro.spaces._hier as hier_module
from nasrepro.spaces import (
    HIER_PRIMITIVES,
    CellSpec,
    HierArch,
    HierSpace,
    Op,
    SpaceError,
    get_space,
)
from nasrepro.spaces._hier import _PRIM_TO_IR, motif_edges

SMALL = "m0=(conv1x1|none,identity) top=(m0|none,m0)"
SHAPES = st.tuples(st.integers(1, 4), st.integers(2, 5), st.integers(2, 6))
SEEDS = st.integers(0, 2**32 - 1)


@pytest.fixture(scope="module")
def space() -> HierSpace:
    sp = get_space("hierarchical")
    assert isinstance(sp, HierSpace)
    return sp


def _evaluate_hier(arch: HierArch, coef: dict[str, float], x: float) -> float:
    """The network as a scalar function: primitive ``p`` multiplies by ``coef[p]``."""

    def dag(n: int, labels: tuple[object, ...], edge_fn: object, x0: float) -> float:
        nodes = [x0] + [0.0] * (n - 1)
        for (src, dst), label in zip(motif_edges(n), labels, strict=True):
            nodes[dst] += edge_fn(label, nodes[src])  # type: ignore[operator]
        return nodes[-1]

    def motif(m: int, v: float) -> float:
        return dag(arch.n2, arch.motifs[m], lambda p, u: coef[p] * u, v)

    return dag(arch.n3, arch.top, lambda m, u: 0.0 if m is None else motif(m, u), x)


def _evaluate_flat(cell: CellSpec, coef: dict[Op, float], x: float) -> float:
    nodes = [x] + [0.0] * (cell.n_nodes - 1)
    for src, dst, op in sorted(cell.edges, key=lambda e: e[1]):
        nodes[dst] += coef[op] * nodes[src]
    return nodes[-1]


def test_docstring_examples() -> None:
    res = doctest.testmod(hier_module, raise_on_error=False)
    assert res.failed == 0 and res.attempted > 0  # examples exist, and pass


def test_small_example() -> None:
    arch = HierArch.from_string(SMALL)
    assert (arch.M, arch.n2, arch.n3) == (1, 3, 3)
    assert arch.motifs == (("conv1x1", "none", "identity"),)
    assert arch.top == (0, None, 0)
    assert arch.to_string() == SMALL


@settings(max_examples=60, deadline=None)
@given(shape=SHAPES, seed=SEEDS)
def test_round_trip_for_any_shape(shape: tuple[int, int, int], seed: int) -> None:
    M, n2, n3 = shape
    space = HierSpace(M=M, n2=n2, n3=n3)
    arch = space.sample(np.random.default_rng(seed))
    s = arch.to_string()
    assert HierArch.from_string(s) == arch
    assert space.parse(s).to_string() == s
    assert HierArch.from_dict(arch.to_dict()) == arch
    assert (arch.M, arch.n2, arch.n3) == shape


@pytest.mark.parametrize(
    ("bad", "pattern"),
    [
        ("", r"position 0: expected 'm0=\('"),
        ("top=(m0)", r"position 0: expected 'm0=\('"),
        ("m0=(conv7x7|none,identity) top=(m0|none,m0)", r"position 4: expected a primitive"),
        ("m0=(Conv1x1|none,identity) top=(m0|none,m0)", r"position 4: expected a primitive"),
        ("m1=(conv1x1|none,identity) top=(m0|none,m0)", r"position 0: expected 'm0='"),
        ("m0=(conv1x1|none) top=(m0|none,m0)", r"position 16: expected ','.*node 2 takes 2"),
        ("m0=(conv1x1,none) top=(m0)", r"position 11: expected '\|' or '\)' after the 1"),
        (
            "m0=(conv1x1|none,identity) top=(m0|none,m1)",
            r"position 40: expected none or m0, found 'm0?1\)'",
        ),
        (
            "m0=(conv1x1|none,identity) top=(m0|none,m01)",
            r"position 40: expected none or m0, found 'm0?1\)'",
        ),
        ("m0=(conv1x1|none,identity) top=(m0|none,m0) x", r"position 43: expected end of string"),
        ("m0=(conv1x1|none,identity)  top=(m0)", r"position 27: expected 'm1='"),
        ("m0=(conv1x1|none,identity) m1=(none) top=(m0)", r"position 27: motif m1 has 2 nodes"),
        ("m0=(conv1x1|none,identity) top=(m0|none,m0", r"position 42: expected ',', '\|' or '\)'"),
        ("m0=(conv1x1|none,identity)", r"position 26: expected ' '"),
    ],
)
def test_malformed_strings(bad: str, pattern: str) -> None:
    with pytest.raises(SpaceError, match=pattern):
        HierArch.from_string(bad)


def test_arch_validation() -> None:
    with pytest.raises(SpaceError, match="at least one"):
        HierArch((), (None,))
    with pytest.raises(SpaceError, match="n\\*\\(n-1\\)/2"):
        HierArch((("none", "none"),), (None,))
    with pytest.raises(SpaceError, match="same node count"):
        HierArch((("none",), ("none", "none", "none")), (None,))
    with pytest.raises(SpaceError, match="unknown primitive"):
        HierArch((("conv9x9",),), (None,))
    with pytest.raises(SpaceError, match="motif index"):
        HierArch((("none",),), (1,))
    with pytest.raises(SpaceError, match="level-3 edge count"):
        HierArch((("none",),), (None, None))


def test_space_shape_is_checked(space: HierSpace) -> None:
    with pytest.raises(SpaceError, match="but this space \\(and so its tables\\) has 4 motifs"):
        space.parse(SMALL)
    with pytest.raises(SpaceError, match="n2 >= 2"):
        HierSpace(n2=1)
    assert (space.M, space.n2, space.n3) == (4, 3, 4)


def test_sample_prior_covers_every_label(space: HierSpace) -> None:
    rng = np.random.default_rng(0)
    prims: set[str] = set()
    tops: set[int | None] = set()
    for _ in range(50):
        arch = space.sample(rng)
        prims.update(p for m in arch.motifs for p in m)
        tops.update(arch.top)
    assert prims == set(HIER_PRIMITIVES)
    assert tops == {None, *range(space.M)}


def test_mutation_touches_both_levels(space: HierSpace) -> None:
    rng = np.random.default_rng(0)
    arch = space.sample(rng)
    levels = set()
    for _ in range(100):
        child = space.mutate(arch, rng)
        assert space.distance(arch, child) == 1
        levels.add(2 if child.top == arch.top else 3)
    assert levels == {2, 3}


def test_neighbors_count(space: HierSpace) -> None:
    arch = space.sample(np.random.default_rng(1))
    # M=4 motifs x 3 edges x 6 other primitives, then 6 level-3 edges x 4 other labels.
    assert len(space.neighbors(arch)) == 4 * 3 * 6 + 6 * 4
    small = HierSpace(M=1, n2=3, n3=3)
    nbrs = small.neighbors(small.parse(SMALL))
    assert len(nbrs) == 3 * 6 + 3 * 1
    assert nbrs[-1].to_string() == "m0=(conv1x1|none,identity) top=(m0|none,none)"


def test_distance_counts_labels(space: HierSpace) -> None:
    rng = np.random.default_rng(2)
    a, b = space.sample(rng), space.sample(rng)
    expected = sum(x != y for x, y in zip(a.top, b.top, strict=True)) + sum(
        x != y for ma, mb in zip(a.motifs, b.motifs, strict=True) for x, y in zip(ma, mb)
    )
    assert space.distance(a, b) == expected


def test_encode(space: HierSpace) -> None:
    arch = space.sample(np.random.default_rng(3))
    x = space.encode(arch)
    # One-hot: 4 motifs x 3 edges x 7 primitives, then 6 level-3 edges x (4 + none).
    assert x.shape == (4 * 3 * 7 + 6 * 5,)
    assert x.sum() == 4 * 3 + 6
    x2 = x[: 4 * 3 * 7].reshape(4, 3, 7)
    assert x2[0, 0, HIER_PRIMITIVES.index(arch.motifs[0][0])] == 1.0
    with pytest.raises(ValueError, match="unknown encoding"):
        space.encode(arch, kind="path")


def test_canonical_examples() -> None:
    space = HierSpace(M=2, n2=3, n3=3)
    # m0: edge 0->1 is dead (node 1 does not reach the output); m1 is unused.
    arch = space.parse("m0=(conv1x1|identity,none) m1=(conv1x1|none,none) top=(m0|m0,none)")
    canon = space.canonical(arch)
    # Level 3: 0->1 is dead (node 1 has no way to the output), 0->2 is live.
    assert canon.to_string() == "m0=(none|identity,none) m1=(none|none,none) top=(none|m0,none)"
    # A level-3 edge whose motif computes zero is dead too, and frees its motif.
    arch = space.parse("m0=(conv1x1|none,none) m1=(none|avgpool3x3,none) top=(m1|m0,m1)")
    canon = space.canonical(arch)
    assert canon.to_string() == "m0=(none|none,none) m1=(none|avgpool3x3,none) top=(m1|none,m1)"
    assert space.canonical(canon) == canon


@settings(max_examples=60, deadline=None)
@given(seed=SEEDS)
def test_canonical_preserves_the_network(space: HierSpace, seed: int) -> None:
    arch = space.sample(np.random.default_rng(seed))
    canon = space.canonical(arch)
    assert space.flatten(canon) == space.flatten(arch)
    assert space.lower(canon, C=4, N=1).digest() == space.lower(arch, C=4, N=1).digest()
    assert space.distance(arch, canon) >= 0


def test_flatten_small_example() -> None:
    space = HierSpace(M=1, n2=3, n3=3)
    cell = space.flatten(space.parse(SMALL))
    # Nodes: 0, inner node of the copy on 0->1, 1, inner node of the copy on 1->2, 2.
    assert cell == CellSpec(
        5, ((0, 1, Op.CONV1X1), (1, 2, Op.SKIP), (2, 3, Op.CONV1X1), (3, 4, Op.SKIP))
    )


def test_flatten_direct_motif_edge_and_empty() -> None:
    space = HierSpace(M=1, n2=2, n3=2)
    assert space.flatten(space.parse("m0=(sepconv3x3) top=(m0)")) == CellSpec(
        2, ((0, 1, Op.SEPCONV3X3),)
    )
    assert space.flatten(space.parse("m0=(none) top=(m0)")) == CellSpec(2, ())


@settings(max_examples=60, deadline=None)
@given(shape=SHAPES, seed=SEEDS)
def test_flatten_computes_the_hierarchical_function(shape: tuple[int, int, int], seed: int) -> None:
    """With each primitive a scalar gain, the flat DAG and the motif hierarchy agree."""
    M, n2, n3 = shape
    space = HierSpace(M=M, n2=n2, n3=n3)
    rng = np.random.default_rng(seed)
    arch = space.sample(rng)
    gains = dict(zip(HIER_PRIMITIVES[:-1], rng.uniform(0.5, 1.5, 6), strict=True))
    gains["none"] = 0.0
    cell = space.flatten(arch)
    flat = _evaluate_flat(cell, {_PRIM_TO_IR[p]: g for p, g in gains.items()}, 1.0)
    assert flat == pytest.approx(_evaluate_hier(arch, gains, 1.0), rel=1e-9, abs=1e-12)
    # Every edge of the flat DAG is live, and node indices respect the edge order.
    assert set(cell.live_edges()) == set(cell.edges)
    assert all(src < dst for src, dst, _ in cell.edges)


def test_lower_uses_the_nb201_skeleton(space: HierSpace) -> None:
    cell_space = get_space("cell")
    ref = cell_space.lower(cell_space.sample(np.random.default_rng(0)), C=8, N=2)
    arch = space.sample(np.random.default_rng(0))
    spec = space.lower(arch, C=8, N=2)
    assert spec.space == "hierarchical" and spec.arch == arch.to_string()
    assert spec.stem_channels == ref.stem_channels
    assert [(b.kind, b.c_in, b.c_out, b.stride) for b in spec.blocks] == [
        (b.kind, b.c_in, b.c_out, b.stride) for b in ref.blocks
    ]
    assert all(b.cell == space.flatten(arch) for b in spec.blocks if b.cell is not None)
    light = space.lower(arch, C=8, N=2, reduction="poolreduce")
    assert light.blocks[2].kind.value == "poolreduce"
    with pytest.raises(ValueError, match="reduction"):
        space.lower(arch, reduction="maxpool")
    with pytest.raises(TypeError, match="unexpected macro"):
        space.lower(arch, width=2)
