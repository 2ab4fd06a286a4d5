"""BANANAS' candidate mutation: one edge (ours, ``space.mutate``) against naszilla's.

naszilla's ``Cell201.mutate`` (``mutation_rate=1``) changes each of a cell's 6 edges
with probability 1 / (6 - 2) = 1/4; ours changes exactly one. This runs BANANAS with
both on the same seeds and budget and prints the paired difference of final regret
(ours minus naszilla-style) with a 95% normal interval, per benchmark::

    python benchmarks/bananas_mutation.py                     # 40 seeds, 2 benchmarks
    python benchmarks/bananas_mutation.py --seeds 100 --jobs 2

The baseline measured in the same run is the distance from parent to candidate
under each operator.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from nasrepro.bench.sim import BenchmarkSpec, open_benchmark, parse_budget, run
from nasrepro.spaces import CellArch, CellSpace
from nasrepro.spaces._cell import CELL_OPS
from nasrepro.strategies import Bananas

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _paired import report_pairs  # noqa: E402


class EdgewiseMutationCells(CellSpace):
    """The cell space with naszilla's NAS-Bench-201 mutation: each edge changes to
    another op with probability 1/4 (a draw that changes nothing is returned as is;
    the candidate pool then drops it as already seen)."""

    def mutate(self, arch: CellArch, rng: np.random.Generator) -> CellArch:
        ops = list(arch.ops)
        for k, op in enumerate(ops):
            if rng.random() < 1 / 4:
                others = [o for o in CELL_OPS if o != op]
                ops[k] = others[int(rng.integers(len(others)))]
        return CellArch(tuple(ops))


def _distances(n: int = 20_000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    ours, theirs = CellSpace(), EdgewiseMutationCells()
    out: dict[str, list[int]] = {"one edge (ours)": [], "edgewise 1/4 (naszilla)": []}
    for _ in range(n):
        a = ours.sample(rng)
        for name, sp in zip(out, (ours, theirs), strict=True):
            b = sp.mutate(a, rng)
            out[name].append(sum(x != y for x, y in zip(a.ops, b.ops, strict=True)))
    return {k: np.bincount(v, minlength=7) / n for k, v in out.items()}


def _pair(args: tuple[str, str, int]) -> tuple[float, float, float]:
    name, budget_text, seed = args
    bench = open_benchmark(BenchmarkSpec(name))
    budget = parse_budget(budget_text, bench)
    t0 = time.perf_counter()
    ours = run(Bananas(bench.space, max_epoch=bench.max_epoch, seed=seed), bench, budget, seed=seed)
    edgewise = Bananas(EdgewiseMutationCells(), max_epoch=bench.max_epoch, seed=seed)
    theirs = run(edgewise, bench, budget, seed=seed)
    return ours.final_regret, theirs.final_regret, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=40)
    ap.add_argument("--budget", default="100x")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument(
        "--benchmarks", default="cell-mnist1d-tiny,nb201-cifar10", help="comma-separated"
    )
    a = ap.parse_args(argv)
    print("distance from parent to candidate (edges changed), share of mutants:")
    for name, freq in _distances().items():
        print(f"  {name:<24} " + "  ".join(f"{d}: {f:.2f}" for d, f in enumerate(freq)))
    report_pairs(_pair, a.benchmarks, a.budget, a.seeds, a.jobs, ("one-edge", "edgewise"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
