"""Build the three shipped NAS-Bench-201 tables from the 12-epoch CSV, and check them.

Each table is made by the public command, ``nasrepro table import CSV --mapping
benchmarks/nb201/NAME.json -o tables/data/NAME.h5``, timed from process start to exit.
Then 20 random cells (seeded) are read back from each table and compared with the CSV
line by line: the stored search and report values must equal the CSV's as float32 (the
table's value type). ``--check`` builds into a scratch directory instead and compares
every dataset with the shipped tables, which must be identical::

    python benchmarks/build_nb201_tables.py            # (re)build tables/data/nb201-*.h5
    python benchmarks/build_nb201_tables.py --check    # rebuild elsewhere, compare

``SOURCE_DATE_EPOCH`` is fixed so that the ``created`` attribute, and with it the whole
file, is the same on every rebuild with the same nasrepro version.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
#: The CSV, vendored (under benchmarks/data) from ../shared/data/nb201-12epoch (same bytes; MIT, see its LICENSE).
CSV = Path("benchmarks/data/nb201-12epoch/nb201-12epoch.csv")  # relative to ROOT
NAMES = ("nb201-cifar10", "nb201-cifar100", "nb201-imagenet16-120")
#: 2026-12-01T00:00:00Z, the day the tables were first built.
SOURCE_DATE_EPOCH = "1796083200"
DATASETS = (
    "archs",
    "canonical",
    "metrics",
    "static",
    "metric_names",
    "static_names",
    "epochs",
    "seeds",
    "source_index",
)


def _nasrepro() -> list[str]:
    exe = Path(sys.executable).with_name("nasrepro")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "nasrepro.bench.cli"]


def build(name: str, csv_path: Path, out_dir: Path) -> tuple[Path, float]:
    out = out_dir / f"{name}.h5"
    cmd = [*_nasrepro(), "table", "import", str(csv_path), "--mapping"]
    shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out  # as recorded
    cmd += [f"benchmarks/nb201/{name}.json", "-o", str(shown)]
    env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return out, time.perf_counter() - t0


def spot_check(name: str, table_file: Path, csv_path: Path, n: int = 20) -> int:
    """Compare ``n`` random CSV lines with the table; returns the number of mismatches."""
    import json

    from nasrepro.tables import Table

    mapping = json.loads((ROOT / "benchmarks" / "nb201" / f"{name}.json").read_text())
    with open(ROOT / csv_path, newline="") as fh:
        lines = list(csv.DictReader(fh))
    rng = np.random.default_rng(0)
    t = Table.open(table_file)
    bad = 0
    for i in rng.choice(len(lines), size=n, replace=False).tolist():
        rec = lines[i]
        r = t.query(rec["arch"])
        for col, got in (
            (mapping["search_metric"], r.valid_acc),
            (mapping["report_metric"], r.test_acc),
        ):
            want = float(np.float32(float(rec[col])))
            if got != want:
                bad += 1
                print(f"  MISMATCH {name} line {i + 2} {col}: csv {rec[col]} table {got}")
    return bad


def datasets_equal(a: Path, b: Path) -> bool:
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        same = all(
            np.array_equal(fa[k][()], fb[k][()], equal_nan=fa[k].dtype.kind == "f")
            for k in DATASETS
        )
        same &= fa.attrs["metrics_sha256"] == fb.attrs["metrics_sha256"]
        same &= fa.attrs["rows_sha256"] == fb.attrs["rows_sha256"]
    return bool(same)


def attrs_differing(a: Path, b: Path) -> list[str]:
    """Names of the attributes (and ``source`` keys) that differ; the header digest follows them."""
    import json

    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        keys = sorted(set(fa.attrs) | set(fb.attrs))
        out = [
            k
            for k in keys
            if k not in ("source", "header_sha256") and str(fa.attrs.get(k)) != str(fb.attrs.get(k))
        ]
        sa, sb = json.loads(fa.attrs["source"]), json.loads(fb.attrs["source"])
        out += [f"source.{k}" for k in sorted(set(sa) | set(sb)) if sa.get(k) != sb.get(k)]
        if str(fa.attrs["header_sha256"]) != str(fb.attrs["header_sha256"]):
            out.append("header_sha256")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--csv", type=Path, default=CSV, help=f"the CSV (default {CSV}, from the repo root)"
    )
    ap.add_argument("--check", action="store_true", help="rebuild in a scratch dir and compare")
    args = ap.parse_args(argv)
    csv_path = args.csv
    if not (ROOT / csv_path).is_file():
        print(f"no CSV at {ROOT / csv_path}; pass --csv", file=sys.stderr)
        return 2
    shipped = ROOT / "tables" / "data"
    status = 0
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp) if args.check else shipped
        for name in NAMES:
            out, secs = build(name, csv_path, out_dir)
            bad = spot_check(name, out, csv_path)
            line = f"{name:<22} import {secs:5.2f}s wall (CLI, process start to exit)  {out.stat().st_size / 1e6:.2f} MB  20 random cells vs CSV: {'equal' if not bad else f'{bad} MISMATCHES'}"
            if args.check:
                same = datasets_equal(out, shipped / f"{name}.h5")
                same_bytes = out.read_bytes() == (shipped / f"{name}.h5").read_bytes()
                line += f"  datasets vs shipped: {'identical' if same else 'DIFFERENT'}"
                if same_bytes:
                    line += " (file bytes identical)"
                else:
                    diff = attrs_differing(out, shipped / f"{name}.h5")
                    line += f" (attributes differing: {', '.join(diff)})"
                status |= 0 if same else 1
            status |= 1 if bad else 0
            print(line)
    return status


if __name__ == "__main__":
    sys.exit(main())
