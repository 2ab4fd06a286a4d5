"""Kept real trainings (``validate --out``, ``oneshot leaderboard``): read back only for
the same work on the same build, and a damaged file is set aside, not trusted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nasrepro.bench.harness._kept import KEPT_FORMAT, kept


def _counter() -> tuple[list[int], Any]:
    calls: list[int] = []

    def compute() -> dict[str, Any]:
        calls.append(1)
        return {"acc": 91.5 + len(calls), "nan": float("nan")}

    return calls, compute


def test_kept_reads_back_the_same_work_on_the_same_build(tmp_path: Path) -> None:
    calls, compute = _counter()
    key = {"retrain": "cell", "seed": 0}
    first, reused = kept(tmp_path, key, "cpu", compute)
    assert not reused and calls == [1]
    again, reused = kept(tmp_path, key, "cpu", compute)
    assert reused and calls == [1] and again["acc"] == first["acc"]
    (f,) = tmp_path.iterdir()
    d = json.loads(f.read_text())
    assert d["format"] == KEPT_FORMAT and d["key"] == key
    assert {"torch", "device", "cpu_capability", "torch_threads", "nasrepro_code"} <= set(
        d["build"]
    )
    # other work: trained, kept beside
    kept(tmp_path, {**key, "seed": 1}, "cpu", compute)
    assert calls == [1, 1] and len(list(tmp_path.iterdir())) == 2


def test_another_build_or_a_damaged_file_trains_again(tmp_path: Path) -> None:
    calls, compute = _counter()
    key = {"retrain": "cell", "seed": 0}
    kept(tmp_path, key, "cpu", compute)
    (f,) = tmp_path.iterdir()
    d = json.loads(f.read_text())
    d["build"]["torch"] = "1.0.0"  # made by another torch: not bitwise the same
    f.write_text(json.dumps(d))
    value, reused = kept(tmp_path, key, "cpu", compute)
    assert not reused and calls == [1, 1] and value["acc"] == 93.5
    f.write_text(f.read_text()[:40])  # cut short (a copy, a disk)
    value, reused = kept(tmp_path, key, "cpu", compute)
    assert not reused and calls == [1, 1, 1]
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".corrupt", ".json"]


def test_without_a_store_it_just_computes(tmp_path: Path) -> None:
    calls, compute = _counter()
    value, reused = kept(None, {"k": 1}, "cpu", compute)
    assert value["acc"] == 92.5 and not reused and calls == [1]
    kept(None, {"k": 1}, "cpu", compute)
    assert calls == [1, 1] and list(tmp_path.iterdir()) == []
