"""The ``nasrepro surrogate`` command: fit, eval, compare and predict.

Wired into the main CLI by ``add_parser(subparsers)``. ``eval`` and ``predict`` use
the surrogate shipped with the package unless ``--models DIR`` names another;
``compare`` takes two surrogates, ``shipped`` naming the shipped one.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from nasrepro.bench.cli._args import seed_value
from nasrepro.bench.cli._outputs import check_dir
from nasrepro.spaces._errors import ConfigError

__all__ = ["add_parser"]


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _kv(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw


def _fraction(text: str) -> tuple[str, float]:
    key, value = _kv(text)
    if not isinstance(value, int | float) or not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected SPACE=F with 0 < F <= 1, got {text!r}")
    return key, float(value)


def _space_model(text: str) -> tuple[str, list[str]]:
    space, sep, group = text.partition("=")
    names = [g.strip() for g in group.split(",") if g.strip()]
    if not sep or not space or not names:
        raise argparse.ArgumentTypeError(
            f"expected SPACE=SPACES (e.g. cell=cell or hierarchical=hierarchical,cell), got {text!r}"
        )
    return space, names


def _fit(args: argparse.Namespace) -> int:
    from nasrepro.surrogate import (
        DEFAULT_MODEL,
        Surrogate,
        TrainingData,
        load_table,
        model_class,
        split_rows,
    )
    from nasrepro.tables import open_table

    if args.model is None:
        args.model = DEFAULT_MODEL
    if "random_state" in dict(args.param):
        raise ConfigError("--param random_state: the models' seed is --seed; pass --seed N")
    encoding = model_class(args.model).encoding
    fractions = dict(args.fraction)
    tables = [(path, open_table(path)) for path in args.table]
    seen: dict[Path, str] = {}
    for path, t in tables:  # the same file twice would count its rows twice
        if t.path.resolve() in seen:
            raise ConfigError(
                f"--table {path} is the file --table {seen[t.path.resolve()]} names already; "
                "give each table once"
            )
        seen[t.path.resolve()] = path
    spaces = sorted({t.space_name for _, t in tables})
    unused = [f"{s}={f:g}" for s, f in fractions.items() if s not in spaces]
    if unused:
        raise ConfigError(
            f"--fraction {' '.join(unused)}: no --table of that space was given (the tables "
            f"hold {', '.join(spaces)}); drop it, or add a table of that space"
        )
    s = Surrogate(  # checks the settings before the tables load
        args.model,
        random_state=args.seed,
        space_models=dict(args.space_model),
        **dict(args.param),
    )
    _check_out(args.out)  # before the fit: a bad location would lose it
    parts = []
    for path, t in tables:
        rows = None
        if t.space_name in fractions:
            rows, _ = split_rows(t, fractions[t.space_name], args.split_seed)
        parts.append(load_table(t, rows, encoding))
        _out(f"{path}: {t.space_name}, {len(parts[-1])} training runs")
    data = TrainingData.concat(parts)
    s.fit(data)
    out = s.save(args.out)
    _out(f"fitted {args.model} on {len(data)} runs ({data.sha256()[:12]}); wrote {out}")
    return 0


def _check_out(out: str) -> None:
    """Refuse an ``--out`` that a save could not write: a file, read-only, or a directory
    holding other things than a surrogate (a save replaces the whole directory)."""
    from nasrepro.surrogate import check_save_dir

    p = Path(out)
    if p.exists():
        check_dir(p, "--out")  # a file; read-only
    check_dir(p.resolve().parent, "--out")  # the new surrogate is written beside it
    check_save_dir(p, "--out")


def _shipped_tests() -> list[Path]:
    from importlib import resources

    from nasrepro.surrogate import SurrogateError
    from nasrepro.tables import default_table_path

    data = resources.files("nasrepro.surrogate").joinpath("data")
    wanted: list[Path | None] = [default_table_path()]
    for space in ("chain", "hierarchical"):
        res = data.joinpath(f"{space}-mnist1d-tiny-test.h5")
        with resources.as_file(res) as p:
            wanted.append(Path(p) if Path(p).is_file() else None)
    if any(p is None for p in wanted):
        raise SurrogateError(
            "the held-out test tables are not shipped in this install yet (the default cell "
            "table and surrogate/data/{chain,hierarchical}-mnist1d-tiny-test.h5); pass "
            "--test TABLE for each space"
        )
    return [p for p in wanted if p is not None]


def _load(models: str | None) -> Any:
    from nasrepro.surrogate import Surrogate, load_shipped

    return load_shipped() if models is None else Surrogate.load(models)


def _eval(args: argparse.Namespace) -> int:
    from nasrepro.surrogate import METRICS, evaluate, write_report
    from nasrepro.tables import open_table

    if args.report:  # before the work: a bad location would lose it
        check_dir(args.report, "--report")
    surrogate = _load(args.models)
    if args.test:
        tests: list[str | Path] = list(dict.fromkeys(args.test))  # a table given twice: once
    elif args.models is None:
        tests = list(_shipped_tests())
    else:
        raise ConfigError("pass --test TABLE (one per space) to evaluate a surrogate of --models")
    evaluations = [evaluate(surrogate, open_table(p)) for p in tests]
    if args.report:
        write_report(evaluations, args.report)
    if args.json:
        _out(json.dumps({ev.space: ev.metrics for ev in evaluations}, sort_keys=True))
        return 0
    widths = [max(14, len(k)) for k in METRICS]
    _out(f"{'space':>14} " + " ".join(f"{k:>{w}}" for k, w in zip(METRICS, widths, strict=True)))
    for ev in evaluations:
        cells = []
        for k, w in zip(METRICS, widths, strict=True):
            v = ev.metrics[k]
            cells.append(f"{'n/a':>{w}}" if v is None else f"{v:>{w}.4g}")
        _out(f"{ev.space:>14} " + " ".join(cells))
    if args.report:
        _out(f"report: {Path(args.report) / 'report.md'}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from nasrepro.surrogate import PAIRED_METRICS, compare_evaluations, evaluate, shipped_path
    from nasrepro.tables import open_table

    a, b = (None if m == "shipped" else m for m in (args.a, args.b))
    where = [(shipped_path() if m is None else Path(m)).resolve() for m in (a, b)]
    if where[0] == where[1]:
        raise ConfigError(
            f"A and B are the same surrogate ({args.a}, {args.b}); give two different ones"
        )
    if not args.boot >= 100:
        raise ConfigError(f"--boot {args.boot}: give at least 100 resamples (default 2000)")
    sa, sb = _load(a), _load(b)
    tests = list(dict.fromkeys(args.test)) if args.test else list(_shipped_tests())
    results = []
    for path in tests:
        table = open_table(path)
        ea, eb = evaluate(sa, table), evaluate(sb, table)
        results.append(compare_evaluations(ea, eb, n_boot=args.boot, seed=args.seed))
    if args.json:
        _out(json.dumps([r.to_dict() for r in results], sort_keys=True))
        return 0
    _out(f"A = {args.a}, B = {args.b}")
    _out(
        f"paired bootstrap over the test networks both kept ({args.boot} resamples, seed "
        f"{args.seed}); p is two-sided, not adjusted for multiple comparisons, and at "
        f"least {2 / (args.boot + 1):.2g} with {args.boot} resamples"
    )
    _out(
        f"{'space':>13} {'n_test':>6} {'metric':>11} {'A':>8} {'B':>8} {'A - B':>8} "
        f"{'95% interval':>19} {'p':>6} {'unpaired +-':>11}"
    )
    for r in results:
        for name in PAIRED_METRICS:
            m = r.metrics[name]
            interval = f"[{m.low:+.4f}, {m.high:+.4f}]"
            _out(
                f"{r.space:>13} {r.n_test:>6} {name:>11} {m.a:>8.4f} {m.b:>8.4f} "
                f"{m.diff:>+8.4f} {interval:>19} {m.p:>6.3f} {1.96 * math.hypot(m.se_a, m.se_b):>11.4f}"
            )
        if r.n_only_a or r.n_only_b:
            _out(
                f"{'':>13} left out: {r.n_only_a} networks only A kept, {r.n_only_b} only B "
                "kept (the other was fitted on them or an isomorph)"
            )
    _out(
        "An interval that holds 0 means these test networks do not tell the two apart "
        "(not that they are equal); for the MAE, lower is better. 'unpaired +-' is the 95% "
        "half-width from the two models' own standard errors, which ignores that they err "
        "on the same networks."
    )
    return 0


def _check_space(archs: list[str], space: str) -> None:
    """Refuse a string that is not of ``space``, naming the space it parses in."""
    from nasrepro.spaces import get_space, parse_any

    for a in archs:
        try:
            get_space(space).parse(a)
        except ValueError as e:
            try:
                other: str | None = parse_any(a).space_name
            except ValueError:
                other = None
            fix = f"pass --space {other} (it parses as a {other!r} architecture)"
            raise ConfigError(
                f"{a!r} is not a {space!r} architecture ({e}); "
                + (fix if other else "check the string")
            ) from None


def _predict(args: argparse.Namespace) -> int:
    _check_space(args.arch, args.space)
    surrogate = _load(args.models)
    p = surrogate.predict(args.arch, args.space)
    rows = [
        {
            "arch": a,
            "valid_acc": float(p.valid_acc[i]),
            "valid_std": float(p.valid_std[i]),
            "test_acc": float(p.test_acc[i]),
            "test_std": float(p.test_std[i]),
            "cost_s": float(p.cost_s[i]),
        }
        for i, a in enumerate(args.arch)
    ]
    if args.json:
        _out(json.dumps(rows))
        return 0
    for r in rows:
        _out(
            f"valid {r['valid_acc']:.2f} +- {r['valid_std']:.2f}  test {r['test_acc']:.2f} "
            f"+- {r['test_std']:.2f}  cost {r['cost_s']:.1f}s  {r['arch']}"
        )
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``nasrepro surrogate {fit,eval,compare,predict}``."""
    p = subparsers.add_parser("surrogate", help="fit, evaluate and query surrogate models")
    sub = p.add_subparsers(dest="surrogate_command", required=True)

    f = sub.add_parser("fit", help="fit a surrogate on tables of one protocol")
    f.add_argument(
        "--table", action="append", required=True, help="a table (name or path); repeat for more"
    )
    f.add_argument(
        "--fraction",
        type=_fraction,
        action="append",
        default=[],
        metavar="SPACE=F",
        help="fit on a seeded fraction F of that space's trained rows (e.g. cell=0.1)",
    )
    f.add_argument(
        "--split-seed",
        type=seed_value,
        default=0,
        help="seed of the --fraction split",
    )
    f.add_argument(
        "--model",
        default=None,
        help="a registered surrogate model (default: nasrepro.surrogate.DEFAULT_MODEL, xgb); "
        "imported only when fitting, to keep the CLI's start fast",
    )
    f.add_argument("--seed", type=seed_value, default=0, help="random_state of the models")
    f.add_argument(
        "--param",
        type=_kv,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a model constructor argument (JSON value), e.g. n_estimators=300",
    )
    f.add_argument(
        "--space-model",
        type=_space_model,
        action="append",
        default=[],
        metavar="SPACE=SPACES",
        help="give SPACE models of its own, fitted on the rows of SPACES only (e.g. "
        "cell=cell); other spaces use the joint models fitted on every row",
    )
    f.add_argument(
        "--out",
        required=True,
        help="directory to write the surrogate into; a surrogate already there is replaced "
        "whole (a directory holding anything else is refused)",
    )
    f.set_defaults(func=_fit)

    e = sub.add_parser("eval", help="held-out Kendall tau, Spearman, R2, MAE vs seed noise")
    e.add_argument("--models", default=None, help="surrogate directory (default: shipped)")
    e.add_argument(
        "--test", action="append", default=[], help="a test table (name or path); repeat per space"
    )
    e.add_argument("--json", action="store_true", help="print {space: {metric: value}}")
    e.add_argument("--report", default=None, help="write report.md and scatter PNGs here")
    e.set_defaults(func=_eval)

    c = sub.add_parser(
        "compare",
        help="two surrogates on the same test networks: paired bootstrap of their differences",
    )
    c.add_argument("a", metavar="A", help="a surrogate directory, or 'shipped'")
    c.add_argument("b", metavar="B", help="another surrogate directory, or 'shipped'")
    c.add_argument(
        "--test",
        action="append",
        default=[],
        help="a test table (name or path); repeat per space (default: the shipped test "
        "tables: the default cell table, chain and hierarchical)",
    )
    c.add_argument(
        "--boot",
        type=int,
        default=2000,
        help="bootstrap resamples (default 2000; Efron and Tibshirani advise 1,000 or more "
        "for a percentile interval)",
    )
    c.add_argument("--seed", type=seed_value, default=0, help="seed of the resampling")
    c.add_argument("--json", action="store_true", help="print a JSON list, one item per space")
    c.set_defaults(func=_compare)

    q = sub.add_parser("predict", help="predicted accuracy, seed noise and cost")
    q.add_argument("arch", nargs="+", help="architecture string(s) of --space")
    q.add_argument("--space", required=True, help="their search space")
    q.add_argument("--models", default=None, help="surrogate directory (default: shipped)")
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(func=_predict)
