"""Regularized evolution's mutation: one uniform edge (ours) against NAS-Bench-201's R_EA.

``space.mutate`` changes one of a cell's 6 edges, each with probability 1/6, to another
op. NAS-Bench-201's ``exps/NAS-Bench-201-algos/R_EA.py`` (``mutate_arch_func``) picks
one of the 3 nodes uniformly, then one of that node's inputs, so the edges into nodes
1, 2 and 3 change with probability 1/3, 1/6 and 1/9 each. This runs regularized
evolution with both on the same seeds and budget and prints the paired difference of
final regret (ours minus R_EA's) with a 95% normal interval, per benchmark::

    python benchmarks/evolution_mutation.py                      # 1,000 seeds, 2 benchmarks
    python benchmarks/evolution_mutation.py --seeds 200 --jobs 2

The baseline measured in the same run is how often each edge is the one changed,
under each operator (20,000 mutations).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from nasrepro.bench.sim import BenchmarkSpec, open_benchmark, parse_budget, run
from nasrepro.spaces import CELL_EDGES, CellArch, CellSpace
from nasrepro.spaces._cell import CELL_OPS
from nasrepro.strategies import RegularizedEvolution

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _paired import report_pairs  # noqa: E402


class NodeThenInputCells(CellSpace):
    """The cell space with R_EA's mutation: a uniform node, then a uniform input of
    it, changed to a uniformly drawn other op."""

    def mutate(self, arch: CellArch, rng: np.random.Generator) -> CellArch:
        node = 1 + int(rng.integers(3))  # nodes 1..3; node i has inputs 0..i-1
        src = int(rng.integers(node))
        k = CELL_EDGES.index((node, src))
        ops = list(arch.ops)
        others = [o for o in CELL_OPS if o != ops[k]]
        ops[k] = others[int(rng.integers(len(others)))]
        return CellArch(tuple(ops))


def _edge_shares(n: int = 20_000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    out: dict[str, np.ndarray] = {}
    for name, sp in (
        ("one edge (ours)", CellSpace()),
        ("node, input (R_EA)", NodeThenInputCells()),
    ):
        counts = np.zeros(len(CELL_EDGES))
        for _ in range(n):
            a = sp.sample(rng)
            b = sp.mutate(a, rng)
            changed = [k for k, (x, y) in enumerate(zip(a.ops, b.ops, strict=True)) if x != y]
            assert len(changed) == 1
            counts[changed[0]] += 1
        out[name] = counts / n
    return out


def _pair(args: tuple[str, str, int]) -> tuple[float, float, float]:
    name, budget_text, seed = args
    bench = open_benchmark(BenchmarkSpec(name))
    budget = parse_budget(budget_text, bench)
    t0 = time.perf_counter()
    ours = RegularizedEvolution(bench.space, max_epoch=bench.max_epoch, seed=seed)
    r_ours = run(ours, bench, budget, seed=seed)
    theirs = RegularizedEvolution(NodeThenInputCells(), max_epoch=bench.max_epoch, seed=seed)
    r_theirs = run(theirs, bench, budget, seed=seed)
    return r_ours.final_regret, r_theirs.final_regret, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=1000)
    ap.add_argument("--budget", default="100x")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument(
        "--benchmarks", default="nb201-cifar10,cell-mnist1d-tiny", help="comma-separated"
    )
    a = ap.parse_args(argv)
    print("share of mutations that change each edge (i<-j):")
    head = "  ".join(f"{i}<-{j}" for i, j in CELL_EDGES)
    print(f"  {'':<20} {head}")
    for name, share in _edge_shares().items():
        print(f"  {name:<20} " + "  ".join(f"{s:.3f}" for s in share))
    report_pairs(_pair, a.benchmarks, a.budget, a.seeds, a.jobs, ("one-edge", "R_EA's"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
