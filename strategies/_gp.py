"""Bayesian optimization with a Gaussian process and expected improvement."""

from __future__ import annotations

from typing import Any

import numpy as np

from nasrepro.spaces import SearchSpace
from nasrepro.strategies._base import register_strategy
from nasrepro.strategies._model_based import ModelBasedStrategy

__all__ = ["GPBayesOpt", "expected_improvement", "fit_gp"]


def expected_improvement(
    mu: np.ndarray, sigma: np.ndarray, best: float, xi: float = 0.0
) -> np.ndarray:
    """Expected improvement over ``best`` for maximisation; all arrays ``(n,)``."""
    from scipy.stats import norm  # about 1 s to import: only when a GP runs, not at CLI start

    sigma = np.maximum(sigma, 1e-12)
    z = (mu - best - xi) / sigma
    return (mu - best - xi) * norm.cdf(z) + sigma * norm.pdf(z)  # type: ignore[no-any-return]


@register_strategy("gp-bo")
class GPBayesOpt(ModelBasedStrategy):
    """GP-based Bayesian optimization with expected improvement, on the encoding.

    Snoek, Larochelle & Adams, "Practical Bayesian optimization of machine learning
    algorithms" (NeurIPS 2012): a GP with a Matern 5/2 kernel (plus a white-noise
    term) and the expected-improvement acquisition. Inputs are the space's one-hot
    ``adjacency`` encoding; the acquisition is maximised over a pool of random samples
    and mutants of the best architectures (see :class:`ModelBasedStrategy`), one trial
    per step.

    Adapted: the paper uses one length scale per input (ARD) and integrates the
    kernel hyperparameters out of the acquisition by slice sampling. We use one
    length scale (with tens of points, 30 length scales over-fit) and take it and the
    noise level from a grid by marginal likelihood at every step (type-II maximum
    likelihood, see :func:`fit_gp`), which is exact, deterministic and fast.

    Sources of the defaults: ``n_init = 10`` is the random initial design of the GP
    baseline in BANANAS' code (naszilla/naszilla ``naszilla/nas_algorithms.py``:
    ``gp_bayesopt_search`` takes ``num_init=DEFAULT_NUM_INIT``, 10). The candidate pool
    is our choice, not that baseline's (which optimises a UCB acquisition over a
    distance-kernel GP on random candidates): BANANAS' mutation pool (mutants of the
    best architectures, see :class:`Bananas`) plus ``n_random = 100`` uniform samples,
    as naszilla's ``get_candidates`` does with ``acq_opt_type='mutation_random'``
    (``naszilla/nas_benchmarks.py``: up to 100 random candidates added to the mutants).
    ``xi = 0`` is plain expected improvement as in the paper (no exploration margin).

    Args:
        space, max_epoch, seed: See :class:`~nasrepro.strategies.Strategy`.
        n_init: Uniform samples before the first model.
        n_random, n_parents, n_mutations: The candidate pool per step.
        xi: Exploration margin of EI (in accuracy percent).
    """

    def __init__(
        self,
        space: SearchSpace[Any],
        *,
        max_epoch: int,
        seed: int | None = None,
        n_init: int = 10,
        n_random: int = 100,
        n_parents: int = 10,
        n_mutations: int = 10,
        xi: float = 0.0,
    ) -> None:
        super().__init__(
            space,
            max_epoch=max_epoch,
            seed=seed,
            n_init=n_init,
            batch_size=1,
            n_random=n_random,
            n_parents=n_parents,
            n_mutations=n_mutations,
        )
        self.xi = xi

    def _select(self, X: np.ndarray, y: np.ndarray, Xc: np.ndarray) -> np.ndarray:
        mu, sigma = fit_gp(X, y, Xc)
        return expected_improvement(mu, sigma, float(y.max()), self.xi)


#: Grids of the GP hyperparameters searched by marginal likelihood (targets standardised).
#: Our choice, cited from no code: length scales in octaves around the encodings' typical
#: distance (the cell space's one-hot adjacency, 6 edges x 5 ops, puts two cells at
#: most sqrt(12), about 3.5, apart), and noise variances from nearly noise-free to half the targets' variance.
#: naszilla's GP baseline fits nothing and fixes its distance kernel's ``ls=3.``,
#: ``alpha=1.5`` and ``sigma=1e-5`` (``gp_bayesopt_search`` in ``nas_algorithms.py``).
_LENGTH_SCALES = (0.5, 1.0, 2.0, 4.0, 8.0)
_NOISES = (1e-3, 1e-2, 1e-1, 0.5)


def _matern52(d: np.ndarray) -> np.ndarray:
    r = np.sqrt(5.0) * d
    return (1.0 + r + r * r / 3.0) * np.exp(-r)  # type: ignore[no-any-return]


def _dist(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    sq = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * A @ B.T
    return np.sqrt(np.maximum(sq, 0.0))  # type: ignore[no-any-return]


def fit_gp(X: np.ndarray, y: np.ndarray, Xc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GP posterior mean and standard deviation at ``Xc`` ``(m, d)``, each ``(m,)``.

    A Matern 5/2 kernel with unit signal variance on standardised targets ``y``
    ``(n,)`` and a white-noise term; the length scale and the noise level are those of
    the grids above with the highest log marginal likelihood (type-II ML).
    """
    mu_y, sd_y = float(y.mean()), float(y.std()) or 1.0
    t = (y - mu_y) / sd_y
    D = _dist(X, X)  # (n, n)
    best: tuple[float, float, float] = (-np.inf, _LENGTH_SCALES[0], _NOISES[-1])
    for ls in _LENGTH_SCALES:
        K0 = _matern52(D / ls)
        for noise in _NOISES:
            L = np.linalg.cholesky(K0 + noise * np.eye(len(t)))
            alpha = np.linalg.solve(L.T, np.linalg.solve(L, t))
            lml = float(-0.5 * t @ alpha - np.log(np.diag(L)).sum())
            if lml > best[0]:
                best = (lml, ls, noise)
    _, ls, noise = best
    L = np.linalg.cholesky(_matern52(D / ls) + noise * np.eye(len(t)))
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, t))
    Ks = _matern52(_dist(Xc, X) / ls)  # (m, n)
    v = np.linalg.solve(L, Ks.T)  # (n, m)
    var = np.maximum(1.0 - (v * v).sum(0), 1e-12)
    return Ks @ alpha * sd_y + mu_y, np.sqrt(var) * sd_y
