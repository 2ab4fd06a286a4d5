"""How far two tables of one space agree: rank correlations, top-k overlap, best-cell ranks.

:func:`compare_tables` ranks the architectures both tables hold (matched by
architecture string) by one metric of each table, at each table's final epoch and as
the mean over its seeds, and measures the agreement twice:

* over **cells**: every architecture both tables give a value (a class-valued table
  gives each cell its class's value, as :meth:`Table.query` resolves it);
* over **isomorphism classes**, grouped by table A's ``canonical`` column: one item
  per class. A class-valued table's value is its class value; a per-cell table's
  (NAS-Bench-201 trained every cell separately) is the **mean over the class's
  members** it holds. The mean, not the representative's value: the representative
  is only the member with the lowest index, and the members compute the same
  function, so their mean is the less noisy estimate of the class's accuracy.

Rules (the same at both levels):

* Direction: accuracies are maximized; losses, times and static figures (as
  :meth:`Table.top` ranks them) minimized. Correlations are computed on the values
  negated where minimized, so a positive tau always means the tables agree on what
  is good.
* Ties: values are ranked rounded to 4 decimals
  (:func:`~nasrepro.tables._ranking.tie_round`), so that equal results reached through
  different float32 seed values tie; the values reported are not rounded.
* Kendall's tau is tau-b (ties corrected, :func:`scipy.stats.kendalltau`); Spearman's
  rho is :func:`scipy.stats.spearmanr` (ties share the mean rank).
* Top-k: the ``k`` best items of each table, ties broken by the item's position in
  table A's row order (for the cell space, its enumeration index; for classes, the
  representative's); the overlap is ``|top_k(A) & top_k(B)| / k``. ``k`` is 10, 100
  and 1% of the items (rounded, at least 1); a ``k`` above the number of items is left out.
* Rank of the best: the best item of A (the first of A's top-k order) has rank
  ``1 + (items strictly better in B)`` in B, out of the items compared; ties share
  the best rank. ``percent`` is ``100 * rank / n`` ("top percent"). And vice versa.
* Structure: for a space with :meth:`~nasrepro.spaces.SearchSpace.decisions` (the
  cell: its six edges), the fraction of each table's top-100 items whose decision takes
  each choice, e.g. how many of the top 100 have ``skip_connect`` on edge ``0->3``.

Example:
    >>> from nasrepro.tables import compare_tables, open_table
    >>> c = compare_tables(open_table("cell-mnist1d-tiny"), open_table("nb201-cifar10"))  # doctest: +SKIP
    >>> c.cells.kendall_tau, c.classes.best_a_in_b.rank  # doctest: +SKIP
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from nasrepro.spaces._errors import ConfigError
from nasrepro.tables._catalog import as_table
from nasrepro.tables._errors import TableError
from nasrepro.tables._ranking import tie_round
from nasrepro.tables._results import RESULT_METRICS
from nasrepro.tables._table import _MINIMIZE, Table

__all__ = [
    "compare_tables",
    "TableComparison",
    "RankAgreement",
    "TopKOverlap",
    "BestRank",
    "ChoiceShare",
    "TOP_KS",
    "TOP_FRACTION",
    "STRUCTURE_K",
]

#: Fixed ``k`` of the top-k overlaps; 1% of the items (:data:`TOP_FRACTION`) is added.
TOP_KS: tuple[int, ...] = (10, 100)
#: The fraction of the items that is the third ``k``.
TOP_FRACTION = 0.01
#: How many of each table's best items the structure shares are counted over.
STRUCTURE_K = 100


@dataclass(frozen=True)
class TopKOverlap:
    """``common`` of the ``k`` best items of A are among B's ``k`` best.

    Attributes:
        label: ``"10"``, ``"100"`` or ``"1%"``.
        k: The number of items.
        common: ``|top_k(A) & top_k(B)|``.
        fraction: ``common / k``.
    """

    label: str
    k: int
    common: int
    fraction: float


@dataclass(frozen=True)
class BestRank:
    """Where the best item of one table ranks in the other.

    Attributes:
        arch: The item (for classes: table A's representative).
        value_here: Its value in the table it is best in.
        value_there: Its value in the other table.
        rank: ``1 + (items strictly better there)``, in ``1..n``.
        n: Items compared.
        percent: ``100 * rank / n``.
    """

    arch: str
    value_here: float
    value_there: float
    rank: int
    n: int
    percent: float


@dataclass(frozen=True)
class ChoiceShare:
    """The share of each table's top items that take ``choice`` at ``decision``.

    Attributes:
        decision: The decision's name (for the cell: an edge, ``"0->3"``).
        choice: The choice (for the cell: an op, ``"skip_connect"``).
        share_a, share_b: Fractions of A's and B's top ``k`` items, in ``[0, 1]``.
        k: The number of top items.
    """

    decision: str
    choice: str
    share_a: float
    share_b: float
    k: int


@dataclass(frozen=True)
class RankAgreement:
    """Agreement of the two rankings over one set of items (cells or classes).

    Attributes:
        unit: ``"cells"`` or ``"classes"``.
        n: Items compared.
        kendall_tau: Kendall's tau-b (NaN below 2 items or for a constant ranking).
        spearman: Spearman's rho (likewise).
        top_k: One :class:`TopKOverlap` per ``k`` that is at most ``n``.
        best_a_in_b: Where A's best item ranks in B.
        best_b_in_a: Where B's best item ranks in A.
        structure: :class:`ChoiceShare` of every (decision, choice), largest
            ``|share_a - share_b|`` first; empty for a space without decisions.
    """

    unit: str
    n: int
    kendall_tau: float
    spearman: float
    top_k: tuple[TopKOverlap, ...]
    best_a_in_b: BestRank
    best_b_in_a: BestRank
    structure: tuple[ChoiceShare, ...]

    def share(self, decision: str, choice: str) -> ChoiceShare | None:
        """The :class:`ChoiceShare` of ``choice`` at ``decision``, or ``None``."""
        for s in self.structure:
            if s.decision == decision and s.choice == choice:
                return s
        return None


@dataclass(frozen=True)
class TableComparison:
    """What :func:`compare_tables` measured.

    Attributes:
        a, b: The tables' paths.
        space: Their space.
        metric_a, metric_b: The nasrepro metric names compared (e.g. ``test_acc``).
        column_a, column_b: The source column behind each (an imported table's report
            or search metric, else the metric name).
        per_cell_a, per_cell_b: Whether each table holds per-cell values.
        epoch_a, epoch_b: The (final) epochs compared.
        seeds_a, seeds_b: How many seeds each table's values average.
        n_a, n_b: Cells each table gives a value for.
        cells: Agreement over the cells both hold.
        classes: Agreement over the isomorphism classes (A's grouping).
    """

    a: str
    b: str
    space: str
    metric_a: str
    metric_b: str
    column_a: str
    column_b: str
    per_cell_a: bool
    per_cell_b: bool
    epoch_a: int
    epoch_b: int
    seeds_a: int
    seeds_b: int
    n_a: int
    n_b: int
    cells: RankAgreement
    classes: RankAgreement

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN as ``None``)."""
        return _jsonable(asdict(self))  # type: ignore[no-any-return]


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v


def _column(t: Table, metric: str) -> str:
    if metric == "valid_acc":
        return t.search_metric
    if metric == "test_acc":
        return t.report_metric
    return t.columns.get(metric, metric)


def _values(t: Table, which: str, metric: str, archs: Sequence[str]) -> np.ndarray:
    """``metric`` of ``archs`` in ``t`` (NaN where it has none), float64 ``(n,)``.

    Raises:
        ConfigError: ``metric`` is unknown, or ``t`` has no value of it at all.
    """
    if metric not in RESULT_METRICS:
        raise ConfigError(
            f"unknown metric {metric!r} for table {which}; choose one of {list(RESULT_METRICS)}"
        )
    r = t.query_many(list(archs), missing="nan")
    v = np.asarray(r[metric], dtype=np.float64)
    if not np.isfinite(v).any():
        every = t.query_many(np.arange(t.n_rows), missing="nan")
        have = [m for m in RESULT_METRICS if np.isfinite(np.asarray(every[m], float)).any()]
        why = " (absent in its source)" if metric in t.absent else ""
        raise ConfigError(
            f"table {which} ({t.path}) has no {metric} values{why}; choose one of {have}"
        )
    return v


def _top_order(score: np.ndarray) -> np.ndarray:
    """Items best first; ties by position (stable). ``score`` ``(n,)``: higher is better."""
    return np.argsort(-score, kind="stable")


def _best_rank(
    archs: Sequence[str],
    here: np.ndarray,
    there: np.ndarray,
    raw_here: np.ndarray,
    raw_there: np.ndarray,
) -> BestRank:
    i = int(_top_order(here)[0])
    rank = 1 + int(np.count_nonzero(there > there[i]))
    n = len(here)
    return BestRank(archs[i], float(raw_here[i]), float(raw_there[i]), rank, n, 100.0 * rank / n)


def _structure(
    t: Table, archs: Sequence[str], top_a: np.ndarray, top_b: np.ndarray
) -> tuple[ChoiceShare, ...]:
    decisions = t.space.decisions()
    if decisions is None or not len(top_a):
        return ()
    space = t.space

    def codes(rows: np.ndarray) -> np.ndarray:  # (k, n_decisions)
        return np.stack([decisions.to_codes(space.parse(archs[int(r)])) for r in rows])

    ca, cb = codes(top_a), codes(top_b)
    out = []
    for d, (name, choices) in enumerate(zip(decisions.names, decisions.choices, strict=True)):
        for c, choice in enumerate(choices):
            sa, sb = float(np.mean(ca[:, d] == c)), float(np.mean(cb[:, d] == c))
            out.append(ChoiceShare(name, choice, sa, sb, len(top_a)))
    out.sort(key=lambda s: -abs(s.share_a - s.share_b))  # stable: decision order on ties
    return tuple(out)


def _agreement(
    t: Table,
    unit: str,
    archs: Sequence[str],
    raw_a: np.ndarray,
    raw_b: np.ndarray,
    sa: np.ndarray,
    sb: np.ndarray,
) -> RankAgreement:
    """Agreement of scores ``sa``, ``sb`` ``(n,)`` (higher is better) over ``archs``;
    scores equal to :data:`~nasrepro.tables._ranking.TIE_DECIMALS` decimals tie."""
    from scipy.stats import kendalltau, spearmanr

    sa, sb = tie_round(sa), tie_round(sb)

    n = len(sa)
    tau = rho = math.nan
    if n >= 2:
        with warnings.catch_warnings():  # a constant ranking: NaN, said in the docstring
            warnings.simplefilter("ignore")
            tau = float(kendalltau(sa, sb).statistic)
            rho = float(spearmanr(sa, sb).statistic)
    oa, ob = _top_order(sa), _top_order(sb)
    ks = [(str(k), k) for k in TOP_KS] + [("1%", max(1, round(TOP_FRACTION * n)))]
    tops = []
    for label, k in ks:
        if k <= n:
            common = len(np.intersect1d(oa[:k], ob[:k]))
            tops.append(TopKOverlap(label, k, common, common / k))
    k = min(STRUCTURE_K, n)
    return RankAgreement(
        unit=unit,
        n=n,
        kendall_tau=tau,
        spearman=rho,
        top_k=tuple(tops),
        best_a_in_b=_best_rank(archs, sa, sb, raw_a, raw_b),
        best_b_in_a=_best_rank(archs, sb, sa, raw_b, raw_a),
        structure=_structure(t, archs, oa[:k], ob[:k]),
    )


def _class_values(raw: np.ndarray, group: np.ndarray, n_groups: int, per_cell: bool) -> np.ndarray:
    """One value per group ``(n_groups,)`` of ``raw`` ``(n,)``: the mean of a per-cell
    table's members, a class-valued table's class value (its first member's: all equal)."""
    if per_cell:
        return np.bincount(group, raw, n_groups) / np.bincount(group, minlength=n_groups)
    _, first = np.unique(group, return_index=True)  # each group's first member
    return raw[first]


def compare_tables(
    a: Table | str, b: Table | str, *, metric_a: str = "test_acc", metric_b: str = "test_acc"
) -> TableComparison:
    """Compare the rankings of two tables of one space (see the module docstring).

    Args:
        a, b: The tables (or shipped names or files); class groups and tie order come
            from ``a``.
        metric_a, metric_b: One of :data:`~nasrepro.tables.RESULT_METRICS` each; the
            default is each table's report metric (``test_acc``).

    Returns:
        A :class:`TableComparison`.

    Raises:
        TableError: The tables are of different spaces, or hold no cell in common.
        ConfigError: A metric is unknown, or a table has no value of it.
    """
    a, b = as_table(a, "table A"), as_table(b, "table B")
    pv = paired_values(a, b, metric_a, metric_b)
    cell_level = _agreement(
        a, "cells", pv.cells, pv.cells_a, pv.cells_b, pv.sign_a * pv.cells_a, pv.sign_b * pv.cells_b
    )
    ca, cb = pv.classes_a, pv.classes_b
    class_level = _agreement(a, "classes", pv.classes, ca, cb, pv.sign_a * ca, pv.sign_b * cb)
    return TableComparison(
        a=str(a.path),
        b=str(b.path),
        space=a.space_name,
        metric_a=metric_a,
        metric_b=metric_b,
        column_a=_column(a, metric_a),
        column_b=_column(b, metric_b),
        per_cell_a=a.per_cell,
        per_cell_b=b.per_cell,
        epoch_a=a.final_epoch,
        epoch_b=b.final_epoch,
        seeds_a=len(a.seeds),
        seeds_b=len(b.seeds),
        n_a=pv.n_a,
        n_b=pv.n_b,
        cells=cell_level,
        classes=class_level,
    )


@dataclass(frozen=True)
class PairedValues:
    """The values :func:`compare_tables` ranks, before ranking (what a plot shows).

    Attributes:
        cells: The cells both tables give a value, in A's row order.
        cells_a, cells_b: Their values ``(len(cells),)`` of A's and B's metric.
        classes: The classes' representatives (A's grouping), in A's row order.
        classes_a, classes_b: The class values ``(len(classes),)``.
        sign_a, sign_b: ``1.0`` where the metric is maximized, ``-1.0`` where minimized.
        n_a, n_b: Cells each table gives a value for (not only the common ones).
    """

    cells: list[str]
    cells_a: np.ndarray
    cells_b: np.ndarray
    classes: list[str]
    classes_a: np.ndarray
    classes_b: np.ndarray
    sign_a: float
    sign_b: float
    n_a: int
    n_b: int


def paired_values(
    a: Table, b: Table, metric_a: str = "test_acc", metric_b: str = "test_acc"
) -> PairedValues:
    """The values of the cells and classes both tables hold (see the module docstring).

    Raises:
        TableError, ConfigError: As :func:`compare_tables`.
    """
    if a.space_name != b.space_name:
        raise TableError(
            f"table A ({a.path}) is of the {a.space_name!r} space and table B ({b.path}) of "
            f"{b.space_name!r}; compare two tables of the same space"
        )
    archs_a, archs_b = a.archs, b.archs
    row_b = {s: i for i, s in enumerate(archs_b)}
    pairs = [(i, row_b[s]) for i, s in enumerate(archs_a) if s in row_b]
    pos, pos_b = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
    va = _values(a, "A", metric_a, archs_a)
    vb = _values(b, "B", metric_b, archs_b)
    n_a, n_b = int(np.isfinite(va).sum()), int(np.isfinite(vb).sum())
    raw_a, raw_b = va[pos], vb[pos_b]
    ok = np.isfinite(raw_a) & np.isfinite(raw_b)
    if not ok.any():
        raise TableError(
            f"tables A ({a.path}, {n_a} cells with {metric_a}) and B ({b.path}, {n_b} cells "
            f"with {metric_b}) have no cell with a value in both; compare tables that "
            "cover some of the same architectures"
        )
    pos, raw_a, raw_b = pos[ok], raw_a[ok], raw_b[ok]
    # classes by A's grouping, in the order of their representatives' rows
    rep_rows, group = np.unique(np.asarray(a.canonical)[pos], return_inverse=True)
    g = len(rep_rows)
    return PairedValues(
        cells=[archs_a[i] for i in pos.tolist()],
        cells_a=raw_a,
        cells_b=raw_b,
        classes=[archs_a[i] for i in rep_rows.tolist()],
        classes_a=_class_values(raw_a, group, g, a.per_cell),
        classes_b=_class_values(raw_b, group, g, b.per_cell),
        sign_a=-1.0 if metric_a in _MINIMIZE else 1.0,
        sign_b=-1.0 if metric_b in _MINIMIZE else 1.0,
        n_a=n_a,
        n_b=n_b,
    )
