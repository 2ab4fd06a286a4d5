"""What a query returns: one architecture's record, or columns for many."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from nasrepro.tables._records import METRIC_NAMES, STATIC_NAMES

__all__ = ["TableResult", "TableResults", "RESULT_METRICS"]

#: Metrics a query returns per architecture: the per-epoch metrics, then the
#: cumulative training time up to the epoch, then the static figures.
RESULT_METRICS: tuple[str, ...] = (*METRIC_NAMES, "train_time_s", *STATIC_NAMES)


@dataclass(slots=True)
class TableResult:
    """The metrics of one architecture at one epoch, averaged over seeds or for one.

    Isomorphic and equivalent architectures resolve to their class representative,
    so they give equal results, except in a per-cell table (imported from a source
    that trained every cell, like NAS-Bench-201), where each cell has its own row. Every query returns a fresh object (the table never
    shares it), so it is a plain slotted dataclass: a frozen one costs 5 us more
    per query in ``__init__``.

    Attributes:
        arch: String of the row that holds the data (the class representative, or
            in a per-cell table the queried cell).
        index: That row (the enumeration index for bounded spaces).
        epoch: Epoch number (one of ``table.epochs``; the final epoch is ``table.final_epoch``,
            e.g. 12 on the NAS-Bench-201 tables, which hold that epoch only).
        seed: The seed, or ``None`` for the mean over the trained seeds.
        n_seeds: Number of seeds averaged (1 for a single seed).
        train_loss, train_acc, valid_loss, valid_acc, test_loss, test_acc: At the
            end of ``epoch``; accuracies in percent.
        epoch_time_s: Training time of that epoch.
        train_time_s: Training time of epochs ``1..epoch`` (the cost of reaching it).
        params: Parameter count. flops: Forward FLOPs per sample. ``None`` where
            the table does not hold them (an imported table whose source lacks them).
        latency_s: Inference latency of one evaluation batch.
        seeds: All seeds of the table.
        per_seed_valid_acc, per_seed_test_acc: Values for each of ``seeds`` at
            ``epoch`` (NaN where a seed was not trained).
    """

    arch: str
    index: int
    epoch: int
    seed: int | None
    n_seeds: int
    train_loss: float
    train_acc: float
    valid_loss: float
    valid_acc: float
    test_loss: float
    test_acc: float
    epoch_time_s: float
    train_time_s: float
    params: int | None
    flops: int | None
    latency_s: float
    seeds: tuple[int, ...]
    per_seed_valid_acc: tuple[float, ...]
    per_seed_test_acc: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of all fields."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    return v


@dataclass(frozen=True)
class TableResults:
    """Vectorized results of :meth:`Table.query_many`; every array has shape ``(n,)``.

    Attributes:
        index: Representative row of each queried architecture (int64).
        epoch: Epoch number. seed: The seed or ``None`` (mean over seeds).
        n_seeds: Seeds averaged per architecture (0 where missing and
            ``missing="nan"``).
        train_loss, ..., latency_s: float64 arrays, in :data:`RESULT_METRICS` order;
            ``params`` and ``flops`` are float64 too, so that they can hold NaN.
    """

    index: np.ndarray
    epoch: int
    seed: int | None
    n_seeds: np.ndarray
    train_loss: np.ndarray
    train_acc: np.ndarray
    valid_loss: np.ndarray
    valid_acc: np.ndarray
    test_loss: np.ndarray
    test_acc: np.ndarray
    epoch_time_s: np.ndarray
    train_time_s: np.ndarray
    params: np.ndarray
    flops: np.ndarray
    latency_s: np.ndarray

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, metric: str) -> np.ndarray:
        """The ``(n,)`` array of ``metric`` (one of :data:`RESULT_METRICS`)."""
        if metric not in RESULT_METRICS:
            raise KeyError(f"unknown metric {metric!r}; expected one of {RESULT_METRICS}")
        return getattr(self, metric)  # type: ignore[no-any-return]
