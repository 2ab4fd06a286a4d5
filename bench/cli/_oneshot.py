"""The ``nasrepro oneshot`` command: list, run and leaderboard.

``run`` searches with one method and scores the derived cell with a table of the same
protocol; ``leaderboard`` runs methods x seeds and sets them beside the black-box
strategies at the same cost in full-training equivalents. Torch is imported only when
a command runs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from nasrepro.bench.cli._args import device, int_at_least
from nasrepro.bench.cli._outputs import check_dir, check_file
from nasrepro.spaces._errors import ConfigError

__all__ = ["add_parser"]


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _methods_arg(text: str) -> list[str]:
    parts = [p.strip().lower() for p in text.split(",")]
    if text.strip() == "all":
        return []
    if not all(parts):
        raise argparse.ArgumentTypeError(f"expected 'all' or comma-separated methods, got {text!r}")
    return parts


def _resolve(args: argparse.Namespace) -> tuple[Any, Any]:
    """The table and the protocol of a run: the table's own protocol by default."""
    from nasrepro.tables import DEFAULT_TABLE_NAME, get_protocol, open_table

    table = open_table(args.table or DEFAULT_TABLE_NAME)
    if args.protocol is not None:
        protocol = get_protocol(args.protocol)
    elif table.has_protocol:
        protocol = table.protocol
    else:
        raise ConfigError(
            f"the table {table.path.name} was imported without a training protocol, so a "
            "supernet cannot train under it; pass --protocol P --transfer to search under P "
            "and score on this table as a transfer experiment"
        )
    return table, protocol


def _cmd_list(args: argparse.Namespace) -> int:
    from nasrepro.bench.oneshot import METHODS, scaled
    from nasrepro.tables import get_protocol

    p = get_protocol(args.protocol)
    rows = []
    for name, cls in METHODS.items():
        cfg = scaled(cls.config, p, p.n_train // 2)
        rows.append({
            "method": name,
            "epochs": cfg.epochs,
            "nb201_epochs": cls.config.nb201_epochs,
            "batch_size": cfg.batch_size,
            "lr": cfg.lr,
            "derive": cls.derive_rule,
            "source": cls.cite,
        })  # fmt: skip
    if args.json:
        _out(json.dumps({"protocol": p.name, "methods": rows}, indent=1))
        return 0
    _out(f"one-shot methods under {p.name} (epochs scaled from NAS-Bench-201's; see the docs)")
    _out(f"{'method':<9} {'epochs':>6} {'NB201':>6} {'batch':>5} {'lr':>8}  source; derivation")
    for r in rows:
        _out(
            f"{r['method']:<9} {r['epochs']:>6} {r['nb201_epochs']:>6} {r['batch_size']:>5} "
            f"{r['lr']:>8.4g}  {r['source']}; {r['derive']}"
        )
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from nasrepro.bench.oneshot import get_method, run_oneshot
    from nasrepro.bench.oneshot._board import plot_epochs, retrain_cells, track_search
    from nasrepro.bench.tracking import mlflow_run

    get_method(args.method)  # an unknown method fails before any data is read
    if args.plot:  # before the search: a bad location would lose it
        check_file(args.plot, "--plot")
    table, protocol = _resolve(args)
    quiet = args.json

    def on_epoch(rec: Any) -> None:
        if not quiet:
            print(
                f"epoch {rec.epoch:>4}  loss {rec.supernet_loss:.4f}  shared-weight acc "
                f"{rec.inherited_acc:6.2f}  {rec.seconds:7.1f}s  {rec.arch}",
                file=sys.stderr,
                flush=True,
            )

    with mlflow_run(
        f"oneshot-{args.method}-{protocol.name}-seed{args.seed}",
        params={
            "method": args.method,
            "protocol": protocol.name,
            "seed": args.seed,
            "table": table.path.name,
            "epochs": args.epochs or "scaled",
        },  # fmt: skip
        tags={"kind": "oneshot", "protocol_id": protocol.id},
        enabled=not args.no_track,
    ) as run:
        res = run_oneshot(
            args.method,
            table,
            protocol,
            args.seed,
            device=args.device,
            epochs=args.epochs,
            transfer=args.transfer,
            rank_cells=args.rank_cells,
            data_root=args.data_root,
            on_epoch=on_epoch,
        )
        d = res.to_dict()
        if args.retrain:
            d["retrained"] = retrain_cells(table, [d["arch"]])
        if args.plot:
            plot_epochs([d], args.plot, res.optimum)
            run.log_artifact(args.plot)
        track_search(run, d)
    if args.json:
        _out(json.dumps(d))
        return 0
    if res.transfer:
        _out(f"[{res.transfer}]")
    _out(f"{d['method']} (seed {d['seed']}, {d['epochs']} epochs, {protocol.name}): {d['arch']}")
    _out(
        f"  table {d['table']}: valid {d['table_valid_acc']:.2f}%, test {d['table_test_acc']:.2f}% "
        f"(optimum {d['table_optimum_test_acc']:.2f}%, regret {d['regret']:.2f})"
    )
    _out(
        f"  cost: {d['search_seconds']:.1f} s = {d['full_training_equivalents']:.1f} full-training "
        f"equivalents (one stand-alone training: {d['standalone_seconds']:.2f} s, {d['device']})"
    )
    if d["ranking"]:
        rk = d["ranking"]
        _out(
            f"  supernet as a ranker: Kendall tau {rk['kendall_tau']:.3f}, Spearman "
            f"{rk['spearman']:.3f} over {rk['cells']} classes"
        )
    _out("  ops of the cell: " + ", ".join(f"{k} {v}" for k, v in d["op_counts"].items() if v))
    for r in d.get("retrained") or []:
        _out(
            f"  retrained for real (seed {r['seed']}): {r['verdict']}, test {r['retrained_test_acc']:.2f}% "
            f"(table {r['table_test_acc']:.2f}%)"
        )
    if d.get("retrained") == []:
        _out("  not retrained: the table has no training protocol")
    if args.plot:
        _out(f"  wrote {args.plot}")
    return 0


def _blackbox(
    args: argparse.Namespace, summary: dict[str, dict[str, Any]]
) -> tuple[dict[str, dict[str, tuple[float, float, float]]], dict[str, str]]:
    """Black-box strategies on the same table up to the largest one-shot cost, read at each
    method's mean cost from their anytime curves."""
    from nasrepro.bench.sim import BenchmarkSpec, LeaderboardConfig, regret_at, run_leaderboard

    budget = max(1, math.ceil(max(s["fte_mean"] for s in summary.values())))
    cfg = LeaderboardConfig(
        benchmark=BenchmarkSpec(table=args.table_name, seed_mode="random"),
        strategies=tuple(args.strategies.split(",")) if args.strategies != "all" else (),
        seeds=tuple(range(args.seeds)),
        budget=f"{budget}x",
        jobs=args.jobs,
    )
    lb = run_leaderboard(cfg, runs_dir=Path(args.out) / "blackbox-runs")  # kept, as the searches
    typical = lb.budget.value / budget  # simulated seconds of one full training
    out = {m: regret_at(lb, s["fte_mean"] * typical) for m, s in summary.items()}
    return out, dict(lb.skipped)


def _cmd_leaderboard(args: argparse.Namespace) -> int:
    from nasrepro.bench.oneshot import METHODS, get_method
    from nasrepro.bench.oneshot._board import (
        plot_epochs,
        retrain_cells,
        run_board,
        summarize_runs,
        to_markdown,
        track_search,
    )
    from nasrepro.bench.tracking import mlflow_run

    methods = args.methods or list(METHODS)
    for m in methods:
        get_method(m)
    out = check_dir(args.out, "--out")  # before the searches: a bad --out would lose them
    table, protocol = _resolve(args)
    args.table_name = str(table.path)
    from nasrepro.bench.cli._leaderboard import _ProgressBar

    bar = _ProgressBar("one-shot searches")
    try:
        runs, cost = run_board(
            [get_method(m).name for m in methods], list(range(args.seeds)), str(table.path), protocol,
            out, epochs=args.epochs, transfer=args.transfer, rank_cells=args.rank_cells,
            rank_seeds=args.rank_seeds, jobs=args.jobs, progress=bar,
        )  # fmt: skip
    finally:
        bar.close()
    summary = summarize_runs(runs)
    retrained = {
        m: retrain_cells(table, [r["arch"] for r in runs if r["method"] == m][: args.retrain])
        for m in summary
    } if args.retrain else None  # fmt: skip
    blackbox: dict[str, dict[str, tuple[float, float, float]]] | None = None
    skipped: dict[str, str] = {}
    if args.strategies != "none":
        blackbox, skipped = _blackbox(args, summary)
    header = {
        "table": table.path.name,
        "protocol": protocol.name,
        "seeds": args.seeds,
        "standalone_seconds": cost,
        "optimum": table.optimum,
        "device": "cpu, 1 torch thread per run",
    }
    md = to_markdown(summary, header, blackbox, retrained)
    if skipped:
        md += "\n" + "\n".join(f"- {k}: {v}" for k, v in sorted(skipped.items())) + "\n"
    (out / "oneshot.md").write_text(md)
    png = plot_epochs(runs, out / "oneshot-epochs.png", table.optimum)
    result = {"header": header, "summary": summary, "blackbox": blackbox, "skipped": skipped,
              "retrained": retrained}  # fmt: skip
    (out / "oneshot.json").write_text(json.dumps(result, indent=1))
    with mlflow_run(
        f"oneshot-leaderboard-{protocol.name}", params={"methods": ",".join(methods), "seeds": args.seeds},
        tags={"kind": "oneshot-leaderboard", "protocol_id": protocol.id}, enabled=not args.no_track,
    ) as parent:  # fmt: skip
        parent.log_artifact(out / "oneshot.md")
        parent.log_artifact(png)
        for r in runs:
            with mlflow_run(
                f"oneshot-{r['method']}-seed{r['seed']}", nested=True, enabled=parent.active,
                tags={"kind": "oneshot", "protocol_id": protocol.id},
            ) as child:  # fmt: skip
                track_search(child, r)
    _out(md)
    _out(f"wrote {out / 'oneshot.md'}, {out / 'oneshot.json'}, {png} and {out / 'runs'}/")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--protocol", default=None, help="training protocol (default: the table's)")
    p.add_argument(
        "--table",
        default=None,
        metavar="NAME|PATH",
        help="the table that scores the cells (default: the shipped default table)",
    )
    p.add_argument(
        "--transfer",
        action="store_true",
        help="allow scoring on a table of another protocol, labelled a transfer experiment",
    )
    p.add_argument(
        "--epochs", type=int_at_least(1, "epochs"), default=None,
        help="search epochs (default: NAS-Bench-201's, scaled to the protocol)",
    )  # fmt: skip
    p.add_argument("--no-track", action="store_true", help="do not log to MLflow")


def add_parser(sub: Any) -> None:
    """Add ``oneshot`` (``list``, ``run``, ``leaderboard``) to the ``nasrepro`` subcommands."""
    p = sub.add_parser(
        "oneshot", help="weight-sharing (one-shot) NAS on a supernet, scored by a table"
    )
    osub = p.add_subparsers(dest="oneshot_cmd", required=True, metavar="{list,run,leaderboard}")

    q = osub.add_parser("list", help="the methods, their sources and scaled settings")
    q.add_argument(
        "--protocol", default="mnist1d-tiny", help="scale the settings to it (default mnist1d-tiny)"
    )
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(func=_cmd_list)

    q = osub.add_parser("run", help="one search; print the derived cell and its table accuracies")
    q.add_argument("method", help="rsps, darts-v1, darts-v2, gdas, setn or enas")
    q.add_argument("--seed", type=int_at_least(0, "seed"), default=0, help="search seed (0)")
    q.add_argument("--device", type=device, default="cpu", help="cpu, cuda or cuda:K")
    q.add_argument("--data-root", default=None, help="dataset directory (as for train)")
    q.add_argument(
        "--rank-cells", type=int_at_least(0, "rank-cells"), default=0, metavar="N",
        help="also check the supernet's ranking on N fixed classes (Kendall tau; 0: skip)",
    )  # fmt: skip
    q.add_argument("--plot", default=None, metavar="PNG", help="plot table accuracy vs epoch")
    q.add_argument(
        "--retrain", action="store_true",
        help="retrain the derived cell for real (seed 0) and compare it with its table row",
    )  # fmt: skip
    q.add_argument("--json", action="store_true", help="print one JSON object")
    _common(q)
    q.set_defaults(func=_cmd_run)

    q = osub.add_parser(
        "leaderboard",
        help="methods x seeds beside the black-box strategies at equal full-training equivalents",
    )
    q.add_argument("--methods", type=_methods_arg, default=[], help="'all' or comma-separated")
    q.add_argument(
        "--seeds", type=int_at_least(1, "seeds"), default=10, help="seeds 0..N-1 (default 10)"
    )
    q.add_argument(
        "--strategies", default="all",
        help="black-box strategies beside them: 'all', comma-separated names, or 'none'",
    )  # fmt: skip
    q.add_argument(
        "--rank-cells", type=int_at_least(0, "rank-cells"), default=1000, metavar="N",
        help="classes on which each supernet's ranking is checked (default 1000; 0: skip)",
    )  # fmt: skip
    q.add_argument(
        "--rank-seeds", type=int_at_least(0, "rank-seeds"), default=3, metavar="K",
        help="check the ranking on the first K seeds of each method (default 3)",
    )  # fmt: skip
    from nasrepro.bench.sim import default_jobs

    q.add_argument("--jobs", type=int_at_least(1, "jobs"), default=default_jobs(), help="processes")
    q.add_argument(
        "--retrain", type=int_at_least(0, "retrain"), default=1, metavar="K",
        help="retrain the derived cells of the first K seeds per method for real and compare "
        "them with the table (default 1; 0: skip)",
    )  # fmt: skip
    q.add_argument(
        "--out", default="oneshot", help="output directory (default ./oneshot); resumable"
    )
    _common(q)
    q.set_defaults(func=_cmd_leaderboard)
