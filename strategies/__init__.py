"""Search strategies driven by ask and tell, and their registry.

Every strategy subclasses :class:`Strategy`, is registered by name with
:func:`register_strategy`, and inherits the contract tests of
:mod:`nasrepro.strategies.testing`. A user's class is named ``module:Class`` (or
``path/to/file.py:Class``) and loaded with :func:`load_strategy`.

Example:
    >>> from nasrepro.spaces import get_space
    >>> from nasrepro.strategies import get_strategy
    >>> strategy = get_strategy("regularized-evolution")(get_space("cell"), max_epoch=8, seed=0)
    >>> trial = strategy.ask()
    >>> trial.epoch
    8
"""

from __future__ import annotations

from nasrepro.spaces._errors import ConfigError, NasreproError
from nasrepro.strategies._bananas import Bananas, MLPEnsemble
from nasrepro.strategies._base import (
    Strategy,
    Trial,
    get_strategy,
    list_strategies,
    load_strategy,
    register_strategy,
)
from nasrepro.strategies._checks import StrategyContractError, check_strategy, check_trial, drive
from nasrepro.strategies._common import Decisions, candidate_pool, canonical_key, decisions_of
from nasrepro.strategies._evolution import RegularizedEvolution
from nasrepro.strategies._gp import GPBayesOpt, expected_improvement, fit_gp
from nasrepro.strategies._guard import (
    DEFAULT_STRATEGY_TIMEOUT_S,
    StrategyError,
    StrategyGuard,
    strategy_traceback,
)
from nasrepro.strategies._hyperband import BOHB, Hyperband, SuccessiveHalving, hyperband_brackets
from nasrepro.strategies._local_search import LocalSearch
from nasrepro.strategies._random import RandomSearch
from nasrepro.strategies._reinforce import Reinforce

__all__ = [
    "Strategy",
    "Trial",
    "register_strategy",
    "get_strategy",
    "list_strategies",
    "load_strategy",
    "check_strategy",
    "check_trial",
    "NasreproError",
    "ConfigError",
    "StrategyError",
    "StrategyContractError",
    "StrategyGuard",
    "DEFAULT_STRATEGY_TIMEOUT_S",
    "strategy_traceback",
    "drive",
    "Decisions",
    "decisions_of",
    "canonical_key",
    "candidate_pool",
    "RandomSearch",
    "RegularizedEvolution",
    "Reinforce",
    "GPBayesOpt",
    "expected_improvement",
    "fit_gp",
    "Bananas",
    "MLPEnsemble",
    "LocalSearch",
    "SuccessiveHalving",
    "Hyperband",
    "BOHB",
    "hyperband_brackets",
]
