"""Audit the shipped default table for rows trained on a freshly generated data cache.

Before bbffe69, a process that generated MNIST-1D itself (an empty cache) trained with
a 4-byte stride on the data's size-1 channel axis, and a process that read the ``.npz``
cache trained with the canonical 160-byte stride; oneDNN gives the two different bits.
The sweep's worker processes each load the data once, so a worker that started on an
empty cache trained *every* chunk it ran with the odd strides.

The chunk files do not record which process trained them, but the commits that added
them are in git history (one commit about every 15 minutes of the sweep). For every such
commit this script retrains, with the fixed code (canonical strides, as a warm cache
gave), the first cell of the lowest- and highest-numbered chunks the commit added, and
checks it bitwise against the shipped table with ``nasrepro.bench.harness._reproduce``. A
mismatch marks a batch trained with the odd strides.

This is decisive only on a CPU whose kernels dispatch as the table's did (same torch
build, same ATen CPU capability and CPU model): elsewhere every row differs anyway.
Measured on 2026-12-02 on an AVX-512 Xeon: 0 of 19 rows identical, including the
all-``none`` cell, which ``ATEN_CPU_CAPABILITY=avx2`` alone makes identical, so the
table's CPU dispatched ATen at AVX2; convolution cells still differed with AVX2 forced
for ATen, oneDNN and MKL together. Measured on 2026-12-07 on an AVX2 AMD EPYC with torch
2.13.0+cpu, ``--per-commit 2``: 98 cells from 49 commits, all identical, in 440 s
(``benchmarks/results/audit_table_strides.txt``). Measured on 2026-12-07 on an AVX-512
AMD EPYC with torch 2.13.0+cpu and ``--cpu-isa avx2`` (ATen and oneDNN capped at AVX2,
:mod:`nasrepro.bench._cpu_isa`): the same 98 cells, all identical
(``benchmarks/results/audit_table_strides_avx512_capped.txt``, 259 s); uncapped,
``reproduce`` found rows there differing from epoch 1.

    python benchmarks/audit_table_strides.py [--per-commit 3] [--json out.json] [--cpu-isa avx2]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import time
from pathlib import Path

#: Where the sweep's chunks lived in history (until 195f1c6). Until 2026-12-07 this said
#: ``benchmarks/data/...``, a path that never existed, so the audit checked nothing.
SWEEP = "data/sweeps/cell-mnist1d-tiny"


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def commits() -> list[str]:
    out = _git("log", "--reverse", "--format=%h", "--", SWEEP + "/chunks")
    return [c for c in out.split() if c]


def added_chunks(commit: str) -> list[str]:
    out = _git("diff-tree", "--no-commit-id", "--name-only", "--diff-filter=A", "-r", commit)
    return sorted(p for p in out.split() if p.endswith(".json.gz") and "/chunks/" in p)


def first_cell(commit: str, path: str) -> tuple[str, int]:
    raw = subprocess.run(["git", "show", f"{commit}:{path}"], check=True, capture_output=True)
    chunk = json.loads(gzip.decompress(raw.stdout))
    return chunk["results"][0]["arch"], int(chunk["seed"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--per-commit", type=int, default=3, help="chunks checked per commit")
    ap.add_argument("--json", default=None, help="write every check here")
    ap.add_argument(
        "--cpu-isa", default=None, help="cap torch's CPU kernels (avx2: as the table's CPUs)"
    )
    args = ap.parse_args()
    if args.cpu_isa:
        from nasrepro.bench import cap_cpu_isa

        cap_cpu_isa(args.cpu_isa)  # before torch loads

    import torch

    from nasrepro.bench.harness._reproduce import reproduce
    from nasrepro.tables import load_default

    torch.set_num_threads(1)
    table = load_default()
    print(
        f"torch {torch.__version__}, ATen dispatching at "
        f"{torch.backends.cpu.get_cpu_capability()}, oneDNN cap "
        f"{os.environ.get('ONEDNN_MAX_CPU_ISA', 'none')}",
        flush=True,
    )
    rows: list[dict[str, object]] = []
    t0 = time.perf_counter()
    for commit in commits():
        new = added_chunks(commit)
        if not new:
            continue
        k = max(1, args.per_commit - 1)
        picks = list(dict.fromkeys(new[:k] + new[-1:]))
        for path in picks:
            arch, seed = first_cell(commit, path)
            rep = reproduce(table, arch, seed)
            rows.append(
                {
                    "commit": commit,
                    "chunk": Path(path).name,
                    "arch": arch,
                    "seed": seed,
                    "verdict": rep.verdict,
                    "mismatches": len(rep.mismatches),
                }
            )
            print(f"{commit} {Path(path).name:>18} seed {seed}: {rep.verdict}", flush=True)
    if not rows:
        raise SystemExit(
            f"no commit adds chunks under {SWEEP}: run this inside a clone with the full "
            "history (not a shallow one)"
        )
    bad = [r for r in rows if r["verdict"] != "IDENTICAL"]
    print(
        f"\n{len(rows)} cells from {len({r['commit'] for r in rows})} commits checked in "
        f"{time.perf_counter() - t0:.0f}s: {len(rows) - len(bad)} identical, {len(bad)} not"
    )
    for r in bad:
        print(f"  {r['verdict']}: {r['commit']} {r['chunk']} seed {r['seed']} {r['arch']}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
