"""Network digests: one per lowered network, however the columns were built."""

from __future__ import annotations

import numpy as np
import pytest

from nasrepro.spaces import (
    Block,
    BlockKind,
    CellSpec,
    NetworkSpec,
    Op,
    get_space,
    list_spaces,
    lowered_digests,
    network_digests,
    specs_digest,
)
from nasrepro.spaces._columns import SpecColumns

MACRO = {"C": 8, "N": 2, "reduction": "resblock"}


@pytest.mark.parametrize("space_name", list_spaces())
def test_digest_is_the_same_by_every_route_and_batch(space_name: str) -> None:
    space = get_space(space_name)
    rng = np.random.default_rng(5)
    archs = list(dict.fromkeys(space.sample(rng).to_string() for _ in range(60)))
    fast = lowered_digests(space, archs, **MACRO)
    specs = [space.lower(a, **MACRO) for a in archs]
    assert network_digests(SpecColumns.from_specs(specs)) == fast  # cells shared by identity
    assert [lowered_digests(space, [a], **MACRO)[0] for a in archs[:5]] == fast[:5]
    assert lowered_digests(space, archs[::-1], **MACRO) == fast[::-1]
    # equal networks, equal digests: networks differ exactly where their specs do
    pairs = {(s.digest(), d) for s, d in zip(specs, fast, strict=True)}
    assert len(pairs) == len({s.digest() for s in specs}) == len(set(fast))
    assert lowered_digests(space, archs[:3], **{**MACRO, "C": 9}) != fast[:3]


def test_every_field_of_a_network_counts() -> None:
    cell = CellSpec(3, ((0, 1, Op.SKIP), (1, 2, Op.CONV3X3), (0, 2, Op.NONE)))

    def net(cell: CellSpec = cell, c: int = 4, kind: BlockKind = BlockKind.POOL) -> NetworkSpec:
        return NetworkSpec(c, (Block(BlockKind.CELL, c, c, 1, cell), Block(kind, c, 2 * c, 2)))

    variants = [
        net(),
        net(c=5),
        net(kind=BlockKind.RESBLOCK),
        net(CellSpec(3, ((0, 1, Op.AVGPOOL3X3), (1, 2, Op.CONV3X3), (0, 2, Op.NONE)))),
        net(CellSpec(3, ((0, 1, Op.SKIP), (1, 2, Op.CONV3X3)))),
        net(CellSpec(4, ((0, 1, Op.SKIP), (1, 3, Op.CONV3X3), (0, 3, Op.NONE)))),
        NetworkSpec(4, (Block(BlockKind.CELL, 4, 4, 1, cell),)),
    ]
    digests = network_digests(SpecColumns.from_specs(variants))
    assert len(set(digests)) == len(variants)
    # provenance is not part of the network
    named = NetworkSpec(4, net().blocks, space="x", arch="y")
    assert network_digests(SpecColumns.from_specs([named])) == digests[:1]


def test_specs_digest_covers_names_and_order() -> None:
    d = specs_digest(["a", "b"], ["1", "2"])
    assert d != specs_digest(["b", "a"], ["2", "1"])
    assert d != specs_digest(["a", "c"], ["1", "2"])
    assert d != specs_digest(["a", "b"], ["1", "3"])
    assert network_digests(SpecColumns.from_specs([])) == []
    with pytest.raises(ValueError, match="2 architectures but 1"):
        specs_digest(["a", "b"], ["1"])
