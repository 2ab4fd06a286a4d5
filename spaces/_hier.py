"""The hierarchical space of Liu et al. (ICLR 2018): primitives, level-2 and level-3 motifs."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from nasrepro.spaces._base import Architecture, Decisions, SearchSpace, SpaceError, register_space
from nasrepro.spaces._columns import IR_OPS, SpecColumns
from nasrepro.spaces._errors import ConfigError
from nasrepro.spaces._spec import CellSpec, NetworkSpec, Op, nb201_skeleton

__all__ = [
    "HierArch",
    "HierSpace",
    "HierDecisions",
    "HIER_PRIMITIVES",
    "motif_edges",
    "nb201_skeleton",
]

#: Level-1 primitives, in the order used by sampling and encodings.
HIER_PRIMITIVES: tuple[str, ...] = (
    "conv1x1",
    "dwconv3x3",
    "sepconv3x3",
    "maxpool3x3",
    "avgpool3x3",
    "identity",
    "none",
)
_PRIM_TO_IR = {
    "conv1x1": Op.CONV1X1,
    "dwconv3x3": Op.DWCONV3X3,
    "sepconv3x3": Op.SEPCONV3X3,
    "maxpool3x3": Op.MAXPOOL3X3,
    "avgpool3x3": Op.AVGPOOL3X3,
    "identity": Op.SKIP,
    "none": Op.NONE,
}
_NONE = "none"
_PRIM_CODE = {p: i for i, p in enumerate(HIER_PRIMITIVES)}
_NONE_CODE = _PRIM_CODE[_NONE]
_IR_CODE = np.array([IR_OPS.index(_PRIM_TO_IR[p]) for p in HIER_PRIMITIVES], dtype=np.int64)
#: Above this many edges in a motif the array lowering's liveness tables (2**edges rows)
#: would be too big; such spaces lower one architecture at a time.
_MAX_TABLE_EDGES = 16
_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_INT = re.compile(r"0|[1-9][0-9]*")
_LABEL3 = re.compile(r"[a-z0-9_]+")
#: A sortable key of a node of the flattened DAG (see ``HierSpace.flatten``).
_Key = tuple[int, int, int, int]


@functools.lru_cache(maxsize=64)
def motif_edges(n_nodes: int) -> tuple[tuple[int, int], ...]:
    """The edges of an ``n_nodes`` motif as ``(src, dst)``, grouped by ``dst`` then by ``src``.

    This is the order of edge labels in :class:`HierArch` and in the arch string.

    Example:
        >>> motif_edges(4)
        ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
    """
    return tuple((src, dst) for dst in range(1, n_nodes) for src in range(dst))


def _n_nodes(n_edges: int) -> int | None:
    """The node count whose motif has ``n_edges`` edges, or ``None``."""
    n = 2
    while n * (n - 1) // 2 < n_edges:
        n += 1
    return n if n * (n - 1) // 2 == n_edges else None


@functools.lru_cache(maxsize=65536)
def _live_mask(n_nodes: int, labels: tuple[bool, ...]) -> tuple[bool, ...]:
    """Which edges (in :func:`motif_edges` order) lie on an input-to-output path.

    ``labels[k]`` says whether edge ``k`` is present (not ``none``).
    """
    edges = motif_edges(n_nodes)
    from_in = {0}
    for (src, dst), present in zip(edges, labels, strict=True):  # edges sorted by dst
        if present and src in from_in:
            from_in.add(dst)
    to_out = {n_nodes - 1}
    for (src, dst), present in sorted(zip(edges, labels, strict=True), key=lambda e: -e[0][0]):
        if present and dst in to_out:
            to_out.add(src)
    return tuple(
        present and src in from_in and dst in to_out
        for (src, dst), present in zip(edges, labels, strict=True)
    )


@dataclass(frozen=True)
class HierArch(Architecture):
    """A hierarchical architecture: ``M`` level-2 motifs and one level-3 motif.

    ``motifs[m]`` holds the primitive (from :data:`HIER_PRIMITIVES`) on each edge of
    level-2 motif ``m``, in :func:`motif_edges` order; ``top`` holds, per edge of the
    level-3 motif, the index of the level-2 motif on it or ``None``. The shape
    ``(M, n2, n3)`` is read off the tuples.

    String format: the motifs ``m0 ... m{M-1}`` then the level-3 motif, separated by
    single spaces::

        m0=(conv1x1|none,identity|...) m1=(...) ... top=(m0|none,m3|...)

    Inside the parentheses, ``|`` separates the nodes ``1 .. n-1`` in order, and each
    node lists the labels of its incoming edges from nodes ``0 .. dst-1``, separated
    by ``,``. Level-2 labels are primitive names; level-3 labels are ``m<k>`` or
    ``none``. Printing and parsing round-trip exactly; a malformed string raises
    :class:`SpaceError` naming the character position and the expected token.

    Example:
        >>> a = HierArch.from_string("m0=(conv1x1|none,identity) top=(m0|none,m0)")
        >>> a.motifs, a.top
        ((('conv1x1', 'none', 'identity'),), (0, None, 0))
        >>> a.to_string()
        'm0=(conv1x1|none,identity) top=(m0|none,m0)'
    """

    motifs: tuple[tuple[str, ...], ...]
    top: tuple[int | None, ...]
    space_name: ClassVar[str] = "hierarchical"

    def __post_init__(self) -> None:
        if not self.motifs:
            raise SpaceError("need at least one level-2 motif")
        n_e2 = len(self.motifs[0])
        if _n_nodes(n_e2) is None or n_e2 < 1:
            raise SpaceError(f"a motif's edge count must be n*(n-1)/2 for n >= 2, got {n_e2}")
        for m, labels in enumerate(self.motifs):
            if len(labels) != n_e2:
                raise SpaceError(
                    f"motif {m} has {len(labels)} edges but motif 0 has {n_e2}; "
                    "all level-2 motifs must have the same node count"
                )
            for k, p in enumerate(labels):
                if p not in _PRIM_TO_IR:
                    raise SpaceError(
                        f"motif {m} edge {k}: unknown primitive {p!r}; "
                        f"expected one of {HIER_PRIMITIVES}"
                    )
        if _n_nodes(len(self.top)) is None or not self.top:
            raise SpaceError(
                f"the level-3 edge count must be n*(n-1)/2 for n >= 2, got {len(self.top)}"
            )
        for k, t in enumerate(self.top):
            if t is not None and (
                isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < len(self.motifs)
            ):
                raise SpaceError(
                    f"level-3 edge {k}: label {t!r} must be None or a motif index in "
                    f"[0, {len(self.motifs)})"
                )

    @property
    def M(self) -> int:
        """Number of level-2 motifs."""
        return len(self.motifs)

    @property
    def n2(self) -> int:
        """Nodes per level-2 motif."""
        n = _n_nodes(len(self.motifs[0]))
        assert n is not None  # checked in __post_init__
        return n

    @property
    def n3(self) -> int:
        """Nodes of the level-3 motif."""
        n = _n_nodes(len(self.top))
        assert n is not None  # checked in __post_init__
        return n

    def to_string(self) -> str:
        parts = [f"m{m}={_group_string(self.n2, labels)}" for m, labels in enumerate(self.motifs)]
        top = tuple(_NONE if t is None else f"m{t}" for t in self.top)
        parts.append(f"top={_group_string(self.n3, top)}")
        return " ".join(parts)

    @classmethod
    def from_string(cls, s: str) -> HierArch:
        if not isinstance(s, str):
            raise TypeError(f"expected an arch string, got {type(s).__name__}")
        return _Parser(s.strip()).parse()  # a pasted string's newline or spaces


def _group_string(n_nodes: int, labels: tuple[str, ...]) -> str:
    groups = []
    k = 0
    for dst in range(1, n_nodes):
        groups.append(",".join(labels[k : k + dst]))
        k += dst
    return "(" + "|".join(groups) + ")"


class _Parser:
    """Recursive-descent parser of the :class:`HierArch` string, tracking positions."""

    def __init__(self, s: str) -> None:
        self.s = s
        self.pos = 0

    def fail(self, expected: str, pos: int | None = None) -> SpaceError:
        pos = self.pos if pos is None else pos
        found = repr(self.s[pos : pos + 12]) if pos < len(self.s) else "end of string"
        return SpaceError(f"position {pos}: expected {expected}, found {found}")

    def literal(self, lit: str, why: str = "") -> None:
        if not self.s.startswith(lit, self.pos):
            raise self.fail(repr(lit) + why)
        self.pos += len(lit)

    def regex(self, pattern: re.Pattern[str], expected: str) -> str:
        match = pattern.match(self.s, self.pos)
        if match is None:
            raise self.fail(expected)
        self.pos = match.end()
        return match.group()

    def group(self, pattern: re.Pattern[str], expected: str) -> list[tuple[str, int]]:
        """``(a|b,c|...)``: labels with their positions; checks each node's input count."""
        self.literal("(")
        out: list[tuple[str, int]] = []
        dst = 1
        while True:
            for src in range(dst):
                if src:
                    self.literal(",", f" (node {dst} takes {dst} inputs, from nodes 0..{dst - 1})")
                start = self.pos
                out.append((self.regex(pattern, expected), start))
            if self.pos < len(self.s) and self.s[self.pos] == ",":
                raise self.fail(f"'|' or ')' after the {dst} inputs of node {dst}")
            if self.pos < len(self.s) and self.s[self.pos] == ")":
                self.pos += 1
                return out
            if self.pos >= len(self.s) or self.s[self.pos] != "|":
                raise self.fail(f"',', '|' or ')' after an edge label of node {dst}")
            self.pos += 1
            dst += 1

    def parse(self) -> HierArch:
        if not self.s:
            raise self.fail("'m0=(' (a hierarchical arch 'm0=(...) m1=(...) ... top=(...)')")
        prims = "a primitive, one of " + ", ".join(HIER_PRIMITIVES)
        motifs: list[tuple[str, ...]] = []
        n_e2: int | None = None
        while not self.s.startswith("top=", self.pos):
            start = self.pos
            self.literal(f"m{len(motifs)}=")
            labels = self.group(_NAME, prims)
            for p, at in labels:
                if p not in _PRIM_TO_IR:
                    raise self.fail(prims, at)
            if n_e2 is not None and len(labels) != n_e2:
                raise SpaceError(
                    f"position {start}: motif m{len(motifs)} has {_n_nodes(len(labels))} nodes; "
                    f"expected {_n_nodes(n_e2)} like m0"
                )
            n_e2 = len(labels)
            motifs.append(tuple(p for p, _ in labels))
            self.literal(" ")
        if not motifs:
            raise self.fail("'m0=(' (at least one level-2 motif before 'top=')")
        self.literal("top=")
        names = "none or " + ("m0" if len(motifs) == 1 else f"a motif name m0..m{len(motifs) - 1}")
        top: list[int | None] = []
        for label, at in self.group(_LABEL3, names):
            if label == _NONE:
                top.append(None)
                continue
            digits = label[1:]
            if not (label.startswith("m") and _INT.fullmatch(digits)) or int(digits) >= len(motifs):
                raise self.fail(names, at)
            top.append(int(digits))
        if self.pos != len(self.s):
            raise self.fail("end of string after the level-3 motif")
        return HierArch(tuple(motifs), tuple(top))


class HierDecisions(Decisions):
    """The hierarchical space as fixed-length decisions: every edge label.

    First each level-2 edge (motif by motif, in :func:`motif_edges` order; the 7
    primitives), then each level-3 edge (``m0 .. m{M-1}``, then ``none``), the order of
    :meth:`HierSpace.encode`.
    """

    def __init__(self, M: int, n2: int, n3: int) -> None:
        self.M, self.n2, self.n3 = M, n2, n3
        e2, e3 = motif_edges(n2), motif_edges(n3)
        names = [f"m{m}:{s}->{d}" for m in range(M) for s, d in e2]
        names += [f"top:{s}->{d}" for s, d in e3]
        top = tuple(f"m{m}" for m in range(M)) + (_NONE,)
        super().__init__(names, [HIER_PRIMITIVES] * (M * len(e2)) + [top] * len(e3))
        self._n_e2 = len(e2)

    def to_codes(self, arch: Architecture) -> np.ndarray:
        if not isinstance(arch, HierArch):
            raise TypeError(f"expected a HierArch, got {type(arch).__name__}")
        if (arch.M, arch.n2, arch.n3) != (self.M, self.n2, self.n3):
            raise SpaceError(
                f"arch has (M, n2, n3) = {(arch.M, arch.n2, arch.n3)}, not {(self.M, self.n2, self.n3)}"
            )
        lv2 = [HIER_PRIMITIVES.index(p) for labels in arch.motifs for p in labels]
        lv3 = [self.M if t is None else t for t in arch.top]
        return np.array(lv2 + lv3, dtype=np.int64)

    def from_codes(self, codes: np.ndarray) -> Architecture:
        c = np.asarray(codes, dtype=np.int64)
        if c.shape != (self.n_decisions,) or (c < 0).any() or (c >= self.n_choices).any():
            raise SpaceError(
                f"expected {self.n_decisions} codes within their choice counts, got {c}"
            )
        n2 = self.M * self._n_e2
        motifs = tuple(
            tuple(HIER_PRIMITIVES[int(i)] for i in c[m * self._n_e2 : (m + 1) * self._n_e2])
            for m in range(self.M)
        )
        top = tuple(None if int(i) == self.M else int(i) for i in c[n2:])
        return HierArch(motifs, top)


@register_space("hierarchical")
class HierSpace(SearchSpace[HierArch]):
    """Liu et al.'s hierarchical space ("Hierarchical Representations for Efficient
    Architecture Search", ICLR 2018).

    Level-1 primitives are :data:`HIER_PRIMITIVES` (1x1 conv, 3x3 depthwise conv, 3x3
    separable conv, 3x3 max / avg pooling, identity, none). There are ``M`` level-2
    motifs, DAGs of ``n2`` nodes whose every edge ``i < j`` carries a primitive, and
    one level-3 motif, a DAG of ``n3`` nodes whose every edge carries a level-2 motif
    index or ``none``. The space is astronomically large (``7**(M * n2(n2-1)/2) *
    (M+1)**(n3(n3-1)/2)`` labellings).

    Prior: :meth:`sample` draws every label independently and uniformly, a primitive
    out of 7 on each level-2 edge and one of ``M + 1`` labels on each level-3 edge.

    Deliberate simplification: nodes *sum* their inputs (the shared IR's semantics);
    Liu et al. concatenate them and fuse with a 1x1 convolution.

    Default size: ``M=4`` motifs of ``n2=3`` nodes under an ``n3=4``-node level-3
    motif, about ``2e14`` labellings. Liu et al.'s CIFAR-10 size is
    ``HierSpace(M=6, n2=4, n3=5)``. Lowered under ``mnist1d-tiny``, its median network
    has 105 live ops against 15 for a cell, and one training takes 7-40 times as long
    as a cell's on a CPU, which puts the surrogate's 1,400 trained samples out of
    reach. The default keeps the motif-of-motif structure at a median of 27 live ops.

    Args:
        M: Number of level-2 motifs.
        n2: Nodes per level-2 motif (input and output included).
        n3: Nodes of the level-3 motif (input and output included).
    """

    arch_type: ClassVar[type[Architecture]] = HierArch

    def __init__(self, M: int = 4, n2: int = 3, n3: int = 4) -> None:
        if M < 1 or n2 < 2 or n3 < 2:
            raise SpaceError(f"need M >= 1, n2 >= 2 and n3 >= 2, got {M=}, {n2=}, {n3=}")
        self.M = M
        self.n2 = n2
        self.n3 = n3

    @property
    def _n_e2(self) -> int:
        return self.n2 * (self.n2 - 1) // 2

    @property
    def _n_e3(self) -> int:
        return self.n3 * (self.n3 - 1) // 2

    def _check(self, arch: HierArch) -> None:
        if not isinstance(arch, HierArch):
            raise TypeError(f"expected a HierArch, got {type(arch).__name__}")
        if (arch.M, arch.n2, arch.n3) != (self.M, self.n2, self.n3):
            raise SpaceError(
                f"the architecture has {arch.M} motifs of {arch.n2} nodes and a top graph of "
                f"{arch.n3} nodes, but this space (and so its tables) has {self.M} motifs of "
                f"{self.n2} nodes and a top graph of {self.n3} nodes: write it in that shape "
                f"(e.g. {self.sample(np.random.default_rng(0)).to_string()}), or in Python "
                f"use get_space('hierarchical', M={arch.M}, n2={arch.n2}, n3={arch.n3})"
            )

    def parse(self, s: str) -> HierArch:
        arch = HierArch.from_string(s)
        self._check(arch)
        return arch

    def sample(self, rng: np.random.Generator) -> HierArch:
        p = rng.integers(0, len(HIER_PRIMITIVES), (self.M, self._n_e2))
        t = rng.integers(0, self.M + 1, self._n_e3)  # M means none
        motifs = tuple(tuple(HIER_PRIMITIVES[int(i)] for i in row) for row in p)
        return HierArch(motifs, tuple(None if int(i) == self.M else int(i) for i in t))

    def mutate(self, arch: HierArch, rng: np.random.Generator) -> HierArch:
        """Liu et al.'s mutation: a uniform level (2 or 3), motif and edge; a new label.

        The new label is drawn uniformly from those that differ from the current one.
        """
        self._check(arch)
        if int(rng.integers(2)) == 0:
            m = int(rng.integers(self.M))
            k = int(rng.integers(self._n_e2))
            choices = [p for p in HIER_PRIMITIVES if p != arch.motifs[m][k]]
            return self._set2(arch, m, k, choices[int(rng.integers(len(choices)))])
        k = int(rng.integers(self._n_e3))
        tchoices = [t for t in (*range(self.M), None) if t != arch.top[k]]
        return self._set3(arch, k, tchoices[int(rng.integers(len(tchoices)))])

    @staticmethod
    def _set2(arch: HierArch, m: int, k: int, prim: str) -> HierArch:
        motif = list(arch.motifs[m])
        motif[k] = prim
        motifs = list(arch.motifs)
        motifs[m] = tuple(motif)
        return HierArch(tuple(motifs), arch.top)

    @staticmethod
    def _set3(arch: HierArch, k: int, label: int | None) -> HierArch:
        top = list(arch.top)
        top[k] = label
        return HierArch(arch.motifs, tuple(top))

    def neighbors(self, arch: HierArch) -> list[HierArch]:
        """Every single-edge replacement: level-2 motifs in order, then the level-3 motif."""
        self._check(arch)
        out: list[HierArch] = []
        for m, labels in enumerate(arch.motifs):
            for k, cur in enumerate(labels):
                out.extend(self._set2(arch, m, k, p) for p in HIER_PRIMITIVES if p != cur)
        for k, cur3 in enumerate(arch.top):
            out.extend(self._set3(arch, k, t) for t in (*range(self.M), None) if t != cur3)
        return out

    def distance(self, a: HierArch, b: HierArch) -> int:
        """Number of edge labels (at both levels) that differ."""
        self._check(a)
        self._check(b)
        d = sum(x != y for x, y in zip(a.top, b.top, strict=True))
        for ma, mb in zip(a.motifs, b.motifs, strict=True):
            d += sum(x != y for x, y in zip(ma, mb, strict=True))
        return d

    def encode(self, arch: HierArch, kind: str = "adjacency") -> np.ndarray:
        """Concatenated one-hots of every edge label.

        First the level-2 edges (motif by motif, in :func:`motif_edges` order, 7 primitives
        each), then the level-3 edges (``M + 1`` labels each, ``none`` last). Shape
        ``(M * n2(n2-1)/2 * 7 + n3(n3-1)/2 * (M + 1),)``. ``kind`` must be ``"adjacency"``.
        """
        if kind != "adjacency":
            raise ConfigError(f"unknown encoding {kind=}; the hierarchical space has 'adjacency'")
        self._check(arch)
        x2 = np.zeros((self.M, self._n_e2, len(HIER_PRIMITIVES)), dtype=np.float32)
        for m, labels in enumerate(arch.motifs):
            x2[m, np.arange(self._n_e2), [HIER_PRIMITIVES.index(p) for p in labels]] = 1.0
        x3 = np.zeros((self._n_e3, self.M + 1), dtype=np.float32)
        x3[np.arange(self._n_e3), [self.M if t is None else t for t in arch.top]] = 1.0
        return np.concatenate([x2.ravel(), x3.ravel()])

    def decisions(self) -> HierDecisions:
        """Every edge label as one decision (see :class:`HierDecisions`)."""
        return HierDecisions(self.M, self.n2, self.n3)

    def canonical(self, arch: HierArch) -> HierArch:
        """Remove dead edges, so that archs computing the same DAG share one representative.

        1. In each level-2 motif, an edge that is ``none`` or lies on no input-to-output
           path becomes ``none``; a motif left without edges computes zero.
        2. A level-3 edge that is ``none``, uses a zero motif, or lies on no
           input-to-output path (through such edges) becomes ``none``.
        3. A level-2 motif that no remaining level-3 edge uses is reset to all-``none``.

        Isomorphisms (relabelled nodes, permuted motif indices) are not identified.
        The result is idempotent: ``canonical(canonical(a)) == canonical(a)``.
        """
        self._check(arch)
        motifs = []
        for labels in arch.motifs:
            live = _live_mask(self.n2, tuple(p != _NONE for p in labels))
            motifs.append(tuple(p if ok else _NONE for p, ok in zip(labels, live, strict=True)))
        nonzero = [any(p != _NONE for p in labels) for labels in motifs]
        present = tuple(t is not None and nonzero[t] for t in arch.top)
        live3 = _live_mask(self.n3, present)
        top = tuple(t if ok else None for t, ok in zip(arch.top, live3, strict=True))
        used = {t for t in top if t is not None}
        blank = (_NONE,) * self._n_e2
        return HierArch(
            tuple(labels if m in used else blank for m, labels in enumerate(motifs)), top
        )

    def flatten(self, arch: HierArch) -> CellSpec:
        """The primitive DAG that ``arch`` computes, with dead edges removed.

        Level-3 node ``i`` keeps its role; each live level-3 edge ``i -> j`` with motif
        ``m`` becomes a copy of motif ``m``'s live edges whose input node is node ``i``,
        whose ``n2 - 2`` inner nodes are fresh, and whose edges into the motif output go
        directly into node ``j`` (valid because nodes are sums). Nodes are numbered in
        the order ``0``, inner nodes of copies leaving ``0`` (by target, then inner
        index), ``1``, ..., so every edge goes from a lower to a higher index and the
        level-3 output is the last node. Level-3 nodes are kept even when isolated; inner
        nodes only when a live edge touches them.
        """
        canon = self.canonical(arch)
        edges2 = motif_edges(self.n2)
        raw: list[tuple[_Key, _Key, Op]] = []
        for (i, j), m in zip(motif_edges(self.n3), canon.top, strict=True):
            if m is None:
                continue
            # Level-3 node v is (v, 0, 0, 0); inner node k of the copy on i -> j is
            # (i, 1, j, k), which sorts after node i and before node i + 1 <= j.
            node: dict[int, _Key] = {k: (i, 1, j, k) for k in range(1, self.n2 - 1)}
            node[0], node[self.n2 - 1] = (i, 0, 0, 0), (j, 0, 0, 0)
            for (s, d), p in zip(edges2, canon.motifs[m], strict=True):
                if p != _NONE:
                    raw.append((node[s], node[d], _PRIM_TO_IR[p]))
        keys = {(v, 0, 0, 0) for v in range(self.n3)}
        keys.update(k for s, d, _ in raw for k in (s, d))
        index = {key: n for n, key in enumerate(sorted(keys))}
        edges = sorted(((index[s], index[d], op) for s, d, op in raw), key=lambda e: e[:2])
        return CellSpec(len(index), tuple(edges))

    def lower(
        self, arch: HierArch, *, C: int = 16, N: int = 5, reduction: str = "resblock", **macro: Any
    ) -> NetworkSpec:
        """NAS-Bench-201's skeleton (as ``CellSpace.lower``) around :meth:`flatten`'s DAG.

        Args:
            arch: The architecture.
            C: Channels of the stem and the first stage (then ``2C``, ``4C``).
            N: Cells per stage.
            reduction: ``"resblock"`` or ``"poolreduce"`` between the stages.
        """
        if macro:
            raise TypeError(f"unexpected macro arguments {sorted(macro)}")
        return nb201_skeleton(
            self.flatten(arch),
            C=C,
            N=N,
            reduction=reduction,
            space="hierarchical",
            arch=arch.to_string(),
        )

    def lower_columns(
        self,
        archs: Sequence[HierArch | str],
        *,
        C: int = 16,
        N: int = 5,
        reduction: str = "resblock",
        **macro: Any,
    ) -> SpecColumns:
        """:meth:`lower` of many architectures as arrays, without a spec per architecture.

        The labels become integer codes (strings exactly as :meth:`HierArch.to_string`
        writes them are read by one regular expression; any other string goes through
        :meth:`parse`, which names the error). Liveness comes from tables over every
        pattern of present edges (:func:`_live_mask`), and :meth:`flatten`'s DAG from a
        fixed list of the nodes and edges it can have, sorted once by their keys: a
        network keeps those its live edges use, numbered in that order. The skeleton is
        built once and tiled.
        """
        if macro:
            raise TypeError(f"unexpected macro arguments {sorted(macro)}")
        if max(self._n_e2, self._n_e3) > _MAX_TABLE_EDGES:
            return super().lower_columns(archs, C=C, N=N, reduction=reduction)
        skeleton = nb201_skeleton(CellSpec(2, ()), C=C, N=N, reduction=reduction, space="", arch="")
        return SpecColumns.tiled(skeleton, *self._flat_columns(*self._codes(archs)))

    def _codes(self, archs: Sequence[HierArch | str]) -> tuple[np.ndarray, np.ndarray]:
        """Primitive codes ``(n, M, e2)`` and level-3 codes ``(n, e3)`` (``M``: none).

        The labels of every string that matches the printed form are gathered into one
        list and coded by one lookup pass; ``none`` is the one label of both levels,
        coded -1 there and set per level afterwards.
        """
        n = len(archs)
        fast, code3 = _string_pattern(self.M, self.n2, self.n3)
        split = self.M * self._n_e2
        width = split + self._n_e3
        code = {**_PRIM_CODE, **code3, _NONE: -1}
        labels: list[str] = []
        slow: list[int] = []
        for i, a in enumerate(archs):
            match = fast.fullmatch(a) if isinstance(a, str) else None
            if match is None:
                slow.append(i)
                labels.extend((_NONE,) * width)  # a placeholder, filled below
            else:
                labels.extend(match.groups())
        codes = np.fromiter(map(code.__getitem__, labels), np.int64, len(labels))
        codes = codes.reshape(n, width)
        lv2, top = codes[:, :split], codes[:, split:]
        lv2[lv2 < 0] = _NONE_CODE
        top[top < 0] = self.M
        for i in slow:
            a = archs[i]
            arch = self.parse(a) if isinstance(a, str) else a
            self._check(arch)
            lv2[i] = [_PRIM_CODE[p] for motif in arch.motifs for p in motif]
            top[i] = [self.M if t is None else t for t in arch.top]
        return lv2.reshape(n, self.M, self._n_e2), top

    def _flat_columns(
        self, lv2: np.ndarray, top: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`flatten` of every row: node counts ``(n,)`` and the edges' sources,
        targets and IR op codes ``(n, E)`` in the DAG's order, padded with ``0, 0, -1``."""
        n, n2, n3 = len(top), self.n2, self.n3
        e2, e3 = motif_edges(n2), motif_edges(n3)
        bits2, bits3 = 1 << np.arange(len(e2)), 1 << np.arange(len(e3))
        # canonical(): live level-2 edges, non-zero motifs, live level-3 edges
        live2 = _live_table(n2)[((lv2 != _NONE_CODE) * bits2).sum(-1)]  # (n, M, e2)
        nonzero = np.concatenate([live2.any(-1), np.zeros((n, 1), dtype=bool)], axis=1)
        rows = np.arange(n)[:, None]
        live3 = _live_table(n3)[(nonzero[rows, top] * bits3).sum(-1)]  # (n, e3)
        m = np.where(live3, top, 0)  # the motif on each level-3 edge (any, where dead)
        # every potential edge (level-3 edge x motif edge), sorted once by its node keys
        pot = _potential_edges(n2, n3)
        tk, qk = pot[:, 0], pot[:, 1]
        on = live3[:, tk] & live2[rows, m[:, tk], qk]  # (n, P)
        # nodes: level-3 nodes always; an inner node where a live edge touches it
        order, rank = _node_order(n2, n3)
        used = np.zeros((n, len(order)), dtype=bool)
        used[:, :n3] = True
        r, j = np.nonzero(on)  # row-major: each row's edges in the sorted order
        used[r, pot[j, 2]] = True
        used[r, pot[j, 3]] = True
        # a node's index is the number of used nodes whose keys sort before its own
        index = (np.cumsum(used[:, order], axis=1) - 1)[:, rank]  # (n, nodes), by node id
        E = int(on.sum(1).max()) if n else 0
        src = np.zeros((n, E), dtype=np.int64)
        dst = np.zeros((n, E), dtype=np.int64)
        op = np.full((n, E), -1, dtype=np.int64)
        slot = (np.cumsum(on, axis=1) - 1)[r, j]
        src[r, slot] = index[r, pot[j, 2]]
        dst[r, slot] = index[r, pot[j, 3]]
        op[r, slot] = _IR_CODE[lv2[r, m[r, tk[j]], qk[j]]]
        return used.sum(1), src, dst, op

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "bounded": False,
            "M": self.M,
            "n2": self.n2,
            "n3": self.n3,
            "primitives": list(HIER_PRIMITIVES),
            "reference": "Liu et al., Hierarchical Representations for Efficient "
            "Architecture Search (ICLR 2018)",
        }


@functools.lru_cache(maxsize=16)
def _live_table(n_nodes: int) -> np.ndarray:
    """:func:`_live_mask` of every present-edge pattern, ``(2**edges, edges)``: row ``b``
    has edge ``k`` present where bit ``k`` of ``b`` is set."""
    n_e = n_nodes * (n_nodes - 1) // 2
    return np.array(
        [_live_mask(n_nodes, tuple(bool(b >> k & 1) for k in range(n_e))) for b in range(1 << n_e)],
        dtype=bool,
    ).reshape(1 << n_e, n_e)


@functools.lru_cache(maxsize=16)
def _node_keys(n2: int, n3: int) -> tuple[_Key, ...]:
    """Every node :meth:`HierSpace.flatten` can make, by id: the level-3 nodes
    ``(v, 0, 0, 0)`` first, then inner node ``k`` of the copy on level-3 edge ``i -> j``,
    ``(i, 1, j, k)``, level-3 edge by edge."""
    keys: list[_Key] = [(v, 0, 0, 0) for v in range(n3)]
    keys += [(i, 1, j, k) for i, j in motif_edges(n3) for k in range(1, n2 - 1)]
    return tuple(keys)


@functools.lru_cache(maxsize=16)
def _node_order(n2: int, n3: int) -> tuple[np.ndarray, np.ndarray]:
    """The node ids of :func:`_node_keys` sorted by key, and each id's rank in it."""
    keys = _node_keys(n2, n3)
    order = np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.int64)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return order, rank


@functools.lru_cache(maxsize=16)
def _potential_edges(n2: int, n3: int) -> np.ndarray:
    """Every edge :meth:`HierSpace.flatten` can make, in the order it sorts them:
    rows ``(level-3 edge, motif edge, source node id, target node id)``."""
    keys = _node_keys(n2, n3)
    node_id = {key: i for i, key in enumerate(keys)}
    rows = []
    for t, (i, j) in enumerate(motif_edges(n3)):
        ends = {0: (i, 0, 0, 0), n2 - 1: (j, 0, 0, 0)}
        for q, (s, d) in enumerate(motif_edges(n2)):
            ks, kd = (ends.get(x, (i, 1, j, x)) for x in (s, d))
            rows.append((keys.index(ks), keys.index(kd), t, q, node_id[ks], node_id[kd]))
    # flatten() sorts edges by their node indices, which follow the keys' order
    rows.sort(key=lambda r: (keys[r[0]], keys[r[1]]))
    return np.array([r[2:] for r in rows], dtype=np.int64).reshape(-1, 4)


@functools.lru_cache(maxsize=16)
def _string_pattern(M: int, n2: int, n3: int) -> tuple[re.Pattern[str], dict[str, int]]:
    """A regular expression matching exactly the strings :meth:`HierArch.to_string`
    writes for this shape, one group per label, and the level-3 labels' codes
    (``m0..m{M-1}``, then ``none`` as ``M``)."""
    prim = "(" + "|".join(sorted(HIER_PRIMITIVES, key=len, reverse=True)) + ")"
    names = [f"m{k}" for k in range(M)]
    lab3 = "(" + "|".join(sorted([*names, _NONE], key=len, reverse=True)) + ")"

    def group(n_nodes: int, label: str) -> str:
        return r"\(" + r"\|".join(",".join([label] * dst) for dst in range(1, n_nodes)) + r"\)"

    parts = [f"m{k}=" + group(n2, prim) for k in range(M)] + ["top=" + group(n3, lab3)]
    return re.compile(" ".join(parts)), {**{name: k for k, name in enumerate(names)}, _NONE: M}
