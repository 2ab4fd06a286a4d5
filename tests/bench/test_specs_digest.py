"""What network an architecture string was lowered to is recorded and checked.

A user's space module is edited between two runs so that ``skip_connect`` lowers to an
average pooling: a resumed sweep refuses to train on, ``table build`` refuses chunks
that trained one architecture as two networks, and ``reproduce`` names the change.
Sweeps run in this process (one worker): spawned workers would not know the space.
"""

from __future__ import annotations

import gzip
import importlib
import json
import logging
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import h5py
import pytest

from nasrepro.bench.cli import main
from nasrepro.bench.harness._reproduce import reproduce
from nasrepro.bench.harness._sweep import WORKER_THREADS, SweepError, sweep
from nasrepro.spaces._base import _REGISTRY
from nasrepro.tables import (
    MANIFEST,
    SweepManifest,
    Table,
    TableError,
    build,
    chunk_path,
    iter_chunks,
    read_chunk,
    read_manifest,
)

CapSys = pytest.CaptureFixture[str]

#: Canonical cells with a live skip edge, and one without any skip.
SKIPPY = [
    "|skip_connect~0|+|none~0|none~1|+|nor_conv_1x1~0|nor_conv_1x1~1|nor_conv_3x3~2|",
    "|skip_connect~0|+|none~0|none~1|+|nor_conv_1x1~0|nor_conv_3x3~1|none~2|",
]
NO_SKIP = ["|none~0|+|none~0|none~1|+|none~0|none~1|nor_conv_1x1~2|"]

SPACE_MODULE = '''
"""A user's own space: NAS-Bench-201 cells, lowered by its own code."""
from nasrepro.spaces import CELL_EDGES, CellSpace, CellSpec, Op, SearchSpace, nb201_skeleton

LOWERED = {{
    "none": Op.NONE,
    "skip_connect": Op.{skip},
    "nor_conv_1x1": Op.CONV1X1,
    "nor_conv_3x3": Op.CONV3X3,
    "avg_pool_3x3": Op.AVGPOOL3X3,
}}


class UserSpace(CellSpace):
    lower_columns = SearchSpace.lower_columns  # the default: lower each architecture

    def lower(self, arch, *, C=16, N=5, reduction="resblock", **macro):
        edges = tuple(
            (src, dst, LOWERED[op]) for (dst, src), op in zip(CELL_EDGES, arch.ops)
        )
        return nb201_skeleton(
            CellSpec(4, edges), C=C, N=N, reduction=reduction, space=self.name,
            arch=arch.to_string(),
        )
'''

UserSpace = tuple[str, Callable[[str], None]]


@pytest.fixture
def user_space(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[UserSpace]:
    """A space module in a tmp dir, registered under a unique name; ``edit(op)`` rewrites
    the module so that ``skip_connect`` lowers to ``Op.<op>``, and loads it again (as a
    new Python process would)."""
    tag = uuid.uuid4().hex[:8]
    name, module = f"user-{tag}", f"nasrepro_user_space_{tag}"
    src = tmp_path / "user_code"
    src.mkdir()
    monkeypatch.syspath_prepend(str(src))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)

    def edit(skip: str) -> None:
        (src / f"{module}.py").write_text(SPACE_MODULE.format(skip=skip))
        sys.modules.pop(module, None)
        importlib.invalidate_caches()
        cls = importlib.import_module(module).UserSpace
        cls.name = name
        _REGISTRY.add(name, cls)

    edit("SKIP")
    yield name, edit
    _REGISTRY._entries.pop(name, None)
    sys.modules.pop(module, None)


def _sweep(space: str, seeds: list[int], out: Path, archs: list[str] = SKIPPY) -> None:
    sweep(space, "synthetic-smoke", seeds, out, archs=archs, chunk_size=1, workers=1)


def test_a_resume_after_the_space_changed_is_refused(user_space: UserSpace, tmp_path: Path) -> None:
    name, edit = user_space
    out = tmp_path / "sweep"
    _sweep(name, [0], out)
    recorded = read_manifest(out).specs_sha256
    assert recorded is not None and len(recorded) == 64
    nets = read_chunk(chunk_path(out, 0, 0))["networks"]
    assert set(nets) == {SKIPPY[0]}

    edit("AVGPOOL3X3")
    manifest_before = (out / MANIFEST).read_bytes()
    with pytest.raises(SweepError) as err:
        _sweep(name, [0, 1], out)
    msg = str(err.value)
    assert "now lowers these architectures to other networks than this sweep trained" in msg
    assert "its code changed; sweep into a new directory, or restore the space's code" in msg
    assert str(out) in msg and recorded[:12] in msg
    assert not chunk_path(out, 1, 0).exists()  # nothing trained with the new code
    assert (out / MANIFEST).read_bytes() == manifest_before

    edit("SKIP")  # the space's code restored: the sweep resumes
    _sweep(name, [0, 1], out)
    assert len(list(iter_chunks(out))) == 4
    assert read_manifest(out).specs_sha256 == recorded


def test_a_change_that_leaves_the_sweeps_networks_alone_resumes(
    user_space: UserSpace, tmp_path: Path
) -> None:
    name, edit = user_space
    out = tmp_path / "sweep"
    _sweep(name, [0], out, NO_SKIP)
    edit("AVGPOOL3X3")  # no architecture of this sweep has a skip
    _sweep(name, [0, 1], out, NO_SKIP)
    assert len(list(iter_chunks(out))) == 2


def test_build_refuses_chunks_that_trained_an_arch_as_two_networks(
    user_space: UserSpace, tmp_path: Path
) -> None:
    name, edit = user_space
    old, new = tmp_path / "old", tmp_path / "new"
    _sweep(name, [0], old)
    t_old = build(old, tmp_path / "old.h5").path
    edit("AVGPOOL3X3")
    _sweep(name, [1], new)  # a fresh directory: the new code, seed 1
    t_new = build(new, tmp_path / "new.h5").path
    assert t_old is not None and t_new is not None
    d_old = Table.open(t_old).attrs["specs_sha256"]
    d_new = Table.open(t_new).attrs["specs_sha256"]
    assert len(d_old) == 64 and d_old != d_new
    tampered = tmp_path / "tampered.h5"  # header_sha256 covers the new attribute
    tampered.write_bytes(t_old.read_bytes())
    with h5py.File(tampered, "r+") as f:
        f.attrs["specs_sha256"] = d_new
    with pytest.raises(TableError, match="header checksum mismatch"):
        Table.open(tampered)

    # one sweep directory resumed by hand with the new code (the manifest rewritten)
    manifest = read_manifest(old)
    manifest_new = read_manifest(new)
    for c in range(len(SKIPPY)):
        chunk_path(old, 1, c).write_bytes(chunk_path(new, 1, c).read_bytes())
    (old / MANIFEST).write_text(
        json.dumps(
            {**manifest.to_dict(), "seeds": [0, 1], "specs_sha256": manifest_new.specs_sha256}
        )
    )
    with pytest.raises(TableError) as err:
        build(old, tmp_path / "mixed.h5")
    msg = str(err.value)
    assert "trained " + SKIPPY[0] + " as different networks" in msg
    assert str(chunk_path(old, 0, 0)) in msg and str(chunk_path(old, 1, 0)) in msg
    assert "code changed" in msg and not (tmp_path / "mixed.h5").exists()
    with pytest.raises(TableError, match="as different networks"):
        build([tmp_path / "old", tmp_path / "new"], tmp_path / "mixed2.h5")


def test_reproduce_names_a_changed_lowering(
    user_space: UserSpace, tmp_path: Path, capsys: CapSys
) -> None:
    name, edit = user_space
    out = tmp_path / "sweep"
    _sweep(name, [0, 1], out)
    path = build(out, tmp_path / "t.h5").path
    assert path is not None
    table = Table.open(path)
    same = reproduce(table, SKIPPY[0], seed=0)
    assert same.verdict == "IDENTICAL" and same.specs_gap is None and same.bitwise_expected

    edit("AVGPOOL3X3")
    rep = reproduce(table, SKIPPY[0], seed=0)
    assert rep.verdict == "DIFFERENT" and rep.build_gaps == {}
    assert rep.specs_gap is not None and rep.specs_gap[0] == table.attrs["specs_sha256"]
    assert not rep.bitwise_expected
    assert rep.to_dict()["specs_gap"] == list(rep.specs_gap)
    assert rep.to_dict()["bitwise_expected"] is False
    assert main(["reproduce", SKIPPY[0], "--seed", "0", "--table", str(path)]) == 1
    printed = capsys.readouterr().out
    assert "the space now lowers the table's architectures to other networks" in printed
    assert rep.specs_gap[0][:12] in printed and "its code changed" in printed
    assert "the builds match" not in printed and "not bitwise by design" not in printed

    assert main(["table", "info", str(path)]) == 0  # the digest is shown, and in --json
    digest = str(table.attrs["specs_sha256"])
    assert f"networks    sha256 {digest[:16]} of the lowered networks" in capsys.readouterr().out
    assert main(["table", "info", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["specs_sha256"] == digest


def _strip(out: Path) -> None:
    """Make ``out`` look written by an older nasrepro: no digests anywhere."""
    m = json.loads((out / MANIFEST).read_text())
    del m["specs_sha256"]
    (out / MANIFEST).write_text(json.dumps(m))
    for path in iter_chunks(out):
        payload = json.loads(gzip.decompress(path.read_bytes()))
        del payload["networks"]
        path.write_bytes(gzip.compress(json.dumps(payload).encode(), mtime=0))


def test_old_manifests_and_chunks_without_digests_work_as_before(
    user_space: UserSpace, tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: CapSys
) -> None:
    name, edit = user_space
    out = tmp_path / "sweep"
    _sweep(name, [0], out)
    _strip(out)
    assert read_manifest(out).specs_sha256 is None
    assert read_chunk(chunk_path(out, 0, 0))["networks"] == {}

    edit("AVGPOOL3X3")  # not detectable without a recorded digest: a warning says so
    with caplog.at_level(logging.WARNING):
        _sweep(name, [0, 1], out)
    assert "records no digest of its networks" in caplog.text
    assert "cannot check" in caplog.text
    assert read_manifest(out).specs_sha256 is None  # still unknown, so still absent
    assert read_manifest(out).seeds == (0, 1)

    assert read_chunk(chunk_path(out, 0, 0))["networks"] == {}  # old: none to compare
    assert set(read_chunk(chunk_path(out, 1, 0))["networks"]) == {SKIPPY[0]}
    table_path = build(out, tmp_path / "t.h5").path
    assert table_path is not None
    table = Table.open(table_path)
    assert "specs_sha256" not in table.attrs  # some chunks record no networks
    assert main(["table", "info", str(table_path)]) == 0
    assert "networks    no digest recorded" in capsys.readouterr().out
    rep = reproduce(table, SKIPPY[1], seed=0)
    assert rep.specs_gap is None and rep.to_dict()["specs_gap"] is None


def test_the_manifest_records_the_workers_thread_count(
    user_space: UserSpace, tmp_path: Path
) -> None:
    import torch

    name, _ = user_space
    prev = torch.get_num_threads()
    torch.set_num_threads(2)  # the sweeping process's own count is not what trains
    try:
        _sweep(name, [0], tmp_path / "sweep", SKIPPY[:1])
    finally:
        torch.set_num_threads(prev)
    versions = read_manifest(tmp_path / "sweep").versions
    (result,) = read_chunk(chunk_path(tmp_path / "sweep", 0, 0))["results"]
    assert versions["torch_threads"] == result.versions["torch_threads"] == str(WORKER_THREADS)


def test_manifest_specs_field_round_trips_and_is_checked() -> None:
    from nasrepro.tables import get_protocol

    m = SweepManifest("cell", get_protocol("synthetic-smoke"), ("a",), (0,), 1)
    assert "specs_sha256" not in m.to_dict() and m.specs_sha256 is None
    with_digest = SweepManifest.from_dict({**m.to_dict(), "specs_sha256": "ab" * 32})
    assert with_digest.specs_sha256 == "ab" * 32
    assert SweepManifest.from_dict(with_digest.to_dict()) == with_digest
    with pytest.raises(ValueError, match="specs_sha256 is not a string"):
        SweepManifest.from_dict({**m.to_dict(), "specs_sha256": 3})
