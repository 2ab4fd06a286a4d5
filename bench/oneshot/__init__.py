"""The one-shot track (torch): a weight-sharing supernet compiled from the IR, six methods
that search on it (RSPS, DARTS-V1/V2, GDAS, SETN, ENAS), and their scoring by a table.

Each derived cell is scored for free by a table of the same protocol; the search cost is
reported in seconds and in full-training equivalents measured on the same device, so a
one-shot method can stand beside the black-box strategies at equal compute.

Example:
    >>> from nasrepro.bench.oneshot import search
    >>> r = search("rsps", "synthetic-smoke", seed=0, epochs=1)
    >>> r.epochs
    1
"""

from __future__ import annotations

from nasrepro.bench.oneshot._methods import (
    METHODS,
    Controller,
    Method,
    MethodConfig,
    get_method,
    list_methods,
    register_method,
    scaled,
)
from nasrepro.bench.oneshot._run import (
    COST_CELLS,
    RANK_SEED,
    EpochRecord,
    OneShotResult,
    SearchResult,
    check_table,
    cost_cells,
    fte_unit_in_table,
    op_histogram,
    rank_correlation,
    run_oneshot,
    search,
    standalone_seconds,
)
from nasrepro.bench.oneshot._supernet import SuperCell, Supernet, candidate_ops

__all__ = [
    "Supernet",
    "SuperCell",
    "candidate_ops",
    "METHODS",
    "register_method",
    "list_methods",
    "Method",
    "MethodConfig",
    "Controller",
    "get_method",
    "scaled",
    "search",
    "run_oneshot",
    "standalone_seconds",
    "cost_cells",
    "fte_unit_in_table",
    "check_table",
    "rank_correlation",
    "op_histogram",
    "EpochRecord",
    "SearchResult",
    "OneShotResult",
    "RANK_SEED",
    "COST_CELLS",
]
