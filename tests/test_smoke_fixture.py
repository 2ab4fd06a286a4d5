"""The smoke-table fixture: a missing file fails the suite with the fix, never skips."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def test_a_missing_smoke_table_fails_with_the_fix(tmp_path: Path) -> None:
    shutil.copyfile(Path(__file__).parent / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_uses_it.py").write_text(
        "def test_it(smoke_table_path):\n    assert smoke_table_path.is_file()\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert out.returncode == 1, out.stdout  # an error, not a pass or a skip
    assert "1 error" in out.stdout and "skipped" not in out.stdout
    assert "cell-mnist1d-smoke.h5 is missing" in out.stdout
    assert "git checkout -- tests/data/cell-mnist1d-smoke.h5" in out.stdout
