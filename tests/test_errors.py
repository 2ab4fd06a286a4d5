"""One error hierarchy: every library error is a NasreproError, and the CLI maps them alone.

A :class:`NasreproError` is bad input or a missing resource: exit code 2 and one line
``nasrepro: error: ...`` (``-v`` prints the traceback first). Anything else is a bug:
exit code 1 with the full traceback, even a plain ``ValueError``. No import error is
swallowed, so a broken command module cannot make its commands vanish.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from pathlib import Path

import pytest

#: The packages whose modules are walked for error classes.
PACKAGES = ("nasrepro.spaces", "nasrepro.tables", "nasrepro.surrogate", "nasrepro.strategies")
#: ``nasrepro.bench`` is walked too; its subpackages hold the harness, sim and CLI.
BENCH = "nasrepro.bench"

#: A cell string with an unknown op: the parser rejects it (a SpaceError).
BAD_ARCH = "|nor_conv_9x9~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"

#: A well-formed cell, for commands that must get past parsing.
GOOD_ARCH = "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"


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


# ----------------------------------------------------------------------------- the CLI


class Result:
    """One in-process ``nasrepro`` call: exit code and stderr."""

    def __init__(self, rc: int, err: str) -> None:
        self.rc, self.err = rc, err

    def error_lines(self) -> list[str]:
        return [ln for ln in self.err.splitlines() if ln.startswith("nasrepro: ")]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    from nasrepro.bench.cli import main

    def call(*args: str) -> Result:
        capsys.readouterr()
        try:
            rc = main(list(args))
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 1
        return Result(rc, capsys.readouterr().err)

    return call


def _table_missing(tmp_path: Path) -> list[str]:
    return ["table", "info", str(tmp_path / "no-such-table.h5")]


#: The table the CLI cases read: 6 cell classes x 2 seeds, under synthetic-smoke.
SMOKE_TABLE = Path(__file__).resolve().parent / "data" / "cell-mnist1d-smoke.h5"


def _not_json(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{ this is not JSON")
    return path


def _reference_not_json(tmp_path: Path) -> list[str]:
    ref = _not_json(tmp_path / "ref.json")
    return [
        "validate",
        "--strategy",
        "random-search",
        "--table",
        str(SMOKE_TABLE),
        "--reference",
        str(ref),
        "--no-retrain",
        "--no-track",
        "--seeds",
        "1",
        "--jobs",
        "1",
        "--out",
        str(tmp_path / "v"),
    ]


def _surrogate_not_json(tmp_path: Path) -> list[str]:
    _not_json(tmp_path / "models" / "metadata.json")
    return [
        "surrogate",
        "predict",
        GOOD_ARCH,
        "--space",
        "cell",
        "--models",
        str(tmp_path / "models"),
    ]


USER_ERRORS = {
    "reference-not-json": _reference_not_json,
    "surrogate-metadata-not-json": _surrogate_not_json,
    "malformed-arch": lambda tmp: ["space", "canonical", BAD_ARCH],
    "table-missing": _table_missing,
    "archs-file-missing": lambda tmp: [
        "sweep",
        "--protocol",
        "synthetic-smoke",
        "--out",
        str(tmp / "sweep"),
        "--archs",
        str(tmp / "no-such-list.txt"),
        "--no-track",
    ],
}


@pytest.mark.parametrize("case", sorted(USER_ERRORS))
def test_user_error_is_one_line_and_verbose_adds_the_traceback(run, tmp_path, case) -> None:  # type: ignore[no-untyped-def]
    args = USER_ERRORS[case](tmp_path)
    plain = run(*args)
    assert plain.rc == 2, plain.err
    assert "Traceback" not in plain.err, plain.err
    lines = plain.error_lines()
    assert len(lines) == 1 and lines[0].startswith("nasrepro: error: "), plain.err
    assert plain.err.strip() == lines[0], plain.err

    verbose = run("-v", *args)
    assert verbose.rc == 2, verbose.err
    assert "Traceback (most recent call last)" in verbose.err, verbose.err
    assert verbose.err.rstrip().endswith(lines[0]), verbose.err


def test_malformed_arch_subprocess_exit_2_no_traceback(tmp_path: Path) -> None:
    """The installed entry point (a fresh interpreter), not only ``main`` in this process."""
    import subprocess

    out = subprocess.run(
        [sys.executable, "-m", "nasrepro.bench.cli", "space", "canonical", BAD_ARCH],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("nasrepro: error: ") and out.stderr.count("\n") == 1, out.stderr


def _break_parse(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> list[str]:
    import nasrepro.spaces

    def broken(*args: object, **kwargs: object) -> None:
        raise exc

    monkeypatch.setattr(nasrepro.spaces, "parse_any", broken)
    return ["space", "canonical", GOOD_ARCH]


def _break_table_open(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> list[str]:
    import nasrepro.bench.cli._table as table_cli

    def broken(*args: object, **kwargs: object) -> None:
        raise exc

    monkeypatch.setattr(table_cli, "_open", broken)
    return ["table", "info"]


@pytest.mark.parametrize("where", [_break_parse, _break_table_open], ids=["space", "table"])
@pytest.mark.parametrize(
    "exc",
    [
        ZeroDivisionError("division by zero"),
        ValueError("a bug that happens to be a ValueError"),
        KeyError("a bug that happens to be a KeyError"),
        OSError("a bug that happens to be an OSError"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_bug_exits_1_with_its_traceback(run, monkeypatch, where, exc) -> None:  # type: ignore[no-untyped-def]
    """A fault that no input causes (so it is patched in): exit 1 and the full traceback."""
    r = run(*where(monkeypatch, exc))
    assert r.rc == 1, r.err
    assert "Traceback (most recent call last)" in r.err, r.err
    assert f"{type(exc).__name__}: " in r.err, r.err
    assert "nasrepro: error:" not in r.err, r.err


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
def test_a_broken_command_module_is_not_hidden(monkeypatch, module) -> None:  # type: ignore[no-untyped-def]
    """An import that fails inside a command module raises; its commands do not vanish."""
    from nasrepro.bench.cli import build_parser

    monkeypatch.setitem(sys.modules, module, None)  # importing it now raises ImportError
    with pytest.raises(ImportError):
        build_parser()


def test_missing_ray_names_the_extra(run, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Without ray, ``--executor ray`` is a user error naming ``pip install 'nasrepro[ray]'``."""
    from nasrepro.spaces import MissingExtraError

    monkeypatch.setitem(sys.modules, "ray", None)
    r = run(
        "sweep",
        "--protocol",
        "synthetic-smoke",
        "--seeds",
        "0",
        "--sample",
        "2",
        "--executor",
        "ray",
        "--out",
        str(tmp_path / "sweep"),
        "--no-track",
        "--no-progress",
    )
    assert r.rc == 2, r.err
    assert "Traceback" not in r.err
    (line,) = r.error_lines()
    assert "pip install 'nasrepro[ray]'" in line, line

    from nasrepro.bench.harness._sweep import _ray_executor

    with pytest.raises(MissingExtraError, match=r"nasrepro\[ray\]"):
        list(_ray_executor([], 1, None))


def test_plugin_import_errors_are_not_swallowed(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A leaderboard that loads the surrogate benchmarks sees a broken surrogate import."""
    from nasrepro.bench.sim._leaderboard_run import _load_plugins

    monkeypatch.setitem(sys.modules, "nasrepro.surrogate", None)
    with pytest.raises(ImportError):
        _load_plugins()
