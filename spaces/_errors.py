"""The one base of every nasrepro error, and the generic errors the layers share.

Every error the library raises for bad input or a missing resource derives from
:class:`NasreproError`, so the command line catches exactly these and reports them as
one line (exit code 2); any other exception is a bug and keeps its traceback. Each
package re-exports :class:`NasreproError`. The domain errors (``SpaceError``,
``TableError``, ``SweepError``, ...) also keep a built-in base (``ValueError``,
``RuntimeError``, ``KeyError``) so that ``except ValueError`` callers keep working.

Example:
    >>> from nasrepro.spaces import ConfigError, NasreproError
    >>> issubclass(ConfigError, NasreproError) and issubclass(ConfigError, ValueError)
    True
"""

from __future__ import annotations

__all__ = [
    "AccessError",
    "NasreproError",
    "ConfigError",
    "MissingExtraError",
    "WorkerDiedError",
    "require_extra",
]


class NasreproError(Exception):
    """The base of every error nasrepro raises for bad input or a missing resource.

    The message names the problem and how to fix it; the command line prints it as
    ``nasrepro: error: <message>`` and exits with code 2.
    """


class ConfigError(NasreproError, ValueError):
    """An argument or setting is invalid (a bad count, an unknown name, a missing file)."""


class AccessError(NasreproError, PermissionError):
    """This user may not read (or write) a file: its permissions, not its content.

    Raised where a file that cannot be opened would otherwise be taken for a damaged
    one, set aside and recomputed, or reported as corrupt with the advice to rebuild it.
    """


def access_error(path: object, cause: OSError, what: str = "file") -> AccessError:
    """The error for a ``PermissionError`` on ``path``, saying that the ``what`` is not
    damaged and how to get at it.

    Example:
        >>> e = access_error("t.h5", PermissionError(13, "Permission denied"), "table")
        >>> str(e).split(";")[0], isinstance(e, PermissionError)
        ('t.h5: permission denied (this user may not read it)', True)
    """
    return AccessError(
        f"{path}: permission denied (this user may not read it); the {what} itself is not "
        "damaged: make it readable (chmod u+r, or a+r for others) or run as its owner"
    )


class MissingExtraError(NasreproError, ImportError):
    """An optional dependency is not installed; the message names the ``pip install``."""


class WorkerDiedError(NasreproError, RuntimeError):
    """A worker process died without an exception (killed, out of memory, ``os._exit``).

    The message names the work it was busy with, where that is known, and where the
    finished results were kept.
    """


def require_extra(what: str, module: str, extra: str, cause: ImportError) -> MissingExtraError:
    """The error for a missing optional dependency, naming the extra that installs it.

    Args:
        what: What needed it, for the message (``"the ray executor"``).
        module: The module that failed to import (``"ray"``).
        extra: The nasrepro extra that installs it (``"ray"``).
        cause: The ImportError; an import that failed for another reason than the
            module being absent (a bug inside it) is named as such.

    Returns:
        The error to raise (``raise require_extra(...) from e``).
    """
    missing = getattr(cause, "name", None)
    if missing is not None and missing.split(".")[0] != module.split(".")[0]:
        detail = f"importing {module} failed ({cause})"
    else:
        detail = f"{module} is not installed"
    return MissingExtraError(f"{what} needs {module}: {detail}; pip install 'nasrepro[{extra}]'")
