"""Speed of the HDF5 table against a NAS-Bench-201-style pickled dict, in one run.

The table is synthetic: 15,625 cell rows (the 6,466 canonical classes hold data, the
others resolve through ``canonical``, exactly as in a real cell table), 3 seeds, every
epoch of the protocol and all metrics, filled with random numbers. This script
measures speed, not accuracy, so the values do not matter; random values are the
worst case for compression. The table is built through the public path: synthetic
sweep chunks written with ``write_chunk``, then ``nasrepro.tables.build``.

The baseline stores the same data the way the NAS-Bench-201 API does: one pickled
dict of per-architecture records, holding per-seed dicts of ``{epoch: value}`` per
metric, and an ``archstr -> index`` dict built when the API object is created. A
query loops over seeds in Python and averages, as ``get_more_info`` does;
``query_many`` is a loop of queries.

Figures (median of repeats):

* open: ``Table.open`` (lazy: header, layout, header checksum) versus unpickling
  and building the index;
* first answer: open plus the first query, which reads the arrays and checks
  every checksum (reported for honesty: ``open`` is lazy);
* single query: ``query(arch)`` of a random cell string (final epoch, mean over
  seeds, isomorphic cells resolved), repeated over 20,000 strings; the same with
  each class queried once on a fresh table (no memo hit); and
  ``query(arch, epoch, seed)``;
* query_many: rows per second for 100,000 random cell strings.

Goals: open <= 50 ms, query <= 20 us, query_many >= 1e6 rows/s, and at least 10x the
pickle baseline on each.

With ``--table NAME|PATH`` the same figures are measured on a real table instead, for
example an imported one (``nb201-cifar10``: per-cell values, one seed, one epoch), with
the pickle baseline built from that table's data.

Usage::

    python benchmarks/table_query.py [--epochs E] [--workdir DIR]
    python benchmarks/table_query.py --table nb201-cifar10
"""

from __future__ import annotations

import argparse
import gc
import pickle
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from nasrepro.spaces import CellArch, get_space
from nasrepro.tables import (
    METRIC_NAMES,
    Protocol,
    SweepManifest,
    Table,
    TrialResult,
    build,
    representative_mask,
    table_path,
    write_chunk,
    write_manifest,
)

SEEDS = (0, 1, 2)


def _default_epochs() -> tuple[int, str]:
    """Epochs of the default protocol (mnist1d-tiny) when it is registered, else 20."""
    try:
        from nasrepro.tables import get_protocol

        return int(get_protocol("mnist1d-tiny").epochs), "the mnist1d-tiny protocol's"
    except Exception:
        return 20, "mnist1d-tiny is not registered, so 20"


def synth_sweep(out: Path, epochs: int, seed: int = 0) -> list[str]:
    """Write a synthetic complete sweep (all classes x 3 seeds) with random values."""
    space = get_space("cell")
    reps = [CellArch.from_index(i).to_string() for i in space.representative_indices()]
    rng = np.random.default_rng(seed)
    proto = Protocol(
        name="synthetic-benchmark",
        dataset="synthetic",
        n_train=256,
        n_valid=128,
        n_test=128,
        epochs=epochs,
        batch_size=64,
    )
    write_manifest(out, SweepManifest("cell", proto, tuple(reps), SEEDS, chunk_size=1000))
    params = rng.integers(10_000, 1_000_000, len(reps)).tolist()
    flops = rng.integers(1_000_000, 100_000_000, len(reps)).tolist()
    for s in SEEDS:
        for c in range(0, len(reps), 1000):
            vals = rng.uniform(0, 100, size=(min(1000, len(reps) - c), len(METRIC_NAMES), epochs))
            results = [
                TrialResult(
                    arch=a,
                    space="cell",
                    seed=s,
                    protocol_id=proto.id,
                    device="cpu",
                    history={m: v[q].tolist() for q, m in enumerate(METRIC_NAMES)},
                    params=params[c + k],
                    flops=flops[c + k],
                    latency_s=float(rng.uniform(1e-3, 1e-2)),
                )
                for k, (a, v) in enumerate(zip(reps[c : c + 1000], vals, strict=True))
            ]
            write_chunk(out, s, c // 1000, proto.id, "cell", results)
    return reps


# --------------------------------------------------------------- the baseline
def to_nb201_pickle(table: Table, path: Path) -> None:
    """Store the table's data as NAS-Bench-201 does: a pickled dict of records."""
    m = table.metrics  # (n, S, E, M)
    static = table.static
    canonical = np.arange(table.n_rows) if table.per_cell else table.canonical
    arch2infos: dict[int, dict[str, Any]] = {}
    for row in np.flatnonzero(representative_mask(canonical)).tolist():
        arch2infos[row] = {
            "seeds": {
                s: {
                    name: {e: float(m[row, k, j, q]) for j, e in enumerate(table.epochs)}
                    for q, name in enumerate(METRIC_NAMES)
                }
                for k, s in enumerate(table.seeds)
            },
            "params": float(static[row, 0]),
            "flops": float(static[row, 1]),
            "latency_s": float(static[row, 2]),
        }
    data = {
        "meta_archs": table.archs,
        "canonical": canonical.tolist(),
        "arch2infos": arch2infos,
        "epochs": list(table.epochs),
    }
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)


class PickleAPI:
    """The NAS-Bench-201 API pattern: unpickle everything, index strings, loop to query."""

    def __init__(self, path: Path):
        with open(path, "rb") as f:
            data = pickle.load(f)
        self.meta_archs: list[str] = data["meta_archs"]
        self.canonical: list[int] = data["canonical"]
        self.arch2infos: dict[int, dict[str, Any]] = data["arch2infos"]
        self.final_epoch: int = data["epochs"][-1]
        self.archstr2index = {s: i for i, s in enumerate(self.meta_archs)}

    def query(self, arch: str, epoch: int | None = None, seed: int | None = None) -> dict[str, Any]:
        info = self.arch2infos[self.canonical[self.archstr2index[arch]]]
        epoch = self.final_epoch if epoch is None else epoch
        seeds = list(info["seeds"]) if seed is None else [seed]
        out: dict[str, Any] = {}
        for name in METRIC_NAMES:
            out[name] = sum(info["seeds"][s][name][epoch] for s in seeds) / len(seeds)
        out["train_time_s"] = sum(
            sum(v for e, v in info["seeds"][s]["epoch_time_s"].items() if e <= epoch) for s in seeds
        ) / len(seeds)
        out["per_seed_test_acc"] = [info["seeds"][s]["test_acc"][epoch] for s in seeds]
        out.update(params=info["params"], flops=info["flops"], latency_s=info["latency_s"])
        return out

    def query_many(self, archs: list[str]) -> list[dict[str, Any]]:
        return [self.query(a) for a in archs]


_FIGURES = ("open", "first", "query", "query_cold", "query_epoch_seed", "query_many")


def _table_figures(
    h5: Path, singles: list[str], many: list[str], distinct: list[str], epoch: int, seed: int
) -> dict[str, float]:
    """Seconds of: open, first answer, query, query of each row once, query(epoch, seed),
    and query_many of ``many``."""
    out = {
        "open": _median_time(lambda: Table.open(h5).close(), 21),
        "first": _median_time(lambda: Table.open(h5).query(singles[0]), 5),
    }
    table = Table.open(h5)
    table.query(singles[0])
    table.query(singles[0], epoch=epoch, seed=seed)
    out["query"] = _per_call(table.query, singles)
    cold = []
    for _ in range(5):  # fresh tables: every row queried once, so no memo hit
        fresh = Table.open(h5)
        fresh.query(distinct[0])
        cold.append(_per_call(fresh.query, distinct[1:], 1))
    out["query_cold"] = statistics.median(cold)
    out["query_epoch_seed"] = _per_call(lambda a: table.query(a, epoch=epoch, seed=seed), singles)
    out["query_many"] = _median_time(lambda: table.query_many(many), 7)
    return out


def table_is_per_cell(path: Path) -> bool:
    with Table.open(path) as t:
        return t.per_cell


# ------------------------------------------------------------------ timing
def _median_time(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _per_call(fn: Callable[[str], Any], archs: list[str], repeats: int = 5) -> float:
    def loop() -> None:
        for a in archs:
            fn(a)

    return _median_time(loop, repeats) / len(archs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=None, help="epochs (default: mnist1d-tiny's)")
    ap.add_argument("--workdir", type=Path, default=None, help="keep files here")
    ap.add_argument("--table", default=None, help="measure this table (name or path) instead")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="nasrepro-bench-")
    work = args.workdir or Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    h5, pkl = work / "table.h5", work / "table.pkl"

    if args.table is not None:
        h5 = table_path(args.table)
        with Table.open(h5) as t:
            to_nb201_pickle(t, pkl)
            shape, epoch_mid, seed_last = t.metrics.shape, t.epochs[len(t.epochs) // 2], t.seeds[-1]
            kind = f"{t.kind}, {'per-cell values' if t.per_cell else 'class values'}"
        print(
            f"table {args.table} ({h5}; {kind}): metrics {shape} = (rows, seeds, epochs, metrics)"
        )
    else:
        epochs, why = (args.epochs, "--epochs") if args.epochs else _default_epochs()
        t0 = time.perf_counter()
        synth_sweep(work / "sweep", epochs)
        t1 = time.perf_counter()
        build(work / "sweep", h5)
        t2 = time.perf_counter()
        with Table.open(h5) as t:
            to_nb201_pickle(t, pkl)
            shape = t.metrics.shape
        epoch_mid, seed_last = epochs // 2, 1
        print(f"synthetic data (random values): metrics {shape} = (rows, seeds, epochs, metrics)")
        print(f"epochs: {epochs} ({why})")
        print(f"sweep chunks written in {t1 - t0:.1f} s, table built in {t2 - t1:.1f} s")
    print(
        f"file sizes: HDF5 {h5.stat().st_size / 1e6:.1f} MB, pickle {pkl.stat().st_size / 1e6:.1f} MB"
    )

    rng = np.random.default_rng(1)
    space = get_space("cell")
    all_archs = [a.to_string() for a in space.enumerate()]
    singles = [all_archs[i] for i in rng.integers(0, len(all_archs), 20_000)]
    many = [all_archs[i] for i in rng.integers(0, len(all_archs), 100_000)]
    canon = space.canonical_indices()
    first_of = {int(canon[i]): i for i in rng.permutation(len(all_archs)).tolist()}
    distinct = [all_archs[i] for i in list(first_of.values())[:5001]]
    if table_is_per_cell(h5):  # every cell is its own row
        distinct = [all_archs[i] for i in rng.permutation(len(all_archs))[:5001].tolist()]

    # ---- HDF5 table
    fig = _table_figures(h5, singles, many, distinct, epoch_mid, seed_last)
    t_open, t_first, t_q, t_qcold, t_qes, t_many = (fig[k] for k in _FIGURES)
    r = Table.open(h5).query(singles[0])

    # ---- pickle baseline
    t_popen = _median_time(lambda: PickleAPI(pkl), 3)
    api = PickleAPI(pkl)
    p = api.query(singles[0])
    assert np.isclose(p["test_acc"], r.test_acc, rtol=0, atol=1e-9), (p["test_acc"], r.test_acc)
    assert np.isclose(p["train_time_s"], r.train_time_s, rtol=0, atol=1e-6, equal_nan=True)
    t_pq = _per_call(api.query, singles[:5000], 3)
    t_pqcold = _per_call(api.query, distinct[1:], 3)
    t_pqes = _per_call(lambda a: api.query(a, epoch=epoch_mid, seed=seed_last), singles[:5000], 3)
    t_pmany = _median_time(lambda: api.query_many(many), 3)

    rows = [
        ("open", t_open * 1e3, t_popen * 1e3, "ms", "<= 50 ms", t_open <= 0.050, False),
        ("first answer (open+query)", t_first * 1e3, t_popen * 1e3, "ms", "-", None, False),
        ("query (final, mean)", t_q * 1e6, t_pq * 1e6, "us", "<= 20 us", t_q <= 20e-6, False),
        (
            "query, each row once",
            t_qcold * 1e6,
            t_pqcold * 1e6,
            "us",
            "<= 20 us",
            t_qcold <= 20e-6,
            False,
        ),
        ("query (epoch, seed)", t_qes * 1e6, t_pqes * 1e6, "us", "<= 20 us", t_qes <= 20e-6, False),
        (
            "query_many",
            len(many) / t_many / 1e6,
            len(many) / t_pmany / 1e6,
            "M rows/s",
            ">= 1 M rows/s",
            len(many) / t_many >= 1e6,
            True,
        ),
    ]
    print()
    print(f"{'figure':<27}{'HDF5 table':>14}{'pickle dict':>14}  {'unit':<9}{'speed-up':>9}  goal")
    all_met = True
    # The 10x-over-pickle goal is the synthetic table's (3 seeds, every epoch, where the
    # NB201-style API loops in Python); on a real --table only the absolute goals apply.
    need = 10.0 if args.table is None else 0.0
    for name, ours, base, unit, goal, met, higher in rows:
        speedup = ours / base if higher else base / ours
        ok = "" if met is None else ("met" if met and speedup >= need else "MISSED")
        if met is not None:
            all_met &= bool(met) and speedup >= need
        print(
            f"{name:<27}{ours:>14.3f}{base:>14.3f}  {unit:<9}{speedup:>8.1f}x  {goal}"
            f"{' and >= 10x' if need else ''}: {ok}"
            if met is not None
            else f"{name:<27}{ours:>14.3f}{base:>14.3f}  {unit:<9}{speedup:>8.1f}x  (not a goal)"
        )
    print(f"\nall goals met: {'yes' if all_met else 'no'}")
    if args.table is not None:  # the baseline the issue names: the default table, this run
        d = table_path("cell-mnist1d-tiny")
        with Table.open(d) as dt:
            d_epoch, d_seed = dt.epochs[len(dt.epochs) // 2], dt.seeds[-1]
            d_distinct = [dt.archs[i] for i in np.flatnonzero(representative_mask(dt.canonical))]
        df = _table_figures(d, singles, many, d_distinct[:5001], d_epoch, d_seed)
        print(f"\n{'figure':<27}{args.table:>22}{'cell-mnist1d-tiny':>20}  unit")
        for name, key, scale, unit in (
            ("open", "open", 1e3, "ms"),
            ("first answer (open+query)", "first", 1e3, "ms"),
            ("query (final, mean)", "query", 1e6, "us"),
            ("query, each row once", "query_cold", 1e6, "us"),
            ("query (epoch, seed)", "query_epoch_seed", 1e6, "us"),
        ):
            print(f"{name:<27}{fig[key] * scale:>22.3f}{df[key] * scale:>20.3f}  {unit}")
        rate = len(many) / fig["query_many"] / 1e6, len(many) / df["query_many"] / 1e6
        print(f"{'query_many':<27}{rate[0]:>22.3f}{rate[1]:>20.3f}  M rows/s")
    tmp.cleanup()


if __name__ == "__main__":
    main()
