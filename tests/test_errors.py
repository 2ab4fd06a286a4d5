"""One error hierarchy: every library error is a NasreproError; no import error is swallowed.

The error classes are found by walking the packages' modules, so a new one is enrolled
here without a list to update. How the CLI maps them (exit 2 and one line; a bug: exit 1
and its traceback) is tested in ``tests/faults/test_error_hierarchy.py``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys

import pytest

#: The packages whose modules are walked for error classes.
PACKAGES = ("nasrepro.spaces", "nasrepro.tables", "nasrepro.surrogate", "nasrepro.strategies")
#: ``nasrepro.bench`` is walked too; its subpackages hold the harness, sim and CLI.
BENCH = "nasrepro.bench"


def _modules() -> list[str]:
    """Every module of the library packages, found by walking them (none hard-coded)."""
    names: list[str] = []
    for pkg_name in (*PACKAGES, BENCH):
        pkg = importlib.import_module(pkg_name)
        names.append(pkg_name)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{pkg_name}."):
            if info.name.endswith("__main__"):
                continue
            names.append(info.name)
    return names


def _error_classes() -> list[type[Exception]]:
    """Every Exception subclass defined in a library module, warnings excluded."""
    found: dict[str, type[Exception]] = {}
    for name in _modules():
        mod = importlib.import_module(name)
        for _, obj in inspect.getmembers(mod, inspect.isclass):
            if (
                issubclass(obj, Exception)
                and not issubclass(obj, Warning)
                and obj.__module__ == name
            ):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[k] for k in sorted(found)]


ERROR_CLASSES = _error_classes()


def test_the_walk_finds_the_known_errors() -> None:
    """The walk is not empty: it finds the domain errors that the issue names."""
    names = {c.__name__ for c in ERROR_CLASSES}
    for known in ("SpaceError", "TableError", "SurrogateError", "SweepError", "DatasetError"):
        assert known in names, sorted(names)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_every_library_error_is_a_nasrepro_error(cls: type[Exception]) -> None:
    from nasrepro.spaces import NasreproError

    assert issubclass(cls, NasreproError), f"{cls.__module__}.{cls.__qualname__}"


@pytest.mark.parametrize(
    ("name", "builtin"),
    [
        ("nasrepro.spaces:SpaceError", ValueError),
        ("nasrepro.tables:MissingEntryError", KeyError),
        ("nasrepro.surrogate:SurrogateError", ValueError),
        ("nasrepro.strategies:StrategyError", ValueError),
        ("nasrepro.strategies:StrategyContractError", AssertionError),
        ("nasrepro.bench.harness:SweepError", RuntimeError),
        ("nasrepro.bench.harness:DatasetError", RuntimeError),
        ("nasrepro.bench.cli._outputs:OutputError", ValueError),
        ("nasrepro.spaces:ConfigError", ValueError),
    ],
)
def test_errors_keep_their_builtin_base(name: str, builtin: type[Exception]) -> None:
    """``except ValueError`` (or KeyError, ...) callers keep working."""
    from nasrepro.spaces import NasreproError

    module, _, attr = name.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    assert issubclass(cls, NasreproError) and issubclass(cls, builtin)


@pytest.mark.parametrize("package", [*PACKAGES, BENCH])
def test_each_package_reexports_the_one_base(package: str) -> None:
    from nasrepro.spaces._errors import NasreproError

    assert importlib.import_module(package).NasreproError is NasreproError


# ------------------------------------------------------------------ imports not swallowed


def _extension_modules() -> list[str]:
    """Every CLI module that adds a command group (defines ``add_parser``)."""
    import nasrepro.bench.cli as cli

    names = []
    for info in pkgutil.iter_modules(cli.__path__, prefix="nasrepro.bench.cli."):
        if not info.name.endswith("__main__") and hasattr(
            importlib.import_module(info.name), "add_parser"
        ):
            names.append(info.name)
    return names


def _commands(parser: object) -> set[str]:
    import argparse

    assert isinstance(parser, argparse.ArgumentParser)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    raise AssertionError("no subcommands")


def test_every_command_group_is_present() -> None:
    import argparse

    from nasrepro.bench.cli import build_parser

    have = _commands(build_parser())
    modules = _extension_modules()
    assert modules
    for name in modules:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(name).add_parser(sub)
        assert set(sub.choices) <= have, (name, sorted(sub.choices), sorted(have))
    assert {"space", "train", "sweep", "reproduce"} <= have


@pytest.mark.parametrize("module", _extension_modules())
def test_a_broken_command_module_is_not_hidden(
    monkeypatch: pytest.MonkeyPatch, module: str
) -> None:
    """An import that fails inside a command module raises; its commands do not vanish."""
    from nasrepro.bench.cli import build_parser

    monkeypatch.setitem(sys.modules, module, None)  # importing it now raises ImportError
    with pytest.raises(ImportError):
        build_parser()


def test_plugin_import_errors_are_not_swallowed() -> None:
    """A benchmark registered lazily (``module:factory``) whose module fails to import
    raises that ImportError when it is asked for, instead of vanishing from the registry."""
    code = (
        "import sys\n"
        "sys.modules['nasrepro.surrogate'] = None\n"  # importing it now raises ImportError
        "from nasrepro.tables import get_benchmark, list_benchmarks\n"
        "assert 'chain-mnist1d-tiny-surrogate' in list_benchmarks()\n"
        "get_benchmark('chain-mnist1d-tiny-surrogate')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0, out.stderr
    assert "No module named 'nasrepro.surrogate" in out.stderr, out.stderr  # an ImportError


def test_every_registry_refuses_a_duplicate_with_a_nasrepro_error() -> None:
    """Four registries raised a bare ValueError, which ``except NasreproError`` missed (an
    audit against DESIGN.md); each is a ConfigError now, a ValueError too, naming the fix."""
    from nasrepro.spaces import NasreproError
    from nasrepro.strategies import register_strategy
    from nasrepro.surrogate import register_model
    from nasrepro.tables import get_protocol, register_benchmark, register_protocol

    class Other:  # another component under a taken name
        encoding = "graph"

    attempts = [
        lambda: register_strategy("random-search")(Other),  # type: ignore[type-var]
        lambda: register_model("xgb")(Other),  # type: ignore[type-var]
        lambda: register_benchmark("cell-mnist1d-tiny")(lambda **kw: None),
        lambda: register_protocol(get_protocol("mnist1d-tiny")),
    ]
    for attempt in attempts:
        with pytest.raises(NasreproError, match="already registered; (choose|give)") as e:
            attempt()
        assert isinstance(e.value, ValueError)
