"""What featurizing class representatives costs and buys the surrogate on the cell space.

Since 2026-12-07 the surrogate encodes each cell as its class representative
(``CellSpace.features_of_canonical``), so that isomorphic cells get one prediction, as
the table gives them one row. Before, each cell was featurized as it lowers (dead
edges and their parameters kept, identity edges not merged). This script measures
both on the shipped surrogate, in one process, pinned to one core:

* consistency: of ``-n`` sampled cells, the classes with several distinct strings,
  and how many of them get differing predicted means, and how far apart;
* cost: ``Surrogate.predict`` of the distinct strings with the memo cleared, in
  microseconds a string, ``--repeats`` times alternating between the two settings.

Usage::

    python benchmarks/surrogate_canonical_cost.py            # n = 20,000, 5 repeats
"""

from __future__ import annotations

import argparse
import collections
import os
import time

import numpy as np

from nasrepro.spaces import CellSpace, get_space
from nasrepro.surrogate import Surrogate, load_shipped


def _consistency(s: Surrogate, archs: list[str], canon: list[int]) -> tuple[int, int, float, float]:
    pred = s.predict(archs, "cell").valid_acc
    by_class: dict[int, list[float]] = collections.defaultdict(list)
    for c, v in zip(canon, pred.tolist(), strict=True):
        by_class[c].append(v)
    multi = [v for v in by_class.values() if len(v) > 1]
    spread = [max(v) - min(v) for v in multi]
    return len(multi), sum(x > 0 for x in spread), max(spread, default=0.0), float(np.mean(spread))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=20_000, help="sampled cells [20,000]")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
    s = load_shipped()
    s.set_threads(1)
    space = get_space("cell")
    rng = np.random.default_rng(args.seed)
    archs = list(dict.fromkeys(space.sample(rng).to_string() for _ in range(args.n)))
    canon = [int(space.canonical_index(space.parse(a))) for a in archs]
    print(
        f"{args.n:,} sampled cells: {len(archs):,} distinct strings in {len(set(canon)):,} classes"
    )
    settings = {"as lowered (before)": False, "representatives (now)": True}
    times: dict[str, list[float]] = {k: [] for k in settings}
    for label, flag in settings.items():
        CellSpace.features_of_canonical = flag
        s.clear_memo()
        multi, differ, worst, mean = _consistency(s, archs, canon)
        print(
            f"{label:24s}: {differ:,} of {multi:,} classes with several strings get "
            f"differing predictions (largest spread {worst:.2f} points, mean {mean:.2f})"
        )
    for _ in range(args.repeats):
        for label, flag in settings.items():
            CellSpace.features_of_canonical = flag
            s.clear_memo()
            t0 = time.perf_counter()
            s.predict(archs, "cell")
            times[label].append((time.perf_counter() - t0) / len(archs) * 1e6)
    CellSpace.features_of_canonical = True
    for label, ts in times.items():
        print(
            f"{label:24s}: {np.median(ts):.1f} us a distinct string (median of "
            f"{len(ts)}; {' '.join(f'{t:.1f}' for t in ts)})"
        )


if __name__ == "__main__":
    main()
