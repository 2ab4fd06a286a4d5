"""Where a table is written: outputs that would destroy an input are refused, the file is
written atomically, and temporary files that a killed writer left are cleaned up.

``table import`` and ``table build`` replace an existing table (that is how a table is
rebuilt), but :func:`check_table_output` refuses an output that is the input file
itself, lies inside a sweep directory being built from, or is an existing file that
is not HDF5 (a results file, a chunk, a manifest): those hold data a table does not.
:func:`check_not_a_table` keeps ``table export``/``plot`` from writing over a table.

:func:`atomic_output` (and :func:`write_atomically`, :func:`write_text_atomic`,
:func:`save_figure_atomic` on it) writes through ``.NAME.PID@HOST-XXXXXXXX.tmp`` beside
the output and renames it, so that every final output (a table, a leaderboard's
reports and plots, a validation record) is whole or absent, never half-written. A writer killed with SIGKILL (or a lost machine) cannot remove
that file; the next write of the same output removes the ones whose writer is gone
(:func:`stale_temps`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from nasrepro.tables._errors import TableError

__all__ = [
    "HDF5_SIGNATURE",
    "atomic_output",
    "STALE_AFTER_S",
    "check_not_a_table",
    "check_table_output",
    "is_hdf5",
    "regular_output",
    "save_figure_atomic",
    "remove_stale_temps",
    "set_aside",
    "stale_temps",
    "write_atomically",
    "write_bytes_atomic",
    "write_text_atomic",
]

logger = logging.getLogger(__name__)

#: The 8 bytes an HDF5 file's superblock starts with (at offset 0, or 512, 1024, ...
#: after a user block).
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: A temporary file of an output older than this is stale whoever wrote it: writing
#: a table's bytes takes seconds, not an hour.
STALE_AFTER_S = 3600.0
# The random part of tempfile.mkstemp's names: 8 of [a-z0-9_].
_RANDOM = r"[a-z0-9_]{8}"


def is_hdf5(path: str | os.PathLike[str]) -> bool:
    """Whether the file at ``path`` carries the HDF5 signature (False if unreadable)."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            offset = 0
            while offset + len(HDF5_SIGNATURE) <= size:
                fh.seek(offset)
                if fh.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
                    return True
                offset = 512 if offset == 0 else offset * 2
    except OSError:
        return False
    return False


def regular_output(path: str | os.PathLike[str], flag: str = "") -> Path:
    """The file that writing ``path`` by a rename should replace.

    A symbolic link is followed, so the link stays and the file it names gets the
    data. An existing target that is not a regular file or a directory (a device such
    as ``/dev/null``, a named pipe, a socket) is refused: a rename would replace it
    with a file.

    Args:
        path: The output file.
        flag: The option that named it (``"-o"``), for the message.

    Raises:
        TableError: The target is a device, a pipe or a socket.
    """
    p = Path(path)
    if p.is_symlink():
        p = Path(os.path.realpath(p))
    if p.exists() and not p.is_file() and not p.is_dir():
        named = f"{flag} {path}" if flag else str(path)
        raise TableError(
            f"{named} is not a regular file (a device, a pipe or a socket), which writing "
            "the output would replace; name a regular file (to print a CSV, leave -o out)"
        )
    return p


def set_aside(path: Path, new_suffix: str = ".corrupt") -> Path:
    """Rename a damaged or foreign result file out of the way; returns its new path.

    ``path``'s last suffix (``.json.gz`` whole) becomes ``new_suffix``; where a file of
    that name exists (set aside before), ``-2``, ``-3``, ... is added, so no file set
    aside earlier is overwritten.
    """
    stem = path.name[: -len(".json.gz")] if path.name.endswith(".json.gz") else path.stem
    aside = path.with_name(stem + new_suffix)
    n = 2
    while os.path.lexists(aside):
        aside = path.with_name(f"{stem}{new_suffix}-{n}")
        n += 1
    os.replace(path, aside)
    return aside


def _inside(path: Path, directory: Path) -> bool:
    try:
        path.resolve().relative_to(directory.resolve())
    except ValueError:
        return False
    return True


def check_table_output(
    out: str | os.PathLike[str],
    *,
    inputs: Iterable[str | os.PathLike[str]] = (),
    input_dirs: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """Refuse a table output that would destroy data; return it as a :class:`Path`.

    Args:
        out: The ``.h5`` table about to be written.
        inputs: Files the table is made from (an imported results file).
        input_dirs: Directories the table is made from (sweep directories).

    Raises:
        TableError: ``out`` is one of ``inputs``, lies inside one of ``input_dirs``, or
            is an existing non-empty file without the HDF5 signature. An existing table
            (an HDF5 file) may be replaced.
    """
    p = regular_output(out)
    for f in inputs:
        fp = Path(f)
        same = p.exists() and fp.exists() and os.path.samefile(p, fp)
        if same or p.resolve() == fp.resolve():
            e_g = f" (e.g. {p.with_suffix('.h5')})" if p.suffix != ".h5" else ""
            raise TableError(
                f"{p}: the output is the input file {fp}; writing the table there would "
                f"replace the results it is read from; write the table to another path{e_g}"
            )
    for d in input_dirs:
        dp = Path(d)
        if _inside(p, dp):
            named = dp if dp.name else dp.resolve()  # "." has no name
            raise TableError(
                f"{p}: the output lies inside the sweep directory {dp} that the table is "
                "built from, where it could replace a chunk or the manifest; write the "
                f"table outside it (e.g. {named.parent / (named.name + '.h5')})"
            )
    if p.is_file() and p.stat().st_size > 0 and not is_hdf5(p):
        raise TableError(
            f"{p} exists and is not an HDF5 table (no HDF5 signature); writing the table "
            "would replace it: write to another path, or delete the file first if you "
            "mean to replace it"
        )
    return p


def check_not_a_table(
    out: str | os.PathLike[str], reading: str | os.PathLike[str], what: str, flag: str
) -> None:
    """Refuse to write ``what`` (a CSV, a PNG) over the table being read or another table.

    Args:
        out: The output file.
        reading: The table the output is made from.
        what: What would be written, for the message (``"CSV"``).
        flag: The option that named ``out`` (``"-o"``), for the message.

    Raises:
        TableError: ``out`` is ``reading`` or an existing HDF5 file.
    """
    p = Path(out)
    if not p.is_file():
        return
    if os.path.samefile(p, reading):
        raise TableError(
            f"{flag} {p} is the table being read; writing {what} there would destroy it: "
            "choose another path"
        )
    if is_hdf5(p):
        raise TableError(
            f"{flag} {p} is an HDF5 table; writing {what} there would replace it: choose "
            "another path, or delete it first if you mean to replace it"
        )


def _host_tag() -> str:
    """Six hex digits naming this machine, so that a PID is only judged where it runs."""
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process, or not a PID we can judge: keep its file
    return True


def stale_temps(out: str | os.PathLike[str], *, now: float | None = None) -> list[Path]:
    """The temporary files of ``out`` whose writer is gone.

    Only names of :func:`atomic_output`'s pattern for this output count:
    ``.NAME.PID@HOST-XXXXXXXX.tmp`` with or without ``NAME``'s suffix (stale when PID is not running on this host, or
    older than :data:`STALE_AFTER_S`) and the older ``.NAME.XXXXXXXX.tmp`` (stale when
    older than :data:`STALE_AFTER_S`).
    """
    p = Path(out)
    pattern = re.compile(
        re.escape(f".{p.name}.")
        + rf"(?:(\d+)@([0-9a-f]{{6}})-)?{_RANDOM}\.tmp(?:{re.escape(p.suffix)})?"
    )
    now = time.time() if now is None else now
    host = _host_tag()
    stale = []
    try:
        entries = list(os.scandir(p.parent if str(p.parent) else "."))
    except OSError:
        return []
    for e in entries:
        m = pattern.fullmatch(e.name)
        if m is None:
            continue
        try:
            if not e.is_file(follow_symlinks=False):
                continue
            age = now - e.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        pid, tag = m.group(1), m.group(2)
        dead = pid is not None and tag == host and not _alive(int(pid))
        if dead or age > STALE_AFTER_S:
            stale.append(Path(e.path))
    return sorted(stale)


def remove_stale_temps(out: str | os.PathLike[str]) -> list[Path]:
    """Remove the :func:`stale_temps` of ``out`` (a writer killed mid-write, as a pool
    ends its other workers when one dies); return those removed. One that cannot be
    removed is logged and left."""
    removed = []
    for old in stale_temps(out):
        try:
            old.unlink()
        except OSError as e:  # pragma: no cover - a race with another cleaner, or read-only
            logger.warning("cannot remove the stale temporary file %s: %s", old, e)
        else:
            logger.info("removed %s, left by an interrupted write of %s", old, out)
            removed.append(old)
    return removed


@contextlib.contextmanager
def atomic_output(out: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``out`` to write its new content to, renamed over ``out``
    when the block ends; a final output is never left half-written.

    The temporary name is ``.NAME.PID@HOST-XXXXXXXX.tmp`` plus ``out``'s suffix (so that
    matplotlib picks the format by it); stale ones left by a killed writer of ``out``
    (:func:`stale_temps`) are removed first. The file is flushed to disk before the
    rename. If the block raises, or the rename fails, the temporary file is removed,
    ``out`` is left as it was, and the exception (an ``OSError`` for a full disk)
    propagates. A link is written through (:func:`regular_output`); a missing parent
    directory is created.

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> with atomic_output(d / "results.json") as tmp:
        ...     _ = tmp.write_text("{}")
        >>> [p.name for p in d.iterdir()]
        ['results.json']
    """
    out = regular_output(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out)
    prefix = f".{out.name}.{os.getpid()}@{_host_tag()}-"
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".tmp" + out.suffix, dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the output from other users
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomically(out: Path, data: bytes) -> None:
    """Write ``data`` to ``out`` through :func:`atomic_output`.

    Raises:
        TableError: The directory cannot be created or written, or the disk is full;
            ``out`` is then left as it was.
    """
    out = regular_output(out)
    try:
        write_bytes_atomic(out, data)
    except OSError as e:
        raise TableError(
            f"cannot write the table {out}: {e.strerror or e}; nothing was written there"
        ) from None


def write_bytes_atomic(out: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``out`` through :func:`atomic_output`; returns ``out``'s path."""
    with atomic_output(out) as tmp:
        tmp.write_bytes(data)
    return Path(out)


def write_text_atomic(out: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``out`` through :func:`atomic_output`; returns ``out``'s path."""
    return write_bytes_atomic(out, text.encode())


def save_figure_atomic(fig: Any, out: str | os.PathLike[str], **savefig: Any) -> Path:
    """``fig.savefig`` to ``out`` through :func:`atomic_output` (the format follows
    ``out``'s suffix); returns ``out``'s path."""
    with atomic_output(out) as tmp:
        fig.savefig(tmp, **savefig)
    return Path(out)
