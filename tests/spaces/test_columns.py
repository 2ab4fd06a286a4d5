"""``SearchSpace.lower_columns`` describes the same networks as ``lower``, however built."""

from __future__ import annotations

import numpy as np
import pytest

from nasrepro.spaces import SpaceError, get_space, list_spaces
from nasrepro.spaces._columns import SpecColumns

MACROS = [
    {"C": 8, "N": 1, "reduction": "pool"},
    {"C": 16, "N": 2, "reduction": "resblock"},
    {"C": 5, "N": 3, "reduction": "poolreduce"},
]


def _block_view(cols: SpecColumns) -> tuple[np.ndarray, ...]:
    """Everything but the numbering of the cells: each block's resolved cell edges."""
    has = cols.cell >= 0
    u = np.where(has, cols.cell, 0)
    pad = np.where(has[:, None], 1, -7)
    return (
        cols.stems,
        cols.net,
        cols.kind,
        cols.c_in,
        cols.c_out,
        cols.stride,
        cols.cell_nodes[u] * has,
        cols.cell_src[u] * pad,
        cols.cell_dst[u] * pad,
        cols.cell_op[u] * pad,
    )


@pytest.mark.parametrize("space_name", list_spaces())
@pytest.mark.parametrize("macro", MACROS, ids=lambda m: m["reduction"])
def test_lower_columns_equals_lowering_each(space_name: str, macro: dict[str, object]) -> None:
    space = get_space(space_name)
    rng = np.random.default_rng(3)
    archs = [space.sample(rng) for _ in range(300)]
    strings = [a.to_string() for a in archs]
    ref = SpecColumns.from_specs([space.lower(a, **macro) for a in archs])
    for given in (strings, archs, strings[:1], []):
        cols = space.lower_columns(given, **macro)
        want = SpecColumns.from_specs(
            [space.lower(space.parse(a) if isinstance(a, str) else a, **macro) for a in given]
        )
        if not given:  # no blocks: the padded cell arrays may differ in width only
            assert len(cols) == 0 and len(cols.net) == 0
            continue
        for got, exp in zip(_block_view(cols), _block_view(want), strict=True):
            np.testing.assert_array_equal(got, exp)
    assert len(space.lower_columns(strings, **macro)) == len(ref) == 300


@pytest.mark.parametrize("space_name", ["cell", "chain"])
def test_lower_columns_names_the_bad_string(space_name: str) -> None:
    space = get_space(space_name)
    good = space.sample(np.random.default_rng(0)).to_string()
    bad = good.replace("|", "/", 1) if space_name == "cell" else good + "|conv9x9@1.0"
    with pytest.raises(SpaceError) as err:
        space.parse(bad)
    with pytest.raises(SpaceError) as err_cols:
        space.lower_columns([good, bad], C=8, N=1, reduction="pool")
    assert str(err_cols.value) == str(err.value)
    with pytest.raises(TypeError, match="unexpected macro"):
        space.lower_columns([good], C=8, N=1, reduction="pool", extra=1)


def test_chain_lower_columns_keeps_the_length_bounds() -> None:
    space = get_space("chain")
    with pytest.raises(SpaceError, match="outside"):
        space.lower_columns(["skip@0.5"], C=8, N=1, reduction="pool")  # 1 layer < L_min


@pytest.mark.parametrize("shape", [(4, 3, 4), (2, 4, 3), (1, 2, 2), (3, 5, 5), (6, 4, 5)])
def test_hierarchical_array_lowering_equals_flatten_for_every_shape(
    shape: tuple[int, int, int],
) -> None:
    """The array lowering rebuilds canonical() and flatten() from tables; sparse labels
    (mostly ``none``) make dead edges, zero motifs and untouched inner nodes common."""
    from nasrepro.spaces import HierArch
    from nasrepro.spaces._hier import HIER_PRIMITIVES, _string_pattern, motif_edges

    M, n2, n3 = shape
    space = get_space("hierarchical", M=M, n2=n2, n3=n3)
    rng = np.random.default_rng(sum(shape))
    archs = [space.sample(rng) for _ in range(150)]
    for _ in range(150):  # p(none) = 0.6 on both levels
        motifs = tuple(
            tuple(
                "none" if rng.random() < 0.6 else HIER_PRIMITIVES[int(rng.integers(6))]
                for _ in motif_edges(n2)
            )
            for _ in range(M)
        )
        top = tuple(None if rng.random() < 0.6 else int(rng.integers(M)) for _ in motif_edges(n3))
        archs.append(HierArch(motifs, top))
    macro = {"C": 8, "N": 1, "reduction": "pool"}
    want = SpecColumns.from_specs([space.lower(a, **macro) for a in archs])
    fast, _ = _string_pattern(M, n2, n3)  # every printed string takes the fast read
    assert all(fast.fullmatch(a.to_string()) for a in archs)
    for given in ([a.to_string() for a in archs], archs):
        cols = space.lower_columns(given, **macro)
        for got, exp in zip(_block_view(cols), _block_view(want), strict=True):
            np.testing.assert_array_equal(got, exp)
        np.testing.assert_array_equal(cols.cell_nodes, want.cell_nodes)


def test_hierarchical_lower_columns_names_the_bad_string_and_shape() -> None:
    space = get_space("hierarchical")
    good = space.sample(np.random.default_rng(0)).to_string()
    for bad in (good.replace("top=", "top=(", 1), good.replace("m1=", "m7=", 1), good + " x"):
        with pytest.raises(SpaceError) as err:
            space.parse(bad)
        with pytest.raises(SpaceError) as err_cols:
            space.lower_columns([good, bad])
        assert str(err_cols.value) == str(err.value)
    other = get_space("hierarchical", M=2).sample(np.random.default_rng(0))
    shape = (
        r"has 2 motifs of 3 nodes and a top graph of 4 nodes, but this space \(and so its "
        r"tables\) has 4 motifs of 3 nodes .* \(e\.g\. m0=.*\), or in Python use "
        r"get_space\('hierarchical', M=2, n2=3, n3=4\)"
    )
    with pytest.raises(SpaceError, match=shape):
        space.lower_columns([other])
    with pytest.raises(SpaceError, match=shape) as err:
        space.lower_columns([other.to_string()])
    example = str(err.value).split("(e.g. ")[1].split("), or")[0]
    assert space.parse(example).to_string() == example  # the example is of the right shape
