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
import textwrap
from pathlib import Path
from typing import Any

from nasrepro.bench.cli._args import (
    add_cpu_isa,
    device,
    int_at_least,
    seed_value,
    seeds_count_or_list,
    strategies_text,
)
from nasrepro.bench.cli._outputs import check_dir, check_figure_file
from nasrepro.spaces._errors import ConfigError
from nasrepro.tables import write_text_atomic

__all__ = ["add_parser"]


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _phase(text: str) -> None:
    """One line on stderr as a long phase without a progress bar begins."""
    print(f"{text} ...", file=sys.stderr, flush=True)


#: Printed above the first epoch line of ``oneshot run``.
SHARED_WEIGHT_NOTE = (
    "(shared-weight acc: the derived cell's accuracy on the arch-valid half with the "
    "supernet's weights; near chance early on is expected for DARTS-like methods, whose "
    "weights are trained on a mixture of all ops, not on the one derived path)"
)


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
            f"and score on this table as a transfer experiment, P one of {_protocol_choices()}"
        )
    return table, protocol


def _protocol_choices() -> str:
    """The registered protocols, each with its data and macro skeleton; NB201's named."""
    from nasrepro.tables import get_protocol, list_protocols

    out = []
    for name in list_protocols():
        p = get_protocol(name)
        nb201 = " = NAS-Bench-201's own protocol and macro, needs CIFAR-10" if (
            name == "cifar10-nb201") else ""  # fmt: skip
        out.append(f"{name} ({p.dataset}, C={p.C} N={p.N} {p.reduction}{nb201})")
    return ", ".join(out)


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
    half = p.n_train // 2
    note = (
        f"epochs: passes over the weight-train half of {p.name}'s training split ({half:,} of "
        f"its {p.n_train:,} examples; the other half drives the architecture steps). NB201: "
        "NAS-Bench-201's epochs, each over 25,000 weight-train images (cifar10-valid's train "
        "split), with the other 25,000 (its valid split) for the architecture steps. The "
        "epochs keep NB201's ratio of weight steps to a stand-alone training, so under "
        "cifar10-nb201 the weight steps are NB201's (to rounding), but each epoch sees half "
        "the images (12,500 for weights, 12,500 for the architecture) and there are about "
        "twice as many epochs."
    )
    if args.json:
        out = {"protocol": p.name, "weight_train_examples": half, "note": note, "methods": rows}
        _out(json.dumps(out, indent=1))
        return 0
    _out(f"one-shot methods under {p.name} (epochs scaled from NAS-Bench-201's; see below)")
    _out(f"{'method':<9} {'epochs':>6} {'NB201':>6} {'batch':>5} {'lr':>8}  source; derivation")
    for r in rows:
        _out(
            f"{r['method']:<9} {r['epochs']:>6} {r['nb201_epochs']:>6} {r['batch_size']:>5} "
            f"{r['lr']:>8.4g}  {r['source']}; {r['derive']}"
        )
    _out()
    _out(textwrap.fill(note, 100))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from nasrepro.bench.oneshot import check_table, get_method, run_oneshot
    from nasrepro.bench.oneshot._board import json_text, plot_epochs, retrain_cells, track_search
    from nasrepro.bench.tracking import mlflow_run

    get_method(args.method)  # an unknown method fails before any data is read
    if args.plot:  # before the search: a bad location would lose it
        check_figure_file(args.plot, "--plot")
    table, protocol = _resolve(args)
    check_table(table, protocol, args.transfer)  # before MLflow starts a run for nothing
    quiet = args.json
    noted: list[bool] = []

    def on_epoch(rec: Any) -> None:
        if not quiet:
            if not noted:
                print(SHARED_WEIGHT_NOTE, file=sys.stderr, flush=True)
                noted.append(True)
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
            on_phase=None if quiet else _phase,
        )
        d = res.to_dict()
        if args.retrain:
            if not quiet and table.has_protocol:
                _phase(f"retraining the derived cell for real under {table.protocol.name}")
            d["retrained"] = retrain_cells(table, [d["arch"]])
        if args.plot:
            plot_epochs([d], args.plot, res.optimum)
            run.log_artifact(args.plot)
        track_search(run, d)
    if args.json:
        _out(json_text(d))
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
        f"equivalents (one stand-alone training: {d['standalone_seconds']:.2f} s, {d['device']}); "
        f"not charged: {d['diagnostic_seconds']:.1f} s of per-epoch derivations and "
        "shared-weight evaluations, kept for the trajectory"
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


def _blackbox_config(args: argparse.Namespace, seeds: tuple[int, ...], budget: int) -> Any:
    from nasrepro.bench.sim import BenchmarkSpec, LeaderboardConfig, strategies_arg

    return LeaderboardConfig(
        benchmark=BenchmarkSpec(table=args.table_name, seed_mode="random"),
        strategies=strategies_arg(args.strategies),
        seeds=seeds,
        budget=f"{budget}x",
        jobs=args.jobs,
    )


def _check_blackbox(args: argparse.Namespace, seeds: tuple[int, ...]) -> None:
    """Everything of the black-box side that can fail, checked before the searches: the
    table as a benchmark, each strategy's name (or ``module:Class``), and a budget."""
    from nasrepro.bench.sim import open_benchmark, parse_budget
    from nasrepro.strategies import load_strategy

    cfg = _blackbox_config(args, seeds, 1)
    bench = open_benchmark(cfg.benchmark)
    parse_budget(cfg.budget, bench)
    for name in cfg.strategies:
        load_strategy(name)


def _blackbox(
    args: argparse.Namespace, summary: dict[str, dict[str, Any]], seeds: tuple[int, ...]
) -> tuple[
    dict[str, dict[str, tuple[float, float, float, float, float]]],
    dict[str, str],
    tuple[float, float],
]:
    """Black-box strategies on the same table up to the largest one-shot cost, read at each
    method's mean cost from their anytime curves, with the Welch p of the method's
    regrets against each strategy's there (NaN where a side has fewer than two) and that
    p Holm-adjusted over the method's comparisons; also
    one FTE and one mean training in the table's seconds."""
    import numpy as np

    from nasrepro.bench.cli._leaderboard import _ProgressBar
    from nasrepro.bench.oneshot import fte_unit_in_table
    from nasrepro.bench.sim import open_benchmark, regret_at, regrets_at, run_leaderboard
    from nasrepro.bench.sim._leaderboard_stats import holm, welch_p
    from nasrepro.tables import open_table

    table = open_table(args.table_name)
    bench = open_benchmark(_blackbox_config(args, seeds, 1).benchmark)
    typical = bench.typical_cost_s  # the table's seconds of one mean full training
    # One FTE is a training of the fixed cost cells, not of a mean cell (on the default
    # table they take 0.76 of the mean): read the curves at their recorded time. Until
    # 2026-12-07 this read at FTE x the mean, giving the strategies 1.31x the compute.
    unit = fte_unit_in_table(table) if bench.cost_model == "recorded" else None
    unit = typical if unit is None else unit
    most = max(s["fte_mean"] for s in summary.values()) * unit
    budget = max(1, math.ceil(most / typical))
    cfg = _blackbox_config(args, seeds, budget)
    bar = _ProgressBar("black-box strategies")
    # kept, as the searches are; one folder per budget, since a rerun search moves the
    # largest cost and with it the budget (a shared folder refused the resumed command)
    runs_dir = Path(args.out) / "blackbox-runs" / f"budget-{budget}x"
    try:
        lb = run_leaderboard(cfg, runs_dir=runs_dir, progress=bar)
    finally:
        bar.close()
    out: dict[str, dict[str, tuple[float, float, float, float, float]]] = {}
    for m, s in summary.items():
        at = s["fte_mean"] * unit
        per_seed = regrets_at(lb, at)
        mine = np.asarray(s["regrets"], dtype=np.float64)
        out[m] = {}
        for name, (reg, test, std) in regret_at(lb, at).items():
            theirs = per_seed[name]
            ok = len(mine) > 1 and len(theirs) > 1 and np.isfinite(theirs).all()
            p = welch_p(mine, theirs) if ok else math.nan
            out[m][name] = (reg, test, std, p, math.nan)
        # Holm over the method's comparisons: a row's claim ("beats every strategy") is
        # one family of tests, as the leaderboard's pairs and validate's references are
        tested = [n for n, v in out[m].items() if math.isfinite(v[3])]
        for name, adjusted in zip(tested, holm([out[m][n][3] for n in tested]), strict=True):
            out[m][name] = (*out[m][name][:4], adjusted)
    return out, dict(lb.skipped), (unit, typical)


def _cmd_leaderboard(args: argparse.Namespace) -> int:
    from nasrepro.bench.oneshot import METHODS, get_method
    from nasrepro.bench.oneshot._board import (
        json_text,
        plot_epochs,
        retrain_cells,
        run_board,
        summarize_runs,
        to_markdown,
        track_search,
    )
    from nasrepro.bench.sim import parse_seeds
    from nasrepro.bench.tracking import mlflow_run, versions

    methods = args.methods or list(METHODS)
    for m in methods:
        get_method(m)
    seeds = parse_seeds(args.seeds)
    out = check_dir(args.out, "--out")  # before the searches: a bad --out would lose them
    table, protocol = _resolve(args)
    args.table_name = str(table.path)
    if args.strategies != "none":  # a mistyped strategy fails now, not after the searches
        _check_blackbox(args, seeds)
    from nasrepro.bench.cli._leaderboard import _ProgressBar

    bar = _ProgressBar("one-shot searches")
    try:
        runs, cost = run_board(
            [get_method(m).name for m in methods], list(seeds), str(table.path), protocol,
            out, epochs=args.epochs, transfer=args.transfer, rank_cells=args.rank_cells,
            rank_seeds=args.rank_seeds, jobs=args.jobs, progress=bar, on_phase=_phase,
        )  # fmt: skip
    finally:
        bar.close()
    summary = summarize_runs(runs)
    retrained = None
    if args.retrain:
        retrained = {}
        for i, m in enumerate(summary, 1):
            archs = [r["arch"] for r in runs if r["method"] == m][: args.retrain]
            if table.has_protocol:
                _phase(
                    f"retraining {m}'s derived cells for real ({len(set(archs))} cells; "
                    f"method {i} of {len(summary)})"
                )
            retrained[m] = retrain_cells(table, archs, store=out / "retrained")
    blackbox: dict[str, dict[str, tuple[float, float, float, float, float]]] | None = None
    skipped: dict[str, str] = {}
    units: tuple[float, float] | None = None
    if args.strategies != "none":
        blackbox, skipped, units = _blackbox(args, summary, seeds)
    header = {
        "table": table.path.name,
        "protocol": protocol.name,
        "seeds": len(seeds),
        "standalone_seconds": cost,
        "optimum": table.optimum,
        "device": "cpu, 1 torch thread per run",
        "protocol_id": protocol.id,
        "versions": versions(),
    }
    if units is not None:
        header["fte_table_seconds"], header["typical_table_seconds"] = units
    md = to_markdown(summary, header, blackbox, retrained)
    if skipped:
        md += "\n" + "\n".join(f"- {k}: {v}" for k, v in sorted(skipped.items())) + "\n"
    write_text_atomic(out / "oneshot.md", md)
    png = plot_epochs(runs, out / "oneshot-epochs.png", table.optimum)
    result = {"header": header, "summary": summary, "blackbox": blackbox, "skipped": skipped,
              "retrained": retrained}  # fmt: skip
    write_text_atomic(out / "oneshot.json", json_text(result, indent=1))
    with mlflow_run(
        f"oneshot-leaderboard-{protocol.name}",
        params={"methods": ",".join(methods), "seeds": ",".join(map(str, seeds))},
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
    q.add_argument("--seed", type=seed_value, default=0, help="search seed (0)")
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
        "--seeds", type=seeds_count_or_list, default="10",
        help="number of seeds (0..N-1; default 10) or a list of distinct seeds (e.g. 0,1,4)",
    )  # fmt: skip
    q.add_argument(
        "--strategies", type=strategies_text, default="all",
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
    add_cpu_isa(q)
    _common(q)
    q.set_defaults(func=_cmd_leaderboard, resumable=("out", "runs/*.json", "search"))
