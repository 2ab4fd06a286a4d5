"""Do the shipped strategy references reproduce bitwise on this CPU, at each SIMD level?

The strategies compute in numpy (GP-BO's kernel and likelihood, REINFORCE's softmax,
BOHB's densities, BANANAS' network). numpy picks its ``exp``, ``log`` and ``power``
kernels by instruction set at run time (AVX2 or AVX-512 on x86-64), and OpenBLAS its
matrix kernels by CPU model, so last bits may differ between CPUs; on 2026-12-07 four
points of the leaderboard grid did, until the grid took its powers from the C library.
This script reruns a reference (``benchmarks/make_reference.py``, 100 seeds) twice in
subprocesses: once as this CPU dispatches (the baseline), once with numpy's AVX-512
targets disabled (``NPY_DISABLE_CPU_FEATURES``) and OpenBLAS held at Haswell
(``OPENBLAS_CORETYPE``), as an AVX2 CPU would run. Each run's per-seed final regrets,
incumbents and curves are compared with the shipped file. Beside them it prints how many
of numpy's results on fixed inputs (``exp``, ``log``, ``power``, a matrix product and a
Cholesky factor) differ between the two runs' settings, which shows whether the caps
change any bits at all::

    python benchmarks/reference_isa.py                          # the default table's
    python benchmarks/reference_isa.py --benchmark chain-mnist1d-tiny-surrogate

On a CPU without AVX-512 both runs are the same; the script says so.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = ROOT / "strategies" / "reference"


def _avx512_targets() -> list[str]:
    """numpy's dispatch targets that use AVX-512 and that this CPU has."""
    return [
        t
        for t in __cpu_dispatch__
        if (t.startswith("AVX512") or t == "X86_V4") and __cpu_features__.get(t)
    ]


def _compare(shipped: dict[str, Any], rerun: dict[str, Any]) -> tuple[list[str], int, int]:
    """Lines per strategy, and the number of (strategy, seed) runs that differ / all."""
    lines, differ, total = [], 0, 0
    for name, a in shipped["strategies"].items():
        b = rerun["strategies"].get(name)
        if b is None or b["seeds"] != a["seeds"]:
            lines.append(f"  {name:24s} not in the rerun with the same seeds")
            differ += len(a["seeds"])
            total += len(a["seeds"])
            continue
        ra = np.array(a["final_regret"], dtype=float)
        rb = np.array(b["final_regret"], dtype=float)
        bad = (ra != rb) | np.array(
            [x != y for x, y in zip(a["final_incumbent"], b["final_incumbent"], strict=True)]
        )
        curves = "same" if json.dumps(a["curves"]) == json.dumps(b["curves"]) else "DIFFER"
        lines.append(
            f"  {name:24s} {int(bad.sum()):3d}/{len(ra)} seeds differ, "
            f"largest regret difference {float(np.max(np.abs(ra - rb))):.3g}, curves {curves}"
        )
        differ += int(bad.sum()) + (curves != "same")
        total += len(ra)
    return lines, differ, total


#: Run in a subprocess per variant: numpy's kernels on fixed inputs, as bytes per kernel,
#: so the variants' last bits can be compared (do the caps change what numpy computes?).
_KERNELS = """
import pickle, sys
import numpy as np
rng = np.random.default_rng(0)
x, y = rng.uniform(-30, 30, 10**6), rng.uniform(1e-6, 100, 10**6)
a = rng.normal(size=(300, 300))
k = a @ a.T + 300 * np.eye(300)
out = {"exp": np.exp(x), "log": np.log(y), "power": np.power(y, 0.37), "matmul": a @ a.T,
       "cholesky": np.linalg.cholesky(k)}
sys.stdout.buffer.write(pickle.dumps({n: v.tobytes() for n, v in out.items()}))
"""


def _kernels(env: dict[str, str]) -> dict[str, np.ndarray]:
    import pickle

    done = subprocess.run(
        [sys.executable, "-c", _KERNELS], env={**os.environ, **env}, capture_output=True
    )
    if done.returncode:
        raise SystemExit(f"the kernel check failed:\n{done.stderr.decode()[-3000:]}")
    return {n: np.frombuffer(b, dtype=float) for n, b in pickle.loads(done.stdout).items()}


def _rerun(benchmark: str, seeds: int, jobs: int, env: dict[str, str], out: Path) -> float:
    t0 = time.perf_counter()
    cmd = [sys.executable, str(ROOT / "benchmarks" / "make_reference.py")]
    cmd += ["--benchmark", benchmark, "--seeds", str(seeds), "--jobs", str(jobs), "--out", str(out)]
    done = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--benchmark", default="cell-mnist1d-tiny")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    ref_path = REFERENCE_DIR / f"{args.benchmark}.json"
    if not ref_path.exists():
        raise SystemExit(f"no shipped reference {ref_path}; pick one of {REFERENCE_DIR}/*.json")
    shipped = json.loads(ref_path.read_text())
    seeds = len(next(iter(shipped["strategies"].values()))["seeds"])
    targets = _avx512_targets()
    print(
        f"reference {ref_path.relative_to(ROOT)} ({seeds} seeds), made at commit "
        f"{shipped['environment'].get('code_version', '?')[:9]}"
    )
    print(f"numpy {np.__version__}: AVX-512 dispatch targets on this CPU: {targets or 'none'}")
    variants = {"as this CPU dispatches": {}}
    if targets:
        variants["numpy without AVX-512, OpenBLAS at Haswell"] = {
            "NPY_DISABLE_CPU_FEATURES": " ".join(targets),
            "OPENBLAS_CORETYPE": "Haswell",
        }
    kernels = {label: _kernels(env) for label, env in variants.items()}
    base = kernels[next(iter(variants))]
    for label, ks in list(kernels.items())[1:]:
        diffs = ", ".join(f"{n} {int((v != base[n]).sum()):,} of {v.size:,}" for n, v in ks.items())
        print(f"numpy's results that differ in the last bits, {label} against as dispatched:")
        print(f"  {diffs}")
    with tempfile.TemporaryDirectory() as tmp:
        for label, env in variants.items():
            out = Path(tmp) / "rerun.json"
            took = _rerun(args.benchmark, seeds, args.jobs, env, out)
            lines, differ, total = _compare(shipped, json.loads(out.read_text()))
            verdict = "IDENTICAL" if differ == 0 else f"{differ} of {total} runs DIFFER"
            print(
                f"\n{label} ({' '.join(f'{k}={v!r}' for k, v in env.items()) or 'no caps'}),"
                f" {took:.0f} s: {verdict}"
            )
            print("\n".join(lines))
    if not targets:
        print("\nthis CPU has no AVX-512 dispatch target: the capped run would be the same")


if __name__ == "__main__":
    main()
