"""Named tables: the ones shipped with nasrepro, found by name or by path.

``--table NAME|PATH`` everywhere in the CLI goes through :func:`table_path`: a name
of :data:`SHIPPED_TABLES` is the shipped file, anything else must be a table file.

Example:
    >>> sorted(SHIPPED_TABLES)[:2]
    ['cell-mnist1d-tiny', 'nb201-cifar10']
    >>> t = open_table("nb201-cifar10")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from nasrepro.spaces._errors import ConfigError
from nasrepro.tables._errors import TableError
from nasrepro.tables._outfile import is_hdf5
from nasrepro.tables._records import MANIFEST
from nasrepro.tables._table import DEFAULT_TABLE, Table

__all__ = [
    "SHIPPED_TABLES",
    "TableEntry",
    "list_tables",
    "table_path",
    "open_table",
    "as_table",
    "DEFAULT_TABLE_NAME",
    "default_table_path",
    "load_default",
]

#: The default table's name.
DEFAULT_TABLE_NAME = "cell-mnist1d-tiny"

#: Shipped tables: name -> (file in ``nasrepro/tables/data``, one-line description).
SHIPPED_TABLES: dict[str, tuple[str, str]] = {
    DEFAULT_TABLE_NAME: (
        DEFAULT_TABLE,
        "nasrepro's own: all 15,625 cells x 3 seeds under the mnist1d-tiny protocol, every epoch",
    ),
    "nb201-cifar10": (
        "nb201-cifar10.h5",
        "NAS-Bench-201, 12 epochs, CIFAR-10: search cifar10-valid x-valid, report cifar10 ori-test",
    ),
    "nb201-cifar100": (
        "nb201-cifar100.h5",
        "NAS-Bench-201, 12 epochs, CIFAR-100: search x-valid, report x-test",
    ),
    "nb201-imagenet16-120": (
        "nb201-imagenet16-120.h5",
        "NAS-Bench-201, 12 epochs, ImageNet16-120: search x-valid, report x-test",
    ),
}


@dataclass(frozen=True)
class TableEntry:
    """One shipped table: its name, description and install path (``None``: not installed)."""

    name: str
    description: str
    path: Path | None


def _shipped_path(file: str) -> Path | None:
    res = resources.files("nasrepro.tables").joinpath("data", file)
    if not res.is_file():
        return None
    with resources.as_file(res) as p:
        return Path(p)


def list_tables() -> list[TableEntry]:
    """The shipped tables, the default first."""
    return [TableEntry(n, d, _shipped_path(f)) for n, (f, d) in SHIPPED_TABLES.items()]


#: Suffixes of results files (what ``nasrepro table import`` reads), not tables.
_RESULTS_SUFFIXES = {
    ".csv": "CSV",
    ".tsv": "CSV",
    ".jsonl": "JSON Lines",
    ".ndjson": "JSON Lines",
    ".json": "JSON",
}


def table_path(name_or_path: str | os.PathLike[str]) -> Path:
    """The file of a shipped table name, or ``name_or_path`` itself as a path.

    Raises:
        TableError: A shipped name whose file is not installed, a directory, a
            results file (CSV, JSON Lines) that is not HDF5 (the message names
            ``nasrepro table import``), or neither a name nor an existing file (the
            message lists the names).
    """
    key = os.fspath(name_or_path)
    if not key.strip():  # Path("") is the current directory
        raise TableError(
            f"an empty table name; pass a shipped name ({', '.join(SHIPPED_TABLES)}) or a file"
        )
    if key in SHIPPED_TABLES:
        p = _shipped_path(SHIPPED_TABLES[key][0])
        if p is None:
            raise TableError(
                f"the shipped table {key!r} is not installed with this nasrepro; reinstall "
                "nasrepro, or pass a table file path"
            )
        return p
    p = Path(key)
    if p.is_dir():
        raise TableError(
            f"{key} is a directory, not a table file; pass the .h5 table file"
            + (
                f" (a sweep directory is built into one with `nasrepro table build {key} -o "
                "TABLE.h5`)"
                if (p / MANIFEST).is_file()
                else ""
            )
        )
    if not p.is_file():
        raise TableError(
            f"{key}: no table of that name or path; pass a table file or one of the shipped "
            f"names {list(SHIPPED_TABLES)} (`nasrepro table list`)"
        )
    kind = _RESULTS_SUFFIXES.get(p.suffix.lower())
    if kind is not None and not is_hdf5(p):
        src, first = p, ""
        if p.suffix.lower() == ".json":
            src = p.with_suffix(".jsonl")
            first = "write the results as JSON Lines (one object per line, a .jsonl file) and "
        cmd = (
            f"nasrepro table import {shlex.quote(str(src))} -o "
            f"{shlex.quote(str(p.with_suffix('.h5')))} --search COL --report COL"
        )
        raise TableError(
            f"{key} is a {kind} file, not a table; {first}import it as a table with `{cmd}` "
            "(see `nasrepro table import --help`), then pass the .h5 file"
        )
    return p


def open_table(name_or_path: str | os.PathLike[str], *, verify: bool = False) -> Table:
    """:meth:`Table.open` on :func:`table_path` of ``name_or_path``."""
    return Table.open(table_path(name_or_path), verify=verify)


def as_table(table: Table | str | os.PathLike[str], what: str = "table") -> Table:
    """``table`` itself, or the table a shipped name or a file names (:func:`open_table`).

    Raises:
        ConfigError: ``table`` is none of these (``what`` names it in the message).
    """
    if isinstance(table, Table):
        return table
    if isinstance(table, str | os.PathLike):
        return open_table(table)
    raise ConfigError(
        f"{what} {table!r} ({type(table).__name__}): expected a Table, a shipped table's "
        "name (`nasrepro table list`) or a table file's path"
    )


def default_table_path() -> Path | None:
    """Path of the shipped default table, or ``None`` when it is not installed."""
    res = resources.files("nasrepro.tables").joinpath("data", DEFAULT_TABLE)
    if not res.is_file():
        return None
    with resources.as_file(res) as p:
        return Path(p)


def load_default() -> Table:
    """Open the default table shipped with the package (``data/cell-mnist1d-tiny.h5``).

    Raises:
        TableError: It is not shipped in this install yet; the message names the fix.
    """
    p = default_table_path()
    if p is None or not p.is_file():
        raise TableError(
            f"the default table {DEFAULT_TABLE} is not shipped with this install yet; pass "
            "a table PATH, or build one: `nasrepro sweep --space cell --protocol mnist1d-tiny "
            f"--out DIR` then `nasrepro table build DIR -o tables/data/{DEFAULT_TABLE}`"
        )
    return Table.open(p)
