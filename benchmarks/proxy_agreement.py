"""Which cheap protocol ranks cells as NAS-Bench-201 does? Depth, reduction and epochs.

The default table (``mnist1d-tiny``: C=8, one cell per stage, parameter-free ``pool``
reductions, 6 epochs) agrees with NAS-Bench-201 only to Kendall tau ~0.4, and its top
cells rarely keep the skip on edge 0->3, which NB201's top 100 nearly all keep. The
README's guess is depth: NB201 stacks 5 cells per stage (C=16, N=5), so its cells'
residual path matters more. This script tests that guess before anyone spends a GPU on
a new table. It trains one random sample of isomorphism classes (their representative
cells, seed 0) under each protocol variant, the default among them as the baseline of
the same run, and prints for each:

* Kendall tau-b and Spearman between the variant's final validation accuracy and
  NB201's 12-epoch CIFAR-10 accuracy (x-valid and ori-test; the class mean over the
  class's cells, as ``nasrepro table compare`` scores classes), over all sampled
  classes and over those in NB201's better half (where a search decides);
* the share of the variant's top 10% of the sample with ``skip_connect`` on edge 0->3
  (NB201 CIFAR-10's own top 10% of the same sample is printed beside it);
* seed-to-seed noise is not measured (one seed): the default variant's tau on the
  full table with 3 seeds (0.416 on classes, test) says how much a mean of seeds adds;
* the mean wall time of one cell-seed on one thread, and that time times the 6,466
  classes: what a table of the variant costs on this CPU.

Every finished training is appended at once to ``--cache`` (JSON lines), and a rerun
trains only what is missing, so a killed study loses nothing.

Usage:
    python benchmarks/proxy_agreement.py --cells 100 --jobs 2
    python benchmarks/proxy_agreement.py --cells 200 --jobs 2 \
        --variants "tiny:;N3:N=3;e12:epochs=12;C16:C=16;C16-N3:C=16,N=3" \
        --json benchmarks/results/proxy_agreement_200.json
    python benchmarks/proxy_agreement.py --report-only   # reprint from the cache
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import kendalltau, spearmanr

#: The variants of ``mnist1d-tiny`` tried by default: depth first (NB201's N=5 cells
#: per stage, and N=3 between), NB201's residual-block reduction at N=3 and N=5 (N5-res
#: is NB201's macro skeleton in 1-D, at C=8), and twice the epochs at N=1 (is it
#: training length rather than depth?). The NB201 settings (C=16, N=5, residual-block
#: reductions) are its macro skeleton (Dong & Yang, ICLR 2020), as the registered
#: ``cifar10-nb201`` protocol records them.
DEFAULT_VARIANTS = (
    "tiny:;N3:N=3;N5:N=5;N3-res:N=3,reduction=resblock;N5-res:N=5,reduction=resblock;e12:epochs=12"
)

#: Bootstrap resamples of the sampled classes, as the leaderboards use.
N_BOOT = 2000
_EDGE_03 = 3  # edge order in a cell string: 1<-0 | 2<-0, 2<-1 | 3<-0, 3<-1, 3<-2


def _parse_variants(text: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, _, body = part.partition(":")
        kv: dict[str, Any] = {}
        for item in filter(None, (b.strip() for b in body.split(","))):
            k, _, v = item.partition("=")
            kv[k.strip()] = int(v) if v.strip().lstrip("-").isdigit() else v.strip()
        out[name.strip()] = kv
    return out


def _init() -> None:
    import torch

    torch.set_num_threads(1)


def _train(job: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    from nasrepro.bench.harness import train
    from nasrepro.tables import Protocol

    variant, arch, pdict = job
    t0 = time.perf_counter()
    r = train(arch, Protocol.from_dict(pdict), 0, static=False)
    return {
        "variant": variant,
        "arch": arch,
        "protocol_id": Protocol.from_dict(pdict).id,
        "valid_acc": float(r.final["valid_acc"]),
        "test_acc": float(r.final["test_acc"]),
        "seconds": time.perf_counter() - t0,
    }


def _skip03(arch: str) -> bool:
    edges = [e for node in arch.strip("|").split("|+|") for e in node.split("|")]
    return edges[_EDGE_03].startswith("skip_connect~")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=100, help="isomorphism classes sampled")
    ap.add_argument("--sample-seed", type=int, default=0)
    ap.add_argument("--variants", default=DEFAULT_VARIANTS, help="NAME:k=v,...;... on mnist1d-tiny")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--cache", default="benchmarks/results/proxy_agreement.jsonl")
    ap.add_argument("--json", default="benchmarks/results/proxy_agreement.json")
    ap.add_argument(
        "--report-only",
        action="store_true",
        help="train nothing: report on the sampled classes the cache holds for every variant",
    )
    args = ap.parse_args()

    from nasrepro.tables import get_protocol, load_default, open_table

    base = get_protocol("mnist1d-tiny")
    variants = {
        n: replace(base, **kv, **({"name": f"mnist1d-tiny-{n}"} if kv else {}))
        for n, kv in _parse_variants(args.variants).items()
    }
    default = load_default()
    nb = open_table("nb201-cifar10")
    canon = np.asarray(default.canonical)  # (15625,) row -> class representative row
    classes = np.unique(canon)
    rng = np.random.default_rng(args.sample_seed)
    sample = np.sort(rng.permutation(classes)[: args.cells])  # nested: more cells extend it
    archs = [default.archs[i] for i in sample]

    # NB201's class value: the mean of its cells (it trained isomorphic cells apart)
    nb_all = {
        m: np.asarray(getattr(nb.query_many(np.arange(nb.n_rows)), m))
        for m in ("valid_acc", "test_acc")
    }
    nb_class = {m: np.array([v[canon == c].mean() for c in sample]) for m, v in nb_all.items()}
    tiny3 = np.asarray(default.query_many(sample).test_acc)  # the shipped 3-seed means

    cache = Path(args.cache)
    done: dict[tuple[str, str, str], dict[str, Any]] = {}
    if cache.is_file():
        for line in cache.read_text().splitlines():
            try:
                d = json.loads(line)
                done[d["variant"], d["arch"], d["protocol_id"]] = d
            except (ValueError, KeyError):
                continue  # a line cut by a kill: trained again
    jobs = [
        (n, a, p.to_dict()) for a in archs for n, p in variants.items() if (n, a, p.id) not in done
    ]
    if args.report_only:
        keep = [
            i for i, a in enumerate(archs) if all((n, a, p.id) in done for n, p in variants.items())
        ]
        archs = [archs[i] for i in keep]
        sample = sample[keep]
        nb_class = {m: v[keep] for m, v in nb_class.items()}
        tiny3 = tiny3[keep]
        jobs = []
        print(f"report only: {len(archs)} classes have every variant in {cache}", file=sys.stderr)
    print(
        f"{len(archs)} classes x {len(variants)} variants; {len(jobs)} trainings to run, "
        f"{len(archs) * len(variants) - len(jobs)} read back from {cache}",
        file=sys.stderr,
    )
    cache.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with open(cache, "a") as f, cf.ProcessPoolExecutor(args.jobs, initializer=_init) as ex:
        for k, d in enumerate(ex.map(_train, jobs, chunksize=1)):
            f.write(json.dumps(d) + "\n")
            f.flush()
            os.fsync(f.fileno())
            done[d["variant"], d["arch"], d["protocol_id"]] = d
            if (k + 1) % 25 == 0 or k + 1 == len(jobs):
                print(
                    f"  {k + 1}/{len(jobs)} trained, {time.perf_counter() - t0:.0f}s",
                    file=sys.stderr,
                )

    # paired bootstrap over the sampled classes: the same resamples for every variant
    boot = np.random.default_rng(0).integers(0, len(archs), (N_BOOT, len(archs)))
    base_name = next(iter(variants))

    def _taus(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.array([kendalltau(x[i], y[i]).statistic for i in boot])

    base_boot: dict[str, np.ndarray] = {}
    top_nb = nb_class["valid_acc"] >= np.median(nb_class["valid_acc"])
    k10 = max(1, len(archs) // 10)
    nb_top = np.argsort(-nb_class["test_acc"], kind="stable")[:k10]
    skip = np.array([_skip03(a) for a in archs])
    rows: dict[str, dict[str, Any]] = {}
    for n, p in variants.items():
        got = [done[n, a, p.id] for a in archs]
        valid = np.array([g["valid_acc"] for g in got])
        test = np.array([g["test_acc"] for g in got])
        secs = np.array([g["seconds"] for g in got])
        top = np.argsort(-valid, kind="stable")[:k10]
        diff: dict[str, list[float]] = {}
        for metric, x in (("valid", valid), ("test", test)):
            b = _taus(x, nb_class[f"{metric}_acc"])
            if n == base_name:
                base_boot[metric] = b
            d = b - base_boot[metric]
            diff[f"tau_{metric}_ci"] = np.percentile(b, [2.5, 97.5]).tolist()
            diff[f"tau_{metric}_minus_baseline_ci"] = np.percentile(d, [2.5, 97.5]).tolist()
        rows[n] = {
            **diff,
            "protocol": {
                k: v for k, v in p.to_dict().items() if v != getattr(base, k) and k != "name"
            },
            "protocol_id": p.id,
            "tau_valid": float(kendalltau(valid, nb_class["valid_acc"]).statistic),
            "tau_test": float(kendalltau(test, nb_class["test_acc"]).statistic),
            "spearman_test": float(spearmanr(test, nb_class["test_acc"]).statistic),
            "tau_valid_nb_top_half": float(
                kendalltau(valid[top_nb], nb_class["valid_acc"][top_nb]).statistic
            ),
            "skip03_top10": float(skip[top].mean()),
            "test_median": float(np.median(test)),
            "test_spread_iqr": float(np.subtract(*np.percentile(test, [75, 25]))),
            "seconds_per_cell_seed": float(secs.mean()),
            "table_cpu_hours": float(secs.mean() * len(classes) / 3600),
        }
    tau3 = float(kendalltau(tiny3, nb_class["test_acc"]).statistic)
    import torch

    result = {
        "torch": torch.__version__,
        "cells": len(archs),
        "sample_seed": args.sample_seed,
        "nb201_skip03_top10": float(skip[nb_top].mean()),
        "shipped_tiny_3seed_tau_test": tau3,
        "variants": rows,
    }
    Path(args.json).write_text(json.dumps(result, indent=1) + "\n")

    print(
        f"{len(archs)} classes sampled (seed {args.sample_seed}), seed 0 each; against "
        "NB201 CIFAR-10 12-epoch class means"
    )
    hdr = (
        f"{'variant':>8} {'tau valid':>9} {'tau test':>8} {'rho test':>8} "
        f"{'tau top½':>8} {'skip03 top10%':>13} {'median':>6} {'IQR':>5} "
        f"{'s/cell':>6} {'table CPU-h':>11}  changes"
    )
    print(hdr)
    for n, r in rows.items():
        print(
            f"{n:>8} {r['tau_valid']:9.3f} {r['tau_test']:8.3f} {r['spearman_test']:8.3f} "
            f"{r['tau_valid_nb_top_half']:8.3f} {r['skip03_top10']:13.0%} "
            f"{r['test_median']:6.1f} {r['test_spread_iqr']:5.1f} "
            f"{r['seconds_per_cell_seed']:6.2f} {r['table_cpu_hours']:11.1f}  "
            f"{r['protocol'] or 'baseline (mnist1d-tiny)'}"
        )
    print(
        f"\nKendall tau against NB201 with 95% CIs ({N_BOOT} paired bootstrap resamples of "
        f"the classes), and each variant minus the baseline ({base_name}):"
    )
    for n, r in rows.items():
        v, t = r["tau_valid_ci"], r["tau_test_ci"]
        dv, dt = r["tau_valid_minus_baseline_ci"], r["tau_test_minus_baseline_ci"]
        print(
            f"{n:>8} valid {r['tau_valid']:.3f} [{v[0]:.3f}, {v[1]:.3f}] diff "
            f"[{dv[0]:+.3f}, {dv[1]:+.3f}]   test {r['tau_test']:.3f} [{t[0]:.3f}, {t[1]:.3f}] "
            f"diff [{dt[0]:+.3f}, {dt[1]:+.3f}]"
        )
    print(f"NB201's own top 10% of this sample: skip on 0->3 in {result['nb201_skip03_top10']:.0%}")
    print(f"shipped table (3-seed means) on this sample: tau test {tau3:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
