"""Network size of hierarchical-space instances against the cell space.

Prints, for several ``HierSpace(M, n2, n3)`` sizes, the 10th, 50th and 90th percentile
of live ops and of convolutions (a separable conv counts twice) per network, over
random samples lowered as ``mnist1d-tiny`` lowers them (C=8, N=1, ``pool``). Training
time on a CPU grows with these counts; this is the figure behind the default size.

Usage:
    python benchmarks/hier_size.py [--samples 300]
"""

from __future__ import annotations

import argparse

import numpy as np

from nasrepro.spaces import HierSpace, NetworkSpec, Op, SearchSpace, get_space

_CONV = {Op.CONV1X1, Op.CONV3X3, Op.CONV5X5, Op.DWCONV3X3, Op.MBCONV_E3_K3, Op.MBCONV_E6_K5}
SIZES = [(6, 4, 5), (4, 4, 4), (3, 4, 4), (4, 3, 4), (3, 3, 4)]


def counts(spec: NetworkSpec) -> tuple[int, int]:
    """Live ops and convolutions of a lowered network."""
    live = conv = 0
    for block in spec.blocks:
        if block.cell is None:
            continue
        for _, _, op in block.cell.live_edges():
            live += 1
            conv += 2 if op is Op.SEPCONV3X3 else int(op in _CONV)
    return live, conv


def row(name: str, space: SearchSpace, n: int) -> str:
    rng = np.random.default_rng(0)
    c = np.array(
        [counts(space.lower(space.sample(rng), C=8, N=1, reduction="pool")) for _ in range(n)]
    )
    live = np.percentile(c[:, 0], [10, 50, 90])
    conv = np.percentile(c[:, 1], [10, 50, 90])
    fmt = " / ".join
    return f"{name:<24} {fmt(f'{v:5.1f}' for v in live):>21}   {fmt(f'{v:5.1f}' for v in conv):>21}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=300)
    args = ap.parse_args()
    print(f"{args.samples} random networks per space, lowered with C=8, N=1, pool")
    print(f"{'space':<24} {'live ops p10/p50/p90':>21}   {'convs p10/p50/p90':>21}")
    print(row("cell (baseline)", get_space("cell"), args.samples))
    default = get_space("hierarchical")
    assert isinstance(default, HierSpace)
    for m, n2, n3 in SIZES:
        tag = " (default)" if (m, n2, n3) == (default.M, default.n2, default.n3) else ""
        tag = " (Liu et al.)" if (m, n2, n3) == (6, 4, 5) else tag
        print(row(f"hier {m},{n2},{n3}{tag}", HierSpace(M=m, n2=n2, n3=n3), args.samples))


if __name__ == "__main__":
    main()
