"""Array helpers of :class:`~nasrepro.surrogate.Surrogate`: distinct feature rows by their
bits, the boosters' outputs as mean and std, and the earlier-epoch models' rows (moved
out of ``_surrogate.py``, 2026-12-07, to keep it under 800 lines)."""

from __future__ import annotations

from typing import Any

import numpy as np

from nasrepro.surrogate._data import TrainingData

#: Weights of the row hash in :func:`_distinct_rows` (any fixed numbers will do).
_ROW_HASH = np.random.default_rng(20261206).uniform(1.0, 2.0, 4096)


def _distinct_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each distinct row of float64 ``X`` by its bits: ``(first, inverse)``, the index of
    a row holding each distinct value and every row's index among them.

    Rows are hashed by a dot product with fixed random weights (one BLAS call), the
    hashes are made distinct by ``np.unique``, and every row is then compared with its
    group's first, bit for bit: a collision (two different rows, one hash) is caught,
    and then the rows are sorted whole (``np.unique`` of their bytes: exact, and 4x
    slower on 100,000 hierarchical rows). Equal rows that hashed apart would only be
    predicted twice, with the same bits.
    """
    bits = X.view(np.uint64)
    if X.shape[1] <= len(_ROW_HASH) and np.isfinite(X).all():
        _, first, inverse = np.unique(
            X @ _ROW_HASH[: X.shape[1]], return_index=True, return_inverse=True
        )
        inverse = inverse.reshape(-1)
        if np.array_equal(bits, bits[first[inverse]]):
            return first, inverse
    rows = X.view(np.dtype((np.void, X.itemsize * X.shape[1]))).ravel()
    _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


def _as64(v: Any) -> np.ndarray:
    return np.asarray(v, dtype=np.float64)


def _mean_std(mean: np.ndarray, quantiles: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """As :meth:`XGBSurrogate.predict_dist` turns its two boosters' outputs into mean and std."""
    q = _as64(quantiles).reshape(len(mean), 2)
    return _as64(mean), np.abs(q[:, 1] - q[:, 0]) / z


def _with_epoch(X: np.ndarray, epoch: np.ndarray, n_epochs: int) -> np.ndarray:
    """``X`` ``(n, d)`` with the column ``epoch / n_epochs`` appended: ``(n, d + 1)``."""
    return np.hstack([X, (np.asarray(epoch, dtype=np.float64) / n_epochs)[:, None]])


def _epoch_rows(data: TrainingData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs and targets of the earlier-epoch models: one row per run and epoch < last."""
    E = data.n_epochs
    epochs = np.repeat(np.arange(1, E), len(data))  # epoch-major
    X = _with_epoch(np.tile(data.X, (E - 1, 1)), epochs, E)
    return X, data.valid_curve[:, :-1].T.ravel(), data.test_curve[:, :-1].T.ravel()
