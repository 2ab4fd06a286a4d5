"""``nasrepro table compare``: how two tables of one space agree, and with
``--strategies`` whether they order the strategies alike (split from
:mod:`~nasrepro.bench.cli._table` by concept)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from nasrepro.bench.cli._args import (
    budget_text,
    int_at_least,
    seeds_count_or_list,
    strategies_text,
)
from nasrepro.bench.cli._outputs import (
    atomic_file,
    check_dir,
    check_figure_file,
    kept_runs_text,
)
from nasrepro.tables import (
    RESULT_METRICS,
    SHIPPED_TABLES,
    ConfigError,
    TableComparison,
    compare_tables,
    open_table,
)
from nasrepro.tables._outfile import check_not_a_table

__all__ = ["add_compare_parser"]

#: Where ``table compare --strategies`` keeps its runs unless ``--runs`` says.
DEFAULT_COMPARE_RUNS = "compare-runs"


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _fmt(v: float, digits: int = 2) -> str:
    return "nan" if math.isnan(v) else f"{v:.{digits}f}"


def _pct(v: float) -> str:
    return f"{100 * v:.0f}%"


#: Fewer classes in common than this get a note on how little the figures can say. Our
#: threshold, not a cited one: at 100 classes the 95% spread of tau for unrelated
#: rankings is +-0.13, about the range of the default table's taus against NB201's three
#: datasets (0.32 to 0.46).
FEW_CLASSES = 100


def _few_classes_note(n: int, both_per_cell: bool) -> list[str]:
    """A warning for comparisons over few classes: Kendall's tau of ``n`` independent
    pairs has standard deviation sqrt(2(2n+5) / (9n(n-1))) (Kendall 1938), and a table
    of class values repeats each value over the class's cells, so the cell column is
    not ``n_cells`` independent points."""
    if n >= FEW_CLASSES:
        return []
    sd = math.sqrt(2 * (2 * n + 5) / (9 * n * (n - 1))) if n > 1 else math.inf
    cells = "" if both_per_cell else "; the cell column repeats each class's value over its cells"
    return [
        f"note        only {n} classes in common: a tau of unrelated rankings would spread "
        f"+-{1.96 * sd:.2f} (95%) around 0{cells}"
    ]


def _compare_lines(c: TableComparison, name_a: str, name_b: str) -> list[str]:
    def side(name: str, metric: str, column: str, per_cell: bool, seeds: int, epoch: int) -> str:
        col = "" if column == metric else f" ({column})"
        values = "per-cell values" if per_cell else "class values"
        of = "1 seed" if seeds == 1 else f"mean of {seeds} seeds"
        return f"{name}: {metric}{col}, {values}, {of}, epoch {epoch}"

    cl, gl = c.cells, c.classes
    lines = [
        "table A     " + side(name_a, c.metric_a, c.column_a, c.per_cell_a, c.seeds_a, c.epoch_a),
        "table B     " + side(name_b, c.metric_b, c.column_b, c.per_cell_b, c.seeds_b, c.epoch_b),
        f"space       {c.space}; A gives {c.n_a:,} cells a value, B {c.n_b:,}; "
        f"{cl.n:,} cells in both",
        f"classes     {gl.n:,} of A's isomorphism classes; a per-cell table's class value is "
        "the mean of its members",
        *_few_classes_note(gl.n, c.per_cell_a and c.per_cell_b),
        "",
        f"{'':<26}{'cells':>16}{'classes':>16}",
        f"{'compared':<26}{cl.n:>16,}{gl.n:>16,}",
        f"{'Kendall tau-b':<26}{_fmt(cl.kendall_tau, 3):>16}{_fmt(gl.kendall_tau, 3):>16}",
        f"{'Spearman':<26}{_fmt(cl.spearman, 3):>16}{_fmt(gl.spearman, 3):>16}",
    ]
    for label in ("10", "100", "1%"):
        cells = []
        for level in (cl, gl):
            o = next((o for o in level.top_k if o.label == label), None)
            cells.append("-" if o is None else f"{o.common}/{o.k} ({o.fraction:.2f})")
        lines.append(f"{'top-' + label + ' overlap':<26}{cells[0]:>16}{cells[1]:>16}")
    chance = [
        f"{o.k * o.k / lv.n:.1f} of {o.k}" for lv in (cl, gl) for o in lv.top_k if o.label == "100"
    ]
    if len(chance) == 2:  # what the overlap is to be read against
        lines.append(
            f"  (unrelated rankings share about k*k/n of a top k by chance: {chance[0]} cells, "
            f"{chance[1]} classes)"
        )
    for key, what in (
        ("best_a_in_b", "best of A, rank in B"),
        ("best_b_in_a", "best of B, rank in A"),
    ):
        cells = [f"{getattr(lv, key).rank:,} ({getattr(lv, key).percent:.1f}%)" for lv in (cl, gl)]
        lines.append(f"{what:<26}{cells[0]:>16}{cells[1]:>16}")
    lines.append("  (rank 1 = best; ties share the best rank; % = rank / compared)")
    for key, here, there in (("best_a_in_b", "A", "B"), ("best_b_in_a", "B", "A")):
        b = getattr(cl, key)
        lines.append(
            f"best cell of {here}  {b.arch}  {here} {b.value_here:.2f}, {there} {b.value_there:.2f}"
        )
    if cl.structure:
        k = cl.structure[0].k
        lines += [
            "",
            f"top-{k} shares, largest differences (A vs B){'':<4}{'cells':>14}{'classes':>16}",
        ]
        for s in cl.structure[:5]:
            g = gl.share(s.decision, s.choice)
            at_g = "-" if g is None else f"{_pct(g.share_a)} vs {_pct(g.share_b)}"
            lines.append(
                f"  {s.decision + ' ' + s.choice:<44}{_pct(s.share_a) + ' vs ' + _pct(s.share_b):>14}{at_g:>16}"
            )
    return lines


def _spec(name: str) -> Any:
    from nasrepro.bench.sim import BenchmarkSpec

    return BenchmarkSpec(name) if name in SHIPPED_TABLES else BenchmarkSpec(table=name)


def _strategy_lines(sc: Any) -> list[str]:
    ra, rb = sc.results_a, sc.results_b
    order_b = sorted(sc.strategies, key=lambda n: (rb[n].rank, ra[n].rank, n))
    cost = f"cost model A {sc.benchmark_a['cost_model']}, B {sc.benchmark_b['cost_model']}"
    lines = [
        f"strategies  budget {sc.budget} (the same evaluations on both; {cost}), "
        f"{len(sc.seeds)} seeds",
    ]
    for n, why in sorted(sc.excluded.items()):
        lines.append(f"excluded    {n}: {why}")
    w = max(len(n) for n in sc.strategies)

    def cell(n: str, r: Any) -> str:
        ci = f"[{_fmt(r.ci_low, 2)}, {_fmt(r.ci_high, 2)}]"
        return f"{r.rank:>2}  {n:<{w}}  {_fmt(r.mean, 2):>6} {ci:<16}"

    width = len(cell(sc.strategies[0], ra[sc.strategies[0]]))
    lines.append("  mean final test regret (percent points) [95% CI], best first")
    lines.append(f"  {'A ' + sc.a:<{width}}    B {sc.b}")
    for na, nb in zip(sc.strategies, order_b, strict=True):
        lines.append(f"  {cell(na, ra[na])}  {cell(nb, rb[nb])}".rstrip())
    for n, note in sorted(sc.notes.items()):
        lines.append(f"warning     {n}: {note.removeprefix('warning: ')}")
    lo, hi = sc.tau_ci
    lines.append(
        f"agreement   Kendall tau-b of the two orders {_fmt(sc.kendall_tau, 3)} "
        f"[95% CI {_fmt(lo, 3)}, {_fmt(hi, 3)}] ({sc.n_boot:,} bootstrap resamples of the seeds)"
    )
    reused = f", {sc.reused} runs read back from {sc.runs_dirs[0]} and {sc.runs_dirs[1]}"
    lines.append(
        f"took        {sc.wall_s:.1f}s wall for the two leaderboards"
        + (reused if sc.reused else "")
    )
    return lines


def _compare(args: argparse.Namespace) -> int:
    extra = [f for f in ("seeds", "budget", "jobs", "runs") if getattr(args, f) is not None]
    if args.fresh:
        extra.append("fresh")
    if args.strategies is None and extra:
        raise ConfigError(
            f"--{', --'.join(extra)} {'apply' if len(extra) > 1 else 'applies'} only with "
            "--strategies; add e.g. --strategies all"
        )
    if args.strategies is not None:  # a bad budget fails before any work
        from nasrepro.bench.sim import query_budget

        query_budget(args.budget or "100q")
        if args.runs is None:  # set here, so that an interrupt says the runs are kept
            args.runs = DEFAULT_COMPARE_RUNS
        runs = check_dir(args.runs, "--runs")  # before the runs: a bad one would lose them
    a, b = open_table(args.a), open_table(args.b)
    if args.plot is not None:  # the more telling refusal first, as in table plot
        for t in (a, b):
            check_not_a_table(args.plot, t.path, "a figure", "--plot")
        check_figure_file(args.plot, "--plot")
    c = compare_tables(a, b, metric_a=args.metric_a, metric_b=args.metric_b)
    if args.plot is not None:  # before the strategies: a picture does not wait on them
        from nasrepro.tables._compare_plot import plot_comparison

        with atomic_file(args.plot, "--plot") as tmp:
            plot_comparison(a, b, tmp, comparison=c)
    sc = None
    if args.strategies is not None:
        from nasrepro.bench.cli._leaderboard import _ProgressBar
        from nasrepro.bench.sim import compare_strategies, default_jobs, parse_seeds, strategies_arg
        from nasrepro.bench.sim._runstore import run_files
        from nasrepro.strategies import StrategyError

        bar = _ProgressBar("compare")
        try:
            sc = compare_strategies(
                _spec(args.a),
                _spec(args.b),
                strategies=strategies_arg(args.strategies),
                seeds=parse_seeds(args.seeds or 30),
                budget=args.budget or "100q",
                jobs=args.jobs or default_jobs(),
                progress=bar,
                runs_dir=runs,
                fresh=args.fresh,
            )
        except StrategyError as e:  # the finished runs are on disk: say so, and how to go on
            kept = sum(len(run_files(d)) for d in runs.glob("*/"))
            raise StrategyError(
                f"{e.message}; {kept_runs_text(kept, f'under {runs}')}", e.user_traceback
            ) from None
        finally:
            bar.close()
    if args.json:
        out: dict[str, Any] = {"a": args.a, "b": args.b, "tables": c.to_dict()}
        if sc is not None:
            out["strategies"] = sc.to_dict()
        _out(json.dumps(out, indent=2))
        return 0
    for line in _compare_lines(c, args.a, args.b):
        _out(line)
    if sc is not None:
        _out()
        for line in _strategy_lines(sc):
            _out(line)
    if args.plot is not None:
        _out(f"wrote {args.plot}")
    return 0


def add_compare_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``compare`` to ``nasrepro table``'s subcommands ``sub``."""
    c = sub.add_parser(
        "compare",
        help="how two tables of one space agree: rank correlations, top-k, best-cell ranks",
        description="Compare two tables of one space over the cells both hold and over "
        "isomorphism classes: Kendall tau-b, Spearman, top-k overlap (k = 10, 100, 1%), "
        "where each table's best ranks in the other, and the op shares of each top 100. "
        "With --strategies, also run the same leaderboard on both (a query budget) and "
        "compare the strategy orders.",
    )
    c.add_argument("a", metavar="A", help="shipped table name or file")
    c.add_argument("b", metavar="B", help="shipped table name or file")
    for side in ("a", "b"):
        c.add_argument(
            f"--metric-{side}",
            default="test_acc",
            choices=RESULT_METRICS,
            metavar="M",
            help=f"metric of {side.upper()} (default test_acc, the report metric; valid_acc is "
            "the search metric)",
        )
    c.add_argument("--json", action="store_true", help="print JSON")
    c.add_argument(
        "--plot",
        default=None,
        metavar="PNG",
        help="also draw the class values and ranks of A against B, each table's top 100 "
        "marked, and the choices whose top-100 shares differ most",
    )
    c.add_argument(
        "--strategies",
        type=strategies_text,
        default=None,
        help="also compare these strategies' orders: 'all' or comma-separated names",
    )
    c.add_argument(
        "--seeds", type=seeds_count_or_list, default=None, help="with --strategies (default 30)"
    )
    c.add_argument(
        "--budget",
        type=budget_text,
        default=None,
        help="with --strategies: evaluations per run, e.g. '100q' (the default)",
    )
    c.add_argument(
        "--jobs",
        type=int_at_least(1, "jobs"),
        default=None,
        help="with --strategies: parallel processes (default: cores)",
    )
    c.add_argument(
        "--runs",
        default=None,
        metavar="DIR",
        help=f"with --strategies: keep every finished run under DIR (default "
        f"./{DEFAULT_COMPARE_RUNS}), one folder per benchmark and budget; a rerun, or another "
        "comparison sharing a benchmark, reuses the runs of the same configuration",
    )
    c.add_argument("--fresh", action="store_true", help="with --strategies: run everything again")
    c.set_defaults(func=_compare, resumable=("runs", "*/*.json", "run"))
