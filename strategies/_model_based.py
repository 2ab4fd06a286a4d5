"""Shared loop of full-fidelity, model-based strategies (GP-BO, BANANAS)."""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from nasrepro.spaces import Architecture, SearchSpace
from nasrepro.spaces._errors import ConfigError
from nasrepro.strategies._base import Strategy, Trial
from nasrepro.strategies._common import candidate_pool, canonical_key
from nasrepro.tables import Evaluation

__all__ = ["ModelBasedStrategy"]


class ModelBasedStrategy(Strategy):
    """Random initial design, then batches chosen by a model over a candidate pool.

    The first ``n_init`` asks are uniform samples. Afterwards, when its queue of
    proposals is empty, the strategy fits its model to all told ``(encoding,
    valid_acc)`` pairs, scores a pool of candidates (``n_random`` uniform samples plus
    ``n_mutations`` mutants of each of the ``n_parents`` best architectures, leaving out
    everything already asked), and queues the ``batch_size`` best. Pending trials are
    only excluded from the pool (no fantasised results).

    Subclasses implement :meth:`_select` and set the defaults, each with its source
    (:class:`~nasrepro.strategies.GPBayesOpt`, :class:`~nasrepro.strategies.Bananas`);
    the ones here only repeat GP-BO's.
    """

    encoding: str = "adjacency"

    def __init__(
        self,
        space: SearchSpace[Any],
        *,
        max_epoch: int,
        seed: int | None = None,
        n_init: int = 10,
        batch_size: int = 1,
        n_random: int = 100,
        n_parents: int = 10,
        n_mutations: int = 10,
    ) -> None:
        super().__init__(space, max_epoch=max_epoch, seed=seed)
        if n_init < 1 or batch_size < 1:
            raise ConfigError(f"need {n_init=} >= 1 and {batch_size=} >= 1")
        self.n_init = n_init
        self.batch_size = batch_size
        self.n_random = n_random
        self.n_parents = n_parents
        self.n_mutations = n_mutations
        self.X_: list[np.ndarray] = []  # encodings of told trials, each (n_features,)
        self.y_: list[float] = []  # their validation accuracies
        self.archs_: list[Architecture] = []
        self._asked: set[str] = set()
        self._queue: list[Architecture] = []

    def _encode(self, arch: Architecture) -> np.ndarray:
        return np.asarray(self.space.encode(arch, self.encoding), dtype=np.float64)

    def ask(self) -> Trial:
        if not self._queue:
            if len(self._asked) < self.n_init or len(self.y_) < 2:
                self._queue = [self.space.sample(self.rng)]
            else:
                self._queue = self._propose()
        arch = self._queue.pop(0)
        self._asked.add(canonical_key(self.space, arch))
        return Trial(arch, self.max_epoch)

    def tell(self, trial: Trial, evaluation: Evaluation) -> None:
        self.X_.append(self._encode(trial.arch))
        self.y_.append(evaluation.valid_acc)
        self.archs_.append(trial.arch)

    def _propose(self) -> list[Architecture]:
        order = np.argsort(-np.asarray(self.y_), kind="stable")[: self.n_parents]
        parents = [self.archs_[int(i)] for i in order]
        pool = candidate_pool(
            self.space, self.rng, parents, self.n_random, self.n_mutations, self._asked
        )
        if not pool:  # everything near has been seen: fall back to a fresh sample
            return [self.space.sample(self.rng)]
        Xc = np.stack([self._encode(a) for a in pool])  # (n_pool, n_features)
        scores = self._select(np.stack(self.X_), np.asarray(self.y_), Xc)  # (n_pool,)
        best = np.argsort(-scores, kind="stable")[: self.batch_size]
        return [pool[int(i)] for i in best]

    @abc.abstractmethod
    def _select(self, X: np.ndarray, y: np.ndarray, Xc: np.ndarray) -> np.ndarray:
        """Acquisition scores (higher is better), ``(n_pool,)``, of candidates ``Xc``
        ``(n_pool, n_features)`` given observations ``X`` ``(n, n_features)``, ``y`` ``(n,)``."""
