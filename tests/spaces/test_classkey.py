"""Class keys: one key per lowered network up to relabelling, in every space."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import nasrepro.spaces._classkey as classkey_module
from nasrepro.spaces import (
    Block,
    BlockKind,
    CellSpec,
    HierArch,
    HierSpace,
    NetworkSpec,
    Op,
    cell_expression,
    class_keys,
    get_space,
    list_spaces,
    lowered_class_keys,
    network_class_key,
)
from nasrepro.spaces._columns import SpecColumns
from nasrepro.spaces._hier import motif_edges

#: mnist1d-tiny's macro, under which the shipped tables were trained.
MACRO = {"C": 8, "N": 1, "reduction": "pool"}

#: The pair checked by hand in the benchmarks audit (2026-12-07, finding 1): a test
#: architecture of the shipped hierarchical held-out set and a training architecture
#: that both compute dw(x) + maxpool(dw(x)) (they trained to the same accuracy, bit for
#: bit, on seeds 0 and 1).
AUDIT_TEST = (
    "m0=(none|none,none) m1=(none|none,none) m2=(dwconv3x3|dwconv3x3,maxpool3x3) "
    "m3=(none|none,none) top=(none|none,none|m2,none,none)"
)
AUDIT_TRAIN = (
    "m0=(none|none,none) m1=(none|maxpool3x3,none) m2=(none|none,none) "
    "m3=(none|dwconv3x3,none) top=(m3|none,none|m3,m1,none)"
)


def test_docstring_examples() -> None:
    res = doctest.testmod(classkey_module, raise_on_error=False)
    assert res.failed == 0 and res.attempted > 0  # examples exist, and pass


def _partition(labels: list[str] | np.ndarray) -> set[frozenset[int]]:
    classes: dict[object, set[int]] = {}
    for i, k in enumerate(np.asarray(labels).tolist()):
        classes.setdefault(k, set()).add(i)
    return {frozenset(c) for c in classes.values()}


def test_cell_keys_are_exactly_the_canonical_classes() -> None:
    space = get_space("cell")
    archs = list(space.enumerate())
    keys = lowered_class_keys(space, archs, **MACRO)
    assert len(set(keys)) == 6466
    assert _partition(keys) == _partition(space.canonical_indices())
    # the macro does not change the partition, only the keys
    other = lowered_class_keys(space, archs, C=4, N=2, reduction="resblock")
    assert _partition(other) == _partition(keys) and set(other).isdisjoint(keys)


@pytest.mark.parametrize("space_name", list_spaces())
def test_every_route_gives_the_same_keys(space_name: str) -> None:
    space = get_space(space_name)
    rng = np.random.default_rng(3)
    archs = list(dict.fromkeys(space.sample(rng).to_string() for _ in range(60)))
    fast = lowered_class_keys(space, archs, **MACRO)
    specs = [space.lower(space.parse(a), **MACRO) for a in archs]
    assert [network_class_key(s) for s in specs] == fast
    assert class_keys(SpecColumns.from_specs(specs)) == fast
    assert lowered_class_keys(space, archs[::-1], **MACRO) == fast[::-1]
    assert lowered_class_keys(space, [], **MACRO) == []
    # a canonical form is the same network, so it has the same key
    assert lowered_class_keys(space, [space.canonical(space.parse(a)) for a in archs], **MACRO) == (
        fast
    )


def test_the_audits_hierarchical_pair_is_one_class() -> None:
    space = get_space("hierarchical")
    test, train = lowered_class_keys(space, [AUDIT_TEST, AUDIT_TRAIN], **MACRO)
    assert test == train
    flat = space.flatten(space.parse(AUDIT_TEST))
    assert cell_expression(flat) == "((0)@dwconv3x3)@maxpool3x3+(0)@dwconv3x3"
    # one op changed on a live edge: another network
    other = AUDIT_TRAIN.replace("m1=(none|maxpool3x3,none)", "m1=(none|avgpool3x3,none)")
    assert lowered_class_keys(space, [other], **MACRO) != [test]


def _permute_motifs(arch: HierArch, perm: list[int]) -> HierArch:
    """Motif ``m`` renamed ``perm[m]``: the same network under another string."""
    motifs = [arch.motifs[0]] * arch.M
    for m, labels in enumerate(arch.motifs):
        motifs[perm[m]] = labels
    top = tuple(None if t is None else perm[t] for t in arch.top)
    return HierArch(tuple(motifs), top)


def _relabel(
    labels: tuple[object, ...], n: int, perm: list[int], empty: object
) -> tuple[object, ...] | None:
    """A motif's edge labels with node ``v`` renamed ``perm[v]``, or ``None`` where a
    present edge would run from a higher to a lower node."""
    edges = motif_edges(n)
    out = {e: empty for e in edges}
    for (s, d), lab in zip(edges, labels, strict=True):
        if lab == empty:
            continue
        if perm[s] >= perm[d]:
            return None
        out[perm[s], perm[d]] = lab
    return tuple(out[e] for e in edges)


@pytest.mark.parametrize("shape", [(4, 3, 4), (3, 4, 5)])
def test_hierarchical_isomorphs_share_a_key(shape: tuple[int, int, int]) -> None:
    M, n2, n3 = shape
    space = HierSpace(M=M, n2=n2, n3=n3)
    rng = np.random.default_rng(11)
    checked = {"motifs": 0, "level-3 nodes": 0, "motif nodes": 0}
    for _ in range(300):
        arch = space.sample(rng)
        key = lowered_class_keys(space, [arch], **MACRO)[0]
        perm = [int(p) for p in rng.permutation(M)]
        assert lowered_class_keys(space, [_permute_motifs(arch, perm)], **MACRO) == [key]
        checked["motifs"] += 1
        # relabel the inner nodes of the level-3 motif, and of every level-2 motif
        inner3 = [0, *(1 + rng.permutation(n3 - 2)).tolist(), n3 - 1]
        top = _relabel(arch.top, n3, inner3, None)
        if top is not None and top != arch.top:
            relabelled = HierArch(arch.motifs, top)  # type: ignore[arg-type]
            assert lowered_class_keys(space, [relabelled], **MACRO) == [key]
            checked["level-3 nodes"] += 1
        motifs = []
        for labels in arch.motifs:  # each motif's inner nodes renamed its own way
            inner2 = [0, *(1 + rng.permutation(n2 - 2)).tolist(), n2 - 1]
            motifs.append(_relabel(labels, n2, inner2, "none") or labels)
        if tuple(motifs) != arch.motifs:
            relabelled = HierArch(tuple(motifs), arch.top)  # type: ignore[arg-type]
            assert lowered_class_keys(space, [relabelled], **MACRO) == [key]
            checked["motif nodes"] += 1
    if n2 < 4:  # one inner node: nothing to rename
        del checked["motif nodes"]
    assert min(checked.values()) >= 10, checked  # every kind of relabelling was tried


def test_cell_dag_relabelled_and_reordered_keeps_its_key() -> None:
    """At the IR level: any topological renumbering of a cell's inner nodes and any
    order of its edges give the same key."""
    space = get_space("hierarchical")
    rng = np.random.default_rng(2)
    for _ in range(100):
        cell = space.flatten(space.sample(rng))
        n = cell.n_nodes
        # a random topological order of the inner nodes (Kahn's algorithm, random picks)
        preds = {v: {s for s, d, _ in cell.edges if d == v} for v in range(n)}
        order, done = [0], {0}
        while len(order) < n - 1:
            ready = [v for v in range(1, n - 1) if v not in done and preds[v] <= done]
            v = ready[int(rng.integers(len(ready)))]
            order.append(v)
            done.add(v)
        new = {v: i for i, v in enumerate([*order, n - 1])}
        edges = [(new[s], new[d], op) for s, d, op in cell.edges]
        edges = [edges[i] for i in rng.permutation(len(edges))]
        assert cell_expression(CellSpec(n, tuple(edges))) == cell_expression(cell)


def test_keys_tell_networks_apart() -> None:
    def net(cell: CellSpec, c_out: int = 4, stride: int = 1) -> NetworkSpec:
        return NetworkSpec(4, (Block(BlockKind.CELL, 4, c_out, stride, cell),))

    skip = CellSpec(2, ((0, 1, Op.SKIP),))
    conv = CellSpec(3, ((0, 1, Op.CONV3X3), (1, 2, Op.SKIP)))
    keys = [
        network_class_key(net(skip)),
        network_class_key(net(CellSpec(2, ((0, 1, Op.CONV3X3),)))),
        network_class_key(net(conv)),
        network_class_key(net(skip, c_out=8)),  # the skip becomes a 1x1 conv
        network_class_key(net(skip, stride=2)),
        network_class_key(net(CellSpec(2, ((0, 1, Op.NONE),)))),
        network_class_key(net(CellSpec(2, ()))),
    ]
    # conv then identity is conv; 'none' and no edge are both zero
    assert keys[1] == keys[2] and keys[5] == keys[6]
    assert len({keys[0], keys[1], keys[3], keys[4], keys[5]}) == 5
    assert cell_expression(skip) == "0"
    assert cell_expression(skip, input_skip_is_identity=False) == "(0)@skip"
    # a resampling skip leaving node 0 counts as an op; one between inner nodes does not
    assert cell_expression(conv, input_skip_is_identity=False) == "(0)@conv3x3"
    # not a network digest: the two kinds of hash never coincide
    from nasrepro.spaces import network_digests

    cols = SpecColumns.from_specs([net(skip)])
    assert network_digests(cols) != class_keys(cols)
