"""Training data for surrogates: one row per trained (architecture, seed) of a table.

A table of any space is a source: the cell table (every trained class), and the
small chain and hierarchical tables built from ``nasrepro sweep --space chain
--sample N`` results (same HDF5 schema). Held-out test architectures of an
unbounded space are another table, from a sweep with its own ``--sample-seed``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nasrepro.spaces import (
    Architecture,
    NetworkSpec,
    SearchSpace,
    get_space,
    lowered_class_keys,
    parse_in,
)
from nasrepro.spaces._errors import NasreproError
from nasrepro.surrogate._batch_features import batch_features
from nasrepro.surrogate._features import BATCH_MIN, features, features_many
from nasrepro.tables import Protocol, Table, representative_mask

__all__ = [
    "TrainingData",
    "SurrogateError",
    "load_table",
    "split_rows",
    "trained_rows",
    "arch_classes",
    "grouped_folds",
    "encode",
    "encode_one",
    "lower_all",
]

logger = logging.getLogger(__name__)


class SurrogateError(NasreproError, ValueError):
    """A surrogate cannot be fitted, loaded or queried as asked; the message says why."""


_CURVES = ("valid_acc", "test_acc", "train_time_s")


def lower_all(
    archs: Sequence[Architecture | str], space: SearchSpace[Any], protocol: Protocol
) -> list[NetworkSpec]:
    """Lower architectures (objects or strings of ``space``) with the protocol's macro."""
    macro = protocol.macro()
    return [space.lower(space.parse(a) if isinstance(a, str) else a, **macro) for a in archs]


def encode(
    archs: Sequence[Architecture | str],
    space: SearchSpace[Any],
    protocol: Protocol,
    encoding: str = "graph",
) -> np.ndarray:
    """Model inputs of architectures, shape ``(n, n_features)``.

    Where the space sets ``features_of_canonical`` (the cell space), each architecture
    is encoded as its class representative (``space.canonical``), the network a table
    of the space answers for, so that the members of a class get one encoding.

    Args:
        archs: Architectures of ``space`` or their strings.
        space: Their space.
        protocol: The training protocol (``Table.protocol``): its input shape and
            classes, and its macro skeleton (``C``, ``N`` and ``reduction``).
        encoding: ``"graph"`` (:func:`~nasrepro.surrogate.features`) or ``"adjacency"``
            (``space.encode``).

    Raises:
        ValueError: A string is no architecture of ``space``; one of another space is
            named as such (:func:`~nasrepro.spaces.parse_in`).
    """
    try:
        return _encode(archs, space, protocol, encoding)
    except ValueError:  # a string the (array) parser refused: say which, and whose it is
        for a in archs:
            if isinstance(a, str):
                parse_in(space, a)
        raise


def _encode(
    archs: Sequence[Architecture | str],
    space: SearchSpace[Any],
    protocol: Protocol,
    encoding: str,
) -> np.ndarray:
    canonical = getattr(space, "features_of_canonical", False)
    if encoding == "graph":
        # Each distinct architecture is lowered and featurized once; a batch goes through
        # the space's array lowering and the array features (equal bit for bit).
        first: dict[Architecture | str, int] = {}
        index = np.fromiter((first.setdefault(a, len(first)) for a in archs), np.int64, len(archs))
        distinct = list(first) if len(first) < len(archs) else list(archs)
        if canonical:
            distinct = [space.canonical(a) for a in distinct]
        if len(distinct) >= BATCH_MIN:
            cols = space.lower_columns(distinct, **protocol.macro())
            X = batch_features(cols, protocol.input_shape, protocol.num_classes)
        else:
            specs = lower_all(distinct, space, protocol)
            X = features_many(specs, protocol.input_shape, protocol.num_classes)
        return X if len(distinct) == len(archs) else X[index]
    if encoding == "adjacency":
        parsed = [space.parse(a) if isinstance(a, str) else a for a in archs]
        if canonical:
            parsed = [space.canonical(a) for a in parsed]
        if not parsed:
            return np.zeros((0, 0))
        return np.stack([space.encode(a).astype(np.float64) for a in parsed])
    raise SurrogateError(f"unknown {encoding=}; expected 'graph' or 'adjacency'")


def encode_one(
    arch: Architecture, space: SearchSpace[Any], protocol: Protocol, encoding: str
) -> np.ndarray:
    """:func:`encode` of one architecture, shape ``(n_features,)``."""
    if encoding == "graph":
        if getattr(space, "features_of_canonical", False):
            arch = space.canonical(arch)
        spec = space.lower(arch, **protocol.macro())
        return features(spec, protocol.input_shape, protocol.num_classes)
    return encode([arch], space, protocol, encoding)[0]


@dataclass(frozen=True)
class TrainingData:
    """Rows of single training runs, one per trained (architecture, seed).

    Attributes:
        X: Model inputs, ``(n, n_features)``.
        valid_curve, test_curve: Accuracy (percent) at the end of every epoch,
            ``(n, n_epoch)``.
        cost_curve: Training time of epochs ``1..e`` for every ``e``, ``(n, n_epoch)``.
        archs: Architecture strings, ``(n,)``.
        spaces: Space of each row, ``(n,)``.
        seeds: Training seed of each row, ``(n,)``.
        encoding: How ``X`` was computed (see :func:`encode`).
        protocol: The protocol every row was trained under.
        sources: One dict per table: file name, space, checksum and rows used.
    """

    X: np.ndarray
    valid_curve: np.ndarray
    test_curve: np.ndarray
    cost_curve: np.ndarray
    archs: tuple[str, ...]
    spaces: tuple[str, ...]
    seeds: np.ndarray
    encoding: str
    protocol: Protocol
    sources: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def __len__(self) -> int:
        return len(self.seeds)

    @property
    def n_epochs(self) -> int:
        return int(self.valid_curve.shape[1])

    @property
    def valid_acc(self) -> np.ndarray:
        """Final-epoch validation accuracy, ``(n,)``."""
        return np.asarray(self.valid_curve[:, -1])

    @property
    def test_acc(self) -> np.ndarray:
        """Final-epoch test accuracy, ``(n,)``."""
        return np.asarray(self.test_curve[:, -1])

    @property
    def cost_s(self) -> np.ndarray:
        """Training time of all epochs, ``(n,)``."""
        return np.asarray(self.cost_curve[:, -1])

    @property
    def protocol_id(self) -> str:
        return self.protocol.id

    def sha256(self) -> str:
        """sha256 of the inputs, targets, architectures and seeds."""
        h = hashlib.sha256()
        for a in (self.X, self.valid_curve, self.test_curve, self.cost_curve, self.seeds):
            h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
        h.update(json.dumps([self.archs, self.spaces]).encode())
        return h.hexdigest()

    def select(self, mask: np.ndarray) -> TrainingData:
        """The rows where ``mask`` (bool ``(n,)``) holds."""
        idx = np.flatnonzero(mask)
        return TrainingData(
            self.X[idx],
            self.valid_curve[idx],
            self.test_curve[idx],
            self.cost_curve[idx],
            tuple(self.archs[i] for i in idx.tolist()),
            tuple(self.spaces[i] for i in idx.tolist()),
            self.seeds[idx],
            self.encoding,
            self.protocol,
            self.sources,
        )

    @staticmethod
    def concat(parts: Sequence[TrainingData]) -> TrainingData:
        """Rows of several sources in order; they must share protocol and encoding.

        Raises:
            SurrogateError: The parts mix protocols or encodings, or (adjacency) spaces.
        """
        if not parts:
            raise SurrogateError("no training data; pass at least one table")
        first = parts[0]
        for p in parts[1:]:
            if p.protocol != first.protocol:
                raise SurrogateError(
                    "refusing to mix training protocols "
                    f"({first.protocol_id[:12]} and {p.protocol_id[:12]}); fit one "
                    "surrogate per protocol"
                )
            if p.encoding != first.encoding:
                raise SurrogateError(f"cannot mix encodings {first.encoding} and {p.encoding}")
        spaces = {s for p in parts for s in p.spaces}
        if first.encoding == "adjacency" and len(spaces) > 1:
            raise SurrogateError(
                f"the adjacency encoding serves one space, got {sorted(spaces)}; use a "
                "graph-feature model to learn across spaces"
            )
        return TrainingData(
            np.concatenate([p.X for p in parts]),
            np.concatenate([p.valid_curve for p in parts]),
            np.concatenate([p.test_curve for p in parts]),
            np.concatenate([p.cost_curve for p in parts]),
            tuple(a for p in parts for a in p.archs),
            tuple(s for p in parts for s in p.spaces),
            np.concatenate([p.seeds for p in parts]),
            first.encoding,
            first.protocol,
            tuple(s for p in parts for s in p.sources),
        )


def arch_classes(
    archs: Sequence[Architecture | str], space: SearchSpace[Any] | str, protocol: Protocol
) -> list[str]:
    """The class of each architecture, ``n`` strings of 16 hex digits.

    Architectures share a class exactly where they lower, under the protocol's macro,
    to the same network up to relabelling: the first 16 hex digits of
    :func:`~nasrepro.spaces.lowered_class_keys`. On the cell space these are the
    table's canonical classes; on sampled spaces (whose tables give every string a
    class of its own) they also join permuted motif indices, relabelled nodes and
    identity edges. A fitted surrogate records the classes it was trained on, so that
    :func:`~nasrepro.surrogate.evaluate` drops held-out isomorphs of them too.

    Args:
        archs: Architectures of ``space`` or their strings.
        space: Their space (or its name).
        protocol: The protocol whose macro lowers them.
    """
    sp = get_space(space) if isinstance(space, str) else space
    return [k[:16] for k in lowered_class_keys(sp, archs, **protocol.macro())]


def grouped_folds(data: TrainingData, folds: int = 5, seed: int = 0) -> np.ndarray:
    """The cross-validation fold of each row of ``data``, int64 ``(n,)``.

    Every seed of an architecture, and every architecture of one class (same space,
    same :func:`arch_classes`), falls in one fold, so that no network is fitted on and
    scored in the same round. The folds are drawn as they were before classes were
    known: the distinct ``(space, string)`` pairs in sorted order get
    ``permutation(n_pairs)[i] % folds`` (``numpy.random.default_rng(seed)``), then every
    string takes the fold of the first string of its class. Strings without an
    isomorph keep their fold; only the others move.

    Args:
        data: Training rows.
        folds: Number of folds.
        seed: Seeds the draw.
    """
    keys = np.array([f"{t}:{a}" for a, t in zip(data.archs, data.spaces, strict=True)])
    uniq, groups = np.unique(keys, return_inverse=True)
    fold_of = np.random.default_rng(seed).permutation(len(uniq)) % folds
    space_of = [str(k).split(":", 1)[0] for k in uniq.tolist()]
    classes: list[str] = [""] * len(uniq)
    for sp in sorted(set(space_of)):
        idx = [i for i, t in enumerate(space_of) if t == sp]
        strings = [str(uniq[i]).split(":", 1)[1] for i in idx]
        for i, c in zip(idx, arch_classes(strings, sp, data.protocol), strict=True):
            classes[i] = f"{sp}:{c}"
    first: dict[str, int] = {}
    moved = np.array([first.setdefault(c, int(f)) for c, f in zip(classes, fold_of, strict=True)])
    return moved[groups].astype(np.int64)


def trained_rows(table: Table) -> np.ndarray:
    """Canonical rows of ``table`` with a final result for some seed, int64 ``(n,)``."""
    reps = representative_mask(table.canonical)
    return np.flatnonzero(reps & table.trained())


def split_rows(table: Table, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split the trained canonical rows into a ``fraction`` for fitting and the rest.

    Returns:
        ``(fit_rows, held_out_rows)``, each sorted int64, drawn with ``seed``.
    """
    if not 0.0 < fraction <= 1.0:
        raise SurrogateError(f"{fraction=} must be in (0, 1]")
    rows = trained_rows(table)
    perm = np.random.default_rng(seed).permutation(len(rows))
    k = max(1, round(fraction * len(rows)))
    return np.sort(rows[perm[:k]]), np.sort(rows[perm[k:]])


def load_table(
    table: Table, rows: np.ndarray | None = None, encoding: str = "graph"
) -> TrainingData:
    """Training rows of a table: every trained (canonical row, seed) pair.

    Args:
        table: Any table (cell, or a sampled chain or hierarchical table).
        rows: Canonical rows to use (default: all trained ones, see :func:`trained_rows`).
        encoding: ``"graph"`` or ``"adjacency"`` (see :func:`encode`).

    Returns:
        :class:`TrainingData` with ``len(rows) * n_seeds`` rows at most (untrained
        seeds are skipped, and so, with a warning, runs with a NaN or infinite value in
        an accuracy or time curve: a diverged epoch cannot be a target).
    """
    rows = trained_rows(table) if rows is None else np.asarray(rows, dtype=np.int64)
    protocol = table.protocol
    archs_all = table.archs
    archs = [archs_all[r] for r in rows.tolist()]
    X_arch = encode(archs, table.space, protocol, encoding)
    epochs = table.epochs
    idx_parts, seed_parts, curves = [], [], []
    n_nonfinite = 0
    for seed in table.seeds:
        final = table.query_many(rows, seed=seed, missing="nan")
        ok = np.flatnonzero(final.n_seeds > 0)
        per_epoch = [table.query_many(rows[ok], epoch=e, seed=seed) for e in epochs]
        c = np.stack(
            [np.stack([r[m] for r in per_epoch], axis=1) for m in _CURVES]
        )  # (3, n_ok, n_epoch)
        finite = np.isfinite(c).all(axis=(0, 2))  # a diverged run's NaN cannot be a target
        n_nonfinite += int((~finite).sum())
        curves.append(c[:, finite])
        idx_parts.append(ok[finite])
        seed_parts.append(np.full(int(finite.sum()), seed, dtype=np.int64))
    if n_nonfinite:
        logger.warning(
            "%s: %d training runs with a NaN or infinite accuracy or time (diverged?) are "
            "left out of the training data",
            table.path,
            n_nonfinite,
        )
    idx = np.concatenate(idx_parts).astype(np.int64)
    curve = np.concatenate(curves, axis=1)
    source = {
        "file": table.path.name,
        "space": table.space_name,
        "metrics_sha256": str(table.attrs["metrics_sha256"]),
        "n_rows": int(len(rows)),
    }
    return TrainingData(
        X=X_arch[idx] if len(idx) else np.zeros((0, X_arch.shape[1])),
        valid_curve=curve[0],
        test_curve=curve[1],
        cost_curve=curve[2],
        archs=tuple(archs[i] for i in idx.tolist()),
        spaces=(table.space_name,) * len(idx),
        seeds=np.concatenate(seed_parts),
        encoding=encoding,
        protocol=protocol,
        sources=(source,),
    )
