"""Argument types shared by the ``nasrepro`` parsers: each refuses a bad value at parse time.

Every function here is an argparse ``type=``: it takes the text of one argument and
returns the parsed value, or raises :class:`argparse.ArgumentTypeError` with a message
naming the bad value (clipped, see :func:`~nasrepro.spaces._base.quote`) and what is
allowed. argparse turns that into ``nasrepro ...: error: ...`` and exit code 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
from collections.abc import Callable

from nasrepro.spaces._base import quote
from nasrepro.spaces._errors import ConfigError
from nasrepro.tables import MAX_SEED

__all__ = [
    "MAX_BUDGET_EVALUATIONS",
    "add_cpu_isa",
    "budget_text",
    "check_budget_evaluations",
    "device",
    "int_at_least",
    "seed_value",
    "seed_list",
    "seeds_count_or_list",
    "strategies_text",
    "thread_count",
]

logger = logging.getLogger(__name__)

#: The largest budget a leaderboard accepts, in evaluations: ``'q'`` budgets directly,
#: ``'x'`` budgets (multiples of one mean full training, so about one evaluation each),
#: and ``'s'`` budgets once divided by the benchmark's mean training cost. The cell
#: table has 15,625 rows (6,466 classes), so a million evaluations is 64 passes over
#: the whole space. Random search and evolution run about 7,000 evaluations a second
#: (measured on the cell table), so a million is minutes per run and the model-based
#: strategies take far longer; beyond that a run says nothing more about the space.
MAX_BUDGET_EVALUATIONS = 1_000_000

#: The most seeds a leaderboard runs per strategy (``--seeds 99999999999`` ran out of
#: memory building the list); 100 seeds already put a CI's half-width near a tenth of
#: the seed standard deviation.
MAX_SEEDS = 10_000

#: The most CPU threads ``train --threads`` takes: 4x this machine's CPUs, and 64 at
#: least (a table trained with more threads than the machine has can still be retrained
#: bit for bit, only slower). ``--threads 100000`` made OpenBLAS fail and the process
#: crash with a segmentation fault; 1,000 ran for minutes before training started.
MAX_THREADS = max(64, 4 * (os.cpu_count() or 1))

_DEVICE = re.compile(r"cpu|cuda(?::\d+)?")
_DEVICE_CHOICES = "'cpu', 'cuda' or 'cuda:K' (K a GPU index)"


def _fail(text: str, allowed: str) -> argparse.ArgumentTypeError:
    """The error for a bad ``text``; argparse puts ``argument --flag:`` before it."""
    return argparse.ArgumentTypeError(f"{quote(text)}: {allowed}")


def int_at_least(minimum: int, what: str = "value") -> Callable[[str], int]:
    """A type for an integer ``>= minimum`` (e.g. ``int_at_least(1, "jobs")``).

    ``what`` names the type (argparse uses a type's name in some of its messages).
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise _fail(text, f"expected an integer >= {minimum}") from None
        if value < minimum:
            raise _fail(text, f"must be an integer >= {minimum}")
        return value

    parse.__name__ = what
    return parse


def thread_count(text: str) -> int:
    """CPU threads for training, an integer in ``[1, MAX_THREADS]``."""
    value = int_at_least(1, "threads")(text)
    if value > MAX_THREADS:
        raise _fail(
            text,
            f"at most {MAX_THREADS} threads (4x this machine's {os.cpu_count()} CPUs, 64 at "
            "least): more threads than CPUs only slow training, and tens of thousands crash "
            "OpenBLAS",
        )
    return value


def seed_value(text: str) -> int:
    """One seed, an integer in ``[0, MAX_SEED]``."""
    try:
        value = int(text)
    except ValueError:
        raise _fail(text, f"expected an integer seed in [0, {MAX_SEED}]") from None
    if value < 0:
        raise _fail(text, "a seed must be >= 0")
    if value > MAX_SEED:
        raise _fail(text, f"a seed must be at most {MAX_SEED} (2**32 - 1)")
    return value


def seed_list(text: str) -> list[int]:
    """Comma-separated seeds: non-negative, distinct, at least one (``"0,1,2"``)."""
    parts = [p.strip() for p in text.split(",")]
    if not any(parts):
        raise _fail(text, "expected comma-separated non-negative integers, e.g. '0,1,2'")
    seeds: list[int] = []
    for p in parts:
        if not p:
            raise _fail(text, "has an empty entry; expected e.g. '0,1,2'")
        try:
            s = int(p)
        except ValueError:
            raise _fail(text, f"{quote(p)} is not an integer; expected e.g. '0,1,2'") from None
        if s < 0:
            raise _fail(text, f"seed {s} is negative; seeds must be >= 0")
        if s > MAX_SEED:
            raise _fail(text, f"seed {quote(p)} is above {MAX_SEED} (2**32 - 1)")
        if s in seeds:
            raise _fail(text, f"seed {s} is listed twice; each seed must be distinct")
        seeds.append(s)
    return seeds


def seeds_count_or_list(text: str) -> str:
    """A number of seeds (``"30"``: seeds 0..29, at least 1) or a list (``"3,5"``).

    Returns the text unchanged (the leaderboard reads it), once it is known to be valid.
    """
    stripped = text.strip()
    if "," not in stripped:
        try:
            n = int(stripped)
        except ValueError:
            raise _fail(
                text, "expected a number of seeds (e.g. 30) or a list (e.g. '0,1,2')"
            ) from None
        if n < 1:
            raise _fail(text, "the number of seeds must be at least 1")
        if n > MAX_SEEDS:
            raise _fail(text, f"the number of seeds must be at most {MAX_SEEDS}")
        return stripped
    return ",".join(str(s) for s in seed_list(stripped))


def device(text: str) -> str:
    """``cpu``, ``cuda`` or ``cuda:K``; CUDA only where this torch sees a GPU."""
    t = text.strip()
    if _DEVICE.fullmatch(t) is None:
        raise _fail(text, f"expected {_DEVICE_CHOICES}")
    if t.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise _fail(
                text,
                f"CUDA is not available here (torch {torch.__version__}, CUDA build "
                f"{torch.version.cuda or 'none'}); use --device cpu",
            )
        n = torch.cuda.device_count()
        k = int(t.partition(":")[2] or 0)
        if k >= n:
            raise _fail(text, f"this machine has {n} GPU(s): cuda:0..cuda:{n - 1}")
    return t


def add_cpu_isa(p: argparse.ArgumentParser) -> None:
    """Add ``--cpu-isa`` to a command that trains on the CPU (applied in ``main``, before
    torch loads; see :mod:`nasrepro.bench._cpu_isa`)."""
    from nasrepro.bench._cpu_isa import CPU_ISAS

    p.add_argument(
        "--cpu-isa",
        choices=sorted(CPU_ISAS),
        default=None,
        help="cap torch's CPU kernels (ATen and oneDNN) at this instruction set, so that "
        "an AVX-512 CPU computes what an AVX2 one did (the shipped default table's); "
        "default: the CPU's widest",
    )


def budget_text(text: str) -> str:
    """A leaderboard budget: ``'3600s'``/``'3600'``, ``'200q'`` or ``'100x'``.

    Checks what can be checked without the benchmark: the format, a positive value,
    an integer count of ``q`` evaluations, and at most :data:`MAX_BUDGET_EVALUATIONS`
    evaluations for ``q`` and ``x``. Seconds are checked against the cap once the
    benchmark's mean training cost is known (:func:`check_budget_evaluations`).
    """
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([sqx]?)\s*", text, re.I)
    allowed = (
        "expected seconds ('3600' or '3600s'), evaluations ('200q') or multiples of a "
        "mean full training ('100x')"
    )
    if m is None:
        raise _fail(text, allowed)
    value, unit = float(m.group(1)), m.group(2).lower()
    if not value > 0:
        raise _fail(text, "must be positive")
    if unit == "q" and value != int(value):
        raise _fail(text, "a number of evaluations must be a whole number, e.g. '200q'")
    if unit in ("q", "x") and value > MAX_BUDGET_EVALUATIONS:
        raise _fail(text, _cap_message())
    return text.strip()


def _cap_message() -> str:
    return (
        f"at most {MAX_BUDGET_EVALUATIONS:,} evaluations ({MAX_BUDGET_EVALUATIONS}q or "
        f"{MAX_BUDGET_EVALUATIONS}x) are allowed: that is 64 passes over the "
        "15,625-row cell space already"
    )


def check_budget_evaluations(text: str, evaluations: float) -> None:
    """Refuse a budget worth more than :data:`MAX_BUDGET_EVALUATIONS` evaluations, or
    less than one mean full training (most runs would end before their first result).

    Raises:
        ValueError: ``evaluations`` (the budget over one mean training) is outside
            ``[1, MAX_BUDGET_EVALUATIONS]``.
    """
    if evaluations < 1:
        raise ConfigError(
            f"budget {quote(text)} is about {evaluations:.3g} mean full trainings: most runs "
            "would end before their first result; give at least 1x (one mean training), "
            "e.g. --budget 10x"
        )
    if evaluations > MAX_BUDGET_EVALUATIONS:
        raise ConfigError(
            f"budget {quote(text)} is about {evaluations:.3g} mean trainings; {_cap_message()}"
        )


def strategies_text(text: str) -> str:
    """``'all'`` or comma-separated strategy names/specs, none of them empty."""
    parts = [p.strip() for p in text.split(",")]
    if text.strip() == "all":
        return "all"
    if not any(parts):
        raise _fail(
            text,
            "expected 'all' or comma-separated names, e.g. 'random-search,local-search'",
        )
    if not all(parts):
        raise _fail(text, "has an empty entry; expected e.g. 'random-search,local-search'")
    twice = sorted({p for p in parts if parts.count(p) > 1})
    if twice:
        raise _fail(text, f"lists {', '.join(twice)} more than once; list each strategy once")
    return ",".join(parts)
