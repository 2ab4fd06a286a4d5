"""Space tests build many tiny networks: one intra-op thread is far faster for those.
Tests that register spaces restore the registry with :func:`registry`."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from nasrepro.spaces import _base, _plugins


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    torch = pytest.importorskip("torch")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Restore the space registry and the plugins imported, so that no other test sees
    the spaces registered here; ``$NASREPRO_PLUGINS`` starts unset."""
    monkeypatch.delenv(_plugins.PLUGINS_ENV, raising=False)
    entries = dict(_base._REGISTRY._entries)
    checked = set(_base._CHECKED)
    loaded, eps = set(_plugins._LOADED), set(_plugins._LOADED_ENTRY_POINTS)
    modules = set(sys.modules)
    yield
    _base._REGISTRY._entries.clear()
    _base._REGISTRY._entries.update(entries)
    _base._CHECKED.clear()
    _base._CHECKED.update(checked)
    _plugins._LOADED.clear()
    _plugins._LOADED.update(loaded)
    _plugins._LOADED_ENTRY_POINTS.clear()
    _plugins._LOADED_ENTRY_POINTS.update(eps)
    for name in set(sys.modules) - modules:
        if name.startswith("_nasrepro_plugin_"):
            del sys.modules[name]
