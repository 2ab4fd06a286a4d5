"""Measure nasrepro's reproducibility guarantee: fresh and warm caches, builds, CPUs.

Two steps, which may run under different builds (venvs, torch versions, machines):

    # 1. train a small table of random cells (3 seeds each) with this build
    python benchmarks/reproducibility.py build -o /tmp/repro.h5 [--n 10]
    # 2. retrain sampled rows with `nasrepro reproduce`, one process per row, each on an
    #    empty data cache (--cache fresh) or on one shared, already filled cache (warm)
    python benchmarks/reproducibility.py check --table /tmp/repro.h5 --cache fresh
    python benchmarks/reproducibility.py check --table default --n 10   # the shipped table
    # 3. the same inside the CPU image (docker/Dockerfile), against a table made outside
    python benchmarks/reproducibility.py check --table /tmp/repro.h5 \
        --command "docker run --rm -v /tmp/repro.h5:/tmp/repro.h5:ro nasrepro:cpu"

``check`` prints each row's verdict, then the verdict counts and, per metric, the
largest absolute and relative difference over the rows, beside the table's own seed
noise (median seed standard deviation of that metric at the final epoch), which is the
baseline a cross-build difference should be read against; and the largest difference
at the final epoch alone.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _build(args: argparse.Namespace) -> None:
    from nasrepro.bench.harness._sweep import sweep
    from nasrepro.spaces import get_space
    from nasrepro.tables import build

    space = get_space("cell")
    rng = np.random.default_rng(args.sample_seed)
    archs: list[str] = []
    while len(archs) < args.n:
        a = space.canonical(space.sample(rng)).to_string()
        if a not in archs:
            archs.append(a)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        sweep("cell", args.protocol, [0, 1, 2], Path(d) / "sweep", archs=archs, progress=False)
        build(Path(d) / "sweep", Path(args.out))
    print(
        f"trained {len(archs)} cells x 3 seeds into {args.out} in {time.perf_counter() - t0:.0f}s"
    )


def _rows(table: object, n: int, sample_seed: int) -> list[tuple[str, int]]:
    """``n`` trained (arch, seed) pairs of the table, drawn with ``sample_seed``."""
    metrics = table.metrics  # type: ignore[attr-defined]
    trained = np.flatnonzero(~np.isnan(metrics[:, :, -1, 0]).all(1))
    reps = [int(r) for r in trained if table.canonical[r] == r]  # type: ignore[attr-defined]
    rng = np.random.default_rng(sample_seed)
    out = []
    for r in rng.choice(reps, min(n, len(reps)), replace=False):
        seeds = [s for k, s in enumerate(table.seeds) if not np.isnan(metrics[r, k, -1, 0])]  # type: ignore[attr-defined]
        out.append((str(table.archs[int(r)]), int(rng.choice(seeds))))  # type: ignore[attr-defined]
    return out


def _check(args: argparse.Namespace) -> None:
    from nasrepro.tables import Table, default_table_path

    path = default_table_path() if args.table == "default" else Path(args.table)
    table = Table.open(path)
    rows = _rows(table, args.n, args.sample_seed)
    warm = tempfile.mkdtemp(prefix="repro-warm-")
    if args.cache == "warm":  # fill it first: until 2026-12-07 the first row ran on it empty
        prime = [*shlex.split(args.command), "reproduce", rows[0][0]]
        prime += ["--seed", str(rows[0][1]), "--table", str(path), "--json", "--allow-close"]
        subprocess.run(
            prime, capture_output=True, text=True, env={**os.environ, "NASREPRO_CACHE": warm}
        )
    results = []
    t0 = time.perf_counter()
    for arch, seed in rows:
        cache = tempfile.mkdtemp(prefix="repro-fresh-") if args.cache == "fresh" else warm
        cmd = [*shlex.split(args.command), "reproduce", arch]
        cmd += ["--seed", str(seed), "--table", str(path), "--json", "--allow-close"]
        env = {**os.environ, "NASREPRO_CACHE": cache}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode not in (0, 1):
            sys.exit(f"reproduce failed ({proc.returncode}): {proc.stderr.strip()}")
        d = json.loads(proc.stdout.splitlines()[-1])
        results.append(d)
        print(f"{d['verdict']:>9}  seed {seed}  {arch}", flush=True)
    wall = time.perf_counter() - t0
    counts = {
        v: sum(d["verdict"] == v for d in results) for v in ("IDENTICAL", "CLOSE", "DIFFERENT")
    }
    first = results[0]
    print(
        f"\n{len(results)} rows of {path} ({args.cache} cache per row) in {wall:.0f}s: "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
    )
    print("table build: " + json.dumps(first["table_build"], sort_keys=True))
    print("this build:  " + json.dumps(first["build"], sort_keys=True))
    names = [n for n in table.metric_names if n != "epoch_time_s"]
    print(
        f"\n{'metric':>12} {'max |diff|':>11} {'max rel':>9} {'final max |diff|':>17} "
        f"{'seed std (median, final)':>26}"
    )
    for k, name in enumerate(table.metric_names):
        if name not in names:
            continue
        abs_ = max(d["metrics"][name]["max_abs"] for d in results)
        rel = max(d["metrics"][name]["max_rel"] for d in results)
        fin = max(abs(d["final"][name][0] - d["final"][name][1]) for d in results)
        final = table.metrics[:, :, -1, k]
        ok = (~np.isnan(final)).sum(1) > 1
        std = float(np.median(np.nanstd(final[ok], axis=1, ddof=1))) if ok.any() else float("nan")
        print(f"{name:>12} {abs_:>11.3g} {rel:>9.2g} {fin:>17.3g} {std:>26.3g}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="train a small table of random cells with this build")
    b.add_argument("-o", "--out", required=True)
    b.add_argument("--n", type=int, default=10)
    b.add_argument("--sample-seed", type=int, default=2026)
    b.add_argument("--protocol", default="mnist1d-tiny")
    b.set_defaults(func=_build)
    c = sub.add_parser("check", help="retrain sampled rows of a table and compare")
    c.add_argument("--table", required=True, help="a table file, or 'default'")
    c.add_argument("--n", type=int, default=10)
    c.add_argument("--sample-seed", type=int, default=2026)
    c.add_argument("--cache", choices=["fresh", "warm"], default="fresh")
    c.add_argument("--json", default=None)
    c.add_argument(
        "--command",
        default=f"{sys.executable} -m nasrepro.bench.cli",
        help="how to run nasrepro, e.g. 'docker run --rm -v T:T:ro nasrepro:cpu' "
        "(each container starts on an empty cache); default: this Python",
    )
    c.set_defaults(func=_check)
    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
