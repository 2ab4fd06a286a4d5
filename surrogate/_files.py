"""A surrogate's directory on disk: saved whole or not at all, checked file by file.

:meth:`~nasrepro.surrogate.Surrogate.save` writes every model file into a new
directory beside the target and swaps it in by renames; ``metadata.json`` records the
sha256 of each file, and :meth:`~nasrepro.surrogate.Surrogate.load` checks them. The
helpers here hash and flush files, check a target directory before a fit spends time,
and find or remove what a killed save left behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import warnings
from pathlib import Path
from typing import Any

from nasrepro.spaces._errors import access_error
from nasrepro.surrogate._data import SurrogateError

__all__ = ["check_save_dir"]

logger = logging.getLogger(__name__)


def fit_versions() -> dict[str, str]:
    """The versions a fit's models depend on, recorded in ``metadata.json`` (since
    2026-12-07; before, only nasrepro's)."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("numpy", "xgboost", "scikit-learn", "nasrepro"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


def _sha256(path: Path, *, sync: bool = False) -> str:
    """The sha256 of a file's bytes; with ``sync``, its data are flushed to disk too."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
        if sync:
            os.fsync(fh.fileno())
    return h.hexdigest()


def _sync_dir(d: Path) -> None:
    """Flush a directory's entries (the renames) to disk, where the platform can."""
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:  # no directory handles (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _check_hashes(d: Path, meta: dict[str, Any]) -> None:
    """Refuse model files whose sha256 differs from ``metadata.json``'s record.

    Directories saved before the record (no ``sha256`` key) are not checked; a warning
    says so and how to add the record.
    """
    recorded = meta.get("sha256")
    if recorded is None:
        warnings.warn(
            f"{d} was saved before surrogates recorded the sha256 of their model files "
            "(2026-12-06), so a model file copied over from another fit would go "
            "unnoticed; save it again to record them (Surrogate.load(d).save(new_dir))",
            UserWarning,
            stacklevel=4,
        )
        return
    refit = (
        "the directory mixes the files of two fits (a save that was killed, or files "
        "copied over), or the file was edited or cut short; refit the surrogate "
        f"(`nasrepro surrogate fit ... --out {d}`), or copy its whole directory again"
    )
    if not isinstance(recorded, dict):
        raise SurrogateError(f"{d / 'metadata.json'}: 'sha256' must be an object; {refit}")
    for name in sorted({n for names in meta["files"].values() for n in names}):
        want = recorded.get(name)
        if want is None:
            raise SurrogateError(f"{d}: metadata.json records no sha256 of {name}; {refit}")
        path = d / name
        if not path.is_file():
            raise SurrogateError(f"{d}: {name} is missing; {refit}")
        try:
            digest = _sha256(path)
        except PermissionError as e:
            raise access_error(path, e, "surrogate") from None
        if digest != want:
            raise SurrogateError(
                f"{d}: {name} is not the file this surrogate's metadata.json was saved "
                f"with (its sha256 differs); {refit}"
            )


def _killed_save_dirs(d: Path) -> list[Path]:
    """The directories saves into ``d`` leave beside it while they run (any process)."""
    prefixes = (f".{d.name}.saving-", f".{d.name}.replaced-")
    try:
        return sorted(p for p in d.parent.iterdir() if p.name.startswith(prefixes) and p.is_dir())
    except OSError:
        return []


def _pid_alive(pid: int) -> bool:
    if os.name != "posix" or pid == os.getpid():  # our own are finished by now
        return False
    try:
        os.kill(pid, 0)  # signal 0: asks only whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _left_by_a_killed_save(d: Path) -> list[Path]:
    """The directories beside ``d`` of saves whose process is gone."""
    out = []
    for p in _killed_save_dirs(d):
        pid = p.name.rsplit("-", 2)[-2]
        if not (pid.isdigit() and _pid_alive(int(pid))):
            out.append(p)
    return out


def _killed_save_advice(d: Path, left: list[Path]) -> str:
    """What a save into ``d`` that was killed left (``left``, from
    :func:`_left_by_a_killed_save`), and what to do about it.

    A save writes ``.NAME.saving-*`` in full (``metadata.json`` last), moves the old
    ``d`` aside to ``.NAME.replaced-*`` and renames the new one in. Killed while writing,
    it leaves an incomplete ``.saving-`` directory, which is of no use; killed between
    the renames, a complete one and the old surrogate aside."""
    old = [p for p in left if ".replaced-" in p.name]
    new = [p for p in left if ".saving-" in p.name and _is_surrogate_metadata(p / "metadata.json")]
    if not old and not new:
        return (
            f"a save into it was killed while writing the new surrogate and left "
            f"{', '.join(map(str, left))}, incomplete (the next save removes it); fit the "
            "surrogate again"
        )
    ways = [f"rename {p} back to {d.name} (the old surrogate)" for p in old]
    ways += [f"rename {p} to {d.name} (the new one, written in full)" for p in new]
    return (
        f"a save into it was killed between its two renames: {'; or '.join(ways)}; or fit "
        "the surrogate again"
    )


def _remove_stale(d: Path) -> None:
    """Remove what killed saves into ``d`` left beside it, saying so."""
    for p in _left_by_a_killed_save(d):
        logger.warning("removing %s, left beside %s by a save that was killed", p, d)
        shutil.rmtree(p, ignore_errors=True)


def _is_surrogate_metadata(path: Path) -> bool:
    """Whether ``path`` is a surrogate's ``metadata.json`` (a JSON object with its
    ``format_version`` and ``feature_names``), not another tool's file of that name."""
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(meta, dict) and {"format_version", "feature_names"} <= meta.keys()


def check_save_dir(directory: str | os.PathLike[str], flag: str | None = None) -> Path:
    """Check that :meth:`Surrogate.save` can write ``directory``; returns it resolved.

    It must be missing, empty, or a surrogate (a surrogate's ``metadata.json`` and only
    JSON files: a save replaces the whole directory, so one holding anything else is
    refused, another tool's ``metadata.json`` included), and
    it and its parent must be writable (the new surrogate is written beside it and
    renamed in). A missing parent is created. ``flag`` (``"--out"``) names the option
    that gave ``directory`` in the messages.

    Raises:
        SurrogateError: Naming what is wrong and the fix.
    """
    given = f"{flag} {str(directory)!r}" if flag else str(directory)
    d = Path(directory).resolve()
    if not d.name:
        raise SurrogateError(f"{given}: a surrogate cannot replace the root; name a directory")
    if d.exists() and not d.is_dir():
        raise SurrogateError(f"{given} is a file, not a directory; choose a directory")
    if d.is_dir():
        try:
            entries = sorted(d.iterdir())
        except OSError as e:
            raise SurrogateError(
                f"{given}: cannot read it ({e.strerror}); choose another"
            ) from None
        foreign = [
            p.name + ("/" if p.is_dir() else "")
            for p in entries
            if p.is_symlink() or not p.is_file() or not p.name.endswith((".json", ".json.gz"))
        ]
        if entries and (foreign or not _is_surrogate_metadata(d / "metadata.json")):
            what = (
                f"holds {foreign[:3]}{' and more' if len(foreign) > 3 else ''}, which are "
                "not a surrogate's files"
                if foreign
                else "holds files but no surrogate's metadata.json (a JSON object with its "
                "format_version and feature_names), so it is not a surrogate"
            )
            raise SurrogateError(
                f"{given} {what}; saving replaces the whole directory, so choose a new or "
                "empty directory, or one that holds a surrogate"
            )
    above = next(q for q in d.parents if q.exists())  # the root exists
    if not above.is_dir():
        raise SurrogateError(f"{given}: {above} is a file, not a directory; choose a directory")
    try:
        d.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SurrogateError(
            f"{given}: cannot create its parent directory ({e.strerror}); choose another"
        ) from None
    for where in (d.parent, d) if d.exists() else (d.parent,):
        if not os.access(where, os.W_OK | os.X_OK):
            raise SurrogateError(
                f"{given}: {where} is read-only (a save writes the surrogate beside the "
                "directory and renames it in); choose a writable directory"
            )
    return d
