"""A one-page overview plot of a table (matplotlib, imported lazily)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nasrepro.tables._format import representative_mask
from nasrepro.tables._outfile import save_figure_atomic

if TYPE_CHECKING:
    from nasrepro.tables._table import Table

__all__ = ["plot_table"]


def plot_table(table: Table, out: str | os.PathLike[str], *, dpi: int = 120) -> Path:
    """Write a PNG with three panels about ``table``'s final epoch.

    1. histogram of the mean final test accuracy over trained classes;
    2. seed-0 against seed-1 test accuracy (the first two seeds; seed noise);
    3. mean test accuracy against parameter count (log scale).

    Uses the Agg canvas directly, so no global matplotlib backend is changed.

    Args:
        table: An open table.
        out: The ``.png`` path to write.
        dpi: Resolution.

    Returns:
        The path written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    reps = (
        np.arange(table.n_rows)
        if table.per_cell
        else np.flatnonzero(representative_mask(table.canonical))
    )
    unit = "cells" if table.per_cell else "classes"
    r = table.query_many(reps, missing="nan")
    ok = r.n_seeds > 0
    test, params = r.test_acc[ok], r.params[ok]
    report = "test" if table.kind != "imported" else f"{table.report_metric}"

    fig = Figure(figsize=(15, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    origin = table.protocol.name if table.has_protocol else table.source.get("name", "imported")
    title = f"{table.space_name} · {origin}"
    fig.suptitle(f"{title} · {int(ok.sum())} {unit} · {Path(table.path).name}")

    if test.size:
        ax1.hist(test, bins=min(50, max(5, test.size // 4)), color="tab:blue")
    ax1.set(xlabel=f"final {report} accuracy (%), mean over seeds", ylabel=unit, title="accuracy")

    if len(table.seeds) >= 2:
        s0, s1 = table.seeds[:2]
        a = table.query_many(reps, seed=s0, missing="nan").test_acc
        b = table.query_many(reps, seed=s1, missing="nan").test_acc
        both = np.isfinite(a) & np.isfinite(b)
        ax2.scatter(a[both], b[both], s=6, alpha=0.5)
        if both.any():
            lo, hi = (
                float(min(a[both].min(), b[both].min())),
                float(max(a[both].max(), b[both].max())),
            )
            ax2.plot([lo, hi], [lo, hi], color="grey", lw=0.8)
        ax2.set(xlabel=f"test accuracy, seed {s0} (%)", ylabel=f"test accuracy, seed {s1} (%)")
        ax2.set_title("seed agreement")
    else:  # one seed: what strategies see against what is reported
        search = "valid" if table.kind != "imported" else table.search_metric
        ax2.scatter(r.valid_acc[ok], test, s=6, alpha=0.5)
        ax2.set(xlabel=f"{search} accuracy (%)", ylabel=f"{report} accuracy (%)")
        ax2.set_title("search vs report metric (one seed)")

    known = np.isfinite(params)
    if test.size and known.any():
        ax3.scatter(params[known], test[known], s=6, alpha=0.5, color="tab:green")
        if np.all(params[known] > 0):
            log_x_125(ax3)
    label = "parameters" + (" (computed)" if "params" in table.computed else "")
    ax3.set(xlabel=label, ylabel=f"final {report} accuracy (%)", title="accuracy vs size")

    Path(out).parent.mkdir(parents=True, exist_ok=True)
    return save_figure_atomic(fig, out, dpi=dpi)


def log_x_125(ax: Any) -> None:
    """Log x axis labelled at 1-2-5 ticks in plain numbers.

    For ranges of one or two decades, where matplotlib's default labels crowded
    minor ticks as ``3x10^1 4x10^1``.
    """
    from matplotlib import ticker as mticker

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(mticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(mticker.NullFormatter())
