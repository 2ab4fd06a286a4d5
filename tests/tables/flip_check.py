"""Open bit-flipped copies of a table in a child process; report what each did.

Usage: ``python flip_check.py TABLE N_POSITIONS`` prints JSON counts of outcomes:
``error`` (TableError), ``same`` (every array and attribute identical to the
original), ``garbage`` (opened but returned something different) and ``other``
(an exception that is not a TableError). A segfault shows as the child dying.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from nasrepro.tables import Table, TableError


def snapshot(path: Path) -> tuple[Any, ...]:
    t = Table.open(path)
    t.load()
    attrs = {k: str(v) for k, v in t.attrs.items()}
    return (
        t.metrics.tobytes(),
        t.static.tobytes(),
        t.canonical.tobytes(),
        tuple(t.archs),
        attrs,
        t.seeds,
        t.epochs,
        t.metric_names,
    )


def positions(path: Path, n: int) -> list[int]:
    """``n`` bit positions spread over the file, plus some in every metrics chunk."""
    size = path.stat().st_size
    pos = np.linspace(0, size * 8 - 1, n).astype(int).tolist()
    with h5py.File(path, "r") as f:
        d = f["metrics"]
        for k in range(d.id.get_num_chunks()):
            info = d.id.get_chunk_info(k)
            if info.size:
                pos += [info.byte_offset * 8 + b for b in (3, info.size * 4, info.size * 8 - 5)]
    return pos


def main() -> None:
    src, n = Path(sys.argv[1]), int(sys.argv[2])
    ref = snapshot(src)
    blob = bytearray(src.read_bytes())
    counts = {"error": 0, "same": 0, "garbage": 0, "other": 0}
    examples: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "flipped.h5"
        for bit in positions(src, n):
            data = bytearray(blob)
            data[bit // 8] ^= 1 << (bit % 8)
            path.write_bytes(data)
            try:
                got = snapshot(path)
            except TableError as e:
                counts["error"] += 1
                examples.setdefault("error", str(e))
                continue
            except Exception as e:  # noqa: BLE001 - we report it
                counts["other"] += 1
                examples.setdefault("other", f"bit {bit}: {type(e).__name__}: {e}")
                continue
            key = "same" if got == ref else "garbage"
            counts[key] += 1
            if key == "garbage":
                examples.setdefault("garbage", f"bit {bit}")
    print(json.dumps({"counts": counts, "examples": examples}))  # noqa: T201


if __name__ == "__main__":
    main()
