"""The chain space: a sequence of layers, each an op type and a width multiplier."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from nasrepro.spaces._base import (
    Architecture,
    Decisions,
    SearchSpace,
    SpaceError,
    quote,
    register_space,
)
from nasrepro.spaces._columns import BLOCK_KINDS, IR_OPS, SpecColumns
from nasrepro.spaces._errors import ConfigError
from nasrepro.spaces._spec import Block, BlockKind, CellSpec, NetworkSpec, Op, reduction_kind

__all__ = ["ChainArch", "ChainSpace", "ChainDecisions", "CHAIN_OPS", "CHAIN_WIDTHS"]

#: The six layer ops, in the order used by encodings.
CHAIN_OPS: tuple[str, ...] = (
    "conv3x3",
    "conv5x5",
    "dwsep3x3",
    "mbconv_e3_k3",
    "mbconv_e6_k5",
    "skip",
)
#: The four width multipliers, in the order used by encodings.
CHAIN_WIDTHS: tuple[float, ...] = (0.5, 0.75, 1.0, 1.5)

_OP_TO_IR = {
    "conv3x3": Op.CONV3X3,
    "conv5x5": Op.CONV5X5,
    "dwsep3x3": Op.SEPCONV3X3,
    "mbconv_e3_k3": Op.MBCONV_E3_K3,
    "mbconv_e6_k5": Op.MBCONV_E6_K5,
    "skip": Op.SKIP,
}
#: The one-edge cell of each op, shared by every layer that uses it (specs are
#: immutable, and the featurizer interns cells by identity).
_CELLS = {op: CellSpec(2, ((0, 1, ir),)) for op, ir in _OP_TO_IR.items()}
#: The exact spelling of each width in the arch string.
_WIDTH_TOKENS: dict[str, float] = {repr(w): w for w in CHAIN_WIDTHS}
_LAYER_SEP = "|"
_WIDTH_SEP = "@"
_CHAIN_OP_CODE = {op: k for k, op in enumerate(CHAIN_OPS)}
#: "op@width" -> (op code, width code), for the array lowering.
_LAYER_CODE = {
    f"{op}{_WIDTH_SEP}{w!r}": (k, j)
    for k, op in enumerate(CHAIN_OPS)
    for j, w in enumerate(CHAIN_WIDTHS)
}
_EXPECTED_LAYER = f"'op@width' with op in {{{', '.join(CHAIN_OPS)}}} and width in " + (
    f"{{{', '.join(_WIDTH_TOKENS)}}}"
)


def reduction_indices(n_layers: int) -> tuple[int, ...]:
    """Indices of the stride-2 layers of an ``n_layers``-long chain, ascending.

    The reductions sit at fixed fractions of depth: layers ``n_layers // 3`` and
    ``(2 * n_layers) // 3``. For ``n_layers == 1`` both fall on layer 0, which is
    then a single reduction (a chain has at most ``min(2, n_layers)`` reductions).

    Example:
        >>> reduction_indices(12), reduction_indices(3), reduction_indices(2)
        ((4, 8), (1, 2), (0, 1))
    """
    if n_layers < 1:
        raise SpaceError(f"a chain needs at least one layer, got {n_layers=}")
    return tuple(sorted({n_layers // 3, (2 * n_layers) // 3}))


@dataclass(frozen=True)
class ChainArch(Architecture):
    """A chain of layers: ``ops[i]`` with width multiplier ``widths[i]``.

    The string form is the layers joined by ``|``, each written ``op@width`` with the
    width spelled exactly as in :data:`CHAIN_WIDTHS` (``0.5``, ``0.75``, ``1.0``,
    ``1.5``), so parsing and printing round-trip exactly.

    Example:
        >>> a = ChainArch.from_string("conv3x3@1.0|mbconv_e6_k5@0.75|skip@1.0")
        >>> a.ops, a.widths
        (('conv3x3', 'mbconv_e6_k5', 'skip'), (1.0, 0.75, 1.0))
        >>> a.to_string()
        'conv3x3@1.0|mbconv_e6_k5@0.75|skip@1.0'
    """

    ops: tuple[str, ...]
    widths: tuple[float, ...]
    space_name: ClassVar[str] = "chain"

    def __post_init__(self) -> None:
        if len(self.ops) != len(self.widths):
            raise SpaceError(
                f"ops and widths must have the same length, got {len(self.ops)} and "
                f"{len(self.widths)}"
            )
        if not self.ops:
            raise SpaceError("a chain needs at least one layer")
        for i, (op, w) in enumerate(zip(self.ops, self.widths, strict=True)):
            if op not in _OP_TO_IR:
                raise SpaceError(f"layer {i}: unknown op {quote(op)}; expected one of {CHAIN_OPS}")
            if w not in CHAIN_WIDTHS:
                raise SpaceError(
                    f"layer {i}: unknown width {quote(w)}; expected one of {CHAIN_WIDTHS}"
                )
        # Store widths as the canonical floats so that equality and hashing are exact.
        object.__setattr__(self, "widths", tuple(float(w) for w in self.widths))

    def __len__(self) -> int:
        return len(self.ops)

    @property
    def layers(self) -> tuple[tuple[str, float], ...]:
        """``(op, width)`` pairs, first layer first."""
        return tuple(zip(self.ops, self.widths, strict=True))

    def to_string(self) -> str:
        return _LAYER_SEP.join(f"{op}{_WIDTH_SEP}{w!r}" for op, w in self.layers)

    @classmethod
    def from_string(cls, s: str) -> ChainArch:
        if not isinstance(s, str):
            raise TypeError(f"expected an arch string, got {type(s).__name__}")
        s = s.strip()  # a pasted string's newline or spaces
        if not s:
            raise SpaceError(f"position 0: empty chain string; expected {_EXPECTED_LAYER}")
        ops: list[str] = []
        widths: list[float] = []
        pos = 0
        for tok in s.split(_LAYER_SEP):
            op, sep, width = tok.partition(_WIDTH_SEP)
            if op not in _OP_TO_IR:
                raise SpaceError(
                    f"position {pos}: expected an op, one of {', '.join(CHAIN_OPS)}; found {quote(op)}"
                )
            if not sep:
                raise SpaceError(
                    f"position {pos + len(op)}: expected '{_WIDTH_SEP}' after op {quote(op)}, "
                    f"found {quote(tok[len(op) :])}"
                )
            if width not in _WIDTH_TOKENS:
                raise SpaceError(
                    f"position {pos + len(op) + 1}: expected a width, one of "
                    f"{', '.join(_WIDTH_TOKENS)}; found {quote(width)}"
                )
            ops.append(op)
            widths.append(_WIDTH_TOKENS[width])
            pos += len(tok) + 1
        return cls(tuple(ops), tuple(widths))


class ChainDecisions(Decisions):
    """A chain as fixed-length decisions: its length, then an op and a width per position.

    ``length`` (``L_min .. L_max``; left out when they are equal) picks how many
    positions are used; ``op{i}`` and ``width{i}`` for ``i < L_max`` set position
    ``i``. Positions at or past the length are ignored by :meth:`from_codes` and coded
    0 by :meth:`to_codes`, so every code vector is a valid chain and
    ``from_codes(to_codes(a)) == a``. (Rather than an "absent" choice per position,
    which needs a repair rule whenever fewer than ``L_min`` positions are present.)
    """

    def __init__(self, L_min: int, L_max: int) -> None:
        self.L_min, self.L_max = L_min, L_max
        self._has_length = L_max > L_min
        names: list[str] = ["length"] if self._has_length else []
        choices: list[tuple[str, ...]] = (
            [tuple(str(n) for n in range(L_min, L_max + 1))] if self._has_length else []
        )
        names += [f"op{i}" for i in range(L_max)] + [f"width{i}" for i in range(L_max)]
        choices += [CHAIN_OPS] * L_max + [tuple(repr(w) for w in CHAIN_WIDTHS)] * L_max
        super().__init__(names, choices)

    def to_codes(self, arch: Architecture) -> np.ndarray:
        if not isinstance(arch, ChainArch):
            raise TypeError(f"expected a ChainArch, got {type(arch).__name__}")
        n = len(arch)
        if not self.L_min <= n <= self.L_max:
            raise SpaceError(f"chain of {n} layers is outside [{self.L_min}, {self.L_max}]")
        ops = np.zeros(self.L_max, dtype=np.int64)
        widths = np.zeros(self.L_max, dtype=np.int64)
        ops[:n] = [CHAIN_OPS.index(o) for o in arch.ops]
        widths[:n] = [CHAIN_WIDTHS.index(w) for w in arch.widths]
        head = [n - self.L_min] if self._has_length else []
        return np.concatenate([np.array(head, dtype=np.int64), ops, widths])

    def from_codes(self, codes: np.ndarray) -> Architecture:
        c = np.asarray(codes, dtype=np.int64)
        if c.shape != (self.n_decisions,) or (c < 0).any() or (c >= self.n_choices).any():
            raise SpaceError(
                f"expected {self.n_decisions} codes within their choice counts, got {c}"
            )
        k = 1 if self._has_length else 0
        n = self.L_min + (int(c[0]) if self._has_length else 0)
        ops = tuple(CHAIN_OPS[int(i)] for i in c[k : k + n])
        widths = tuple(CHAIN_WIDTHS[int(i)] for i in c[k + self.L_max : k + self.L_max + n])
        return ChainArch(ops, widths)


@register_space("chain")
class ChainSpace(SearchSpace[ChainArch]):
    """Chains of ``L_min <= L <= L_max`` layers, in the spirit of MnasNet and NAS-Bench-Macro.

    Each layer picks an op from :data:`CHAIN_OPS` (3x3 / 5x5 conv, depthwise-separable
    3x3 conv, MBConv with expansion 3 and kernel 3 or expansion 6 and kernel 5, skip)
    and a width multiplier from :data:`CHAIN_WIDTHS`. Two layers reduce (stride 2,
    base channels double), at the fixed depths given by :func:`reduction_indices`. See
    MnasNet (Tan et al., CVPR 2019) for layer-wise op and width choices, and
    NAS-Bench-Macro (Su et al., 2021) for a benchmark of such chains.

    The space is too large to enumerate. There are no isomorphisms between chains
    (each layer feeds only the next), so :meth:`canonical` is the identity.

    Args:
        L_max: Longest chain.
        L_min: Shortest chain.
    """

    arch_type: ClassVar[type[Architecture]] = ChainArch

    def __init__(self, L_max: int = 12, L_min: int = 2) -> None:
        if not 1 <= L_min <= L_max:
            raise SpaceError(f"need 1 <= L_min <= L_max, got {L_min=}, {L_max=}")
        self.L_max = L_max
        self.L_min = L_min

    def _check(self, arch: ChainArch) -> None:
        if not isinstance(arch, ChainArch):
            raise TypeError(f"expected a ChainArch, got {type(arch).__name__}")
        if not self.L_min <= len(arch) <= self.L_max:
            raise SpaceError(
                f"chain of {len(arch)} layers is outside this space's "
                f"[{self.L_min}, {self.L_max}] layers; give a chain of that length (the CLI, "
                "the tables and the shipped surrogate use the default chain space), or in "
                "Python build the space with get_space('chain', L_min=..., L_max=...)"
            )

    def parse(self, s: str) -> ChainArch:
        arch = ChainArch.from_string(s)
        self._check(arch)
        return arch

    def sample(self, rng: np.random.Generator) -> ChainArch:
        """Uniform length in ``[L_min, L_max]``, then a uniform op and width per layer."""
        n = int(rng.integers(self.L_min, self.L_max + 1))
        ops = tuple(CHAIN_OPS[int(i)] for i in rng.integers(0, len(CHAIN_OPS), n))
        widths = tuple(CHAIN_WIDTHS[int(i)] for i in rng.integers(0, len(CHAIN_WIDTHS), n))
        return ChainArch(ops, widths)

    def mutate(self, arch: ChainArch, rng: np.random.Generator) -> ChainArch:
        """One move, drawn uniformly from those allowed by the length bounds.

        The moves are: change one layer's op, change one layer's width, insert a
        uniform random layer at a uniform position, remove a uniform layer.

        An insert or a remove is one decision (distance 1), but the reductions sit at
        fractions of the depth (:func:`reduction_indices`), so it can also move a
        reduction onto other, untouched layers: 6 layers reduce at (2, 4), 5 at
        (1, 3). DESIGN.md's "reductions at fixed depths" is read as fixed fractions, so
        that every length reduces twice; a move is therefore less local than an op
        change.
        """
        self._check(arch)
        n = len(arch)
        moves = ["op", "width"]
        if n < self.L_max:
            moves.append("insert")
        if n > self.L_min:
            moves.append("remove")
        move = moves[int(rng.integers(len(moves)))]
        ops, widths = list(arch.ops), list(arch.widths)
        if move == "op":
            i = int(rng.integers(n))
            choices = [o for o in CHAIN_OPS if o != ops[i]]
            ops[i] = choices[int(rng.integers(len(choices)))]
        elif move == "width":
            i = int(rng.integers(n))
            wchoices = [w for w in CHAIN_WIDTHS if w != widths[i]]
            widths[i] = wchoices[int(rng.integers(len(wchoices)))]
        elif move == "insert":
            i = int(rng.integers(n + 1))
            ops.insert(i, CHAIN_OPS[int(rng.integers(len(CHAIN_OPS)))])
            widths.insert(i, CHAIN_WIDTHS[int(rng.integers(len(CHAIN_WIDTHS)))])
        else:
            i = int(rng.integers(n))
            del ops[i], widths[i]
        return ChainArch(tuple(ops), tuple(widths))

    def neighbors(self, arch: ChainArch) -> list[ChainArch]:
        """Op changes, width changes, insertions, removals; duplicates dropped, order kept."""
        self._check(arch)
        layers = arch.layers
        n = len(layers)
        out: dict[ChainArch, None] = {}

        def add(new: list[tuple[str, float]]) -> None:
            out.setdefault(ChainArch(tuple(o for o, _ in new), tuple(w for _, w in new)))

        for i, (op, w) in enumerate(layers):
            for o in CHAIN_OPS:
                if o != op:
                    add([*layers[:i], (o, w), *layers[i + 1 :]])
            for v in CHAIN_WIDTHS:
                if v != w:
                    add([*layers[:i], (op, v), *layers[i + 1 :]])
        if n < self.L_max:
            for i in range(n + 1):
                for layer in itertools.product(CHAIN_OPS, CHAIN_WIDTHS):
                    add([*layers[:i], layer, *layers[i:]])
        if n > self.L_min:
            for i in range(n):
                add([*layers[:i], *layers[i + 1 :]])
        return list(out)

    def distance(self, a: ChainArch, b: ChainArch) -> int:
        """Edit distance: insert or remove a layer costs 1, changing op and width costs 1 each."""
        la, lb = a.layers, b.layers
        prev = list(range(len(lb) + 1))
        for i, (oa, wa) in enumerate(la, start=1):
            cur = [i] + [0] * len(lb)
            for j, (ob, wb) in enumerate(lb, start=1):
                sub = prev[j - 1] + (oa != ob) + (wa != wb)
                cur[j] = min(sub, prev[j] + 1, cur[j - 1] + 1)
            prev = cur
        return prev[-1]

    def encode(self, arch: ChainArch, kind: str = "adjacency") -> np.ndarray:
        """Fixed-length feature vector of a chain.

        Per position ``i < L_max``: a one-hot op (6) then a one-hot width (4), all zero
        past the chain's end; then the length as ``L / L_max``. Shape
        ``(10 * L_max + 1,)``. ``kind`` must be ``"adjacency"`` (the only encoding).
        """
        if kind != "adjacency":
            raise ConfigError(f"unknown encoding {kind=}; the chain space has 'adjacency'")
        self._check(arch)
        n_op, n_w = len(CHAIN_OPS), len(CHAIN_WIDTHS)
        x = np.zeros((self.L_max, n_op + n_w), dtype=np.float32)
        rows = np.arange(len(arch))
        x[rows, [CHAIN_OPS.index(o) for o in arch.ops]] = 1.0
        x[rows, [n_op + CHAIN_WIDTHS.index(w) for w in arch.widths]] = 1.0
        return np.concatenate([x.ravel(), np.array([len(arch) / self.L_max], np.float32)])

    def decisions(self) -> ChainDecisions:
        """Length, then op and width per position (see :class:`ChainDecisions`)."""
        return ChainDecisions(self.L_min, self.L_max)

    def canonical(self, arch: ChainArch) -> ChainArch:
        """The identity: distinct chains are distinct networks."""
        return arch

    def lower(
        self,
        arch: ChainArch,
        *,
        C: int = 16,
        N: int = 1,
        reduction: str = "resblock",
        **macro: Any,
    ) -> NetworkSpec:
        """One ``CELL`` block per layer (repeated ``N`` times) after a ``C``-channel stem.

        Each block's cell has 2 nodes and the one edge ``(0, 1, op)``. Layer ``i`` has
        ``c_out = max(1, round(base * width))`` (Python's ``round``), where ``base`` is
        ``C``, ``2C`` or ``4C`` before the first, after the first and after the second
        reduction. A reduction layer has stride 2 in its first repeat; the other
        ``N - 1`` repeats map ``c_out -> c_out`` with stride 1.

        Args:
            arch: The chain.
            C: Stem channels and the base width of the first stage.
            N: Repeats of each layer.
            reduction: Accepted so that one protocol lowers every space; a chain
                reduces inside its own stride-2 layers, so either value (``"resblock"``
                ``"poolreduce"`` or ``"pool"``) builds the same network.
        """
        if macro:
            raise TypeError(f"unexpected macro arguments {sorted(macro)}")
        reduction_kind(reduction)  # validates the name
        if C < 1 or N < 1:
            raise ValueError(f"need positive {C=} and {N=}")
        reductions = reduction_indices(len(arch))
        blocks: list[Block] = []
        c = C
        for i, (op, w) in enumerate(arch.layers):
            stage = sum(r <= i for r in reductions)
            c_out = max(1, round(C * 2**stage * w))
            cell = _CELLS[op]
            stride = 2 if i in reductions else 1
            blocks.append(Block(BlockKind.CELL, c, c_out, stride, cell))
            blocks.extend(Block(BlockKind.CELL, c_out, c_out, 1, cell) for _ in range(N - 1))
            c = c_out
        return NetworkSpec(C, tuple(blocks), "chain", arch.to_string())

    def lower_columns(
        self,
        archs: Sequence[ChainArch | str],
        *,
        C: int = 16,
        N: int = 1,
        reduction: str = "resblock",
        **macro: Any,
    ) -> SpecColumns:
        """:meth:`lower` of many chains as arrays, without building a spec per chain.

        The layers are read straight from strings written as :meth:`ChainArch.to_string`
        writes them (others go through :meth:`parse`, which names any error), and the
        channels come from a table of ``max(1, round(C * 2**stage * width))``.
        """
        if macro:
            raise TypeError(f"unexpected macro arguments {sorted(macro)}")
        reduction_kind(reduction)
        if C < 1 or N < 1:
            raise ValueError(f"need positive {C=} and {N=}")
        layers: list[tuple[int, int]] = []  # (op code, width code) of every layer
        length = np.empty(len(archs), dtype=np.int64)
        for i, a in enumerate(archs):
            codes = None
            if isinstance(a, str):
                codes = [_LAYER_CODE.get(tok) for tok in a.split(_LAYER_SEP)]
            if codes is None or None in codes or not self.L_min <= len(codes) <= self.L_max:
                arch = self.parse(a) if isinstance(a, str) else a
                codes = [(_CHAIN_OP_CODE[op], CHAIN_WIDTHS.index(w)) for op, w in arch.layers]
            layers.extend(codes)  # type: ignore[arg-type]
            length[i] = len(codes)
        n = len(archs)
        op, w = np.array(layers, dtype=np.int64).reshape(-1, 2).T
        net_of_layer = np.repeat(np.arange(n, dtype=np.int64), length)
        start = np.concatenate([[0], np.cumsum(length)[:-1]]).astype(np.int64)
        pos = np.arange(len(op)) - start[net_of_layer]
        L = length[net_of_layer]
        # stage = reductions at or before the layer; stride 2 on a reduction layer
        r1, r2 = L // 3, (2 * L) // 3
        stage = (r1 <= pos).astype(np.int64) + ((r2 != r1) & (r2 <= pos))
        stride = np.where((pos == r1) | (pos == r2), 2, 1)
        # the same expression as lower(), in Python floats, for each (stage, width)
        table = np.array(
            [[max(1, round(C * 2**st * wv)) for wv in CHAIN_WIDTHS] for st in range(3)]
        )
        c_out = table[stage, w]
        c_in = np.where(pos == 0, C, np.roll(c_out, 1))  # the previous layer's output
        # each layer, then N - 1 stride-1 repeats mapping c_out -> c_out
        rep = np.repeat(np.arange(len(op)), N)
        first = np.tile(np.arange(N) == 0, len(op))
        return SpecColumns(
            stems=np.full(n, C, dtype=np.int64),
            net=net_of_layer[rep],
            kind=np.zeros(len(rep), dtype=np.int64) + BLOCK_KINDS.index(BlockKind.CELL),
            c_in=np.where(first, c_in[rep], c_out[rep]),
            c_out=c_out[rep],
            stride=np.where(first, stride[rep], 1),
            cell=op[rep],  # one shared cell per op
            cell_nodes=np.full(len(CHAIN_OPS), 2, dtype=np.int64),
            cell_src=np.zeros((len(CHAIN_OPS), 1), dtype=np.int64),
            cell_dst=np.ones((len(CHAIN_OPS), 1), dtype=np.int64),
            cell_op=np.array([[IR_OPS.index(_OP_TO_IR[o])] for o in CHAIN_OPS], dtype=np.int64),
        )

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "bounded": False,
            "L_min": self.L_min,
            "L_max": self.L_max,
            "ops": list(CHAIN_OPS),
            "widths": list(CHAIN_WIDTHS),
            "reference": "MnasNet (Tan et al., CVPR 2019); NAS-Bench-Macro (Su et al., 2021)",
        }
