"""``register_space`` refuses a class that cannot work, and ``get_space`` checks a user
space's first use; a notebook that defines its space again replaces it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from nasrepro.spaces import (
    Architecture,
    NetworkSpec,
    SearchSpace,
    SpaceError,
    _base,
    _plugins,
    get_space,
    register_space,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "my_space.py"


@pytest.fixture
def tiny(registry: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[type[SearchSpace[Any]]]:
    """The example's space class (registered as 'tinycell'); the registry is restored."""
    monkeypatch.setenv(_plugins.PLUGINS_ENV, str(EXAMPLE))
    yield type(get_space("tinycell"))


def test_a_class_with_abstract_methods_left_is_refused_naming_them(
    tiny: type[SearchSpace[Any]],
) -> None:
    class Half(SearchSpace[Any]):
        arch_type = tiny.arch_type

        def sample(self, rng: np.random.Generator) -> Any:
            raise NotImplementedError

    with pytest.raises(SpaceError, match=r"abstract method\(s\) canonical, distance, encode, "):
        register_space("half")(Half)
    assert "half" not in _base._REGISTRY
    with pytest.raises(SpaceError, match="not a class deriving from nasrepro.spaces.SearchSpace"):
        register_space("dict")(dict)  # type: ignore[arg-type]


def test_an_arch_type_of_another_space_name_is_refused(tiny: type[SearchSpace[Any]]) -> None:
    class Renamed(tiny):  # type: ignore[valid-type, misc]
        pass

    with pytest.raises(SpaceError, match=r"space_name 'tinycell'; set `space_name.* = 'renamed'`"):
        register_space("renamed")(Renamed)
    Bare = type("Bare", (tiny,), {"arch_type": None})
    with pytest.raises(SpaceError, match="needs a class attribute arch_type"):
        register_space("bare")(Bare)


def test_a_mutable_or_unhashable_arch_type_is_refused(tiny: type[SearchSpace[Any]]) -> None:
    @dataclass  # not frozen
    class LooseArch(Architecture):
        ops: tuple[str, ...]
        space_name: ClassVar[str] = "loose"

        def to_string(self) -> str:
            return ",".join(self.ops)

        @classmethod
        def from_string(cls, s: str) -> Architecture:
            return cls(tuple(s.split(",")))

    with pytest.raises(
        SpaceError, match=r"LooseArch is a dataclass that is not frozen.*frozen=True"
    ):
        register_space("loose")(type("Loose", (tiny,), {"arch_type": LooseArch}))

    class NoHashArch(Architecture):  # __eq__ without __hash__: unhashable
        space_name: ClassVar[str] = "nohash"

        def __eq__(self, other: object) -> bool:
            return self is other

        def to_string(self) -> str:
            return ""

        @classmethod
        def from_string(cls, s: str) -> Architecture:
            return cls()

    with pytest.raises(SpaceError, match="NoHashArch is not hashable"):
        register_space("nohash")(type("NoHash", (tiny,), {"arch_type": NoHashArch}))


def _define_in_a_cell(size: int) -> type[SearchSpace[Any]]:
    """What a notebook cell does each time it runs: the same qualified class name."""
    base = type(get_space("tinycell"))

    @register_space("rerun")
    class RerunSpace(base):  # type: ignore[valid-type, misc]
        arch_type = base.arch_type

        @property
        def size(self) -> int:
            return size

    return RerunSpace


def test_running_the_defining_cell_again_replaces_the_space_and_another_class_is_refused(
    tiny: type[SearchSpace[Any]],
) -> None:
    tiny.arch_type.space_name = "rerun"  # the fixture restores the module after the test
    try:
        first = _define_in_a_cell(1)
        assert get_space("rerun").size == 1
        second = _define_in_a_cell(2)
        assert second is not first and type(get_space("rerun")) is second
        assert get_space("rerun").size == 2

        class RerunSpace(tiny):  # type: ignore[valid-type, misc]
            pass  # same class name, another module path (this test's local)

        with pytest.raises(SpaceError, match=r"'rerun' is already registered .*another name"):
            register_space("rerun")(RerunSpace)
    finally:
        tiny.arch_type.space_name = "tinycell"


def test_lower_without_the_protocol_keywords_is_refused_on_first_use(
    tiny: type[SearchSpace[Any]],
) -> None:
    class NoReduction(tiny):  # type: ignore[valid-type, misc]
        def lower(self, arch: Any, *, C: int = 16, N: int = 1) -> NetworkSpec:
            return super().lower(arch, C=C, N=N)

    tiny.arch_type.space_name = "noreduction"
    try:
        register_space("noreduction")(NoReduction)  # the class is fine; its use is not
        with pytest.raises(SpaceError, match=r"lower\(arch, C=4, N=1, reduction='resblock'\)"):
            get_space("noreduction")
    finally:
        tiny.arch_type.space_name = "tinycell"


def test_canonical_or_lower_of_the_wrong_type_is_refused_on_first_use(
    tiny: type[SearchSpace[Any]],
) -> None:
    class StringCanonical(tiny):  # type: ignore[valid-type, misc]
        def canonical(self, arch: Any) -> Any:
            return arch.to_string()

    class DictLower(tiny):  # type: ignore[valid-type, misc]
        def lower(self, arch: Any, **macro: Any) -> Any:
            return super().lower(arch, **macro).to_dict()

    tiny.arch_type.space_name = "odd"
    try:
        register_space("odd")(StringCanonical)
        with pytest.raises(SpaceError, match=r"canonical\(\) returned str, not its arch_type"):
            get_space("odd")
        del _base._REGISTRY._entries["odd"]
        register_space("odd")(DictLower)
        with pytest.raises(SpaceError, match=r"returned dict, not a nasrepro.spaces.NetworkSpec"):
            get_space("odd")
    finally:
        tiny.arch_type.space_name = "tinycell"
