"""The one-shot leaderboard: methods x seeds on one table, summarised, plotted and tracked.

Runs go to worker processes (one torch thread each). A finished run is written to
``OUT/runs/METHOD-seedS.json`` at once (temporary file, then rename), and a rerun with
the same ``OUT`` reuses those files after checking that they belong to the same
method, seed, protocol, search epochs and table (its content, by
:func:`~nasrepro.bench.oneshot._run.table_digest`, not its file name), so a killed
leaderboard loses nothing.

The black-box side (strategies on the table at each method's cost in full-training
equivalents) runs in :mod:`nasrepro.bench.sim`; the CLI joins the two, and
:func:`to_markdown` takes the black-box figures as plain numbers.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import logging
import math
import multiprocessing
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nasrepro.bench._children import die_with
from nasrepro.bench.oneshot._methods import get_method, run_config, scaled
from nasrepro.bench.oneshot._run import (
    COST_ACCOUNTING,
    COST_CELLS,
    STANDALONE_PHASE,
    check_table,
    op_histogram,
    run_oneshot,
    standalone_seconds,
    table_digest,
)
from nasrepro.spaces._errors import ConfigError, WorkerDiedError
from nasrepro.tables import Protocol, Table, open_table, save_figure_atomic, write_text_atomic
from nasrepro.tables._outfile import remove_stale_temps, set_aside

__all__ = [
    "json_text",
    "retrain_cells",
    "run_board",
    "summarize_runs",
    "to_markdown",
    "plot_epochs",
    "track_search",
]

logger = logging.getLogger(__name__)


def _finite(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float replaced by ``None``."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def json_text(obj: Any, indent: int | None = None) -> str:
    """Strict JSON: ``null`` where a value is NaN or infinite (an undefined Kendall tau, a
    black-box strategy without a result by some cost), which strict parsers refuse."""
    return json.dumps(_finite(obj), indent=indent, allow_nan=False)


def _run_path(out: Path, method: str, seed: int) -> Path:
    return out / "runs" / f"{method}-seed{seed}.json"


def _one(
    method: str,
    seed: int,
    table: str,
    protocol: str,
    epochs: int | None,
    transfer: bool,
    rank_cells: int,
    cost: float,
    out: str,
) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    res = run_oneshot(
        method,
        open_table(table),
        protocol,
        seed,
        epochs=epochs,
        transfer=transfer,
        rank_cells=rank_cells,
        cost_seconds=cost,
    )
    d = res.to_dict()
    path = _run_path(Path(out), method, seed)
    write_text_atomic(path, json_text(d))
    return d


def _kept(finished: int, total: int, what: str, where: Path) -> str:
    if not finished:
        return f"none of the {total} {what} had finished; run the same command again"
    return (
        f"{finished} of {total} {what} finished and are kept in {where}: run the same "
        "command again to resume"
    )


def _digest_text(digest: Any) -> str:
    if not isinstance(digest, dict) or not digest.get("metrics_sha256"):
        return "not recorded"
    return f"metrics sha256 {str(digest['metrics_sha256'])[:12]}"


def _reusable(
    path: Path,
    method: str,
    seed: int,
    protocol: Protocol,
    table: Table,
    epochs: int | None,
) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        d = json.loads(path.read_text())
        if not isinstance(d, dict):
            raise ValueError(f"a JSON {type(d).__name__}, not a run's object")
    except ValueError as e:
        logger.warning("%s is unreadable (%s); set aside as %s, searching again", path, e,
                       set_aside(path))  # fmt: skip
        return None
    cls = get_method(method)
    cfg = scaled(cls.config, protocol, protocol.n_train // 2, epochs)
    digest = table_digest(table)
    stored_digest = d.get("table_digest")
    differ: list[tuple[str, Any, Any]] = []  # (key, stored, asked)
    if d.get("method") != method:
        differ.append(("method", d.get("method"), method))
    if d.get("seed") != seed:
        differ.append(("seed", d.get("seed"), seed))
    if d.get("protocol_id") != protocol.id:
        stored_p = f"{d.get('protocol')} ({str(d.get('protocol_id'))[:12]})"
        differ.append(("protocol", stored_p, f"{protocol.name} ({protocol.id[:12]})"))
    if d.get("epochs") != cfg.epochs:
        differ.append(("epochs", d.get("epochs"), cfg.epochs))
    if d.get("cost_accounting") != COST_ACCOUNTING:  # its seconds mean something else
        stored_acc = d.get("cost_accounting") or "diagnostics charged (before 2026-12-07)"
        differ.append(("cost accounting", stored_acc, COST_ACCOUNTING))
    if stored_digest != digest:
        differ.append((
            "table",
            f"{d.get('table')} ({_digest_text(stored_digest)})",
            f"{table.path.name} ({_digest_text(digest)})",
        ))  # fmt: skip
    if differ:
        said = "; ".join(f"{k}: stored {a}, asked {b}" for k, a, b in differ)
        raise ConfigError(
            f"{path} holds a run of another configuration ({said}); use another --out or remove it"
        )
    want, stored = json.loads(json.dumps(run_config(cls, cfg))), d.get("config", {})
    changed = sorted(k for k in want.keys() | stored.keys() if want.get(k) != stored.get(k))
    if changed:
        said = "; ".join(f"{k}: stored {stored.get(k)!r}, asked {want.get(k)!r}" for k in changed)
        raise ConfigError(
            f"{path} holds a {method} run made with other settings ({', '.join(changed)} "
            f"differ from this version's: {said}); remove it to rerun that search, or use "
            "another --out"
        )
    return d


def _stored_cost(cost_file: Path, protocol: Protocol) -> float | None:
    """The stand-alone training time ``cost_file`` holds for ``protocol``; ``None`` (it
    is measured again) where it holds another protocol's, or is damaged (a warning)."""
    try:
        c = json.loads(cost_file.read_text())
        if not isinstance(c, dict):
            raise ValueError(f"a JSON {type(c).__name__}, not an object")
        if c.get("protocol_id") != protocol.id:
            return None
        cost = float(c["standalone_seconds"])
        if not (math.isfinite(cost) and cost > 0):
            raise ValueError(f"standalone_seconds {cost} is not a positive time")
    except (OSError, ValueError, KeyError, TypeError) as e:
        logger.warning("%s is unreadable (%s); measuring the stand-alone cost again", cost_file, e)
        return None
    return cost


def run_board(
    methods: Sequence[str],
    seeds: Sequence[int],
    table: str,
    protocol: Protocol,
    out: str | os.PathLike[str],
    *,
    epochs: int | None = None,
    transfer: bool = False,
    rank_cells: int = 1000,
    rank_seeds: int = 3,
    jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> tuple[list[dict[str, Any]], float]:
    """Run (or resume) every method for every seed; return the runs and the stand-alone time.

    The supernet's ranking (``rank_cells`` classes) is checked on the first
    ``rank_seeds`` seeds of each method: on ``mnist1d-tiny`` it costs about three times
    an RSPS search.

    The stand-alone training time that full-training equivalents divide by is measured
    once, in this process, before the searches, and recorded in ``OUT/cost.json``.

    Args:
        seeds: The search seeds (any distinct non-negative integers).
        progress: Called as ``progress(done, total)`` before the first search (with the
            runs read back) and after each.
        on_phase: Called with a short description as the stand-alone timing begins.

    Raises:
        ConfigError: The table does not fit (see
            :func:`~nasrepro.bench.oneshot._run.check_table`), or ``OUT/runs`` holds a
            run of another configuration or another table's content (before any work).
    """
    tab = open_table(table)
    check_table(tab, protocol, transfer)  # before minutes of work
    out_dir = Path(out)
    done: dict[tuple[str, int], dict[str, Any]] = {}
    todo = []
    for m in methods:  # a stored run of another configuration fails before minutes of work
        for s in seeds:
            d = _reusable(_run_path(out_dir, m, s), m, s, protocol, tab, epochs)
            if d is not None:
                done[m, s] = d
            else:
                todo.append((m, s))
    out_dir.mkdir(parents=True, exist_ok=True)
    cost_file = out_dir / "cost.json"
    cost: float | None = None
    if cost_file.is_file():
        cost = _stored_cost(cost_file, protocol)
    if cost is None:
        import torch

        if on_phase is not None:
            on_phase(STANDALONE_PHASE.format(n=COST_CELLS, protocol=protocol.name))
        prev = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            cost = standalone_seconds(protocol)
        finally:
            torch.set_num_threads(prev)
        from nasrepro.bench.tracking import cpu_model, versions

        record = {"protocol_id": protocol.id, "standalone_seconds": cost}
        record |= {"versions": versions(), "cpu": cpu_model()}  # what the timing ran on
        write_text_atomic(cost_file, json.dumps(record))
    total = len(methods) * len(seeds)

    def args(s: int) -> tuple[Any, ...]:
        ranked = rank_cells if s in seeds[:rank_seeds] else 0
        return (table, protocol.name, epochs, transfer, ranked, cost, str(out_dir))

    if progress:
        progress(len(done), total)
    if jobs <= 1 or not todo:  # nothing left to run: no pool (it needs one worker or more)
        for m, s in todo:
            done[m, s] = _one(m, s, *args(s))
            if progress:
                progress(len(done), total)
    else:
        ctx = multiprocessing.get_context(
            "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        )
        with cf.ProcessPoolExecutor(
            min(jobs, len(todo)), mp_context=ctx, initializer=die_with, initargs=(os.getpid(),)
        ) as pool:  # workers die with this process: none writes beside a resume
            futs = {pool.submit(_one, m, s, *args(s)): (m, s) for m, s in todo}
            try:
                for fut in cf.as_completed(futs):
                    done[futs[fut]] = fut.result()
                    if progress:
                        progress(len(done), total)
            except cf.process.BrokenProcessPool:
                pool.shutdown(wait=True, cancel_futures=True)
                for t in todo:  # a worker ended mid-write leaves its temporary file
                    remove_stale_temps(_run_path(out_dir, *t))
                # a search still running when the pool broke may have written its file
                saved = {t for t in todo if _run_path(out_dir, *t).is_file()}
                left = [f"{m} seed {s}" for m, s in todo if (m, s) not in saved]
                named = f" ({', '.join(left)})" if len(left) <= 4 else ""
                kept = _kept(total - len(left), total, "searches", out_dir / "runs")
                raise WorkerDiedError(
                    "a one-shot worker process died without an error (killed, or out of "
                    f"memory) with {len(left)} searches unfinished{named}; {kept}"
                ) from None
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    return [done[m, s] for m in methods for s in seeds], cost


def retrain_cells(
    table: Table,
    archs: Sequence[str],
    seed: int = 0,
    device: str = "cpu",
    store: Path | None = None,
) -> list[dict[str, Any]]:
    """Retrain derived cells for real (through ``nasrepro reproduce``) and compare with
    the table rows: the table's verdict on each, with the final accuracies of both.

    With a ``store`` (``oneshot leaderboard``'s ``OUT/retrained``) each cell's outcome is
    kept as it finishes and read back by a rerun on the same build
    (:func:`nasrepro.bench.harness._kept.kept`). Returns an empty list for a table
    without a training protocol (nothing to retrain under).
    """
    from nasrepro.bench.harness import reproduce
    from nasrepro.bench.harness._kept import kept

    if not table.has_protocol:
        return []
    out = []
    for a in dict.fromkeys(archs):  # each distinct cell once, in order

        def one(a: str = a) -> dict[str, Any]:
            rep = reproduce(table, a, seed, device)
            return {
                "arch": a,
                "seed": seed,
                "verdict": rep.verdict,
                "bitwise_expected": rep.bitwise_expected,
                "table_test_acc": rep.final["test_acc"][0],
                "retrained_test_acc": rep.final["test_acc"][1],
                "table_valid_acc": rep.final["valid_acc"][0],
                "retrained_valid_acc": rep.final["valid_acc"][1],
            }

        key = {"reproduce": a, "seed": seed, "device": device,
               "protocol_id": table.protocol.id, "table": table.attrs["metrics_sha256"]}  # fmt: skip
        out.append(kept(store, key, device, one)[0])
    return out


def _pm(mean: float, std: float, digits: int = 2) -> str:
    """``mean ± std``; the std reads ``n/a`` where it is undefined (one seed: NaN)."""
    return f"{mean:.{digits}f} ± " + (f"{std:.{digits}f}" if math.isfinite(std) else "n/a")


def _ms(values: Sequence[float]) -> tuple[float, float]:
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else math.nan


def summarize_runs(runs: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per method: test accuracy, regret, cost, ranking tau (mean ± std over seeds) and
    the op histogram of its derived cells."""
    by: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        by.setdefault(r["method"], []).append(r)
    out: dict[str, dict[str, Any]] = {}
    for m, rs in by.items():
        test = _ms([r["table_test_acc"] for r in rs])
        taus = [r["ranking"]["kendall_tau"] for r in rs if r.get("ranking")]
        ops = list(rs[0]["op_counts"])
        out[m] = {
            "seeds": len(rs),
            "test_mean": test[0],
            "test_std": test[1],
            "valid_mean": _ms([r["table_valid_acc"] for r in rs])[0],
            "regrets": [float(r["regret"]) for r in rs],
            "regret_mean": _ms([r["regret"] for r in rs])[0],
            "regret_std": _ms([r["regret"] for r in rs])[1],
            "fte_mean": _ms([r["full_training_equivalents"] for r in rs])[0],
            "search_s_mean": _ms([r["search_seconds"] for r in rs])[0],
            "epochs": rs[0]["epochs"],
            "tau_mean": _ms(taus)[0] if taus else None,
            "tau_std": _ms(taus)[1] if taus else None,
            "rank_cells": next((r["ranking"]["cells"] for r in rs if r.get("ranking")), 0),
            "rank_runs": len(taus),
            "op_share": op_histogram([r["arch"] for r in rs], ops),
            "distinct_cells": len({r["arch"] for r in rs}),
        }
    return out


def to_markdown(
    summary: dict[str, dict[str, Any]],
    header: dict[str, Any],
    blackbox: dict[str, dict[str, tuple[float, float, float, float, float]]] | None = None,
    retrained: dict[str, list[dict[str, Any]]] | None = None,
) -> str:
    """The one-shot section: methods, then the black-box strategies at each method's cost.

    Args:
        blackbox: ``{method: {strategy: (regret mean, test mean, test std, p, p_holm)}}``
            at the method's mean cost in full-training equivalents; ``p``: Welch's t-test
            of the method's regrets against the strategy's, per seed; ``p_holm``: ``p``
            adjusted by Holm's method over the method's comparisons (NaN untested).
    """
    lines = [
        f"## One-shot methods on {header['table']} ({header['protocol']})",
        "",
        f"{header['seeds']} seeds per method; a full-training equivalent (FTE) is one "
        f"stand-alone training of {header['standalone_seconds']:.2f} s, measured in the same run "
        f"on the same device ({header['device']}). Table optimum {header['optimum']:.2f}%. "
        "The cost charges the method's own work; the per-epoch derivations and "
        "shared-weight evaluations kept for the trajectory are not charged.",
        "",
        "| method | epochs | test acc (%) | regret | cost (FTE) | search s | supernet tau (runs) | distinct cells | skip share | none share |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m, s in summary.items():
        tau = (
            "n/a"
            if s["tau_mean"] is None
            else f"{_pm(s['tau_mean'], s['tau_std'], 3)} ({s.get('rank_runs', '?')})"
        )
        lines.append(
            f"| {m} | {s['epochs']} | {_pm(s['test_mean'], s['test_std'])} | "
            f"{s['regret_mean']:.2f} | {s['fte_mean']:.1f} | {s['search_s_mean']:.1f} | {tau} | "
            f"{s['distinct_cells']}/{s['seeds']} | {s['op_share'].get('skip_connect', 0):.0%} | "
            f"{s['op_share'].get('none', 0):.0%} |"
        )
    if blackbox:
        strategies = sorted({k for v in blackbox.values() for k in v})
        lines += [
            "",
            "Black-box strategies at each method's cost (mean regret; test acc mean ± std; "
            "p: Welch's t-test of the method's regrets against the strategy's over the "
            "seeds, then Holm-adjusted over the row's comparisons; a row's claim to beat, "
            "or trail, every strategy holds at 0.05 where each Holm p is below it), read from their "
            "anytime curves on the same table (n/a: not every seed had a result by that "
            "cost)"
            + (
                f"; one FTE is read as the table's recorded time of the same cells, "
                f"{header['fte_table_seconds']:.2f} s (the table's mean training: "
                f"{header['typical_table_seconds']:.2f} s):"
                if header.get("fte_table_seconds")
                else ":"
            ),
            "",
            "| budget | " + " | ".join(strategies) + " |",
            "|---|" + "---:|" * len(strategies),
        ]
        for m, per in blackbox.items():
            cells = []
            for st in strategies:
                if st not in per or math.isnan(per[st][0]):
                    cells.append("n/a")
                else:
                    r, t, sd, p, ph = per[st]
                    ptxt = "n/a" if math.isnan(p) else f"{p:.2g}, Holm {ph:.2g}"
                    cells.append(f"{r:.2f} ({_pm(t, sd)}; p {ptxt})")
            lines.append(f"| {summary[m]['fte_mean']:.1f} FTE ({m}) | " + " | ".join(cells) + " |")
    if retrained:
        lines += [
            "",
            "Derived cells retrained for real (seed 0, `nasrepro reproduce`) against their table rows:",
            "",
            "| method | cell | verdict | table test | retrained test |",
            "|---|---|---|---:|---:|",
        ]
        for m, rows in retrained.items():
            for row in rows:
                lines.append(
                    f"| {m} | `{_cell(row['arch'])}` | {row['verdict']} | {row['table_test_acc']:.2f} | "
                    f"{row['retrained_test_acc']:.2f} |"
                )
    return "\n".join(lines) + "\n"


def _cell(arch: str) -> str:
    """An arch string inside a markdown table (its ``|`` escaped)."""
    return arch.replace("|", "\\|")


def plot_epochs(
    runs: Sequence[dict[str, Any]], path: str | os.PathLike[str], optimum: float | None = None
) -> Path:
    """PNG: the derived cell's table test accuracy against search epoch (mean over seeds,
    band = min..max), one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by: dict[str, list[list[float]]] = {}
    for r in runs:
        by.setdefault(r["method"], []).append([h["table_test_acc"] for h in r["history"]])
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for m, curves in by.items():
        n = min(len(c) for c in curves)
        a = np.array([c[:n] for c in curves])
        x = np.arange(1, n + 1) / n
        ax.plot(x, a.mean(0), label=f"{m} ({n} ep.)")
        if len(a) > 1:
            ax.fill_between(x, a.min(0), a.max(0), alpha=0.15)
    if optimum is not None:
        ax.axhline(optimum, color="k", lw=0.8, ls="--", label="table optimum")
    ax.set_xlabel("search progress (fraction of the method's epochs)")
    ax.set_ylabel("derived cell's table test acc (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    p = Path(path)
    save_figure_atomic(fig, p, dpi=110)
    plt.close(fig)
    return p


def track_search(run: Any, result: dict[str, Any]) -> None:
    """Log one search to an open :class:`~nasrepro.bench.tracking.Run`: per epoch the
    supernet loss, the derived cell (and its table accuracies) and every arch probability."""
    for h in result["history"]:
        metrics = {
            "supernet_loss": h["supernet_loss"],
            "inherited_acc": h["inherited_acc"],
            "table_test_acc": h["table_test_acc"],
            "table_valid_acc": h["table_valid_acc"],
            "search_seconds": h["seconds"],
        }
        if h["probabilities"] is not None:
            for e, row in enumerate(h["probabilities"]):
                for k, v in enumerate(row):
                    metrics[f"p_edge{e}_op{k}"] = v
        run.log_metrics(metrics, step=h["epoch"])
    run.log_dict(
        {"derived_per_epoch": [h["arch"] for h in result["history"]]}, "derived_cells.json"
    )
    run.log_dict(result, "oneshot.json")
    run.set_tags({"arch": result["arch"], "table": result["table"]})
    run.log_metrics(
        {
            "table_test_acc_final": result["table_test_acc"],
            "regret": result["regret"],
            "full_training_equivalents": result["full_training_equivalents"],
        }
    )
