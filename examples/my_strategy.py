"""A new strategy in about 40 lines: mutate one of the k best, sometimes sample afresh.

Validate it against the shipped reference strategies, then retrain its incumbents::

    nasrepro validate --strategy examples/my_strategy.py:TopKMutation --seeds 30
"""

from __future__ import annotations

from typing import Any

from nasrepro.spaces import Architecture, SearchSpace
from nasrepro.strategies import Strategy, Trial
from nasrepro.tables import Evaluation


class TopKMutation(Strategy):
    """Keep the ``k`` best architectures seen; mutate one of them, or explore with ``p_random``.

    Args:
        space, max_epoch, seed: As for every :class:`~nasrepro.strategies.Strategy`.
        k: How many of the best to mutate from.
        p_random: Probability of a uniform sample instead of a mutation.
    """

    def __init__(
        self,
        space: SearchSpace[Any],
        *,
        max_epoch: int,
        seed: int | None = None,
        k: int = 5,
        p_random: float = 0.2,
    ) -> None:
        super().__init__(space, max_epoch=max_epoch, seed=seed)
        self.k, self.p_random = k, p_random
        self.best_: list[tuple[float, str, Architecture]] = []  # (valid acc, string, arch)

    def ask(self) -> Trial:
        if len(self.best_) < self.k or self.rng.random() < self.p_random:
            return Trial(self.space.sample(self.rng), self.max_epoch)
        _, _, parent = self.best_[int(self.rng.integers(len(self.best_)))]
        return Trial(self.space.mutate(parent, self.rng), self.max_epoch)

    def tell(self, trial: Trial, evaluation: Evaluation) -> None:
        self.best_.append((evaluation.valid_acc, trial.arch.to_string(), trial.arch))
        self.best_ = sorted(self.best_, key=lambda b: (-b[0], b[1]))[: self.k]
