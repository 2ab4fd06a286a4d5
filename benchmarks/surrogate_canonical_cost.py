"""What featurizing class representatives costs and buys the surrogate on the cell space.

Since 2026-12-07 the surrogate encodes each cell as its class representative
(``CellSpace.features_of_canonical``), so that isomorphic cells get one prediction, as
the table gives them one row. Before, each cell was featurized as it lowers (dead
edges and their parameters kept, identity edges not merged). This script measures
both on the shipped surrogate, in one process, pinned to one core:

* consistency: of ``-n`` sampled cells, the classes with several distinct strings,
  and how many of them get differing predicted means, and how far apart;
* cost: ``Surrogate.predict`` of the distinct strings with the memo cleared, in
  microseconds a string, ``--repeats`` times alternating between the two settings;
* the hierarchical space, which featurizes strings as given (its ``canonical`` only
  blanks dead edges, which no feature sees): of ``--hier-n`` sampled architectures, the
  classes (``lowered_class_keys``) with several distinct strings, how many get
  differing predictions, and of those, how many hold networks of equal parameter
  counts (an identity edge placed elsewhere, e.g. ``(maxpool3x3|conv1x1,identity)``
  and ``(identity|conv1x1,maxpool3x3)``, both ``conv1x1(x) + maxpool3x3(x)``) and how
  many of differing counts (the class key's blind spot for shared sub-computations
  joins different networks there; see ``nasrepro.spaces._classkey``).

Usage::

    python benchmarks/surrogate_canonical_cost.py            # n = 20,000, 5 repeats
    python benchmarks/surrogate_canonical_cost.py --hier-n 0 # the cell space only
"""

from __future__ import annotations

import argparse
import collections
import os
import time

import numpy as np

from nasrepro.spaces import CellSpace, get_space, lowered_class_keys
from nasrepro.surrogate import Surrogate, feature_names, load_shipped
from nasrepro.surrogate._data import encode


def _consistency(s: Surrogate, archs: list[str], canon: list[int]) -> tuple[int, int, float, float]:
    pred = s.predict(archs, "cell").valid_acc
    by_class: dict[int, list[float]] = collections.defaultdict(list)
    for c, v in zip(canon, pred.tolist(), strict=True):
        by_class[c].append(v)
    multi = [v for v in by_class.values() if len(v) > 1]
    spread = [max(v) - min(v) for v in multi]
    return len(multi), sum(x > 0 for x in spread), max(spread, default=0.0), float(np.mean(spread))


def _hierarchical(s: Surrogate, n: int, seed: int) -> None:
    space = get_space("hierarchical")
    rng = np.random.default_rng(seed)
    archs = list(dict.fromkeys(space.sample(rng).to_string() for _ in range(n)))
    keys = lowered_class_keys(space, archs, **s.protocol.macro())
    pred = s.predict(archs, space).valid_acc
    params = encode(archs, space, s.protocol)[:, feature_names().index("params")]
    by_class: dict[str, list[int]] = collections.defaultdict(list)
    for i, k in enumerate(keys):
        by_class[k].append(i)
    multi = [ix for ix in by_class.values() if len(ix) > 1]
    print(
        f"hierarchical: {n:,} sampled, {len(archs):,} distinct strings, "
        f"{len(multi):,} classes with several strings"
    )
    groups: dict[str, list[float]] = {"equal": [], "differing": []}
    for ix in multi:
        spread = float(pred[ix].max() - pred[ix].min())
        if spread > 0:
            groups["equal" if len(set(params[ix].tolist())) == 1 else "differing"].append(spread)
    every = [x for g in groups.values() for x in g]
    print(
        f"  {len(every):,} of {len(multi):,} get differing predictions (mean spread over "
        f"all {len(multi):,}: {sum(every) / max(len(multi), 1):.2f} points, largest "
        f"{max(every, default=0.0):.2f})"
    )
    for label, xs in groups.items():
        print(
            f"  of those, {len(xs):,} with {label} parameter counts: spread mean "
            f"{np.mean(xs) if xs else 0.0:.2f}, median {np.median(xs) if xs else 0.0:.2f}, "
            f"largest {max(xs, default=0.0):.2f} points"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=20_000, help="sampled cells [20,000]")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--hier-n", type=int, default=20_000, help="sampled hierarchical architectures [20,000]"
    )
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
    if args.hier_n:
        _hierarchical(s, args.hier_n, args.seed)


if __name__ == "__main__":
    main()
