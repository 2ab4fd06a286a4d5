"""Surrogate predictions per second from architecture strings: the old code path beside today's.

For each space, sample ``-n`` architectures (seeded) as strings and time, pinned to one
core with one XGBoost thread:

* ``old``: the path of nasrepro up to 2026-12-04 (commit 0bdbc68): lower every string,
  the per-network feature loop, then the five boosters through the scikit-learn
  wrappers (the cost model's unused noise booster included), on the surrogate shipped
  with that code (7,400 trees; read from git, ``--old-models``);
* ``new``: ``Surrogate.predict(strings, space)``: each distinct string lowered once,
  array features, each distinct feature row predicted once, and the numpy forest for
  small batches;
* ``single``: one string per call, ``--single-n`` calls, old and new;
* ``first``: the first large batch of each space, which also pays the first big
  allocations of the process (about 0.5 s more on cell, the first space); ``new`` is
  the next one, memo cleared;
* ``warm``: the same batch asked again. ``Surrogate.predict`` remembers what it has
  predicted (``MEMO_SIZE`` per space), as a leaderboard's strategies re-ask; every
  other figure is cold: the memo is cleared before each timed call.

On the same surrogate both paths must give the same bits; the script checks it (the old
code on today's surrogate, on the first 2,000 strings and 20 single calls) and says so.
Since 2026-12-07 today's path featurizes each cell as its class representative
(``CellSpace.features_of_canonical``), which the old code did not, so the check hands
the old code the representatives (outside its timing: ``old/s`` stays the old code's
own speed, and ``speedup`` counts the representatives' cost against today's path). The
breakdown of ``new`` shows where its time goes: the representatives (``canon s``, cell
only), ``SearchSpace.lower_columns`` of the distinct strings, the array features, and
the models on the distinct feature rows.

Usage::

    python benchmarks/surrogate_speed.py                 # the shipped surrogate, n = 100,000
    python benchmarks/surrogate_speed.py -n 20000 --old-n 5000 --json
    python benchmarks/surrogate_speed.py --models DIR

``--old-n`` times the old batch path on the first that many strings only (it is slow),
reported per second.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from nasrepro.spaces import get_space
from nasrepro.surrogate import Prediction, Surrogate, load_shipped
from nasrepro.surrogate._batch_features import batch_features
from nasrepro.surrogate._data import lower_all
from nasrepro.surrogate._features import features_many

FIELDS = ("valid_acc", "valid_std", "test_acc", "test_std", "cost_s")
#: The baseline: the code before the batch work, and the surrogate shipped with it.
OLD_REV = "0bdbc68"


def old_predict(s: Surrogate, strings: list[str], space: Any) -> Prediction:
    """The prediction path as it was before the batch work (same numbers, old code)."""
    specs = lower_all(strings, space, s.protocol)
    X = features_many(specs, s.protocol.input_shape, s.protocol.num_classes, vectorised=False)
    cost = np.exp(s.cost_.predict(X)) * s.metadata_["epoch_cost_fraction"][-1]
    own = f"{space.name}:" if space.name in s.space_models else ""  # the space's own models
    vm, vs = s.models_[f"{own}valid_acc"].predict_dist(X)
    tm, ts = s.models_[f"{own}test_acc"].predict_dist(X)
    kappa = s.metadata_.get("model_error_std", {}).get(space.name)
    if kappa:
        vs, ts = np.hypot(vs, kappa["valid_acc"]), np.hypot(ts, kappa["test_acc"])
    return Prediction(vm, vs, tm, ts, cost)


def _featurized(space: Any, strings: list[str]) -> list[str]:
    """What today's path featurizes for ``strings``: the class representatives where
    the space sets ``features_of_canonical``, else the strings themselves."""
    if not space.features_of_canonical:
        return strings
    return [space.canonical(space.parse(a)).to_string() for a in strings]


def _trees(s: Surrogate, space: str | None = None) -> int:
    """Trees a final-epoch prediction of ``space`` walks: both targets' mean and noise
    boosters (the space's own, where it has them) and the cost's mean booster."""
    n = int(s.cost_.mean_.get_booster().num_boosted_rounds())
    own = f"{space}:" if space in s.space_models else ""
    for t in ("valid_acc", "test_acc"):
        m = s.models_[own + t]
        n += int(m.mean_.get_booster().num_boosted_rounds())  # type: ignore[attr-defined]
        n += 2 * int(m.noise_.get_booster().num_boosted_rounds())  # type: ignore[attr-defined]
    return n


def _time(fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def old_shipped(rev: str, into: Path) -> Path | None:
    """The surrogate shipped at commit ``rev``, written into ``into``; ``None`` where this
    is not a git checkout that has it."""
    where = "surrogate/data/mnist1d-tiny"
    root = Path(__file__).resolve().parent.parent

    def git(*cmd: str) -> bytes:
        return subprocess.run(
            ["git", "-C", str(root), *cmd], capture_output=True, check=True
        ).stdout

    try:
        names = git("ls-tree", "--name-only", f"{rev}:{where}").decode().split()
        for name in names:
            (into / name).write_bytes(git("show", f"{rev}:{where}/{name}"))
    except (OSError, subprocess.CalledProcessError):
        return None
    return into if names else None


def bench_space(
    s: Surrogate,
    name: str,
    n: int,
    old_n: int,
    single_n: int,
    seed: int,
    old_model: Surrogate | None = None,
) -> dict[str, Any]:
    """Old against new on ``name``; ``old_model`` (default ``s``) is what the old path
    predicts with. Same bits are checked between both paths on ``s``."""
    old_s = s if old_model is None else old_model
    space = get_space(name)
    rng = np.random.default_rng(seed)
    strings = [space.sample(rng).to_string() for _ in range(n)]
    distinct = len(set(strings))
    # batched, new (warm the caches that a long-running process would have once)
    s.predict(strings[:64], space)
    s.clear_memo()
    t_first, first = _time(s.predict, strings, space)  # pays the process's first big allocations
    s.clear_memo()
    t_new, new = _time(s.predict, strings, space)
    t_warm, warm = _time(s.predict, strings, space)
    t_old, _ = _time(old_predict, old_s, strings[:old_n], space)
    check_n = min(old_n, 2000)
    # the old code on today's model, given the inputs today's path featurizes
    old = old_predict(s, _featurized(space, strings[:check_n]), space)
    same = all(
        np.array_equal(getattr(new, f)[:check_n], getattr(old, f))
        and np.array_equal(getattr(new, f), getattr(warm, f))
        and np.array_equal(getattr(new, f), getattr(first, f))
        for f in FIELDS
    )
    # where the new path's time goes: array lowering, array features, models
    distinct_strings = list(dict.fromkeys(strings))
    t_canon, distinct_strings = _time(_featurized, space, distinct_strings)
    t_lower, cols = _time(space.lower_columns, distinct_strings, **s.protocol.macro())
    t_feat, X = _time(batch_features, cols, s.protocol.input_shape, s.protocol.num_classes)
    t_model, _ = _time(s.predict_features, X, None, name)
    # one string per call
    singles = strings[:single_n]
    lat_new = []
    for a in singles:
        s.clear_memo()
        lat_new.append(_time(s.predict, [a], space)[0])
    lat_old = [_time(old_predict, old_s, [a], space)[0] for a in singles]
    same_single = True
    for a in singles[:20]:
        s.clear_memo()  # the one-row path itself, not the memo
        one, ref = s.predict([a], space), old_predict(s, _featurized(space, [a]), space)
        same_single &= all(np.array_equal(getattr(one, f), getattr(ref, f)) for f in FIELDS)
    return {
        "space": name,
        "n": n,
        "distinct_strings": distinct,
        "distinct_feature_rows": int(len(np.unique(X, axis=0))),
        "old_n": old_n,
        "old_per_s": old_n / t_old,
        "new_s": t_new,
        "new_per_s": n / t_new,
        "first_per_s": n / t_first,
        "speedup": (n / t_new) / (old_n / t_old),
        "warm_per_s": n / t_warm,
        "new_canonical_s": t_canon if space.features_of_canonical else 0.0,
        "new_lower_s": t_lower,
        "new_features_s": t_feat,
        "new_models_s": t_model,
        "single_old_ms_median": 1e3 * float(np.median(lat_old)),
        "single_new_ms_median": 1e3 * float(np.median(lat_new)),
        "single_new_ms_p95": 1e3 * float(np.percentile(lat_new, 95)),
        "identical": bool(same and same_single),
    }


def crossover(s: Surrogate, seed: int) -> list[dict[str, float]]:
    """Milliseconds per batch of the numpy forest and of XGBoost, by batch size (chain
    rows): where the forest stops winning sets ``FOREST_ROWS``."""
    from nasrepro.surrogate import _surrogate

    space = get_space("chain")
    rng = np.random.default_rng(seed)
    X = s.encode([space.sample(rng).to_string() for _ in range(256)], space)
    own = "chain:" if "chain" in s.space_models else ""  # the models that answer for chain
    saved = _surrogate.FOREST_ROWS
    out = []
    try:
        for n in (8, 16, 32, 64, 96, 128, 256):
            row = {"rows": float(n)}
            for key, limit in (("forest_ms", 10**9), ("xgboost_ms", 0)):
                _surrogate.FOREST_ROWS = limit
                Xn = X[:n]
                s._predict_distinct(Xn, None, own)  # warm
                t0 = time.perf_counter()
                for _ in range(10):
                    s._predict_distinct(Xn, None, own)
                row[key] = 1e3 * (time.perf_counter() - t0) / 10
            out.append(row)
    finally:
        _surrogate.FOREST_ROWS = saved
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=None, help="surrogate directory (default: shipped)")
    ap.add_argument("--spaces", default="cell,chain,hierarchical")
    ap.add_argument("-n", type=int, default=100_000)
    ap.add_argument("--old-n", type=int, default=5000)
    ap.add_argument("--single-n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--core", type=int, default=None, help="pin to this core (default: the last)")
    ap.add_argument(
        "--old-models",
        default=OLD_REV,
        help="the old path's surrogate: a directory, or a commit whose shipped surrogate to "
        f"read from git (default {OLD_REV}, the code's baseline; 'same': --models)",
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    core = args.core if args.core is not None else max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    s = Surrogate.load(args.models) if args.models else load_shipped()
    s.set_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        if args.old_models == "same":
            old_dir, old_label = None, "the same surrogate"
        elif Path(args.old_models).is_dir():
            old_dir, old_label = Path(args.old_models), args.old_models
        else:
            old_dir = old_shipped(args.old_models, Path(tmp))
            old_label = f"the surrogate shipped at {args.old_models}"
            if old_dir is None:
                old_label = f"the same surrogate ({args.old_models} is not in this checkout)"
        old_model = Surrogate.load(old_dir) if old_dir is not None else None
        if old_model is not None:
            old_model.set_threads(1)
        rows = [
            bench_space(
                s, name, args.n, min(args.old_n, args.n), args.single_n, args.seed, old_model
            )
            for name in args.spaces.split(",")
        ]
    trees = _trees(s)
    old_trees = _trees(old_model) if old_model is not None else trees
    cross = crossover(s, args.seed)
    machine = platform.processor() or platform.machine()
    if args.json:
        print(
            json.dumps(
                {
                    "machine": machine,
                    "core": core,
                    "old_model": old_label,
                    "trees": trees,
                    "old_trees": old_trees,
                    "rows": rows,
                    "crossover": cross,
                }
            )
        )
        return
    print(
        f"surrogate {s.model} ({s.metadata_['n_features']} features, {trees} trees on the "
        f"final-epoch path), pinned to core {core} of {os.cpu_count()}, 1 XGBoost thread, "
        f"{machine}"
    )
    print(
        f"old: the code of {OLD_REV} on {old_label} ({old_trees} trees); 'same bits' "
        "compares the old and new code on the same surrogate"
    )
    print(
        f"{'space':>13} {'n':>7} {'distinct':>8} {'old/s':>7} {'first/s':>8} {'new/s':>8} {'speedup':>7} "
        f"{'canon s':>7} {'lower s':>7} {'feat s':>6} {'model s':>7} {'1 old ms':>8} {'1 new ms':>8} "
        f"{'p95 ms':>6} {'warm/s':>9}  same bits"
    )
    for r in rows:
        print(
            f"{r['space']:>13} {r['n']:>7} {r['distinct_strings']:>8} {r['old_per_s']:>7.0f} "
            f"{r['first_per_s']:>8.0f} {r['new_per_s']:>8.0f} {r['speedup']:>6.1f}x "
            f"{r['new_canonical_s']:>7.2f} {r['new_lower_s']:>7.2f} "
            f"{r['new_features_s']:>6.2f} {r['new_models_s']:>7.2f} "
            f"{r['single_old_ms_median']:>8.2f} {r['single_new_ms_median']:>8.2f} "
            f"{r['single_new_ms_p95']:>6.2f} {r['warm_per_s']:>9.0f}  "
            f"{'yes' if r['identical'] else 'NO'}"
        )

    print("\nsmall batches (chain rows): ms per batch, numpy forest vs XGBoost")
    for c in cross:
        print(
            f"{int(c['rows']):>5} rows  forest {c['forest_ms']:7.2f}  xgboost {c['xgboost_ms']:7.2f}"
        )


if __name__ == "__main__":
    main()
