"""Which surrogate baselines really differ: paired bootstrap tests on the shipped test sets.

docs/surrogate.md's baselines table scores four models on the same held-out networks
(`surrogate_pipeline.sh baselines` fits them into ``--runs``). Their taus differ by
0.001 to 0.25, and each tau alone has a bootstrap standard error of about 0.02-0.03;
this script asks which of the differences the test networks can see. For each space it
compares the XGBoost baseline with the random forest, the GP and XGBoost on the
adjacency encoding, and the shipped surrogate with the XGBoost baseline, by
:func:`nasrepro.surrogate.compare_evaluations` (the same resamples for both models).
Each comparison's p value is Holm-adjusted over the family of all of them, per metric.
The baseline beside it, from the same resamples: the unpaired 95% half-width,
``1.96 * hypot(se_a, se_b)``, that two separate standard errors would give.

    OUT=runs/surrogate bash benchmarks/surrogate_pipeline.sh baselines   # the fits
    python benchmarks/surrogate_paired.py [--runs runs/surrogate] [--boot 2000]
        [--json benchmarks/results/surrogate_paired.json]

or ``OUT=runs/surrogate bash benchmarks/surrogate_pipeline.sh paired``, which fits the
baselines first where they are missing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import time
from pathlib import Path

from nasrepro.bench.sim._leaderboard_stats import holm
from nasrepro.surrogate import (
    PAIRED_METRICS,
    SpaceEvaluation,
    Surrogate,
    compare_evaluations,
    evaluate,
    load_shipped,
)
from nasrepro.tables import Table

ROOT = Path(__file__).resolve().parent.parent
PAIRS = (("xgb", "rf"), ("xgb", "gp"), ("xgb", "xgb-adjacency"), ("shipped", "xgb"))
SPACES = ("chain", "hierarchical")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "surrogate")
    ap.add_argument("--ship", type=Path, default=ROOT / "surrogate" / "data", help="test tables")
    ap.add_argument("--shipped", type=Path, default=None, help="the shipped surrogate's directory")
    ap.add_argument("--boot", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    t0 = time.perf_counter()
    evaluations: dict[tuple[str, str], SpaceEvaluation] = {}
    for space in SPACES:
        table = Table.open(args.ship / f"{space}-mnist1d-tiny-test.h5")
        for model in sorted({m for pair in PAIRS for m in pair}):
            if model == "shipped":
                s = load_shipped() if args.shipped is None else Surrogate.load(args.shipped)
            else:
                s = Surrogate.load(args.runs / f"{model}-{space}")
            evaluations[model, space] = evaluate(s, table)
    rows = []
    for space in SPACES:
        for a, b in PAIRS:
            r = compare_evaluations(
                evaluations[a, space], evaluations[b, space], n_boot=args.boot, seed=args.seed
            )
            rows.append((space, a, b, r))
    adjusted = {name: holm([r.metrics[name].p for *_, r in rows]) for name in PAIRED_METRICS}
    print(
        f"paired bootstrap, {args.boot} resamples of the common test networks (seed "
        f"{args.seed}); Holm over the {len(rows)} comparisons of each metric; the smallest "
        f"p {args.boot} resamples can give is {2 / (args.boot + 1):.2g}"
    )
    head = (
        f"{'space':>12} {'A':>8} {'B':>13} {'n':>4} {'metric':>11} {'A':>7} {'B':>7} "
        f"{'A - B':>8} {'95% paired interval':>19} {'p':>6} {'Holm p':>6} {'unpaired +-':>11}"
    )
    print(head)
    out = []
    for k, (space, a, b, r) in enumerate(rows):
        for name in PAIRED_METRICS:
            m = r.metrics[name]
            unpaired = 1.96 * math.hypot(m.se_a, m.se_b)
            interval = f"[{m.low:+.4f}, {m.high:+.4f}]"
            print(
                f"{space:>12} {a:>8} {b:>13} {r.n_test:>4} {name:>11} {m.a:>7.4f} {m.b:>7.4f} "
                f"{m.diff:>+8.4f} {interval:>19} {m.p:>6.3f} {adjusted[name][k]:>6.3f} "
                f"{unpaired:>11.4f}"
            )
        out.append(
            {"a": a, "b": b, **r.to_dict(), "holm_p": {n: adjusted[n][k] for n in PAIRED_METRICS}}
        )
    print(f"({time.perf_counter() - t0:.0f} s)")
    if args.json:
        doc = {
            "command": "python benchmarks/surrogate_paired.py "
            + " ".join(f"--{k} {v}" for k, v in (("boot", args.boot), ("seed", args.seed))),
            "date": datetime.date.today().isoformat(),
            "fits": "OUT=runs/surrogate bash benchmarks/surrogate_pipeline.sh baselines",
            "comparisons": out,
        }
        args.json.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
