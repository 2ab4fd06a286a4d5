"""Plugins: the modules that register a user's own spaces in every process.

A space registered with :func:`~nasrepro.spaces.register_space` exists only in the
process that ran the decorator. The command line, sweep workers (spawned processes)
and the leaderboard's contract check (a fresh ``python -c``) are other processes, so
:func:`~nasrepro.spaces.get_space` imports the plugins when it meets a name it does not
know, and looks again:

* the modules named in the environment variable :data:`PLUGINS_ENV`, comma-separated,
  each a module name (``mypkg.spaces``) or the path of a ``.py`` file
  (``path/to/tinycell.py``); child processes inherit the environment, so they find the
  same spaces;
* the entry points of the group :data:`ENTRY_POINT_GROUP` of the installed packages
  (``tinycell = "mypkg.tinycell:TinyCellSpace"`` in ``pyproject.toml``).

Each plugin is imported once per process. One that fails to import raises a
:class:`~nasrepro.spaces.ConfigError` that names it and its exception.

Example:
    A shell session that samples a space of the user's file ``tinycell.py``::

        NASREPRO_PLUGINS=path/to/tinycell.py nasrepro space sample tinycell -n 3
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import logging
import os
import re
import sys
from pathlib import Path
from types import ModuleType

from nasrepro.spaces._errors import ConfigError

__all__ = ["PLUGINS_ENV", "ENTRY_POINT_GROUP", "plugin_specs", "load_plugins"]

logger = logging.getLogger(__name__)

#: Environment variable naming plugin modules or ``.py`` files, comma-separated.
PLUGINS_ENV = "NASREPRO_PLUGINS"
#: Entry-point group whose entries are imported as space plugins.
ENTRY_POINT_GROUP = "nasrepro.spaces"

#: Plugins of :data:`PLUGINS_ENV` imported in this process (as written there).
_LOADED: set[str] = set()
#: Entry points imported in this process (``"name = value"``).
_LOADED_ENTRY_POINTS: set[str] = set()


def plugin_specs() -> list[str]:
    """The plugins :data:`PLUGINS_ENV` names, in order, blanks dropped."""
    raw = os.environ.get(PLUGINS_ENV, "")
    return [s.strip() for s in raw.split(",") if s.strip()]


def _is_path(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or os.sep in spec


def _module_name(path: Path) -> str:
    """The module name a plugin file is imported under: its stem and a digest of its
    resolved path (stable across processes, distinct for two files of one name)."""
    tag = hashlib.sha256(os.fsencode(path)).hexdigest()[:10]
    return f"_nasrepro_plugin_{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}_{tag}"


def _already_imported(path: Path) -> ModuleType | None:
    """A module of this process imported from ``path`` (``import tinycell``, or the
    script itself as ``__main__``), so that the file is not run a second time."""
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and os.path.basename(file) == path.name:
            try:
                if Path(file).resolve() == path:
                    return module
            except OSError:
                continue
    return None


def _import_file(spec: str) -> None:
    path = Path(spec).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"plugin {spec!r} in ${PLUGINS_ENV} is not a file (looked in {str(path.resolve())!r}); "
            "give the path of the .py file that registers the space, or a module name"
        )
    path = path.resolve()
    if _already_imported(path) is not None:
        return
    name = _module_name(path)
    found = importlib.util.spec_from_file_location(name, path)
    if found is None or found.loader is None:
        raise ConfigError(f"plugin {spec!r} in ${PLUGINS_ENV} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(found)
    sys.modules[name] = module  # pickle and dataclasses find the module by this name
    try:
        found.loader.exec_module(module)
    except Exception as e:
        del sys.modules[name]  # a failed import must not be found half-done next time
        raise _failed(f"plugin {spec!r} (from ${PLUGINS_ENV})", e, _ENV_FIX) from e


def _import_module(spec: str) -> None:
    try:
        found = importlib.util.find_spec(spec)
    except (ImportError, ValueError) as e:  # a parent package is missing, or a bad name
        found, why = None, str(e)
    else:
        why = f"no module named {spec!r}"
    if found is None:
        raise ConfigError(
            f"cannot import plugin {spec!r} named in ${PLUGINS_ENV} ({why}); put its "
            "directory on PYTHONPATH, or give the path of its .py file"
        )
    try:
        importlib.import_module(spec)
    except Exception as e:
        raise _failed(f"plugin {spec!r} (from ${PLUGINS_ENV})", e, _ENV_FIX) from e


_ENV_FIX = f"fix it, or remove it from ${PLUGINS_ENV}"


def _failed(what: str, e: Exception, fix: str) -> ConfigError:
    """The one-line error of a plugin whose import raised ``e`` (chained to it)."""
    return ConfigError(f"{what} failed to import: {type(e).__name__}: {e}; {fix}")


def load_plugins() -> list[tuple[str, object]]:
    """Import every plugin not yet imported in this process.

    Returns:
        ``(name, object)`` of each entry point loaded now, so that the registry can
        register a space class that its module does not decorate.

    Raises:
        ConfigError: A plugin is missing or its import raised; the message names the
            plugin and the exception.
    """
    for spec in plugin_specs():
        if spec in _LOADED:
            continue
        logger.debug("importing space plugin %r", spec)
        if _is_path(spec):
            _import_file(spec)
        else:
            _import_module(spec)
        _LOADED.add(spec)
    loaded: list[tuple[str, object]] = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        key = f"{ep.name} = {ep.value}"
        if key in _LOADED_ENTRY_POINTS:
            continue
        logger.debug("importing space plugin entry point %s", key)
        try:
            obj = ep.load()
        except Exception as e:
            raise _failed(
                f"the space plugin entry point {key!r} (group {ENTRY_POINT_GROUP!r}, package "
                f"{ep.dist.name if ep.dist is not None else '?'})",
                e,
                "fix that package, or uninstall it",
            ) from e
        _LOADED_ENTRY_POINTS.add(key)
        loaded.append((ep.name, obj))
    return loaded
