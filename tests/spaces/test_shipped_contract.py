"""The contract tests shipped in the package run on a user's own space, as the README
says: a test file of theirs imports the space, then ``nasrepro.spaces.testing``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "my_space.py"


def test_a_users_space_runs_the_shipped_contract(tmp_path: Path) -> None:
    test_file = tmp_path / "test_tiny.py"
    test_file.write_text(
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('my_space', {str(EXAMPLE)!r})\n"
        "mod = importlib.util.module_from_spec(spec)\n"
        "sys.modules['my_space'] = mod\n"
        "spec.loader.exec_module(mod)  # registers 'tinycell'\n"
        "from nasrepro.spaces.testing import *  # noqa: F401,F403\n"
    )
    r = subprocess.run(
        [sys.executable, "-m", "pytest", str(test_file), "-k", "tinycell", "-q",
         "-p", "no:cacheprovider"],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    summary = r.stdout.strip().splitlines()[-1]  # "17 passed, 51 deselected in 9.1s"
    passed = int(summary.split(" passed")[0].split()[-1])
    assert passed >= 15, r.stdout  # every contract test, on tinycell alone
    assert " deselected" in summary, summary  # the built-in spaces' were enrolled too
