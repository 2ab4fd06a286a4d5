"""Read a schema-1 or schema-2 (imported) HDF5 table lazily, and query it fast.

:meth:`Table.open` reads only the attributes and the small datasets, and checks the
schema, the layout and the header checksum (a few milliseconds). The first query
reads the arrays into memory once, checks ``metrics_sha256`` and ``rows_sha256`` and
the ``canonical`` column, and closes the file; no value is returned before those
checks pass. Later queries are dictionary lookups and array indexing on cached
per-(epoch, seed) views.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import h5py
import numpy as np

from nasrepro.spaces import Architecture, SearchSpace, get_space, parse_in
from nasrepro.spaces._errors import ConfigError, access_error
from nasrepro.tables._errors import MissingEntryError, TableError
from nasrepro.tables._format import (
    IMPORT_ATTRS,
    REQUIRED_ATTRS,
    SCHEMA_IMPORTED,
    SCHEMA_VERSION,
    SMALL_DATASETS,
    header_digest,
    metrics_digest,
    representative_mask,
    rows_digest,
)
from nasrepro.tables._format import check_layout as _check_layout
from nasrepro.tables._format import corrupt as _corrupt
from nasrepro.tables._protocol import Protocol
from nasrepro.tables._records import METRIC_NAMES, STATIC_NAMES
from nasrepro.tables._results import RESULT_METRICS, TableResult, TableResults

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Table",
    "TableResult",
    "TableResults",
    "DEFAULT_TABLE",
    "RESULT_METRICS",
]

logger = logging.getLogger(__name__)

#: File name of the table shipped in ``nasrepro/tables/data``.
DEFAULT_TABLE = "cell-mnist1d-tiny.h5"
_MINIMIZE = ("train_loss", "valid_loss", "test_loss", "epoch_time_s", "train_time_s", *STATIC_NAMES)

ArchLike: TypeAlias = str | Architecture | int | np.integer


@dataclass
class _Loaded:
    archs: list[str]  # (n_rows,)
    canonical: np.ndarray  # (n_rows,) int64
    metrics: np.ndarray  # (n_rows, n_seed, n_epoch, n_metric) float32
    static: np.ndarray  # (n_rows, n_static) float32
    lookup: dict[str, int]  # arch string -> representative row
    source_index: np.ndarray | None = None  # (n_rows,) int64, -1 for none; imported only
    by_source: dict[int, int] | None = None  # source index -> row, built on first use


# Columns of a cached view: RESULT_METRICS, then n_seeds, then per-seed valid and test.
_N_RES = len(RESULT_METRICS)
_COL_NSEEDS = _N_RES
_VA = METRIC_NAMES.index("valid_acc")
_TA = METRIC_NAMES.index("test_acc")
_ET = METRIC_NAMES.index("epoch_time_s")
_M = len(METRIC_NAMES)
_MAX_VIEWS = 64  # (epoch, seed) keys kept; about 7 MB each for 6,466 trained rows


@dataclass
class _View:
    """Cached results of one (epoch, seed) for all rows."""

    values: np.ndarray  # (K, n_rows) float64: RESULT_METRICS, n_seeds, per-seed va, ta
    epoch: int | None
    seed: int | None
    args: list[tuple[Any, ...] | None] | None = None  # TableResult arguments per row


class Table:
    """A lookup table of trained architectures (schema 1: our sweeps; 2: imported).

    Use :meth:`open`; the constructor is internal.

    Example:
        >>> from nasrepro.tables import load_default
        >>> t = load_default()  # the shipped table; Table.open(path) for any other
        >>> r = t.query("|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|"
        ...             "nor_conv_3x3~1|nor_conv_3x3~2|")
        >>> round(r.test_acc, 2), [round(a, 1) for a in r.per_seed_test_acc]
        (95.2, [93.8, 96.5, 95.3])
        >>> t.query_many(t.top(100, "valid_acc")).test_acc.shape
        (100,)
    """

    def __init__(self, path: Path, file: h5py.File, attrs: dict[str, Any], small: dict[str, Any]):
        self.path = path
        self._file: h5py.File | None = file
        self.attrs = attrs
        self.schema_version: int = int(attrs["schema_version"])
        self.space_name: str = str(attrs["space"])
        self.protocol_id: str = str(attrs["protocol_id"])
        self.device: str = str(attrs["device"])
        self.metric_names: tuple[str, ...] = tuple(b.decode() for b in small["metric_names"])
        self.static_names: tuple[str, ...] = tuple(b.decode() for b in small["static_names"])
        self.epochs: tuple[int, ...] = tuple(int(e) for e in small["epochs"])
        self.seeds: tuple[int, ...] = tuple(int(s) for s in small["seeds"])
        self.n_rows: int = int(file["archs"].shape[0])
        self._final = self.epochs[-1]
        self._n_seeds = len(self.seeds)
        self._epoch_pos = {e: k for k, e in enumerate(self.epochs)}
        self._seed_pos = {s: k for k, s in enumerate(self.seeds)}
        self._data: _Loaded | None = None
        self._views: dict[tuple[int | None, int | None], _View] = {}
        self._space: SearchSpace[Any] | None = None
        self._protocol: Protocol | None = None
        imported = self.schema_version >= SCHEMA_IMPORTED
        #: Whether each row holds its own values (imported from a source that trained
        #: isomorphic cells separately); otherwise a query resolves to the class row.
        self.per_cell: bool = bool(attrs["per_cell"]) if imported else False
        self.kind: str = "imported" if imported else "trained"

        def _json(key: str, default: Any) -> Any:
            return json.loads(str(attrs[key])) if imported else default

        #: Source column of ``valid_acc`` (what strategies see), or ``"valid_acc"``.
        self.search_metric: str = _json("search_metric", "valid_acc")
        #: Source column of ``test_acc`` (what leaderboards score), or ``"test_acc"``.
        self.report_metric: str = _json("report_metric", "test_acc")
        #: nasrepro metric/static name -> source column, for imported tables.
        self.columns: dict[str, str] = _json("columns", {})
        #: Metric and static names the source did not give (NaN means absent there).
        self.absent: tuple[str, ...] = tuple(_json("absent", []))
        #: Static name -> how nasrepro computed it (not from the source).
        self.computed: dict[str, str] = _json("computed", {})
        #: The declared macro skeleton of an imported table, or ``None``.
        self.macro: dict[str, Any] | None = _json("macro", None)
        #: Provenance of an imported table (name, citation, license, input sha256, command).
        self.source: dict[str, Any] = _json("source", {})

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | os.PathLike[str], *, verify: bool = False) -> Table:
        """Open a table; cheap. Arrays are read and checksummed on first use.

        Args:
            path: The ``.h5`` file.
            verify: Also read the arrays and check every checksum now.

        Raises:
            TableError: The file is missing, not HDF5, truncated or corrupt, not a
                nasrepro table, or written with a newer schema than this reader's.
        """
        p = Path(path)
        if not p.is_file():
            from nasrepro.tables._catalog import SHIPPED_TABLES  # it imports this module

            fix = (
                f"open_table({str(path)!r}) opens the shipped one by name"
                if str(path) in SHIPPED_TABLES
                else "build one with `nasrepro table build`, or name a shipped one "
                "(`nasrepro table list`)"
            )
            raise TableError(f"{p}: no such table file; {fix}")
        try:
            f = h5py.File(p, "r")
        except PermissionError as e:
            raise access_error(p, e, "table") from e
        except Exception as e:  # h5py raises OSError, sometimes others, on broken files
            raise TableError(
                f"{p}: cannot be read as HDF5; it is truncated, corrupt or not a table "
                f"({type(e).__name__}: {e}); download or rebuild it"
            ) from e
        try:
            table = cls._from_file(p, f)
        except TableError:
            f.close()
            raise
        except Exception as e:  # HDF5 errors on damaged metadata surface anywhere
            f.close()
            raise _corrupt(p, e) from e
        if verify:
            table.load()
        return table

    @classmethod
    def _from_file(cls, p: Path, f: h5py.File) -> Table:
        try:
            names = set(f.attrs.keys())
            if "schema_version" not in names:
                raise TableError(
                    f"{p}: not a nasrepro table (an HDF5 file without a 'schema_version' "
                    "attribute); pass a file written by `nasrepro table build`"
                )
            attrs = {k: f.attrs[k] for k in names}
        except TableError:
            raise
        except Exception as e:
            raise _corrupt(p, e) from e
        version = attrs["schema_version"]
        if not isinstance(version, int | np.integer) or isinstance(version, bool):
            raise TableError(f"{p}: schema_version {version!r} is not an integer; rebuild it")
        if version > SCHEMA_VERSION:
            raise TableError(
                f"{p}: table schema version {int(version)} is newer than this nasrepro reads "
                f"({SCHEMA_VERSION}); upgrade nasrepro (pip install -U nasrepro)"
            )
        if version < 1:
            raise TableError(f"{p}: invalid schema version {int(version)}; rebuild the table")
        required = REQUIRED_ATTRS + (IMPORT_ATTRS if version >= SCHEMA_IMPORTED else ())
        missing = [k for k in required if k not in attrs]
        absent = [
            k for k in ("archs", "canonical", "metrics", "static", *SMALL_DATASETS) if k not in f
        ]
        if missing or absent:
            raise TableError(
                f"{p}: not a complete nasrepro table (missing attributes {missing}, "
                f"datasets {absent}); rebuild it with `nasrepro table build`"
            )
        try:
            small = {k: f[k][()] for k in SMALL_DATASETS}
        except Exception as e:
            raise _corrupt(p, e) from e
        if header_digest(attrs, small) != attrs["header_sha256"]:
            raise TableError(
                f"{p}: header checksum mismatch; the metadata is corrupt, download or rebuild it"
            )
        _check_layout(p, f, small, int(version))
        try:
            json.loads(str(attrs["protocol"]))
            for k in IMPORT_ATTRS[1:] if version >= SCHEMA_IMPORTED else ():
                json.loads(str(attrs[k]))
        except ValueError as e:
            raise TableError(f"{p}: an attribute is not valid JSON ({e}); rebuild it") from e
        return cls(p, f, attrs, small)

    def load(self) -> None:
        """Read every array into memory now and check all checksums (idempotent).

        Raises:
            TableError: The data is corrupt.
        """
        if self._data is None:
            self._data = self._read()

    def _read(self) -> _Loaded:
        f, p = self._file, self.path
        if f is None:
            raise TableError(f"{p}: the table is closed")
        try:
            archs_raw = f["archs"][()]
            canonical = np.asarray(f["canonical"][()], dtype=np.int64)
            static = np.asarray(f["static"][()], dtype=np.float32)
            metrics = np.asarray(f["metrics"][()], dtype=np.float32)
            source_index = (
                np.asarray(f["source_index"][()], dtype=np.int64) if "source_index" in f else None
            )
        except Exception as e:  # fletcher32/deflate errors on damaged chunks
            raise _corrupt(p, e) from e
        if metrics_digest(metrics) != self.attrs["metrics_sha256"]:
            raise TableError(
                f"{p}: metrics checksum mismatch; the file is corrupt, download or rebuild it"
            )
        if rows_digest(archs_raw, canonical, static, source_index) != self.attrs["rows_sha256"]:
            raise TableError(
                f"{p}: row index checksum mismatch; the file is corrupt, download or rebuild it"
            )
        n = self.n_rows
        if (
            canonical.min(initial=0) < 0
            or canonical.max(initial=0) >= n
            or np.any(canonical[canonical] != canonical)
        ):
            raise TableError(f"{p}: the canonical column is inconsistent; rebuild the table")
        try:
            archs = [b.decode("utf-8") for b in archs_raw.tolist()]
        except UnicodeDecodeError as e:
            raise _corrupt(p, e) from e
        own = range(n) if self.per_cell else canonical.tolist()
        lookup = dict(zip(archs, own, strict=True))
        self.close()
        logger.debug("loaded %s: metrics %s", p, metrics.shape)
        return _Loaded(archs, canonical, metrics, static, lookup, source_index)

    def close(self) -> None:
        """Close the HDF5 file; data already read stays usable."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"Table({str(self.path)!r}, space={self.space_name!r}, rows={self.n_rows}, "
            f"seeds={list(self.seeds)}, epochs={len(self.epochs)}, "
            f"protocol={self.protocol_id[:12] or 'none (imported)'})"
        )

    def __len__(self) -> int:
        return self.n_rows

    # --------------------------------------------------------------- metadata
    @property
    def has_protocol(self) -> bool:
        """Whether the numbers were trained under a nasrepro protocol (can be retrained)."""
        return str(self.attrs["protocol"]) != "null"

    @property
    def has_times(self) -> bool:
        """Whether the table records training times (else a simulated clock has none)."""
        return "epoch_time_s" not in self.absent

    @property
    def has_curves(self) -> bool:
        """Whether the table holds more than one epoch (multi-fidelity needs that)."""
        return len(self.epochs) > 1

    @property
    def n_classes(self) -> int:
        """Isomorphism classes among the rows (representatives of ``canonical``)."""
        return int(np.count_nonzero(representative_mask(self._loaded.canonical)))

    @property
    def protocol(self) -> Protocol:
        """The training protocol (the ``protocol`` JSON, checked against ``protocol_id``).

        Raises:
            TableError: The JSON is no protocol this nasrepro knows, or hashes to another
                id than the table records, or the table was imported without one.
        """
        if not self.has_protocol:
            name = self.source.get("name") or "another benchmark"
            raise TableError(
                f"{self.path}: this table was imported from {name} and has no nasrepro "
                "training protocol, so its architectures cannot be retrained by nasrepro; "
                "use a table built by `nasrepro table build` for that"
            )
        if self._protocol is None:
            try:
                self._protocol = Protocol.from_json(str(self.attrs["protocol"]), self.protocol_id)
            except ValueError as e:
                raise TableError(
                    f"{self.path}: the table's protocol record is invalid ({e}); rebuild the "
                    "table with `nasrepro table build`, or upgrade nasrepro if it is newer"
                ) from e
        return self._protocol

    @property
    def final_epoch(self) -> int:
        return self.epochs[-1]

    @property
    def space(self) -> SearchSpace[Any]:
        """The search space named by the table."""
        if self._space is None:
            self._space = get_space(self.space_name)
        return self._space

    @property
    def _loaded(self) -> _Loaded:
        return self._data if self._data is not None else self._load_now()

    def _load_now(self) -> _Loaded:
        self.load()
        assert self._data is not None
        return self._data

    @property
    def archs(self) -> list[str]:
        """Row strings, shape ``(n_rows,)`` (a copy)."""
        return list(self._loaded.archs)

    @property
    def canonical(self) -> np.ndarray:
        """Representative row of every row, shape ``(n_rows,)``, read-only."""
        c = self._loaded.canonical.view()
        c.setflags(write=False)
        return c

    @property
    def metrics(self) -> np.ndarray:
        """All metrics, shape ``(n_rows, n_seed, n_epoch, n_metric)``, read-only float32."""
        m = self._loaded.metrics.view()
        m.setflags(write=False)
        return m

    @property
    def static(self) -> np.ndarray:
        """Static figures, shape ``(n_rows, n_static)``, read-only float32."""
        s = self._loaded.static.view()
        s.setflags(write=False)
        return s

    @property
    def index_column(self) -> str | None:
        """The source column kept as :attr:`source_index` (``"arch_index"`` in the NB201
        tables), or ``None`` when the table keeps none."""
        mapping = self.source.get("mapping") or {}
        name = mapping.get("index_column") if isinstance(mapping, dict) else None
        return str(name) if name is not None else None

    @property
    def source_index(self) -> np.ndarray | None:
        """Each row's index in the source's own numbering (NAS-Bench-201's ``arch_index``),
        ``-1`` where the source gave none, read-only int64 ``(n_rows,)``; ``None`` for a
        table that keeps no source index."""
        si = self._loaded.source_index
        if si is None:
            return None
        v = si.view()
        v.setflags(write=False)
        return v

    def _no_source_index(self) -> MissingEntryError:
        return MissingEntryError(
            f"{self.path} keeps no source index (only tables imported with an index column "
            "do, e.g. the shipped nb201-* tables); look the architecture up by its string"
        )

    def arch_at_source_index(self, index: int) -> str:
        """The architecture string the source numbered ``index``.

        Example:
            >>> t = open_table("nb201-cifar10")  # doctest: +SKIP
            >>> t.arch_at_source_index(0)  # NAS-Bench-201's arch_index 0  # doctest: +SKIP
            '|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|'

        Raises:
            MissingEntryError: The table keeps no source index, or no row has ``index``.
        """
        d = self._loaded
        if d.source_index is None:
            raise self._no_source_index()
        if d.by_source is None:
            d.by_source = {int(s): r for r, s in enumerate(d.source_index.tolist()) if s >= 0}
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise TypeError(f"a source index is an integer, got {type(index).__name__}")
        row = d.by_source.get(int(index))
        if row is None:
            lo, hi = (min(d.by_source), max(d.by_source)) if d.by_source else (0, -1)
            raise MissingEntryError(
                f"no architecture has {self.index_column or 'source index'} {int(index)} in "
                f"{self.path} (the indices run {lo}..{hi})"
            )
        return d.archs[row]

    def source_index_of(self, arch: ArchLike) -> int:
        """The source's own index of ``arch`` (the cell's own row in a :attr:`per_cell` table).

        Raises:
            ValueError: ``arch`` is malformed.
            MissingEntryError: The table keeps no source index, or the source gave none
                for ``arch``.
        """
        d = self._loaded
        if d.source_index is None:
            raise self._no_source_index()
        row = self._row(arch)
        value = int(d.source_index[row])
        if value < 0:
            raise MissingEntryError(f"the source gave no index for {d.archs[row]}")
        return value

    def trained(self, seed: int | None = None) -> np.ndarray:
        """Rows with a result (for ``seed``, or for any seed), bool ``(n_rows,)``."""
        d = self._loaded
        fin = np.isfinite(d.metrics[:, :, -1, _VA])  # (n_rows, n_seed)
        if seed is None:
            return np.asarray(fin.any(axis=1))
        return np.asarray(fin[:, self._seed_index(seed)])

    def coverage(self) -> dict[int, tuple[int, int]]:
        """Per seed: (trained classes, classes of the space or sample); in a
        :attr:`per_cell` table (rows with a value, rows)."""
        if self.per_cell:
            return {s: (int(self.trained(s).sum()), self.n_rows) for s in self.seeds}
        trained = representative_mask(self._loaded.canonical)
        return {s: (int((self.trained(s) & trained).sum()), self.n_classes) for s in self.seeds}

    # ---------------------------------------------------------------- queries
    def _seed_index(self, seed: int) -> int:
        try:
            return self._seed_pos[seed]
        except (KeyError, TypeError):
            raise MissingEntryError(
                f"seed {seed!r} is not in this table; it has seeds {list(self.seeds)}"
            ) from None

    def _epoch_index(self, epoch: int | None) -> int:
        if epoch is None:
            return len(self.epochs) - 1
        try:
            return self._epoch_pos[epoch]
        except (KeyError, TypeError):
            have = (
                f"1..{self.final_epoch}"
                if self.epochs == tuple(range(1, self.final_epoch + 1))
                else f"one of {list(self.epochs)} (the table has no other epochs)"
            )
            raise ConfigError(f"{epoch=} is not in this table; use {have} (None = final)") from None

    def _entry(self, epoch: int | None, seed: int | None) -> _View:
        """The cached :class:`_View` of ``(epoch, seed)``, computed on first use.

        At most ``_MAX_VIEWS`` are kept; the oldest is dropped first.
        """
        key = (epoch, seed)
        ent = self._views.get(key)
        if ent is not None:
            return ent
        d = self._loaded
        ei = self._epoch_index(epoch)
        m = d.metrics[:, :, ei, :].astype(np.float64)  # (n, S, M)
        tt = d.metrics[:, :, : ei + 1, _ET].astype(np.float64).sum(axis=2)  # (n, S)
        if seed is not None:
            si = self._seed_index(seed)
            m, tt = m[:, si : si + 1], tt[:, si : si + 1]
        ok = np.isfinite(m[:, :, _VA])  # (n, S')
        cnt = ok.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(ok[:, :, None], m, 0.0).sum(axis=1) / cnt[:, None]
            ttm = np.where(ok, tt, 0.0).sum(axis=1) / cnt
        S = self._n_seeds
        out = np.empty((_N_RES + 1 + 2 * S, self.n_rows), dtype=np.float64)  # (K, n)
        out[:_M] = mean.T
        out[_M] = ttm
        out[_M + 1 : _N_RES] = d.static.T
        out[_COL_NSEEDS] = cnt
        out[_N_RES + 1 : _N_RES + 1 + S] = d.metrics[:, :, ei, _VA].T
        out[_N_RES + 1 + S :] = d.metrics[:, :, ei, _TA].T
        out.setflags(write=False)
        if len(self._views) >= _MAX_VIEWS:
            del self._views[next(iter(self._views))]
        ent = self._views[key] = _View(out, epoch, seed)
        return ent

    def _args(self, ent: _View) -> list[tuple[Any, ...] | None]:
        """Constructor arguments of every row's :class:`TableResult` (``None``: no data).

        Built for all trained rows at once (about 2 us and 0.7 kB per row), so that a
        query is a dictionary lookup, a list index and a constructor call.
        """
        if ent.args is not None:
            return ent.args
        d = self._loaded
        values = ent.values.T.tolist()  # n lists of K floats
        S = self._n_seeds
        epoch = self._final if ent.epoch is None else ent.epoch
        seed, seeds, archs = ent.seed, self.seeds, d.archs
        args: list[tuple[Any, ...] | None] = [None] * self.n_rows
        for r in np.flatnonzero(ent.values[_COL_NSEEDS] > 0).tolist():
            v = values[r]
            args[r] = (
                archs[r],
                r,
                epoch,
                seed,
                int(v[_COL_NSEEDS]),
                *v[:8],  # train_loss .. epoch_time_s, train_time_s
                int(v[8]) if v[8] == v[8] else None,  # params (None: absent)
                int(v[9]) if v[9] == v[9] else None,  # flops
                v[10],  # latency_s
                seeds,
                tuple(v[_N_RES + 1 : _N_RES + 1 + S]),
                tuple(v[_N_RES + 1 + S :]),
            )
        ent.args = args
        return args

    def _row(self, arch: ArchLike) -> int:
        """Row answering for ``arch`` (string, architecture or row index): its class
        representative's, or its own in a :attr:`per_cell` table."""
        d = self._loaded
        if isinstance(arch, str):
            row = d.lookup.get(arch)
            if row is not None:
                return row
            parsed = parse_in(self.space, arch)  # a ValueError naming the position or space
            return self._row(parsed)
        if isinstance(arch, int | np.integer) and not isinstance(arch, bool):
            i = int(arch)
            if not 0 <= i < self.n_rows:
                raise MissingEntryError(f"row {i} is out of range [0, {self.n_rows})")
            return i if self.per_cell else int(d.canonical[i])
        if isinstance(arch, Architecture):
            if arch.space_name != self.space_name:
                raise ConfigError(
                    f"a {arch.space_name!r} architecture cannot be looked up in a "
                    f"{self.space_name!r} table"
                )
            s = arch.to_string()
            row = d.lookup.get(s)
            if row is None and not self.per_cell:  # a per-cell table answers for the cell only
                row = d.lookup.get(self.space.canonical(arch).to_string())
            if row is None:
                raise MissingEntryError(f"{s} is not in this table ({self.path})")
            return row
        if isinstance(arch, TableResult):  # as top() and best() return them
            return self._row(arch.arch)
        raise TypeError(
            f"expected an architecture string, Architecture, TableResult or row index, got "
            f"{type(arch).__name__}"
        )

    def _missing(self, row: int, seed: int | None) -> MissingEntryError:
        arch = self._loaded.archs[row]
        which = "any seed" if seed is None else f"seed {seed}"
        fix = (
            "the imported file has no value for it at this epoch (a --partial import)"
            if self.kind == "imported"
            else "the table is partial: resume its sweep (or sweep what is missing), rebuild"
        )
        return MissingEntryError(f"no result for {arch} (row {row}) at {which}; {fix}")

    def query(
        self, arch: ArchLike, epoch: int | None = None, seed: int | None = None
    ) -> TableResult:
        """The metrics of ``arch``: its class representative's, or in a :attr:`per_cell`
        table (imported from a source that trained every cell, like NAS-Bench-201) the
        cell's own.

        Args:
            arch: Architecture string, :class:`~nasrepro.spaces.Architecture`, or a row
                index (the enumeration index in bounded spaces).
            epoch: One of the table's ``epochs`` (``1..6`` in the default table, ``12`` alone in
                the NAS-Bench-201 ones); ``None`` is the final epoch.
            seed: One seed of :attr:`seeds`; ``None`` averages the trained seeds.

        Raises:
            ValueError: ``arch`` is malformed, or ``epoch`` is out of range.
            MissingEntryError: ``arch`` or ``seed`` has no result in this table.
        """
        d = self._data if self._data is not None else self._load_now()
        row = d.lookup.get(arch) if type(arch) is str else None  # type: ignore[arg-type]
        if row is None:
            row = self._row(arch)
        ent = self._views.get((epoch, seed))
        args = ent.args if ent is not None else None
        if args is None:
            args = self._args(self._entry(epoch, seed))
        res = args[row]
        if res is None:
            raise self._missing(row, seed)
        return TableResult(*res)

    def rows(self, archs: Iterable[ArchLike] | np.ndarray) -> np.ndarray:
        """Rows answering for many architectures (as :meth:`query` resolves them), int64 ``(n,)``."""
        d = self._loaded
        if isinstance(archs, str | Architecture | TableResult):
            raise ConfigError(
                f"rows() and query_many() take a sequence of architectures, got one "
                f"{type(archs).__name__}; use query() for one, or wrap it in a list"
            )
        if isinstance(archs, np.ndarray) and archs.dtype.kind in "iu":
            idx = archs.astype(np.int64, copy=False)
            if idx.size and (idx.min() < 0 or idx.max() >= self.n_rows):
                raise MissingEntryError(f"row indices out of range [0, {self.n_rows})")
            return idx if self.per_cell else np.asarray(d.canonical[idx])
        seq = archs if isinstance(archs, Sequence) else list(archs)
        try:  # all known strings: one C-level pass
            return np.fromiter(map(d.lookup.__getitem__, seq), dtype=np.int64, count=len(seq))
        except (KeyError, TypeError):
            return np.fromiter(map(self._row, seq), dtype=np.int64, count=len(seq))

    def query_many(
        self,
        archs: Iterable[ArchLike] | np.ndarray,
        epoch: int | None = None,
        seed: int | None = None,
        *,
        missing: Literal["raise", "nan"] = "raise",
    ) -> TableResults:
        """Vectorized :meth:`query`.

        Args:
            archs: ``(n,)`` architecture strings or objects, or an integer array of rows.
            epoch: Epoch number; ``None`` is the final epoch.
            seed: One seed; ``None`` averages the trained seeds.
            missing: ``"raise"`` a :class:`MissingEntryError` for untrained entries, or
                give them NaN and ``n_seeds == 0``.

        Returns:
            A :class:`TableResults` of ``(n,)`` arrays, in the order of ``archs``.
        """
        if missing not in ("raise", "nan"):
            raise ConfigError(f"{missing=}; expected 'raise' or 'nan'")
        rows = self.rows(archs)
        vals = self._entry(epoch, seed).values[: _N_RES + 1].take(rows, axis=1)  # (K, n)
        if missing == "raise":
            bad = np.flatnonzero(vals[_COL_NSEEDS] == 0)
            if bad.size:
                err = self._missing(int(rows[bad[0]]), seed)
                raise MissingEntryError(f"{bad.size} of {len(rows)} entries missing, e.g. {err}")
        return TableResults(
            rows,
            self.epochs[-1] if epoch is None else epoch,
            seed,
            vals[_COL_NSEEDS].astype(np.int64),
            *vals[:_N_RES],
        )

    def curve(
        self, arch: ArchLike, metric: str = "valid_acc", seed: int | None = None
    ) -> np.ndarray:
        """Learning curve of ``arch``, shape ``(n_epoch,)``; mean over seeds by default."""
        if metric not in METRIC_NAMES:
            raise ConfigError(f"unknown {metric=}; expected one of {METRIC_NAMES}")
        row = self._row(arch)
        m = self._loaded.metrics[row, :, :, METRIC_NAMES.index(metric)]  # (S, E)
        if seed is not None:
            c = m[self._seed_index(seed)].astype(np.float64)
        else:
            ok = np.isfinite(m[:, -1])
            c = m[ok].astype(np.float64).mean(axis=0) if ok.any() else np.full(m.shape[1], np.nan)
        if np.isnan(c).all():
            raise self._missing(row, seed)
        return c

    def _ranked(
        self, metric: str, epoch: int | None, seed: int | None, mode: str | None
    ) -> np.ndarray:
        from nasrepro.tables._ranking import ranked_rows

        return ranked_rows(self, metric, epoch, seed, mode)

    def top(
        self,
        k: int = 10,
        metric: str = "test_acc",
        *,
        epoch: int | None = None,
        seed: int | None = None,
        mode: Literal["max", "min"] | None = None,
    ) -> list[TableResult]:
        """The ``k`` best classes (cells, in a :attr:`per_cell` table) by ``metric``
        (ties by row), best first.

        Args:
            k: How many.
            metric: One of :data:`RESULT_METRICS`.
            epoch, seed: As in :meth:`query`.
            mode: ``"max"`` or ``"min"``; by default losses, times and static
                figures are minimized, accuracies maximized.
        """
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
            raise ConfigError(f"{k=} must be a non-negative int")
        rows = self._ranked(metric, epoch, seed, mode)[:k]
        return [self.query(int(r), epoch, seed) for r in rows]

    def best(
        self,
        metric: str = "test_acc",
        *,
        epoch: int | None = None,
        seed: int | None = None,
        mode: Literal["max", "min"] | None = None,
    ) -> TableResult:
        """The best class by ``metric`` (see :meth:`top`)."""
        top = self.top(1, metric, epoch=epoch, seed=seed, mode=mode)
        if not top:
            raise MissingEntryError(f"{self.path}: the table holds no results")
        return top[0]

    @property
    def optimum(self) -> float:
        """Best mean final test accuracy (percent; the report metric): the reference for regret."""
        return self.best("test_acc").test_acc

    def to_dataframe(
        self, epoch: int | None = None, seed: int | None = None, *, per_seed: bool = False
    ) -> pd.DataFrame:
        """One row per trained class, or per cell in a :attr:`per_cell` table (or per
        class/cell and seed with ``per_seed``: every seed, or ``seed`` alone if given).

        Columns: ``arch``, ``index``, ``source_index`` (tables that keep one), ``seed``
        (``per_seed`` only), ``n_seeds``, then :data:`RESULT_METRICS`.
        """
        from nasrepro.tables._frame import table_frame

        return table_frame(self, epoch, seed, per_seed=per_seed)
