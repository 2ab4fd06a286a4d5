"""The bench: ``harness`` (torch training, sweeps, reproduce), ``sim`` (the simulated-clock
runner, leaderboards, validate; no torch), ``cli`` (the ``nasrepro`` command line, the only
place that prints) and ``tracking`` (MLflow). Nothing heavy is imported here.

:class:`NasreproError` (re-exported from :mod:`nasrepro.spaces`) is the base of every
error the library raises for bad input; the command line reports those as one line
and exit code 2, and anything else as a bug (exit code 1, with its traceback).
"""

from __future__ import annotations

from nasrepro.bench._cpu_isa import CPU_ISAS, cap_cpu_isa
from nasrepro.spaces._errors import ConfigError, MissingExtraError, NasreproError

__all__ = ["NasreproError", "ConfigError", "MissingExtraError", "cap_cpu_isa", "CPU_ISAS"]
