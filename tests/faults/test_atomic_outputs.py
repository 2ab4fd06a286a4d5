"""Final outputs are whole or absent: a writer killed mid-write leaves the old file.

A crash audit (2026-12-07) killed writers at the moment they wrote, with ``strace``'s
signal injection, and found ``oneshot.json``, ``validate.json``, a one-shot plot and
``make_reference.py``'s reference file left empty: they were written in place. Every
final output now goes through :func:`nasrepro.tables.atomic_output` (a temporary file
beside it, flushed, then renamed). Here the kill is real too: a child process whose
``Path.write_text`` (or ``write_bytes``) writes half of its data and then sends itself
SIGKILL.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from nasrepro.tables import atomic_output, write_text_atomic

ROOT = Path(__file__).resolve().parents[2]

#: Prepended to a child's code: the first write (``Path.write_text`` or ``write_bytes``) to
#: a file named like ``argv[1]``
#: (the output itself, or a temporary file of it) writes half its data, then SIGKILL.
DIE_MID_WRITE = """
import os, signal, sys
from pathlib import Path

_name = sys.argv[1]

def _dies(real):
    def half_then_die(self, data, *args, **kwargs):
        if self.name == _name or self.name.startswith("." + _name + "."):
            real(self, data[: len(data) // 2], *args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
        return real(self, data, *args, **kwargs)
    return half_then_die

Path.write_text, Path.write_bytes = _dies(Path.write_text), _dies(Path.write_bytes)
"""


def _killed(code: str, name: str, *args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", DIE_MID_WRITE + code, name, *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def test_a_failed_block_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    out = write_text_atomic(tmp_path / "r.json", '{"old": 1}')
    with pytest.raises(RuntimeError), atomic_output(out) as tmp:
        tmp.write_text('{"new": ')
        raise RuntimeError("the writer failed")
    assert out.read_text() == '{"old": 1}' and sorted(tmp_path.iterdir()) == [out]


def test_a_killed_writer_leaves_the_old_file_and_the_next_write_cleans_up(
    tmp_path: Path,
) -> None:
    out = write_text_atomic(tmp_path / "r.json", '{"old": 1}')
    code = (
        "from nasrepro.tables import write_text_atomic\nwrite_text_atomic(sys.argv[2], 'x' * 10000)"
    )
    _killed(code, out.name, str(out))
    assert out.read_text() == '{"old": 1}'
    (left,) = [p for p in tmp_path.iterdir() if p != out]  # the dead writer's temporary
    assert re.fullmatch(r"\.r\.json\.\d+@[0-9a-f]{6}-\w{8}\.tmp\.json", left.name)
    write_text_atomic(out, '{"new": 2}')
    assert json.loads(out.read_text()) == {"new": 2} and sorted(tmp_path.iterdir()) == [out]


LEADERBOARD = """
from nasrepro.bench.sim import BenchmarkSpec, LeaderboardConfig, run_leaderboard, write_outputs
cfg = LeaderboardConfig(BenchmarkSpec(table=sys.argv[2]), ("random-search",), (0, 1), "5x")
write_outputs(run_leaderboard(cfg), sys.argv[3])
"""


@pytest.mark.parametrize("name", ["results.json", "leaderboard.md", "leaderboard.html"])
def test_a_leaderboard_killed_while_writing_keeps_its_old_outputs(
    smoke_table_path: Path, tmp_path: Path, name: str
) -> None:
    out = tmp_path / "lb"
    subprocess.run(
        [sys.executable, "-c", "import sys\n" + LEADERBOARD, "-", str(smoke_table_path), str(out)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert name in before
    _killed(LEADERBOARD, name, str(smoke_table_path), str(out))
    assert (out / name).read_bytes() == before[name]


#: Library modules that write a final output must do it through ``atomic_output``
#: (``write_text_atomic``, ``save_figure_atomic``, ``write_atomically``,
#: ``write_json_atomic``). The exceptions write into a temporary or staging place.
ALLOWED = {
    "tables/_outfile.py",  # the mechanism itself
    "surrogate/_models.py",  # a save writes into a staging directory, renamed in whole
    "bench/sim/_runstore.py",  # an in-progress marker, for an error message only
    "bench/sim/_contract.py",  # arguments for a child process, in a temporary directory
}


def test_library_modules_write_final_outputs_atomically() -> None:
    found = []
    for pkg in ("spaces", "tables", "surrogate", "strategies", "bench"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel in ALLOWED:
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if re.search(r"\.(write_text|write_bytes|savefig)\(", line):
                    found.append(f"{rel}:{n}: {line.strip()}")
    assert not found, "written in place:\n" + "\n".join(found)
