"""Registries: lazy ``"module:factory"`` entries, loaded on first ``get``, never swallowed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nasrepro.spaces import Registry, get_space, list_spaces, register_space
from nasrepro.spaces._cell import CellSpace


def test_a_lazy_entry_is_listed_and_loaded_on_first_get() -> None:
    reg: Registry[object] = Registry("thing")
    reg.add("join", "os.path:join")
    assert reg.names() == ["join"] and "join" in reg
    import os.path

    assert reg.get("join") is os.path.join


def test_a_lazy_entry_that_cannot_be_imported_raises_import_error() -> None:
    reg: Registry[object] = Registry("thing")
    reg.add("broken", "nasrepro_no_such_module_here:factory")
    with pytest.raises(ImportError, match="nasrepro_no_such_module_here"):
        reg.get("broken")
    with pytest.raises(ValueError, match="module:attribute"):
        reg.add("bad", "no-colon")


def test_registering_the_referenced_object_fulfils_a_lazy_entry_and_others_are_refused() -> None:
    reg: Registry[object] = Registry("thing")
    reg.add("cell", "nasrepro.spaces._cell:CellSpace")
    assert not reg.taken("cell", CellSpace)  # what its module's decorator does on import
    assert reg.taken("cell", dict) and reg.taken("cell", "x:y")
    with pytest.raises(ValueError, match="already registered"):
        register_space("cell")(type("Other", (CellSpace,), {}))
    assert get_space("cell").name == "cell" and "cell" in list_spaces()


def test_surrogate_benchmarks_are_listed_without_importing_the_surrogate_layer() -> None:
    code = (
        "import sys\n"
        "from nasrepro.tables import get_benchmark, list_benchmarks\n"
        "names = list_benchmarks()\n"
        "assert 'chain-mnist1d-tiny-surrogate' in names, names\n"
        "assert 'nasrepro.surrogate' not in sys.modules\n"
        "b = get_benchmark('chain-mnist1d-tiny-surrogate')\n"
        "assert 'nasrepro.surrogate' in sys.modules and b.space.name == 'chain'\n"
        "from nasrepro.strategies import get_strategy, list_strategies\n"
        "assert all(get_strategy(n).name == n for n in list_strategies())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
