"""REINFORCE with a per-decision categorical policy."""

from __future__ import annotations

from typing import Any

import numpy as np

from nasrepro.spaces import SearchSpace
from nasrepro.spaces._errors import ConfigError
from nasrepro.strategies._base import Strategy, Trial, register_strategy
from nasrepro.strategies._common import decisions_of
from nasrepro.tables import Evaluation

__all__ = ["Reinforce"]


@register_strategy("reinforce")
class Reinforce(Strategy):
    """REINFORCE (Williams 1992) as a NAS controller: Zoph & Le, "Neural architecture
    search with reinforcement learning" (ICLR 2017), in the form NAS-Bench-201 (Dong
    & Yang, ICLR 2020) ran it on the cell space.

    The policy is one independent categorical distribution per decision (an op per
    edge), with logits ``theta`` of shape ``(n_decisions, n_choices)``, initialised to
    zero (uniform). Each ask samples an architecture from the policy. Each tell
    updates a moving-average baseline ``b`` with the reward ``R`` (validation accuracy
    in percent; a bias-corrected exponential average with momentum 0.9) and then takes
    one Adam step on ``-(R - b) * log pi(arch)``. NAS-Bench-201's defaults: Adam with
    learning rate 0.001 (betas 0.9 and 0.999), baseline momentum 0.9.

    Only spaces with a categorical-decision view are supported (the cell space).

    Args:
        space, max_epoch, seed: See :class:`~nasrepro.strategies.Strategy`.
        learning_rate: Adam step size.
        baseline_momentum: Momentum of the reward's moving average.
    """

    def __init__(
        self,
        space: SearchSpace[Any],
        *,
        max_epoch: int,
        seed: int | None = None,
        learning_rate: float = 0.001,
        baseline_momentum: float = 0.9,
    ) -> None:
        super().__init__(space, max_epoch=max_epoch, seed=seed)
        dec = decisions_of(space)
        if dec is None:
            raise TypeError(
                f"REINFORCE needs a space of categorical decisions (the cell space), not {space.name!r}"
            )
        if learning_rate <= 0 or not 0 <= baseline_momentum < 1:
            raise ConfigError(f"need {learning_rate=} > 0 and 0 <= {baseline_momentum=} < 1")
        self.learning_rate = learning_rate
        self.baseline_momentum = baseline_momentum
        self._dec = dec
        shape = (dec.n_decisions, int(dec.n_choices.max()))
        self._mask = np.arange(shape[1])[None, :] < dec.n_choices[:, None]  # valid choices
        self.theta_ = np.zeros(shape)
        self._m = np.zeros(shape)  # Adam moments
        self._v = np.zeros(shape)
        self._steps = 0
        self._ema_num = 0.0
        self._ema_den = 0.0

    @classmethod
    def supports(cls, space: SearchSpace[Any]) -> bool:
        return decisions_of(space) is not None

    def policy(self) -> np.ndarray:
        """Choice probabilities per decision, shape ``(n_decisions, n_choices)``."""
        z = np.where(self._mask, self.theta_, -np.inf)
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]

    def ask(self) -> Trial:
        p = self.policy()
        codes = np.array([self.rng.choice(p.shape[1], p=row) for row in p])
        return Trial(self._dec.from_codes(codes), self.max_epoch)

    @property
    def baseline(self) -> float:
        """The bias-corrected moving average of rewards (0 before any reward)."""
        return self._ema_num / self._ema_den if self._ema_den else 0.0

    def tell(self, trial: Trial, evaluation: Evaluation) -> None:
        reward = evaluation.valid_acc
        mom = self.baseline_momentum
        self._ema_num = mom * self._ema_num + (1 - mom) * reward
        self._ema_den = mom * self._ema_den + (1 - mom)
        advantage = reward - self.baseline
        onehot = np.zeros_like(self.theta_)
        onehot[np.arange(len(onehot)), self._dec.to_codes(trial.arch)] = 1.0
        grad = -advantage * (onehot - self.policy()) * self._mask  # d loss / d theta
        b1, b2, eps = 0.9, 0.999, 1e-8
        self._steps += 1
        self._m = b1 * self._m + (1 - b1) * grad
        self._v = b2 * self._v + (1 - b2) * grad**2
        m_hat = self._m / (1 - b1**self._steps)
        v_hat = self._v / (1 - b2**self._steps)
        self.theta_ = self.theta_ - self.learning_rate * m_hat / (np.sqrt(v_hat) + eps)
