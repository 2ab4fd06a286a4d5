"""Saving a surrogate: whole or not at all, checked on load, and to a location checked first.

A ``surrogate fit`` killed while it wrote into an existing ``--out`` left half the old
surrogate and half the new one, which loaded without a word; a directory whose files
do not match the sha256 its metadata recorded is now refused. ``--out`` naming a file,
or a read-only place, failed with a traceback after the fit; it is now refused first.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from nasrepro.bench.cli import main
from nasrepro.surrogate import (
    NasreproError,
    Surrogate,
    SurrogateError,
    check_save_dir,
    load_shipped,
    shipped_path,
)

ARCHS = [
    "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_3x3~0|none~1|avg_pool_3x3~2|",
]
#: A small fit of the smoke table: about 2 s in the process, 6-8 s as a new process
#: (imports), nearly all before the last ~0.1 s in which it writes its 11 files.
SMALL = ["--fraction", "cell=0.05", "--param", "n_estimators=2", "--param", "noise_estimators=2"]


def _fit_args(table: Path, out: Path, split_seed: int) -> list[str]:
    return ["surrogate", "fit", "--table", str(table), *SMALL, "--split-seed", str(split_seed),
            "--out", str(out)]  # fmt: skip


@pytest.fixture(scope="module")
def fits(smoke_table_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two surrogates fitted by ``surrogate fit`` on different rows: ``old`` (split seed
    1) and ``new`` (split seed 0, what the killed fits below write)."""
    root = tmp_path_factory.mktemp("fits")
    for name, split_seed in (("old", 1), ("new", 0)):
        assert main(_fit_args(smoke_table_path, root / name, split_seed)) == 0
    return {"old": root / "old", "new": root / "new"}


def _training_hash(d: Path) -> str:
    return str(json.loads((d / "metadata.json").read_text())["training_data_sha256"])


def _model_files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in d.iterdir() if p.name != "metadata.json"}


def _which(d: Path, fits: dict[str, Path], *, same_bytes: bool = False) -> str:
    """``"old"`` or ``"new"``: the complete surrogate ``d`` is, by its metadata, by
    loading and predicting, and with ``same_bytes`` file by file (a fit writes the same
    bytes; a loaded surrogate saved again does not); fails on anything else."""
    by_hash = {_training_hash(ref): name for name, ref in fits.items()}
    name = by_hash.get(_training_hash(d))
    assert name is not None, f"{d} holds neither fit's metadata"
    ref = fits[name]
    if same_bytes:
        assert _model_files(d) == _model_files(ref), f"{d}: metadata of {name}, other models"
    got, want = Surrogate.load(d).predict(ARCHS, "cell"), Surrogate.load(ref).predict(ARCHS, "cell")
    for f in ("valid_acc", "test_acc", "cost_s"):
        np.testing.assert_array_equal(getattr(got, f), getattr(want, f))
    return name


def _beside(d: Path) -> list[str]:
    return sorted(p.name for p in d.parent.iterdir() if p.name.startswith(f".{d.name}."))


# ------------------------------------------------------------- a killed `surrogate fit`
def _snapshot(d: Path) -> dict[str, tuple[int, int, int]]:
    """Each file of ``d`` by inode, mtime and size; the CLI's writability probe
    (``.nasrepro-probe-*``, made and removed before the fit) is not the save."""
    out = {}
    for p in d.iterdir():
        if not p.name.startswith(".nasrepro-probe-"):
            with contextlib.suppress(FileNotFoundError):  # removed while we look
                s = p.stat()
                out[p.name] = (s.st_ino, s.st_mtime_ns, s.st_size)
    return out


def _progress(d: Path, before: dict[str, tuple[int, int, int]], ino: int) -> tuple[int, bool]:
    """Files a save into ``d`` has written so far (new or changed in ``d``, or in a
    directory beside it), and whether ``d`` is no longer the directory it was."""
    written = 0
    with contextlib.suppress(FileNotFoundError):  # a directory renamed while we look
        for p in d.parent.iterdir():
            if p.name.startswith(f".{d.name}.") and p.is_dir():
                written += len(os.listdir(p))
    try:
        swapped = d.stat().st_ino != ino
        now = _snapshot(d)
    except FileNotFoundError:
        return written, True
    written += sum(1 for k, v in now.items() if before.get(k) != v)
    return written, swapped


#: When to kill: after the first file, half of them, all but the last, after the swap.
KILL_AT: dict[str, Callable[[int, bool], bool]] = {
    "first file": lambda n, swapped: n >= 1,
    "half the files": lambda n, swapped: n >= 6,
    "all but the last": lambda n, swapped: n >= 10,
    "swapped in": lambda n, swapped: swapped,
}


def _kill_during_write(cmd: list[str], d: Path, when: Callable[[int, bool], bool]) -> int:
    """Run ``cmd`` (a fit into ``d``), SIGKILL it once ``when(written, swapped)`` holds;
    returns its exit status (``-SIGKILL`` when the kill came before it finished)."""
    before, ino = _snapshot(d), d.stat().st_ino
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            written, swapped = _progress(d, before, ino)
            if when(written, swapped):
                proc.send_signal(signal.SIGKILL)
                break
            if not written:  # the fit: leave it the cores; the write phase: watch closely
                time.sleep(0.002)
        return proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_fit_killed_while_it_writes_leaves_the_old_or_the_new_surrogate_whole(
    fits: dict[str, Path], smoke_table_path: Path, tmp_path: Path
) -> None:
    """Real ``surrogate fit`` processes, SIGKILLed at four points of their write: each
    time the directory is the whole old surrogate or the whole new one, and it loads."""
    outcomes = {}
    for i, (label, when) in enumerate(KILL_AT.items()):
        d = tmp_path / f"m{i}"
        shutil.copytree(fits["old"], d)
        cmd = [sys.executable, "-m", "nasrepro.bench.cli", *_fit_args(smoke_table_path, d, 0)]
        rc = _kill_during_write(cmd, d, when)
        outcomes[label] = (rc, _which(d, fits, same_bytes=True))
    killed = {k: v for k, (rc, v) in outcomes.items() if rc == -signal.SIGKILL}
    # the kills land where meant (a poll can miss a step on a busy machine: then the
    # next kill point or the finished fit still gives a whole surrogate, checked above)
    assert len(killed) >= 3, outcomes
    assert outcomes["first file"] == (-signal.SIGKILL, "old"), outcomes
    assert "new" in {v for _, v in outcomes.values()}, outcomes
    d = tmp_path / "m0"  # the next save into it removes what its killed fit left beside it
    assert _beside(d), "the kill at the first file left no directory beside it"
    Surrogate.load(fits["new"]).save(d)
    assert _beside(d) == [] and _which(d, fits) == "new"


def test_the_next_save_removes_what_a_killed_save_left_and_keeps_a_running_ones(
    fits: dict[str, Path], tmp_path: Path
) -> None:
    d = tmp_path / "m"
    shutil.copytree(fits["old"], d)
    dead = tmp_path / ".m.saving-999999999-0a0b0c0d"  # above any pid_max: no such process
    shutil.copytree(fits["new"], dead)
    aside = tmp_path / ".m.replaced-999999999-0a0b0c0d"
    shutil.copytree(fits["old"], aside)
    running = tmp_path / f".m.saving-{os.getppid()}-01020304"  # a live process's save
    running.mkdir()
    Surrogate.load(fits["new"]).save(d)
    assert _which(d, fits) == "new"
    assert _beside(d) == [running.name]


def test_a_save_killed_between_its_renames_is_named_on_load(
    fits: dict[str, Path], tmp_path: Path
) -> None:
    """The one moment with no directory: the old one moved aside, the new not yet in."""
    aside = tmp_path / ".m.replaced-999999999-0a0b0c0d"
    shutil.copytree(fits["old"], aside)
    with pytest.raises(SurrogateError, match=r"killed between its two renames.*\.m\.replaced-"):
        Surrogate.load(tmp_path / "m")
    Surrogate.load(fits["new"]).save(tmp_path / "m")  # the next save clears it
    assert _which(tmp_path / "m", fits) == "new" and _beside(tmp_path / "m") == []


def test_a_first_save_killed_while_writing_says_to_fit_again(
    fits: dict[str, Path], tmp_path: Path
) -> None:
    """A first save into a new directory, killed before its metadata.json: only an
    incomplete '.saving-' directory is left, which no rename can make a surrogate (the
    message said to rename it in until 2026-12-07, a crash audit)."""
    part = tmp_path / ".m.saving-999999999-0a0b0c0d"
    shutil.copytree(fits["new"], part)
    (part / "metadata.json").unlink()  # the file a save writes last
    with pytest.raises(SurrogateError) as info:
        Surrogate.load(tmp_path / "m")
    msg = str(info.value)
    assert (
        "killed while writing" in msg and "incomplete" in msg and "fit the surrogate again" in msg
    )
    assert "rename" not in msg
    # a complete one beside the old one aside: both renames are offered
    shutil.copy(fits["new"] / "metadata.json", part / "metadata.json")
    shutil.copytree(fits["old"], tmp_path / ".m.replaced-999999999-0a0b0c0d")
    with pytest.raises(SurrogateError, match=r"rename .*replaced.* back .*; or rename .*saving"):
        Surrogate.load(tmp_path / "m")


def test_a_save_replaces_the_whole_directory(fits: dict[str, Path], tmp_path: Path) -> None:
    d = tmp_path / "m"
    shutil.copytree(fits["old"], d)
    (d / "valid_acc_epoch.noise.json").write_text("{}")  # a stray file of an older save
    Surrogate.load(fits["new"]).save(d)
    assert _which(d, fits) == "new" and not (d / "valid_acc_epoch.noise.json").exists()
    assert _beside(d) == []


def test_a_directory_holding_other_things_is_not_replaced(
    fits: dict[str, Path],
    smoke_table_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A save replaces the whole directory: one with notes, a report or no surrogate
    in it is refused, and left as it was."""
    notes = tmp_path / "results"
    notes.mkdir()
    (notes / "notes.txt").write_text("mine")
    report = tmp_path / "m"
    shutil.copytree(fits["old"], report)
    (report / "report").mkdir()
    s = Surrogate.load(fits["new"])
    for d, what in ((notes, "notes.txt"), (report, "report/")):
        with pytest.raises(SurrogateError, match=f"holds \\['{what}'\\].*choose a new or empty"):
            s.save(d)
    assert (notes / "notes.txt").read_text() == "mine" and (report / "report").is_dir()
    assert _training_hash(report) == _training_hash(fits["old"])
    _fit_fails_at_once(_fit_args(smoke_table_path, notes, 0), capsys, "--out", "notes.txt")
    assert (notes / "notes.txt").read_text() == "mine"
    (tmp_path / "empty").mkdir()
    assert s.save(tmp_path / "empty") == tmp_path / "empty"
    assert _which(tmp_path / "empty", fits) == "new"


def test_another_tools_metadata_json_is_not_taken_for_a_surrogate(
    fits: dict[str, Path],
    smoke_table_path: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """A folder of JSON results with a metadata.json of its own is not a surrogate: a fit
    into it is refused and every file is kept (it used to be replaced whole)."""
    d = tmp_path / "results"
    d.mkdir()
    files = {"metadata.json": '{"x": 1}', "results.json": "[1, 2]", "sweep.json": "{}"}
    for name, text in files.items():
        (d / name).write_text(text)
    with pytest.raises(SurrogateError, match="no surrogate's metadata.json.*choose a new"):
        Surrogate.load(fits["new"]).save(d)
    _fit_fails_at_once(_fit_args(smoke_table_path, d, 0), capsys, "--out", "metadata.json")
    assert {p.name: p.read_text() for p in d.iterdir()} == files


# ------------------------------------------------------------------- sha256 on load
@pytest.mark.parametrize(
    "damage",
    ["a file of another fit", "cut short", "one byte edited", "metadata of another fit"],
)
def test_load_refuses_files_that_do_not_match_their_recorded_sha256(
    fits: dict[str, Path], tmp_path: Path, damage: str
) -> None:
    d = tmp_path / "m"
    shutil.copytree(fits["old"], d)
    name = "valid_acc.mean.json.gz"
    if damage == "a file of another fit":
        shutil.copy(fits["new"] / name, d / name)
    elif damage == "cut short":
        (d / name).write_bytes((d / name).read_bytes()[:-100])
    elif damage == "one byte edited":
        data = bytearray((d / name).read_bytes())
        data[len(data) // 2] ^= 1
        (d / name).write_bytes(bytes(data))
    else:  # the walkthrough's mix: the old metadata, cost models; the new accuracy models
        shutil.copytree(fits["new"], d, dirs_exist_ok=True)
        shutil.copy(fits["old"] / "metadata.json", d / "metadata.json")
        for f in ("cost.mean.json.gz", "cost.noise.json.gz"):
            shutil.copy(fits["old"] / f, d / f)
    with pytest.raises(SurrogateError) as e:
        Surrogate.load(d)
    msg = str(e.value)
    assert "_acc.mean.json.gz is not the file" in msg and "sha256" in msg and "refit" in msg, msg
    assert isinstance(e.value, NasreproError)


def test_a_recorded_file_that_is_missing_is_named(fits: dict[str, Path], tmp_path: Path) -> None:
    d = tmp_path / "m"
    shutil.copytree(fits["old"], d)
    gz = d / "test_acc.noise.json.gz"  # format 1's plain .json would otherwise stand in
    import gzip

    (d / "test_acc.noise.json").write_bytes(gzip.decompress(gz.read_bytes()))
    gz.unlink()
    with pytest.raises(SurrogateError, match="test_acc.noise.json.gz is missing.*refit"):
        Surrogate.load(d)


def test_directories_saved_before_the_sha256_record_still_load(
    fits: dict[str, Path], tmp_path: Path
) -> None:
    d = tmp_path / "m"
    shutil.copytree(fits["old"], d)
    meta = json.loads((d / "metadata.json").read_text())
    assert sorted(meta["sha256"]) == sorted(n for names in meta["files"].values() for n in names)
    del meta["sha256"]
    (d / "metadata.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
    with pytest.warns(UserWarning, match="saved before surrogates recorded the sha256"):
        assert _which(d, fits) == "old"
    again = tmp_path / "again"  # the fix the warning names: a save records them
    with pytest.warns(UserWarning, match="save it again to record them"):
        Surrogate.load(d).save(again)
    files = sorted(n for names in meta["files"].values() for n in names)
    assert sorted(json.loads((again / "metadata.json").read_text())["sha256"]) == files
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _which(again, fits) == "old"


def test_the_shipped_surrogate_records_and_matches_its_sha256() -> None:
    meta = json.loads((shipped_path() / "metadata.json").read_text())
    files = sorted(n for names in meta["files"].values() for n in names)
    assert sorted(meta["sha256"]) == files
    assert "sha256" not in load_shipped().metadata_  # checked, then dropped


# --------------------------------------------------------------------- --out checked
@contextlib.contextmanager
def _tmpfs(where: Path, options: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        pytest.skip("no mount command; cannot build a read-only or full location")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                       capture_output=True, text=True)  # fmt: skip
    if r.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {r.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True, capture_output=True)


def _fit_fails_at_once(args: list[str], capsys: pytest.CaptureFixture[str], *fragments: str) -> str:
    capsys.readouterr()
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert "training runs" not in out  # refused before the tables were loaded and fitted
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for f in fragments:
        assert f in err, err
    return err


def test_fit_out_a_file_is_refused_before_fitting(
    smoke_table_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("keep")
    _fit_fails_at_once(_fit_args(smoke_table_path, afile, 0), capsys, "--out", "not a directory")
    _fit_fails_at_once(_fit_args(smoke_table_path, afile / "m", 0), capsys, "--out", "afile")
    assert afile.read_text() == "keep"


def test_fit_out_read_only_is_refused_before_fitting(
    fits: dict[str, Path],
    smoke_table_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with _tmpfs(tmp_path / "ro", "size=1m") as ro:
        shutil.copytree(fits["old"], ro / "m")
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        for out in (ro / "new", ro / "m"):  # a new directory there, or the old surrogate
            _fit_fails_at_once(
                _fit_args(smoke_table_path, out, 0), capsys, "--out", "cannot write there"
            )
        with pytest.raises(SurrogateError, match="read-only"):
            check_save_dir(ro / "m")
        assert _which(ro / "m", fits, same_bytes=True) == "old"


def test_a_save_that_fills_the_disk_leaves_the_old_surrogate(
    fits: dict[str, Path], tmp_path: Path
) -> None:
    with _tmpfs(tmp_path / "full", "size=1m") as full:
        shutil.copytree(fits["old"], full / "m")
        with open(full / "filler", "wb", buffering=0) as f, contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * 4096)
        with pytest.raises(SurrogateError, match="writing the surrogate failed.*unchanged"):
            Surrogate.load(fits["new"]).save(full / "m")
        assert _which(full / "m", fits, same_bytes=True) == "old" and _beside(full / "m") == []


def test_fit_refuses_one_table_given_twice(
    smoke_table_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its rows were counted twice (a bad-input audit): by name and by path alike."""
    args = _fit_args(smoke_table_path, tmp_path / "m", 0)
    twice = [*args, "--table", str(smoke_table_path.parent / "." / smoke_table_path.name)]
    err = _fit_fails_at_once(twice, capsys, "names already; give each table once")
    assert str(smoke_table_path) in err and not (tmp_path / "m").exists()
