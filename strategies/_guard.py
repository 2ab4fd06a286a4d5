"""Calls into a strategy's code with a time limit, turned into one clear error if they fail.

A user's strategy is foreign code: it may fail to import, raise in ``__init__``,
``ask`` or ``tell``, or never return. :class:`StrategyGuard` makes each of those a
:class:`StrategyError` that names the strategy, the run seed and how many trials had
been asked and told, and carries the traceback of the strategy's own frames (the
runner's frames are left out). The time limit uses ``SIGALRM`` (``signal.setitimer``)
and so applies in the main thread of a process: the command line, and each worker
process of a leaderboard. Elsewhere (another thread, or a platform without
``setitimer``) calls run without a limit.

Example:
    >>> guard = StrategyGuard("my.py:Mine", seed=0, timeout_s=60)  # doctest: +SKIP
    >>> strategy = guard.construct(Mine, space, max_epoch=8, seed=0)  # doctest: +SKIP
    >>> trial = guard.ask(strategy)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
import math
import signal
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from nasrepro.spaces._errors import ConfigError, NasreproError
from nasrepro.tables import Evaluation

__all__ = ["StrategyError", "StrategyGuard", "DEFAULT_STRATEGY_TIMEOUT_S", "strategy_traceback"]

logger = logging.getLogger(__name__)

#: Seconds one strategy call (construction, ``ask``, ``tell``, a hook) may take by
#: default. The built-in strategies need well under a second per call.
DEFAULT_STRATEGY_TIMEOUT_S = 300.0

T = TypeVar("T")


class StrategyError(NasreproError, ValueError):
    """A strategy's own code failed or hung; the message names it, the seed and the trial.

    Attributes:
        message: The one-line description.
        user_traceback: The formatted traceback of the strategy's frames ("" if none).
    """

    def __init__(self, message: str, user_traceback: str = "") -> None:
        super().__init__(message, user_traceback)
        self.message = message
        self.user_traceback = user_traceback

    def __str__(self) -> str:
        if not self.user_traceback:
            return self.message
        return f"{self.message}\n{self.user_traceback.rstrip()}"


class _CallTimeout(BaseException):
    """Raised by the alarm inside a strategy call (a BaseException, so that a strategy's
    own ``except Exception`` does not swallow it)."""


def _package_dirs() -> tuple[str, ...]:
    """Directories of the nasrepro packages, whose frames a strategy traceback leaves out."""
    import importlib.util

    dirs = []
    for name in ("spaces", "tables", "surrogate", "strategies", "bench"):
        # located, not imported: a traceback must not pull in torch or xgboost
        spec = importlib.util.find_spec(f"nasrepro.{name}")
        if spec is not None and spec.origin:
            dirs.append(str(Path(spec.origin).resolve().parent))
    return tuple(dirs)


_PACKAGE_DIRS: tuple[str, ...] | None = None


def strategy_traceback(exc: BaseException, *, with_exception: bool = True) -> str:
    """The traceback of ``exc`` restricted to frames outside nasrepro and importlib.

    A syntax error keeps its file, line and caret.

    Args:
        exc: The exception.
        with_exception: End with the exception's own line(s).
    """
    global _PACKAGE_DIRS
    if _PACKAGE_DIRS is None:
        _PACKAGE_DIRS = _package_dirs()
    te = traceback.TracebackException.from_exception(exc, capture_locals=False)
    frames = [
        f
        for f in te.stack
        if not f.filename.startswith("<frozen ")
        and not str(Path(f.filename).resolve()).startswith(_PACKAGE_DIRS)
    ]
    lines = []
    if frames:
        lines.append("strategy traceback (most recent call last):\n")
        lines.extend(traceback.StackSummary.from_list(frames).format())
    if with_exception:
        lines.extend(te.format_exception_only())
    return "".join(lines)


def _can_alarm() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


class StrategyGuard:
    """Runs one strategy's calls for one run, counting trials and enforcing a time limit.

    Args:
        label: How the strategy is named in errors (its spec, e.g. ``"my.py:Mine"``).
        seed: The run seed, for errors.
        timeout_s: Seconds one call may take; ``None`` or ``0``: no limit.
        context: Where the calls happen, for errors (e.g. ``"the contract check"``).
    """

    def __init__(
        self, label: str, seed: int | None, timeout_s: float | None = None, context: str = ""
    ) -> None:
        if timeout_s is not None and not timeout_s >= 0:
            raise ConfigError(f"strategy timeout {timeout_s=} must be >= 0 seconds (0: none)")
        self.label = label
        self.seed = seed
        self.timeout_s = timeout_s if timeout_s and math.isfinite(timeout_s) else None
        self.context = context
        self.n_asked = 0
        self.n_told = 0

    def _where(self) -> str:
        ctx = f" during {self.context}" if self.context else ""
        if self.seed is None:
            return ctx
        return f"{ctx} (seed {self.seed}, {self.n_asked} trials asked, {self.n_told} told)"

    def call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` under the limit; ``what`` names the call in errors.

        Raises:
            StrategyError: ``fn`` raised, or did not return within the limit.
        """
        try:
            return self._timed(fn, *args, **kwargs)
        except _CallTimeout as e:
            raise StrategyError(
                f"strategy {self.label!r} did not return from {what} within "
                f"{self.timeout_s:g} s{self._where()}; fix the hang, or raise the limit with "
                "--strategy-timeout SECONDS (0: no limit)",
                strategy_traceback(e, with_exception=False),
            ) from None
        except StrategyError:
            raise
        except (Exception, SystemExit) as e:  # SystemExit: a strategy must not end the run
            raise StrategyError(
                f"strategy {self.label!r} raised {type(e).__name__} in {what}{self._where()}: "
                f"{_clip(str(e))}{_hint(e)}",
                strategy_traceback(e),
            ) from e

    def _timed(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self.timeout_s is None or not _can_alarm():
            return fn(*args, **kwargs)

        def on_alarm(signum: int, frame: FrameType | None) -> None:
            raise _CallTimeout

        old_handler = signal.signal(signal.SIGALRM, on_alarm)
        # an outer timer (pytest-timeout, say) is paused for the call and resumed after
        outer, interval = signal.setitimer(signal.ITIMER_REAL, self.timeout_s)
        t0 = time.monotonic()
        try:
            return fn(*args, **kwargs)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)
            if outer > 0:
                left = max(outer - (time.monotonic() - t0), 1e-3)
                signal.setitimer(signal.ITIMER_REAL, left, interval)

    def construct(self, cls: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Build the strategy: ``cls(*args, **kwargs)``."""
        return self.call("__init__()", cls, *args, **kwargs)

    def ask(self, strategy: Any) -> Any:
        """``strategy.ask()``, counted."""
        trial = self.call("ask()", strategy.ask)
        if trial is not None:
            self.n_asked += 1
        return trial

    def tell(self, strategy: Any, trial: Any, evaluation: Any) -> None:
        """``strategy.tell(trial, evaluation)`` with the test accuracy hidden (NaN), counted.

        A search may use validation accuracy only (NAS-Bench-201's rule, and NASLib's);
        the caller keeps the full evaluation for the regret.
        """
        if isinstance(evaluation, Evaluation):
            evaluation = dataclasses.replace(evaluation, test_acc=math.nan)
        self.call("tell()", strategy.tell, trial, evaluation)
        self.n_told += 1


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: What the base class's ``__init__`` sets: a strategy missing one of them skipped it.
_BASE_ATTRIBUTES = ("space", "max_epoch", "seed", "rng")


def _hint(e: BaseException) -> str:
    """The likely fix of a common mistake, appended to its message."""
    from nasrepro.strategies._base import Strategy  # _base imports this module

    if (
        isinstance(e, AttributeError)
        and getattr(e, "name", None) in _BASE_ATTRIBUTES
        and isinstance(getattr(e, "obj", None), Strategy)
    ):
        return (
            f" (Strategy.__init__ sets {e.name}: does your __init__ call "
            "super().__init__(space, max_epoch=max_epoch, seed=seed)?)"
        )
    return ""
