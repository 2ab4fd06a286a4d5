"""The errors that the command line reports as a message, not a traceback."""

from __future__ import annotations

import nasrepro.tables as _tables
from nasrepro.bench.cli._outputs import OutputError, user_message
from nasrepro.bench.harness._data import DatasetError
from nasrepro.bench.harness._sweep import SweepError

__all__ = ["USER_ERRORS", "user_message"]

_table_error: tuple[type[BaseException], ...] = (
    (_tables.TableError,) if hasattr(_tables, "TableError") else ()
)

#: Bad input and missing resources: each message names the problem and the fix.
USER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    FileNotFoundError,
    DatasetError,
    SweepError,
    OutputError,
    *_table_error,
)
