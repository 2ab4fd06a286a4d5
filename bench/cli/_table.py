"""The ``nasrepro table`` command: build, import, list, info, query, top, export, plot and
compare (the last in :mod:`~nasrepro.bench.cli._table_compare`).

Wired into the main CLI by ``add_parser(subparsers)``; every subcommand sets
``func``, a handler that takes the parsed arguments and returns an exit code.
A table is named by ``TABLE`` or ``--table``: a shipped name (``nasrepro table list``)
or a file path; the default is the shipped default table (:func:`load_default`).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np

from nasrepro.bench.cli._args import (
    int_at_least,
    seed_list,
)
from nasrepro.bench.cli._outputs import (
    atomic_file,
    check_figure_file,
    check_file,
)
from nasrepro.bench.cli._table_compare import add_compare_parser
from nasrepro.tables import (
    METRIC_NAMES,
    RESULT_METRICS,
    ConfigError,
    ImportError_,
    ImportMapping,
    MissingEntryError,
    Table,
    TableResult,
    build,
    import_table,
    list_tables,
    load_default,
    open_table,
    representative_mask,
)
from nasrepro.tables._outfile import check_not_a_table

__all__ = ["add_parser"]


_QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _open(args: argparse.Namespace) -> Table:
    flag, pos = getattr(args, "table", None), getattr(args, "path", None)
    if flag is not None and pos is not None and flag != pos:
        raise ConfigError(f"two tables given, TABLE {pos!r} and --table {flag!r}; give one")
    name = flag or pos
    return load_default() if name is None else open_table(name)


def _fmt(v: float, digits: int = 2) -> str:
    return "nan" if math.isnan(v) else f"{v:.{digits}f}"


# ------------------------------------------------------------------ handlers
def _build(args: argparse.Namespace) -> int:
    check_file(args.out, "-o", parents=True)
    seeds = args.seeds
    report = build(args.sweep_dirs, args.out, allow_partial=args.allow_partial, seeds=seeds)
    _out(report.summary())
    _out(f"wrote {report.path}")
    return 0


def _health(t: Table, reps: np.ndarray) -> dict[str, Any]:
    """What a finished table must show: resolution, no NaN, seed agreement, cost, best.

    ``resolved`` counts rows whose class has a result for every seed. ``nan_final``
    counts non-finite final-epoch metrics of trained (class, seed) entries, and
    ``untrained`` the (class, seed) entries without a result. ``seed_spearman`` is the
    rank correlation of final validation accuracy between every pair of seeds, over the
    classes both trained. ``train_hours`` sums the recorded epoch times of every class,
    seed and epoch: the table's training cost on its device.
    """
    from scipy.stats import spearmanr

    m = t.metrics
    va = METRIC_NAMES.index("valid_acc")
    final = np.asarray(m[reps, :, -1, :])  # (n_classes, n_seed, n_metric)
    done = np.isfinite(final[:, :, va])
    all_seeds = np.zeros(t.n_rows, dtype=bool)
    all_seeds[reps] = done.all(axis=1)
    resolved = all_seeds if t.per_cell else all_seeds[t.canonical]
    rho: dict[str, float] = {}
    for i, j in itertools.combinations(range(len(t.seeds)), 2):
        both = done[:, i] & done[:, j]
        if both.sum() > 2:
            r = spearmanr(final[both, i, va], final[both, j, va])
            rho[f"{t.seeds[i]}-{t.seeds[j]}"] = float(r.statistic)
    times = np.asarray(m[reps, :, :, METRIC_NAMES.index("epoch_time_s")])
    out: dict[str, Any] = {
        "resolved": int(resolved.sum()),
        "nan_final": int((~np.isfinite(final[done])).sum()),
        "untrained": int((~done).sum()),
        "seed_spearman": rho,
        "train_hours": float(np.nansum(times, dtype=np.float64) / 3600.0) if t.has_times else None,
    }
    if done.any():
        b = t.best("valid_acc")
        out["best_by_valid"] = {"arch": b.arch, "valid_acc": b.valid_acc, "test_acc": b.test_acc}
        o = t.best("test_acc")
        out["optimum"] = {"arch": o.arch, "valid_acc": o.valid_acc, "test_acc": o.test_acc}
    return out


_NO_DIGEST = "networks    no digest recorded (built before 2026-12-07 or from chunks without one)"


def _info(args: argparse.Namespace) -> int:
    t = _open(args)
    size = Path(t.path).stat().st_size
    cov = t.coverage()
    classes = int(np.count_nonzero(representative_mask(t.canonical)))
    reps = np.arange(t.n_rows) if t.per_cell else np.flatnonzero(representative_mask(t.canonical))
    unit = "cells" if t.per_cell else "classes"
    health = _health(t, reps)
    r = t.query_many(reps, missing="nan")
    ok = r.n_seeds > 0
    quant: dict[str, list[float]] = {}
    for m in ("test_acc", "valid_acc"):
        vals = r[m][ok]
        quant[m] = np.quantile(vals, _QUANTILES).tolist() if vals.size else []
    info: dict[str, Any] = {
        "path": str(t.path),
        "size_bytes": size,
        "schema_version": t.schema_version,
        "space": t.space_name,
        "rows": t.n_rows,
        "classes": classes,
        "kind": t.kind,
        "per_cell": t.per_cell,
        "search_metric": t.search_metric,
        "report_metric": t.report_metric,
        "protocol": t.protocol.name if t.has_protocol else None,
        "protocol_id": t.protocol_id,
        "created": str(t.attrs["created"]),
        "nasrepro_version": str(t.attrs["nasrepro_version"]),
        "training_versions": json.loads(str(t.attrs["training_versions"])),
        "device": t.device,
        "devices": json.loads(str(t.attrs["devices"])),
        "specs_sha256": str(t.attrs["specs_sha256"]) if "specs_sha256" in t.attrs else None,
        "epochs": len(t.epochs),
        "seeds": list(t.seeds),
        "coverage": {str(s): {"trained": a, unit: b} for s, (a, b) in cov.items()},
        f"trained_{unit}": int(ok.sum()),
        "quantiles": {"q": list(_QUANTILES), **quant},
        **health,
    }
    if t.kind == "imported":
        info.update(source=t.source, columns=t.columns, absent=list(t.absent))
        info.update(computed=t.computed, macro=t.macro, index_column=t.index_column)
    if args.json:
        _out(json.dumps(info, indent=2))
        return 0
    _out(f"path        {t.path} ({size / 1e6:.2f} MB)")
    _out(f"schema      {t.schema_version}")
    values = "each cell's own values" if t.per_cell else "one value per class"
    _out(f"space       {t.space_name}: {t.n_rows} rows, {classes} classes ({values})")
    if t.kind == "imported":
        _imported_lines(t)
    else:
        _out(f"protocol    {info['protocol'] or '?'} (id {t.protocol_id[:16]})")
    _out(f"created     {info['created']} by nasrepro {info['nasrepro_version']}")
    if t.kind != "imported":
        tv = ", ".join(f"{k} {'/'.join(v)}" for k, v in info["training_versions"].items())
        by_seed = json.loads(str(t.attrs.get("trainers", "{}")))
        devs = ", ".join(
            f"seed {s}: {d}" + (f" {'+'.join(by_seed[s])}" if s in by_seed else "")
            for s, d in info["devices"].items()
        )
        _out(f"trained on  {t.device} ({devs})" + (f"; {tv}" if tv else ""))
        nets = info["specs_sha256"]
        _out(f"networks    sha256 {nets[:16]} of the lowered networks" if nets else _NO_DIGEST)
    _out(
        f"epochs      {len(t.epochs)}"
        + ("" if t.has_curves else f" (final values, epoch {t.final_epoch})")
    )
    one = t.kind == "imported" and len(t.seeds) == 1
    _out(
        f"seeds       {list(t.seeds)}"
        + (" (the source's one value per cell, not a seed of its: no seed noise)" if one else "")
    )
    for s, (a, b) in cov.items():
        _out(f"coverage    seed {s}: {a}/{b} {unit} ({100.0 * a / max(b, 1):.1f}%)")
    _out(f"trained     {int(ok.sum())} {unit} with at least one seed")
    head = "  ".join(f"{'q' + format(q * 100, 'g'):>7}" for q in _QUANTILES)
    _out(f"final accuracy (%, mean over seeds)  {head}")
    for m, qs in quant.items():
        label = m if t.kind != "imported" else f"{m} ({t.columns.get(m, m)})"
        cells = "  ".join(f"{_fmt(v):>7}" for v in qs) if qs else "no results"
        _out(f"  {label:<34}{cells}")
    whose = "have their own value" if t.per_cell else "resolve to a class trained"
    _out(f"resolve     {health['resolved']}/{t.n_rows} rows {whose} for every seed")
    if t.kind != "imported":
        _out(
            f"final epoch {health['nan_final']} NaN metrics in trained entries; "
            f"{health['untrained']} (class, seed) entries untrained"
        )
    if health["seed_spearman"]:
        pairs = ", ".join(f"seeds {k}: {v:.3f}" for k, v in health["seed_spearman"].items())
        _out(f"agreement   Spearman of final valid_acc, {pairs}")
    if health["train_hours"] is None:
        _out("cost        no training times recorded (leaderboards charge one unit per training)")
    else:
        _out(
            f"cost        {health['train_hours']:.2f} h of recorded training on {t.device} "
            f"(every class, seed and epoch)"
        )
    for key, label in (("best_by_valid", "best valid"), ("optimum", "best test")):
        if key in health:
            b = health[key]
            _out(
                f"{label:<11} {b['arch']}  valid {b['valid_acc']:.2f}%  test {b['test_acc']:.2f}% "
                "(mean over seeds)"
            )
    return 0


def _imported_lines(t: Table) -> None:
    src = t.source
    _out(f"source      {src.get('name') or 'not named (table import --source-name)'}")
    for key in ("citation", "license", "url"):
        if src.get(key):
            _out(f"  {key:<10}{src[key]}")
    _out(
        f"  input     {src.get('input_file')} ({src.get('format')}, {src.get('lines')} lines), sha256 {src.get('input_sha256')}"
    )
    _out(f"  command   {src.get('import_command') or '?'}")
    _out(f"  by        nasrepro {src.get('nasrepro_version')}")
    _out(f"search      {t.search_metric} (stored as valid_acc: what strategies see)")
    _out(f"report      {t.report_metric} (stored as test_acc: what leaderboards score)")
    other = {k: v for k, v in t.columns.items() if k not in ("valid_acc", "test_acc")}
    if other:
        _out("columns     " + ", ".join(f"{k} <- {v}" for k, v in other.items()))
    _out(f"absent      {', '.join(t.absent) or 'none'} (not in the source; never invented)")
    if t.source_index is not None:
        kept = int(np.count_nonzero(t.source_index >= 0))
        _out(f"index       {t.index_column} kept for {kept} rows (`table query --source-index N`)")
    for k, how in t.computed.items():
        _out(f"computed    {k}: {how}")
    _out(
        "protocol    none (not trained by nasrepro; cannot be retrained with `validate`/`reproduce`)"
    )


def _list(args: argparse.Namespace) -> int:
    rows = []
    for e in list_tables():
        rows.append(
            {"name": e.name, "description": e.description, "path": str(e.path) if e.path else None}
        )
    if args.json:
        _out(json.dumps(rows, indent=2))
        return 0
    width = max(len(e.name) for e in list_tables())
    for e in list_tables():
        where = "" if e.path else "  [not installed]"
        _out(f"{e.name:<{width}}  {e.description}{where}")
    return 0


def _kv(items: list[str] | None, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ImportError_(f"{flag} {item!r}: expected NAME=VALUE")
        out[key.strip()] = value.strip()
    return out


def _macro_value(key: str, value: str) -> Any:
    if key == "input_shape":
        try:
            return [int(v) for v in value.replace("x", ",").split(",")]
        except ValueError:
            raise ImportError_(f"--macro input_shape={value!r}: expected e.g. 3,32,32") from None
    try:
        return int(value)
    except ValueError:
        return value


def _import(args: argparse.Namespace) -> int:
    data: dict[str, Any] = {}
    if args.mapping is not None:
        data = ImportMapping.from_file(args.mapping).to_dict()
    flags = {
        "search_metric": args.search,
        "report_metric": args.report,
        "space": args.space,
        "arch_column": args.arch_column,
        "seed_column": args.seed_column,
        "epoch_column": args.epoch_column,
        "index_column": args.index_column,
        "final_epoch": args.final_epoch,
        "accuracy_scale": args.accuracy_scale,
    }
    data.update({k: v for k, v in flags.items() if v is not None})
    if args.column:
        data["columns"] = {**data.get("columns", {}), **_kv(args.column, "--column")}
    if args.macro:
        extra = {k: _macro_value(k, v) for k, v in _kv(args.macro, "--macro").items()}
        data["macro"] = {**(data.get("macro") or {}), **extra}
    src = {"name": args.source_name, "citation": args.citation, "license": args.license}
    src = {k: v for k, v in src.items() if v is not None}
    if src:
        data["source"] = {**data.get("source", {}), **src}
    if args.class_values:
        data["per_cell"] = False
    if args.partial:
        data["partial"] = True
    mapping = ImportMapping.from_dict(data, "the mapping (--mapping and flags)")
    check_file(args.out, "-o", parents=True)
    command = "nasrepro " + shlex.join(getattr(args, "argv", None) or sys.argv[1:])
    report = import_table(args.file, args.out, mapping, fmt=args.format, command=command)
    _out(report.summary())
    _out(f"wrote {report.path}")
    return 0


def _result_lines(
    r: TableResult, absent: tuple[str, ...] = (), one_value: bool = False
) -> list[str]:
    """The text of one result; ``absent`` names what the source of an imported table
    lacks, ``one_value`` says the table holds the source's one value per cell (NB201's
    12-epoch results are seed means), not seeds."""
    lines = [f"arch          {r.arch}", f"row           {r.index}"]
    lines.append(f"epoch         {r.epoch}")
    if one_value:
        lines.append("seed          none: the source's one value per cell (no seed noise)")
    else:
        lines.append(f"seed          {'mean of ' + str(r.n_seeds) if r.seed is None else r.seed}")
    for m in RESULT_METRICS:
        v = getattr(r, m)
        if v is None or m in absent or (m == "train_time_s" and "epoch_time_s" in absent):
            shown = "absent"
        else:
            shown = str(v) if isinstance(v, int) else _fmt(v, 4)
        lines.append(f"{m:<14}{shown}")
    if one_value:
        return lines
    for name, vals in (("valid_acc", r.per_seed_valid_acc), ("test_acc", r.per_seed_test_acc)):
        per = ", ".join(f"{s}: {_fmt(v)}" for s, v in zip(r.seeds, vals, strict=True))
        lines.append(f"{name} per seed  {per}")
    return lines


def _query(args: argparse.Namespace) -> int:
    if args.source_index is not None and args.arch is not None and args.path is None:
        if args.table is None and (
            Path(args.arch).is_file() or args.arch in {e.name for e in list_tables()}
        ):
            args.arch, args.path = None, args.arch  # `query --source-index N TABLE`
    if (args.arch is None) == (args.source_index is None):
        raise ConfigError(
            "table query: give an architecture string (ARCH) or --source-index N, not "
            f"{'both' if args.arch is not None else 'neither'}"
        )
    t = _open(args)
    arch = args.arch if args.source_index is None else t.arch_at_source_index(args.source_index)
    r = t.query(arch, epoch=args.epoch, seed=args.seed)
    index = None
    if t.source_index is not None:
        with contextlib.suppress(MissingEntryError):
            index = t.source_index_of(arch)
    if args.json:
        doc = r.to_dict()
        if index is not None:
            doc["source_index"] = index
        _out(json.dumps(doc, indent=2))
    else:
        one_value = t.kind == "imported" and len(t.seeds) == 1
        for line in _result_lines(r, t.absent, one_value):
            _out(line)
        if index is not None:
            _out(f"{t.index_column or 'source_index':<14}{index} (the source's own numbering)")
    return 0


def _top(args: argparse.Namespace) -> int:
    t = _open(args)
    rows = t.top(args.k, args.metric, epoch=args.epoch, seed=args.seed)
    if not rows and args.k:  # a header alone, or [], read as a table without results
        why = " (absent in its source)" if args.metric in t.absent else ""
        raise ConfigError(
            f"{t.path}: no class has a {args.metric} value{why}; rank by another --metric"
        )
    if args.json:
        _out(json.dumps([r.to_dict() for r in rows], indent=2))
        return 0
    extra = args.metric not in ("valid_acc", "test_acc", "params")  # always shown
    head = f"  {args.metric:>12}" if extra else ""
    _out(f"{'rank':>4}{head}  {'valid_acc':>9}  {'test_acc':>8}  {'params':>9}  arch")
    for k, r in enumerate(rows, 1):
        v = f"  {_fmt(float(getattr(r, args.metric)), 4):>12}" if extra else ""
        _out(
            f"{k:>4}{v}  {_fmt(r.valid_acc):>9}  {_fmt(r.test_acc):>8}  "
            f"{'-' if r.params is None else r.params:>9}  {r.arch}"
        )
    return 0


def _export(args: argparse.Namespace) -> int:
    t = _open(args)
    if args.output not in (None, "-"):
        check_not_a_table(args.output, t.path, "CSV", "-o")
    df = t.to_dataframe(args.epoch, args.seed, per_seed=args.per_seed)
    if args.output in (None, "-"):
        df.to_csv(sys.stdout, index=False)
    else:
        with atomic_file(args.output, "-o") as tmp:
            df.to_csv(tmp, index=False)
        _out(f"wrote {len(df)} rows to {args.output}")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from nasrepro.tables._plot import plot_table

    t = _open(args)
    out = args.output or f"{Path(t.path).stem}.png"
    check_not_a_table(out, t.path, "a PNG", "-o")  # the more telling refusal first
    check_figure_file(out, "-o")
    with atomic_file(out, "-o") as tmp:
        plot_table(t, tmp)
    _out(f"wrote {out}")
    return 0


# -------------------------------------------------------------------- parser
def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``table`` and its subcommands to the main CLI's ``subparsers``."""
    p = subparsers.add_parser(
        "table",
        help="build, inspect and query lookup tables",
        description="Build, inspect and query HDF5 lookup tables. PATH defaults to "
        "the table shipped with nasrepro.",
    )
    sub = p.add_subparsers(dest="table_command", metavar="COMMAND", required=True)

    def path_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "path",
            nargs="?",
            metavar="TABLE",
            help="shipped table name or file (default: the shipped default table)",
        )
        sp.add_argument("--table", default=None, metavar="NAME|PATH", help="the same as TABLE")

    def where(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--epoch", type=int, default=None, help="epoch number (default: final)")
        sp.add_argument("--seed", type=int, default=None, help="one seed (default: mean)")

    b = sub.add_parser("build", help="build a table from sweep directories")
    b.add_argument("sweep_dirs", nargs="+", metavar="SWEEP_DIR", help="finished sweep directories")
    b.add_argument("-o", "--out", required=True, help="the .h5 file to write")
    b.add_argument(
        "--allow-partial", action="store_true", help="write it even if results are missing"
    )
    b.add_argument(
        "--seeds",
        type=seed_list,
        default=None,
        help="comma-separated seeds to build from (default: all)",
    )
    b.set_defaults(func=_build)

    im = sub.add_parser(
        "import",
        help="import someone else's per-architecture results (CSV or JSON Lines)",
        description="Import a results file as a table. One line per architecture (or per "
        "architecture and seed, or per architecture, seed and epoch). A JSON or TOML "
        "--mapping file and/or flags name the columns; flags override the file.",
    )
    im.add_argument("file", metavar="FILE", help="a .csv or .jsonl results file")
    im.add_argument("-o", "--out", required=True, help="the .h5 table to write")
    im.add_argument("--mapping", default=None, help="JSON (or TOML) mapping file")
    im.add_argument("--format", default=None, choices=("csv", "jsonl"), help="default: by suffix")
    im.add_argument("--space", default=None, help="search space of the strings (default cell)")
    im.add_argument("--arch-column", default=None, help="architecture column (default arch)")
    im.add_argument("--search", default=None, metavar="COL", help="search metric column")
    im.add_argument("--report", default=None, metavar="COL", help="report metric column")
    im.add_argument("--seed-column", default=None, metavar="COL", help="per-seed lines")
    im.add_argument("--epoch-column", default=None, metavar="COL", help="per-epoch lines")
    im.add_argument(
        "--index-column",
        default=None,
        metavar="COL",
        help="the source's own architecture index (e.g. NAS-Bench-201's arch_index), kept so "
        "that `table query --source-index N` finds it",
    )
    im.add_argument(
        "--final-epoch", type=int, default=None, help="epoch of the values without --epoch-column"
    )
    im.add_argument(
        "--column",
        action="append",
        metavar="NAME=COL",
        help="another value, e.g. train_time_s=time or params=n_params (repeatable)",
    )
    im.add_argument(
        "--macro",
        action="append",
        metavar="KEY=VALUE",
        help="the source's macro skeleton, e.g. C=16 N=5 input_shape=3,32,32 num_classes=10: "
        "params and FLOPs are then computed (repeatable)",
    )
    im.add_argument("--accuracy-scale", type=float, default=None, help="100 for fractions")
    im.add_argument("--class-values", action="store_true", help="one value per class, not per cell")
    im.add_argument("--partial", action="store_true", help="accept a file not covering the space")
    im.add_argument("--source-name", default=None, help="provenance: the source's name")
    im.add_argument("--citation", default=None, help="provenance: how to cite it")
    im.add_argument("--license", default=None, help="provenance: its license")
    im.set_defaults(func=_import)

    ls = sub.add_parser("list", help="the shipped tables, by name")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=_list)

    i = sub.add_parser("info", help="size, protocol, coverage and accuracy quantiles")
    path_arg(i)
    i.add_argument("--json", action="store_true", help="print JSON")
    i.set_defaults(func=_info)

    q = sub.add_parser("query", help="metrics of one architecture")
    q.add_argument("arch", metavar="ARCH", nargs="?", default=None, help="architecture string")
    q.add_argument(
        "--source-index",
        type=int_at_least(0, "--source-index"),
        default=None,
        metavar="N",
        help="instead of ARCH: the architecture the source numbered N (NAS-Bench-201's "
        "arch_index in the nb201-* tables)",
    )
    path_arg(q)
    where(q)
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(func=_query)

    t = sub.add_parser("top", help="the k best classes (cells, in a per-cell table)")
    path_arg(t)
    t.add_argument("-k", type=int_at_least(1, "-k"), default=10, help="how many (default 10)")
    t.add_argument(
        "--metric", default="test_acc", choices=RESULT_METRICS, help="rank by (default test_acc)"
    )
    where(t)
    t.add_argument("--json", action="store_true", help="print JSON")
    t.set_defaults(func=_top)

    e = sub.add_parser(
        "export", help="write the table as CSV (one row per class; per cell in a per-cell table)"
    )
    path_arg(e)
    e.add_argument("--csv", action="store_true", required=True, help="CSV format")
    e.add_argument("-o", "--output", default=None, help="file (default: stdout)")
    e.add_argument("--per-seed", action="store_true", help="one line per row and seed")
    where(e)
    e.set_defaults(func=_export)

    pl = sub.add_parser("plot", help="PNG: accuracy histogram, seed agreement, size")
    path_arg(pl)
    pl.add_argument("-o", "--output", default=None, help="PNG path (default: STEM.png)")
    pl.set_defaults(func=_plot)

    add_compare_parser(sub)
