"""Local search over the neighbourhood graph of a space."""

from __future__ import annotations

from typing import Any

from nasrepro.spaces import Architecture, SearchSpace
from nasrepro.spaces._errors import ConfigError
from nasrepro.strategies._base import Strategy, Trial, register_strategy
from nasrepro.strategies._common import canonical_key
from nasrepro.tables import Evaluation

__all__ = ["LocalSearch"]


@register_strategy("local-search")
class LocalSearch(Strategy):
    """Best-improvement local search with restarts: White, Nolen & Savani, "Exploring
    the loss landscape in neural architecture search" (UAI 2021; first circulated as
    "Local search is state of the art for NAS benchmarks", arXiv:2005.02960).

    It evaluates ``n_init`` uniform samples and starts from the best. Then it
    evaluates every neighbour of the current architecture (``space.neighbors``, in a
    random order, skipping ones equivalent to an architecture asked before the move;
    two equivalent neighbours of one centre are both evaluated, as in the paper's
    algorithm, which evaluates the whole neighbourhood) and moves to the
    best if it beats the current one; at a local optimum it restarts from a fresh
    uniform sample (the evaluated set carries over). With several workers, asks wait
    (return ``None``) while the last neighbours of a neighbourhood are still pending.

    Sources: the paper's basic algorithm is this hill climb from one random
    architecture, evaluating the whole neighbourhood. ``n_init = 10`` is NASLib's
    (automl/NASLib ``naslib/runners/nas/discrete_config.yaml``, formerly
    ``naslib/benchmarks/nas/``, ``num_init: 10``)
    and the authors' code's (naszilla/naszilla ``naszilla/nas_algorithms.py``,
    ``DEFAULT_NUM_INIT = 10``). The restart follows NASLib's
    ``naslib/optimizers/discrete/ls/optimizer.py``, which restarts from one new
    random architecture; naszilla's ``local_search`` instead draws ``num_init`` new
    ones per restart and by default moves to the first improving neighbour
    (``query_full_nbhd=False``), not the best.

    Args:
        space, max_epoch, seed: See :class:`~nasrepro.strategies.Strategy`.
        n_init: Uniform samples before the first descent.
    """

    def __init__(
        self,
        space: SearchSpace[Any],
        *,
        max_epoch: int,
        seed: int | None = None,
        n_init: int = 10,
    ) -> None:
        super().__init__(space, max_epoch=max_epoch, seed=seed)
        if n_init < 1:
            raise ConfigError(f"{n_init=} must be at least 1")
        self.n_init = n_init
        self.center_: tuple[Architecture, float] | None = None
        self.best_neighbor_: tuple[Architecture, float] | None = None
        self.n_restarts_ = 0
        self.centers_: list[tuple[Architecture, float, int]] = []  # (arch, acc, restart)
        self._seen: set[str] = set()  # canonical keys asked so far
        self._queue: list[Architecture] = []
        self._pending = 0
        self._init_left = n_init  # uniform samples still to ask for this (re)start
        self._init_results: list[tuple[Architecture, float]] = []

    def ask(self) -> Trial | None:
        if self._init_left > 0:
            self._init_left -= 1
            return self._trial(self.space.sample(self.rng))
        if self.center_ is None:
            if self._pending:
                return None
            self._move(max(self._init_results, key=lambda m: m[1]))
        while not self._queue:
            if self._pending:
                return None
            best, center = self.best_neighbor_, self.center_
            if best is not None and center is not None and best[1] > center[1]:
                self._move(best)
            else:  # a local optimum: restart from one fresh sample
                self.n_restarts_ += 1
                self.center_, self._init_results, self._init_left = None, [], 0
                return self._trial(self.space.sample(self.rng))
        return self._trial(self._queue.pop(0))

    def _move(self, center: tuple[Architecture, float]) -> None:
        self.center_ = center
        self.centers_.append((*center, self.n_restarts_))
        nbrs = self.space.neighbors(self.center_[0])
        order = self.rng.permutation(len(nbrs))
        self._queue = [
            nbrs[int(i)] for i in order if canonical_key(self.space, nbrs[int(i)]) not in self._seen
        ]
        self.best_neighbor_ = None

    def _trial(self, arch: Architecture) -> Trial:
        self._pending += 1
        self._seen.add(canonical_key(self.space, arch))
        return Trial(arch, self.max_epoch)

    def tell(self, trial: Trial, evaluation: Evaluation) -> None:
        self._pending -= 1
        acc = evaluation.valid_acc
        if self.center_ is None:
            self._init_results.append((trial.arch, acc))
        elif self.best_neighbor_ is None or acc > self.best_neighbor_[1]:
            self.best_neighbor_ = (trial.arch, acc)
