"""The rows of a table ranked by a metric: :meth:`Table.top` and :meth:`Table.best`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from nasrepro.spaces._errors import ConfigError
from nasrepro.tables._format import representative_mask
from nasrepro.tables._results import RESULT_METRICS

if TYPE_CHECKING:
    from nasrepro.tables._table import Table

__all__ = ["ranked_rows", "tie_round", "TIE_DECIMALS"]

#: Decimals that compared values are rounded to before they are ranked, so that equal
#: results tie. A table stores each seed's value as float32 and averages the seeds in
#: float64, so one mean reached from different seed values differs in the last float32
#: digits: 97.2 from (97.2, 97.2, 97.2) is 97.19999695, from (97.1, 97.3, 97.2)
#: 97.19999949; on the default table 1,921 distinct class means of test accuracy are
#: 1,176 values. The float32 spacing is at most 7.6e-6 below 128 (percent, points of
#: regret), and the smallest true difference between seed means is one test example:
#: 100 / (n_test * n_seeds), 3.3e-3 for NAS-Bench-201's 10,000 test images and 3 seeds;
#: 4 decimals lie between the two.
TIE_DECIMALS = 4


def tie_round(values: np.ndarray) -> np.ndarray:
    """``values`` rounded to :data:`TIE_DECIMALS` for ranking (NaN and inf kept); the
    values reported stay unrounded."""
    return np.round(np.asarray(values, dtype=np.float64), TIE_DECIMALS)


def ranked_rows(
    table: Table, metric: str, epoch: int | None, seed: int | None, mode: str | None
) -> np.ndarray:
    """The rows with a value of ``metric``, best first (ties by row): one per class, or
    per cell in a ``per_cell`` table.

    Raises:
        ConfigError: An unknown metric or mode, or a metric of which the table holds no
            value although it holds results (an imported table records only what its
            source gave).
    """
    from nasrepro.tables._table import _COL_NSEEDS, _MINIMIZE

    if metric not in RESULT_METRICS:
        raise ConfigError(f"unknown {metric=}; expected one of {RESULT_METRICS}")
    if mode not in (None, "max", "min"):
        raise ConfigError(f"{mode=}; expected 'max', 'min' or None (by metric)")
    view = table._entry(epoch, seed).values
    d = table._loaded
    cand = np.ones(table.n_rows, bool) if table.per_cell else representative_mask(d.canonical)
    rows = np.flatnonzero(cand & (view[_COL_NSEEDS] > 0))
    vals = view[RESULT_METRICS.index(metric), rows]
    if len(rows) and np.isnan(vals).all():
        why = " (absent in its source)" if metric in table.absent else ""
        raise ConfigError(
            f"{table.path}: no class has a {metric} value{why}, though the table holds "
            "results (`nasrepro table info` lists what it lacks); rank by another metric"
        )
    rows, vals = rows[~np.isnan(vals)], vals[~np.isnan(vals)]
    minimize = metric in _MINIMIZE if mode is None else mode == "min"
    key = tie_round(vals)
    order = np.argsort(key if minimize else -key, kind="stable")  # equal results by row
    return np.asarray(rows[order])
