"""A picture of how two tables agree (matplotlib, imported lazily): what
:func:`~nasrepro.tables.compare_tables` reports as numbers, over the isomorphism classes.

Three panels:

1. each class's value in A against its value in B, each table's top 100 marked;
2. the same classes by rank (1 = best, log axes, so the top of each order is spread
   out), with the diagonal where the two orders agree;
3. for a space with decisions (the cell's edges), the (decision, choice) pairs whose
   share of the top 100 differs most between the tables.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from nasrepro.tables._catalog import as_table
from nasrepro.tables._compare import (
    STRUCTURE_K,
    PairedValues,
    TableComparison,
    _top_order,
    compare_tables,
    paired_values,
)
from nasrepro.tables._outfile import save_figure_atomic
from nasrepro.tables._ranking import tie_round
from nasrepro.tables._table import Table

__all__ = ["plot_comparison", "marked_classes"]

#: Most (decision, choice) pairs shown in the structure panel.
STRUCTURE_SHOWN = 6

_COLOURS = {"A": "tab:orange", "B": "tab:blue", "both": "tab:red"}


def _fmt(v: float, digits: int = 3) -> str:
    return "n/a" if not np.isfinite(v) else f"{v:.{digits}f}"


def plot_comparison(
    a: Table | str,
    b: Table | str,
    out: str | os.PathLike[str],
    *,
    metric_a: str = "test_acc",
    metric_b: str = "test_acc",
    comparison: TableComparison | None = None,
    dpi: int = 120,
) -> Path:
    """Write a PNG of how tables ``a`` and ``b`` agree over the classes (see the module).

    Args:
        a, b: The tables (or shipped names or files), as :func:`compare_tables` takes them.
        out: The ``.png`` path to write.
        metric_a, metric_b: The metrics compared.
        comparison: ``compare_tables(a, b, ...)`` when already computed (its figures
            label the panels); computed here otherwise.
        dpi: Resolution.

    Returns:
        The path written.

    Raises:
        TableError, ConfigError: As :func:`compare_tables`.
    """
    from matplotlib import ticker
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ta, tb = as_table(a, "table A"), as_table(b, "table B")
    c = comparison or compare_tables(ta, tb, metric_a=metric_a, metric_b=metric_b)
    pv = paired_values(ta, tb, c.metric_a, c.metric_b)
    va, vb = pv.classes_a, pv.classes_b
    n = len(va)
    k, groups, ra, rb = marked_classes(pv)
    style = dict(
        zip(
            groups,
            [("lightgrey", 4), (_COLOURS["A"], 10), (_COLOURS["B"], 10), (_COLOURS["both"], 14)],
            strict=True,
        )
    )
    name_a, name_b = Path(c.a).stem, Path(c.b).stem
    lab_a, lab_b = f"A: {name_a} · {c.metric_a}", f"B: {name_b} · {c.metric_b}"

    fig = Figure(figsize=(16, 5), layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    cl = c.classes
    over = next((t for t in cl.top_k if t.k == k), None)
    fig.suptitle(
        f"{name_a} vs {name_b} · {n:,} classes · Kendall tau-b {_fmt(cl.kendall_tau)}, "
        f"Spearman {_fmt(cl.spearman)}"
        + (f" · top-{k} overlap {over.common}" if over is not None else "")
    )

    for g, mask in groups.items():
        colour, size = style[g]
        ax1.scatter(
            va[mask],
            vb[mask],
            s=size,
            c=colour,
            label=f"{g} ({int(mask.sum()):,})",
            alpha=0.6 if g == "other" else 0.9,
            linewidths=0,
        )
    ax1.set(xlabel=lab_a, ylabel=lab_b, title="class values")
    ax1.legend(loc="best", fontsize=8, markerscale=1.5)

    for g, mask in groups.items():
        colour, size = style[g]
        ax2.scatter(
            ra[mask], rb[mask], s=size, c=colour, alpha=0.6 if g == "other" else 0.9, linewidths=0
        )
    ax2.plot([1, n], [1, n], color="grey", lw=0.8)
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    for axis in (ax2.xaxis, ax2.yaxis):  # 1, 10, 100, 1,000 rather than 10^k
        axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax2.invert_xaxis()
    ax2.invert_yaxis()
    ax2.set(
        xlabel=f"rank in A (1 = best, of {n:,})",
        ylabel=f"rank in B (1 = best, of {n:,})",
        title="class ranks (the best top right)",
    )
    best_a, best_b = cl.best_a_in_b, cl.best_b_in_a
    ax2.annotate(
        f"A's best: rank {best_a.rank:,} in B",
        (1, best_a.rank),
        fontsize=8,
        xytext=(-4, 4),
        textcoords="offset points",
        ha="right",
    )
    left = best_b.rank > np.sqrt(n)  # in the left half of the log axis: text to its right
    ax2.annotate(
        f"B's best: rank {best_b.rank:,} in A",
        (best_b.rank, 1),
        fontsize=8,
        xytext=(4 if left else -4, -10),
        textcoords="offset points",
        ha="left" if left else "right",
    )

    _structure_panel(ax3, c, k)
    return save_figure_atomic(fig, out, dpi=dpi)


def marked_classes(
    pv: PairedValues,
) -> tuple[int, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """What the value and rank panels mark: ``k`` (100, or fewer classes), the masks
    ``(n,)`` of the classes in neither top ``k``, in A's only, B's only and both (the
    legend's labels as keys; top orders as :func:`compare_tables` breaks ties), and each
    class's rank in A and in B (1 = best; ties share the best rank)."""
    from scipy.stats import rankdata

    sa = tie_round(pv.sign_a * pv.classes_a)  # as compare_tables ranks them
    sb = tie_round(pv.sign_b * pv.classes_b)
    n = len(sa)
    k = min(STRUCTURE_K, n)
    top_a = np.zeros(n, bool)
    top_a[_top_order(sa)[:k]] = True
    top_b = np.zeros(n, bool)
    top_b[_top_order(sb)[:k]] = True
    groups = {
        "other": ~top_a & ~top_b,
        f"top {k} of A only": top_a & ~top_b,
        f"top {k} of B only": top_b & ~top_a,
        f"top {k} of both": top_a & top_b,
    }
    return k, groups, rankdata(-sa, method="min"), rankdata(-sb, method="min")


def _structure_panel(ax: Any, c: TableComparison, k: int) -> None:
    shares = c.classes.structure[:STRUCTURE_SHOWN]
    if not shares:
        ax.axis("off")
        ax.text(
            0.5,
            0.5,
            f"the {c.space} space has no decisions to break the\ntop {k} down by",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        return
    y = np.arange(len(shares))[::-1]
    h = 0.38
    ax.barh(y + h / 2, [100 * s.share_a for s in shares], h, color=_COLOURS["A"], label="A")
    ax.barh(y - h / 2, [100 * s.share_b for s in shares], h, color=_COLOURS["B"], label="B")
    ax.set_yticks(y, [f"{s.decision}: {s.choice}" for s in shares], fontsize=8)
    ax.set(
        xlabel=f"share of the top {k} classes (%)",
        xlim=(0, 100),
        title=f"largest differences in the top {k}",
    )
    ax.legend(loc="lower right", fontsize=8)
