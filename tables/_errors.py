"""Errors raised by the table reader and builder."""

from __future__ import annotations

from nasrepro.spaces._errors import NasreproError

__all__ = ["TableError", "MissingEntryError"]


class TableError(NasreproError):
    """A table file or sweep cannot be used as asked.

    Raised for files that are missing, truncated, corrupt, foreign (not a nasrepro
    table) or written with a newer schema, and for sweeps that cannot be built into
    one table (mixed protocols or spaces, missing results without ``allow_partial``).
    The message names the file and what to do about it.
    """


class MissingEntryError(TableError, KeyError):
    """An architecture, seed or epoch that this table holds no result for.

    Also a :class:`KeyError`, so ``except KeyError`` works for lookups.
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
