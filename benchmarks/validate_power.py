"""How often ``nasrepro validate`` tells a strategy apart from a reference, by seeds.

``validate`` runs a user's strategy for ``--seeds`` seeds (default 30) and compares its
final regrets with each shipped reference's 100 by a two-sided Mann-Whitney U test,
Holm-corrected over the references. How large a difference can that see? This script
takes the built-in strategies' own reference regrets as the user's distributions: for
each user strategy and seed count it draws ``--draws`` samples of that many regrets
(with replacement, from the strategy's 100 reference runs), compares each with the
references as ``validate`` does (:func:`nasrepro.bench.sim._validate.compare`), and
prints the share of draws whose Holm p against a reference is below 0.05.

The baseline, measured in the same run: a user strategy drawn from the same
distribution as the reference it is compared with (each strategy against its own
reference), whose share is the false-positive rate, at most 0.05 for a test that
holds its level. Resampling one set of 100 runs understates the user's sampling
variance a little (the draws repeat those runs), so the shares are upper estimates.

    python benchmarks/validate_power.py                     # cell-mnist1d-tiny's references
    python benchmarks/validate_power.py --reference nb201-cifar10
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from nasrepro.bench.sim._validate import compare, load_reference

USERS = ("gp-bo", "bananas", "regularized-evolution", "random-search")
AGAINST = ("random-search", "regularized-evolution", "gp-bo")
SEEDS = (10, 30, 100)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", default="cell-mnist1d-tiny", help="a shipped reference")
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    ref = load_reference(args.reference)
    regrets = {
        n: np.asarray(s["final_regret"], dtype=np.float64) for n, s in ref["strategies"].items()
    }
    rng = np.random.default_rng(args.seed)
    print(
        f"validate's power on the {args.reference} references ({len(regrets)} strategies x "
        f"{len(next(iter(regrets.values())))} seeds, budget {ref['budget']['text']}); "
        f"{args.draws} draws per cell, Mann-Whitney U, Holm over {len(regrets)} references, "
        "alpha 0.05"
    )
    print("share of draws told apart from each reference (mean final regret in brackets)")
    header = f"{'user strategy':<30}{'seeds':>6}" + "".join(
        f"{f'{a} ({regrets[a].mean():.2f})':>30}" for a in AGAINST
    )
    print(header + f"{'itself (baseline)':>20}")
    for user in USERS:
        for n in SEEDS:
            hits = dict.fromkeys((*AGAINST, user), 0)
            for _ in range(args.draws):
                sample = rng.choice(regrets[user], n, replace=True)
                for c in compare(sample, regrets):
                    if c.reference in hits and c.p_holm < 0.05:
                        hits[c.reference] += 1
            cells = "".join(
                f"{'-' if a == user else f'{hits[a] / args.draws:.3f}':>30}" for a in AGAINST
            )
            label = f"{user} ({regrets[user].mean():.2f})"
            print(f"{label:<30}{n:>6}{cells}{hits[user] / args.draws:>20.3f}")
    print(f"took {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
