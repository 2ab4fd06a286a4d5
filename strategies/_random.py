"""Random search."""

from __future__ import annotations

from nasrepro.strategies._base import Strategy, Trial, register_strategy
from nasrepro.tables import Evaluation

__all__ = ["RandomSearch"]


@register_strategy("random-search")
class RandomSearch(Strategy):
    """Uniform random search at full fidelity, with replacement.

    The baseline of Bergstra & Bengio, "Random search for hyper-parameter
    optimization" (JMLR 2012), and the NAS baseline that Li & Talwalkar, "Random
    search and reproducibility for neural architecture search" (UAI 2019), found hard
    to beat. Each ask draws ``space.sample(rng)`` and trains it fully; architectures
    may repeat, so that the best of ``n`` draws has a closed-form expectation.

    Example:
        >>> import numpy as np
        >>> from nasrepro.spaces import get_space
        >>> s = RandomSearch(get_space("cell"), max_epoch=8, seed=0)
        >>> s.ask().epoch
        8
    """

    def ask(self) -> Trial:
        return Trial(self.space.sample(self.rng), self.max_epoch)

    def tell(self, trial: Trial, evaluation: Evaluation) -> None:
        pass
