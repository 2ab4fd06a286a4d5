"""A user's own space: found by name through ``$NASREPRO_PLUGINS`` and entry points.

Every process (the CLI, spawned workers, a fresh ``python -c``) imports the plugins
when it meets an unknown space name; ``examples/my_space.py`` is the plugin here.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nasrepro.spaces import (
    ConfigError,
    NetworkSpec,
    SpaceError,
    _base,
    _plugins,
    get_space,
    list_spaces,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "my_space.py"
NASREPRO = str(Path(sys.executable).with_name("nasrepro"))


def _cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != _plugins.PLUGINS_ENV}
    full.update(env or {})
    return subprocess.run(
        [NASREPRO, *args], capture_output=True, text=True, env=full, cwd=cwd, timeout=120
    )


# --------------------------------------------------------------------- the example


def test_the_example_space_is_found_through_the_environment_and_works(
    registry: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from nasrepro.bench.harness._compiler import compile_network

    assert "tinycell" not in _base._REGISTRY
    monkeypatch.setenv(_plugins.PLUGINS_ENV, f" {EXAMPLE} ,")  # blanks and empty items ignored
    space = get_space("tinycell")
    assert space.name == "tinycell" and space.bounded and space.size == 64
    arch = space.sample(np.random.default_rng(0))
    assert space.sample(0) == arch  # an int seed, as every space takes
    assert space.parse(arch.to_string()) == arch and hash(space.parse(str(arch))) == hash(arch)
    child = space.mutate(arch, np.random.default_rng(1))
    assert child != arch and space.distance(arch, child) == 1 and child in space.neighbors(arch)
    dead = space.parse("none,conv3x3,skip")  # the path through node 1 is cut
    assert space.canonical(dead) == space.parse("none,conv3x3,none")
    assert all(space.canonical(space.canonical(a)) == space.canonical(a) for a in space.enumerate())
    assert len(space.representatives()) == 4 + 3 * 3 * 4
    dec = space.decisions()
    assert dec is not None and dec.from_codes(dec.to_codes(arch)) == arch
    assert space.encode(arch).shape == (12,)
    spec = space.lower(arch, C=4, N=1, reduction="poolreduce")
    assert isinstance(spec, NetworkSpec) and spec.space == "tinycell" and spec.arch == str(arch)
    net = compile_network(spec, in_channels=1, num_classes=3, dims=1)
    assert tuple(net(torch.zeros(2, 1, 8)).shape) == (2, 3)
    # loaded once: a second lookup imports nothing again
    before = set(sys.modules)
    assert get_space("tinycell").name == "tinycell" and set(sys.modules) == before
    assert "tinycell" in list_spaces()


def test_the_cli_samples_a_space_named_by_path_or_by_module(tmp_path: Path) -> None:
    out = _cli("space", "sample", "tinycell", "-n", "3", env={"NASREPRO_PLUGINS": str(EXAMPLE)})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split()
    assert len(lines) == 3 and all(len(s.split(",")) == 3 for s in lines), out.stdout
    by_module = _cli(
        "space",
        "sample",
        "tinycell",
        "-n",
        "3",
        env={"NASREPRO_PLUGINS": "my_space", "PYTHONPATH": str(EXAMPLE.parent)},
    )
    assert by_module.returncode == 0, by_module.stderr
    assert by_module.stdout == out.stdout  # the same seed, the same space
    listed = _cli("space", "list", env={"NASREPRO_PLUGINS": str(EXAMPLE)})
    assert "tinycell" in listed.stdout.split(), listed.stdout


def test_a_spawned_worker_finds_the_space_through_the_inherited_environment(
    registry: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sweep workers are spawned: a fresh interpreter that knows only the environment."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        assert "tinycell" not in pool.apply(list_spaces)
    monkeypatch.setenv(_plugins.PLUGINS_ENV, str(EXAMPLE))
    with ctx.Pool(1) as pool:
        assert "tinycell" in pool.apply(list_spaces)


def test_a_space_imported_by_the_user_is_not_imported_again_as_a_plugin(
    registry: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``import my_space`` and then a plugin lookup of the same file: one class, no
    'already registered' from running the file twice."""
    monkeypatch.syspath_prepend(str(EXAMPLE.parent))
    import my_space  # noqa: F401  (registers tinycell as the module 'my_space')

    monkeypatch.setenv(_plugins.PLUGINS_ENV, str(EXAMPLE))
    try:
        with pytest.raises(SpaceError, match="unknown space 'nosuch'"):
            get_space("nosuch")  # imports the plugins: the file is already imported
        assert type(get_space("tinycell")).__module__ == "my_space"
    finally:
        del sys.modules["my_space"]


# --------------------------------------------------------------------- errors


def test_an_unknown_space_names_the_registered_ones_and_the_fix(registry: None) -> None:
    with pytest.raises(SpaceError) as info:
        get_space("tinycell")
    msg = str(info.value)
    for part in (
        "unknown space 'tinycell'",
        "['cell', 'chain', 'hierarchical']",
        "__main__",
        "sweep workers",
        "contract check",
        "NASREPRO_PLUGINS=path/to/tinycell.py",
        "entry point in the group 'nasrepro.spaces'",
    ):
        assert part in msg, (part, msg)


def test_the_cli_reports_an_unknown_space_in_one_line() -> None:
    out = _cli("space", "sample", "tinycell")
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "NASREPRO_PLUGINS=path/to/tinycell.py" in out.stderr, out.stderr


def test_a_plugin_that_fails_to_import_is_named_with_its_exception(tmp_path: Path) -> None:
    broken = tmp_path / "broken_space.py"
    broken.write_text("raise RuntimeError('boom at import')\n")
    out = _cli("space", "sample", "tinycell", env={"NASREPRO_PLUGINS": str(broken)})
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert f"plugin {str(broken)!r}" in out.stderr and "RuntimeError: boom at import" in out.stderr
    missing = _cli("space", "sample", "tinycell", env={"NASREPRO_PLUGINS": "no/such/file.py"})
    assert missing.returncode == 2 and "'no/such/file.py'" in missing.stderr, missing.stderr
    assert "is not a file" in missing.stderr
    no_module = _cli("space", "sample", "x", env={"NASREPRO_PLUGINS": "nasrepro_no_such_mod"})
    assert no_module.returncode == 2 and "Traceback" not in no_module.stderr
    assert "cannot import plugin 'nasrepro_no_such_mod'" in no_module.stderr, no_module.stderr


def test_a_failed_plugin_import_raises_config_error_and_is_retried(
    registry: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plugin = tmp_path / "flaky.py"
    plugin.write_text("raise ValueError('not yet')\n")
    monkeypatch.setenv(_plugins.PLUGINS_ENV, str(plugin))
    with pytest.raises(ConfigError, match=r"flaky\.py.*failed to import: ValueError: not yet"):
        get_space("tinycell")
    assert not any(m.startswith("_nasrepro_plugin_flaky") for m in sys.modules)
    plugin.write_text(EXAMPLE.read_text())  # fixed: the next lookup imports it
    assert get_space("tinycell").size == 64


# --------------------------------------------------------------------- entry points


def _dist(site: Path, name: str, entry: str) -> None:
    info = site / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[nasrepro.spaces]\n{entry}\n")


def test_an_entry_point_registers_a_space_even_without_the_decorator(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    source = EXAMPLE.read_text()
    assert '@register_space("tinycell")\n' in source
    (site / "tinyplug.py").write_text(source.replace('@register_space("tinycell")\n', ""))
    _dist(site, "tinyplug", "tinycell = tinyplug:TinyCellSpace")
    out = _cli("space", "sample", "tinycell", "-n", "2", env={"PYTHONPATH": str(site)})
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.split()) == 2

    (site / "badplug.py").write_text("import nasrepro_missing_dependency\n")
    _dist(site, "badplug", "bad = badplug")
    bad = _cli("space", "sample", "nosuch", env={"PYTHONPATH": str(site)})
    assert bad.returncode == 2 and "Traceback" not in bad.stderr, bad.stderr
    assert "entry point 'bad = badplug'" in bad.stderr and "package badplug" in bad.stderr
    assert "ModuleNotFoundError" in bad.stderr, bad.stderr
