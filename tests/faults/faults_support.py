"""Constants and helpers shared by the fault tests (imported by name, unlike a conftest).

Each test folder's shared helpers live in a module of its own name: two folders'
``conftest`` modules share one name, so ``from conftest import ...`` picked whichever
folder pytest had collected first.
"""

from __future__ import annotations

from pathlib import Path

#: A cheap cell (pools, skips, dead edges): trains in about a second.
CHEAP_CELL = "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"


#: The file that fills :func:`full_dir`; not counted by :func:`files_in`.
FILLER = ".filler"


def leaderboard_args(table: Path, out: Path, *override: str) -> list[str]:
    """A tiny leaderboard on ``table`` (the smoke table) writing to ``out``; later flags override."""
    return [
        "leaderboard",
        "--table",
        str(table),
        "--strategies",
        "random-search",
        "--seeds",
        "1",
        "--budget",
        "5q",
        "--jobs",
        "1",
        "--no-track",
        "--out",
        str(out),
        *override,
    ]


def sweep_args(out: Path, *flags: str) -> list[str]:
    """A one-seed synthetic-smoke sweep into ``out``; ``flags`` add the archs or a bad value."""
    return [
        "sweep",
        "--protocol",
        "synthetic-smoke",
        "--seeds",
        "0",
        "--out",
        str(out),
        "--no-track",
        "--no-progress",
        *flags,
    ]


def files_in(directory: Path) -> list[Path]:
    """Every file in ``directory`` but :data:`FILLER` (a failed write must leave none)."""
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.name != FILLER)


class CliResult:
    """What one ``nasrepro`` call gave: the exit code and both streams."""

    def __init__(self, rc: int, out: str, err: str) -> None:
        self.rc, self.out, self.err = rc, out, err

    def assert_user_error(self, *fragments: str) -> None:
        """Exit 2, one line ``nasrepro: error: ...`` holding ``fragments``, no traceback.

        A progress bar may come before it (commands draw one once runs finish).
        """
        assert "Traceback" not in self.err, self.err
        assert self.rc == 2, (self.rc, self.err)
        lines = [ln for ln in self.err.splitlines() if "error" in ln or "Error" in ln]
        assert len(lines) == 1 and lines[0].startswith("nasrepro: error: "), self.err
        assert self.err.rstrip().endswith(lines[0]), self.err
        for f in fragments:
            assert f in lines[0], (f, lines[0])


def alive(pids: list[int]) -> list[int]:
    """Those of ``pids`` still running, from ``/proc`` (a zombie has stopped running;
    PID 1 may never reap it)."""
    out = []
    for p in pids:
        try:
            state = Path(f"/proc/{p}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if state != "Z":
            out.append(p)
    return out
