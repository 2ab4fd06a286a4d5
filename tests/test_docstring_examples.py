"""Every ``Example:`` in the library's docstrings runs and prints what it shows.

The examples are documentation a reader copies; one that no longer runs (a renamed
argument, a changed message) misleads silently. Examples that need files a reader
does not have (a sweep directory, a trained table) are marked ``# doctest: +SKIP``.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import warnings

import pytest

PACKAGES = ("spaces", "tables", "surrogate", "strategies", "bench")


def _modules() -> list[str]:
    out = []
    for pkg in PACKAGES:
        base = importlib.import_module(f"nasrepro.{pkg}")
        out.append(base.__name__)
        out += [m.name for m in pkgutil.walk_packages(base.__path__, base.__name__ + ".")]
    return [m for m in out if not m.endswith("__main__")]


def _tests() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = []
    for name in _modules():
        tests += [t for t in finder.find(importlib.import_module(name), name) if t.examples]
    return sorted(tests, key=lambda t: t.name)


def test_the_library_has_docstring_examples() -> None:
    assert len(_tests()) >= 40  # 47 on 2026-12-07: a drop means the finder broke


@pytest.mark.parametrize("test", _tests(), ids=lambda t: t.name.removeprefix("nasrepro."))
def test_docstring_example_runs(test: doctest.DocTest) -> None:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = runner.run(test, out=report.append)
    assert result.failed == 0, "".join(report)
