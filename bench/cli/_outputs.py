"""Output locations of the CLI: checked before the work starts, written without partial files.

:func:`check_dir` and :func:`check_file` find an output location that is read-only,
not a directory, or under a regular file, before a command spends time computing.
:func:`atomic_file` writes through a temporary name in the same directory and
renames it at the end, so a write that fails (a full disk) leaves no partial file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from nasrepro.spaces._base import quote
from nasrepro.spaces._errors import NasreproError
from nasrepro.tables._outfile import atomic_output, regular_output

__all__ = [
    "OutputError",
    "check_dir",
    "kept_runs_text",
    "check_file",
    "check_figure_file",
    "atomic_file",
    "staged_dir",
    "describe_os_error",
    "user_message",
]

logger = logging.getLogger(__name__)


class OutputError(NasreproError, ValueError):
    """An output location cannot be written (read-only, not a directory, full)."""


def describe_os_error(e: OSError) -> str:
    """``"No space left on device: 'path'"``: an OSError as one short line."""
    what = e.strerror or type(e).__name__
    if e.filename is None:
        return what
    return f"{what}: {quote(os.fsdecode(e.filename))}"


def _probe(directory: Path, flag: str) -> None:
    """Create and remove a file in ``directory`` to show that it is writable."""
    try:
        fd, name = tempfile.mkstemp(prefix=".nasrepro-probe-", dir=directory)
    except OSError as e:
        raise OutputError(
            f"{flag} {quote(str(directory))}: cannot write there ({describe_os_error(e)}); "
            "choose a writable directory"
        ) from None
    os.close(fd)
    os.unlink(name)


def _not_empty(path: str | os.PathLike[str], flag: str, what: str) -> None:
    """Refuse an empty path, which ``Path`` reads as the current directory (``--out ''``
    from an unset shell variable would write there)."""
    if not os.fspath(path).strip():
        raise OutputError(f"{flag} is empty; name a {what} (use '.' for this directory)")


def check_dir(path: str | os.PathLike[str], flag: str, *, create: bool = True) -> Path:
    """Make sure ``path`` is (or can be created as) a writable directory.

    Args:
        path: The output directory.
        flag: The option that named it (``"--out"``), for the message.
        create: Create it (and its parents) now if it is missing.

    Raises:
        OutputError: It is a file, lies under a file, cannot be created, or is read-only.
    """
    _not_empty(path, flag, "directory")
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(f"{flag} {quote(str(p))} is a file, not a directory; choose a directory")
    if not p.exists():
        if not create:
            return p
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(
                f"{flag} {quote(str(p))}: cannot create the directory ({describe_os_error(e)})"
            ) from None
    _probe(p, flag)
    return p


def check_file(path: str | os.PathLike[str], flag: str, *, parents: bool = False) -> Path:
    """Make sure the file ``path`` can be written: its directory exists and is writable.

    Args:
        path: The output file.
        flag: The option that named it (``"-o"``), for the message.
        parents: A missing directory will be created by the writer; then the nearest
            existing one must be writable.

    Returns:
        The file to write: ``path``, or the file it links to (:func:`regular_output`).

    Raises:
        OutputError: ``path`` is a directory, its parent is a file or missing, or the
            directory is read-only.
        TableError: ``path`` is a device, a pipe or a socket.
    """
    _not_empty(path, flag, "file")
    p = Path(path)
    if p.is_dir():
        raise OutputError(f"{flag} {quote(str(p))} is a directory; name a file")
    p = regular_output(p, flag)  # a link is written through; a device is refused
    parent = p.parent
    for q in (parent, *parent.parents):
        if q.exists():
            if not q.is_dir():
                raise OutputError(
                    f"{flag} {quote(str(p))}: {quote(str(q))} is a file, not a directory"
                )
            if parents:
                parent = q
            break
    if not parent.exists():
        raise OutputError(
            f"{flag} {quote(str(p))}: directory {quote(str(parent))} does not exist; create it"
        )
    _probe(parent, flag)
    return p


def check_figure_file(path: str | os.PathLike[str], flag: str) -> Path:
    """:func:`check_file` for a figure: its suffix must name a format matplotlib writes
    (``.png``, ``.pdf``, ``.svg``, ...), which picks the format by it.

    Raises:
        OutputError: No suffix, or one matplotlib cannot write; as :func:`check_file`.
    """
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in formats:
        said = f"its suffix {quote('.' + suffix)}" if suffix else "it has no suffix"
        raise OutputError(
            f"{flag} {quote(str(path))}: {said} names no figure format; end it in .png, .pdf "
            f"or .svg (or one of {', '.join(sorted(formats))})"
        )
    return check_file(path, flag)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], flag: str) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` when the block ends.

    :func:`nasrepro.tables.atomic_output` under :func:`check_file`: the temporary name
    keeps ``path``'s suffix (matplotlib picks the format by it), and temporaries a
    killed earlier write of ``path`` left are removed. If the block raises, the
    temporary file is removed and ``path`` is left as it was; an OSError (a full disk)
    becomes an :class:`OutputError` naming ``path``.
    """
    out = check_file(path, flag)
    try:
        with atomic_output(out) as tmp:
            yield tmp
    except OSError as e:
        raise OutputError(
            f"{flag} {quote(str(out))}: writing failed ({describe_os_error(e)}); nothing was "
            "written there"
        ) from None


@contextlib.contextmanager
def staged_dir(out: str | os.PathLike[str], flag: str) -> Iterator[Path]:
    """Yield an empty staging directory inside ``out``; move its files into ``out`` at the end.

    Files are written in full before any of them appears in ``out`` (renames need no
    space), so a write that fails (a full disk) leaves ``out`` as it was. An OSError
    becomes an :class:`OutputError` naming ``out``; the staging directory is removed.
    """
    dest = check_dir(out, flag)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=dest))
    try:
        yield staging
        for p in sorted(staging.iterdir()):
            os.replace(p, dest / p.name)
    except OSError as e:
        raise OutputError(
            f"{flag} {quote(str(dest))}: writing failed ({describe_os_error(e)}); nothing new "
            "was written there"
        ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


#: The longest error message the CLI prints; longer ones are clipped (their sources
#: clip what they quote, see :func:`nasrepro.spaces._base.quote`; this is the backstop).
MESSAGE_LIMIT = 2000


def user_message(e: BaseException) -> str:
    """The text the CLI prints for a user error (a :class:`NasreproError`), clipped."""
    text = str(e)
    if len(text) > MESSAGE_LIMIT:
        text = f"{text[:MESSAGE_LIMIT]}... (message clipped from {len(text)} characters)"
    return text


def kept_runs_text(kept: int, where: str) -> str:
    """What a failed strategy leaves, for its error: ``kept`` finished runs ``where``
    (``"in DIR"``), and how to go on; with none finished, not a claim that some are."""
    if kept == 0:
        return (
            "no run had finished, so none is kept: fix the strategy and run the same command again"
        )
    runs = "run" if kept == 1 else "runs"
    return (
        f"the {kept} finished {runs} {where} {'is' if kept == 1 else 'are'} kept: fix the "
        "strategy and run the same command again to go on from them (a strategy whose code "
        "changed runs again)"
    )
