"""Build one HDF5 table (schema version 1) from the result chunks of sweeps."""

from __future__ import annotations

import datetime
import json
import logging
import os
import platform
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from nasrepro.spaces import SearchSpace, get_space, specs_digest
from nasrepro.tables._errors import TableError
from nasrepro.tables._format import (
    SCHEMA_IMPORTED,
    SCHEMA_TRAINED,
    header_digest,
    metrics_digest,
    rows_digest,
)
from nasrepro.tables._outfile import check_table_output, write_atomically
from nasrepro.tables._protocol import Protocol
from nasrepro.tables._records import (
    MANIFEST,
    METRIC_NAMES,
    STATIC_NAMES,
    TrialResult,
    iter_chunks,
    read_chunk,
    read_manifest,
)

__all__ = ["build", "BuildReport"]

logger = logging.getLogger(__name__)

_CHUNK_BYTES = 1 << 20
_SHOW = 10


@dataclass(frozen=True)
class BuildReport:
    """What :func:`build` found and wrote.

    Attributes:
        path: The table written (``None`` when nothing was written).
        space: Space name.
        protocol_id: Protocol id shared by all sweeps.
        n_rows: Rows of the table (15,625 for the cell space).
        seeds: Seeds of the table, sorted.
        n_expected: (architecture, seed) pairs the manifests ask for.
        n_found: Pairs with a result.
        missing: The (architecture string, seed) pairs without a result.
        n_duplicates: Identical results found twice (kept once).
    """

    path: Path | None
    space: str
    protocol_id: str
    n_rows: int
    seeds: tuple[int, ...]
    n_expected: int
    n_found: int
    missing: tuple[tuple[str, int], ...] = field(default_factory=tuple)
    n_duplicates: int = 0

    @property
    def complete(self) -> bool:
        return not self.missing

    def summary(self) -> str:
        """A short human-readable account, naming up to 10 missing pairs."""
        lines = [
            f"space {self.space}, protocol {self.protocol_id[:12]}, seeds {list(self.seeds)}: "
            f"{self.n_found}/{self.n_expected} (arch, seed) results"
        ]
        if self.missing:
            lines.append(f"missing {len(self.missing)}:")
            lines += [f"  seed {s}: {a}" for a, s in self.missing[:_SHOW]]
            if len(self.missing) > _SHOW:
                lines.append(f"  ... and {len(self.missing) - _SHOW} more")
        return "\n".join(lines)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("nasrepro", "numpy", "h5py"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def _created() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = (
        datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
        if epoch
        else datetime.datetime.now(datetime.timezone.utc)
    )
    return now.isoformat(timespec="seconds")


def _rows(space: SearchSpace[Any], manifest_archs: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Row strings and the canonical column: all cells of a bounded space, else the sample."""
    if space.bounded:
        archs = [a.to_string() for a in space.enumerate()]
        fast = getattr(space, "canonical_indices", None)
        if fast is not None:
            canonical = np.asarray(fast(), dtype=np.int64)
        else:
            index = {s: i for i, s in enumerate(archs)}
            canonical = np.array(
                [index[space.canonical(space.parse(s)).to_string()] for s in archs], dtype=np.int64
            )
        return archs, canonical
    archs = list(dict.fromkeys(manifest_archs))
    return archs, np.arange(len(archs), dtype=np.int64)


def _row_of(
    arch: str, index: dict[str, int], canonical: np.ndarray, space: SearchSpace[Any], where: str
) -> int:
    i = index.get(arch)
    if i is None:
        try:
            i = index.get(space.parse(arch).to_string())
        except ValueError as e:
            raise TableError(f"{where}: invalid {space.name} architecture {arch!r}: {e}") from e
        if i is None:
            raise TableError(
                f"{where}: architecture {arch!r} is not in the sweep manifest; results of "
                "another sweep were copied in, remove them"
            )
    return int(canonical[i])


def build(
    sweep_dir: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    out_path: str | os.PathLike[str],
    *,
    allow_partial: bool = False,
    seeds: Iterable[int] | None = None,
) -> BuildReport:
    """Turn the results of one or more sweeps into one HDF5 table.

    Every directory must hold a ``sweep.json`` manifest and its ``chunks/``. All of
    them must share one space and one protocol. For a bounded space (the cell space)
    the table has one row per architecture in enumeration order, ``(15625,)`` for
    cells; only canonical representatives hold data, and ``canonical`` maps every row
    to its representative. For an unbounded space, the rows are the sampled
    architectures and ``canonical`` is ``arange(n_rows)``.

    The file is written to a temporary name and renamed, so ``out_path`` is either
    the old file or the whole new one.

    Args:
        sweep_dir: A sweep directory, or several (e.g. one per shard).
        out_path: Where to write the ``.h5`` table.
        allow_partial: Write a table even when some (architecture, seed) pairs of
            the manifests have no result; they stay NaN.
        seeds: Build from these manifest seeds only (default: all of them); the
            results of the other seeds are left out, e.g. to ship the seeds a
            running sweep has finished.

    Returns:
        A :class:`BuildReport` naming the missing pairs.

    Chunks record the digest of the network each architecture was trained as (since
    2026-12-07): two chunks that trained one architecture as different networks (the
    space's code changed between them) are refused. When every result's chunk records
    it, the table's ``specs_sha256`` attribute is :func:`~nasrepro.spaces.specs_digest`
    of the rows with a result (in row order) and those networks, which ``nasrepro
    reproduce`` checks against the space's code; tables from older chunks have none.

    Raises:
        TableError: ``out_path`` lies inside a sweep directory or is an existing file
            that is not HDF5 (an existing table is replaced), the sweeps mix spaces or
            protocols, a seed mixes CPU and GPU results, results conflict or do not fit the manifest, two chunks trained
            one architecture as different networks, a chunk is unreadable, or results
            are missing and ``allow_partial`` is false.

    Example:
        >>> report = build("runs/smoke", "smoke.h5")  # doctest: +SKIP
        >>> report.complete  # doctest: +SKIP
        True
    """
    dirs = (
        [Path(sweep_dir)]
        if isinstance(sweep_dir, str | os.PathLike)
        else [Path(d) for d in sweep_dir]
    )
    if not dirs:
        raise TableError("no sweep directory given; pass at least one")
    manifests = [read_manifest(d) for d in dirs]
    check_table_output(out_path, input_dirs=dirs)
    paths = [d / MANIFEST for d in dirs]
    first, first_path = manifests[0], paths[0]
    for m, m_path in zip(manifests[1:], paths[1:], strict=True):
        if m.space != first.space:
            raise TableError(
                f"refusing to mix spaces: {first_path} is {first.space!r} but {m_path} is "
                f"{m.space!r}; build one table per space"
            )
        if m.protocol_id != first.protocol_id:
            raise TableError(
                f"refusing to mix protocols: {first_path} has protocol {first.protocol_id[:12]} "
                f"but {m_path} has {m.protocol_id[:12]}; build one table per protocol"
            )
    try:
        space = get_space(first.space)
    except ValueError as e:
        raise TableError(f"{first_path}: {e}") from e

    all_seeds = sorted({s for m in manifests for s in m.seeds})
    if seeds is None:
        seeds = all_seeds
    else:
        seeds = sorted(set(seeds))
        unknown = sorted(set(seeds) - set(all_seeds))
        if unknown or not seeds:
            raise TableError(
                f"seeds {unknown or seeds} are not in the manifest seeds {all_seeds}; "
                "choose among those"
            )
    seed_pos = {s: k for k, s in enumerate(seeds)}
    manifest_archs = [a for m in manifests for a in m.archs]
    archs, canonical = _rows(space, manifest_archs)
    index = {s: i for i, s in enumerate(archs)}

    expected: dict[tuple[int, int], str] = {}
    for m, m_path in zip(manifests, paths, strict=True):
        for a in m.archs:
            row = _row_of(a, index, canonical, space, str(m_path))
            for s in m.seeds:
                if s in seed_pos:
                    expected.setdefault((row, s), a)

    results: dict[tuple[int, int], tuple[TrialResult, Path]] = {}
    networks: dict[str, tuple[str, Path]] = {}  # arch -> (network digest, first chunk)
    undigested: list[Path] = []  # chunks of kept results that record no network
    n_dup = 0
    for d in dirs:
        for path in iter_chunks(d):
            try:
                payload = read_chunk(path)
            except ValueError as e:
                raise TableError(str(e)) from e
            for r in payload["results"]:
                where = f"{path} ({r.arch}, seed {r.seed})"
                if r.space != first.space or payload["space"] != first.space:
                    raise TableError(
                        f"refusing to mix spaces: {where} is space {r.space!r}, the manifest "
                        f"says {first.space!r}; move that chunk to its own sweep"
                    )
                if (
                    r.protocol_id != first.protocol_id
                    or payload["protocol_id"] != first.protocol_id
                ):
                    raise TableError(
                        f"refusing to mix protocols: {where} has protocol {r.protocol_id[:12]}, "
                        f"the manifest says {first.protocol_id[:12]}; move that chunk to its own "
                        "sweep or delete it and resume"
                    )
                if r.seed not in all_seeds:
                    raise TableError(
                        f"{where}: seed {r.seed} is not in the manifest seeds {all_seeds}"
                    )
                if r.seed not in seed_pos:
                    continue  # a seed left out on request
                net = payload["networks"].get(r.arch)
                if net is None:
                    undigested.append(path)
                else:
                    seen = networks.setdefault(r.arch, (net, path))
                    if seen[0] != net:
                        raise TableError(
                            f"refusing to combine chunks that trained {r.arch} as different "
                            f"networks: {seen[1]} (network {seen[0][:12]}) and {path} "
                            f"(network {net[:12]}); space {first.space!r}'s code changed "
                            "between them, so delete the chunks trained with the code you "
                            "do not want and resume the sweep with the code you keep"
                        )
                key = (_row_of(r.arch, index, canonical, space, str(path)), r.seed)
                if key in results:
                    other, other_path = results[key]
                    if other != r:
                        raise TableError(
                            f"conflicting results for {r.arch} seed {r.seed} in {other_path} "
                            f"and {path}; delete the wrong chunk and resume the sweep"
                        )
                    n_dup += 1
                    continue
                results[key] = (r, path)

    if not results:
        raise TableError(f"no results in {', '.join(map(str, dirs))}; run `nasrepro sweep` first")
    n_epoch = {r.n_epochs for r, _ in results.values()}
    if len(n_epoch) != 1:
        raise TableError(f"results differ in their number of epochs {sorted(n_epoch)}")
    (E,) = n_epoch
    if first.protocol.epochs != E:
        raise TableError(f"results have {E} epochs but the protocol says {first.protocol.epochs}")

    devices: dict[int, set[str]] = {s: set() for s in seeds}
    device_names: dict[int, set[str]] = {s: set() for s in seeds}
    training_versions: dict[str, set[str]] = {}
    trainers: dict[int, set[str]] = {s: set() for s in seeds}  # per seed: a table may mix
    for (_, s), (r, _) in results.items():
        devices[s].add(r.device)
        trainers[s].add(str(r.versions.get("trainer", "single")))
        if r.device_name:
            device_names[s].add(r.device_name)
        for k, v in r.versions.items():
            training_versions.setdefault(k, set()).add(str(v))
    for s, devs in devices.items():
        if len(devs) > 1:
            raise TableError(
                f"seed {s} mixes results trained on {sorted(devs)}; CPU and GPU numbers "
                "differ, so retrain that seed on one device type"
            )
    dev_types = {d for devs in devices.values() for d in devs}
    device = dev_types.pop() if len(dev_types) == 1 else "mixed"

    n_rows, S, M = len(archs), len(seeds), len(METRIC_NAMES)
    metrics = np.full((n_rows, S, E, M), np.nan, dtype=np.float32)
    static_seeds = np.full((n_rows, S, len(STATIC_NAMES)), np.nan, dtype=np.float64)
    for (row, s), (r, _) in results.items():
        metrics[row, seed_pos[s]] = np.asarray(
            [r.history[m] for m in METRIC_NAMES], dtype=np.float32
        ).T
        static_seeds[row, seed_pos[s]] = (r.params, r.flops, r.latency_s)
    for col_idx, name in enumerate(STATIC_NAMES[:2]):  # params, flops: the same for all seeds
        col = static_seeds[:, :, col_idx]
        spread = np.nanmax(col, axis=1, initial=-np.inf) - np.nanmin(col, axis=1, initial=np.inf)
        bad = np.flatnonzero(np.isfinite(spread) & (spread > 0))
        if bad.size:
            raise TableError(
                f"{name} of {archs[bad[0]]} differs between seeds; the sweeps did not "
                "train the same network, rebuild them under one protocol"
            )
    static = np.full((n_rows, len(STATIC_NAMES)), np.nan, dtype=np.float32)
    has = np.isfinite(static_seeds[:, :, 0]).any(axis=1)  # rows with a result
    with warnings.catch_warnings():  # all-NaN latency (not measured) stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        static[has] = np.nanmedian(static_seeds[has], axis=1)

    missing = tuple(
        sorted(
            ((a, s) for (row, s), a in expected.items() if (row, s) not in results),
            key=lambda t: (t[1], index.get(t[0], -1)),
        )
    )
    report = BuildReport(
        path=None,
        space=first.space,
        protocol_id=first.protocol_id,
        n_rows=n_rows,
        seeds=tuple(seeds),
        n_expected=len(expected),
        n_found=sum(1 for k in expected if k in results),
        missing=missing,
        n_duplicates=n_dup,
    )
    logger.info("%s", report.summary())
    if missing and not allow_partial:
        raise TableError(
            report.summary() + "\nresume the sweep to train them, or build a partial table with "
            "allow_partial=True (`nasrepro table build --allow-partial`)"
        )

    specs_sha256 = None
    if undigested:
        logger.info(
            "the table records no specs_sha256: %d results (in %s, ...) come from chunks that "
            "record no network digest (written before nasrepro recorded one)",
            len(undigested),
            undigested[0],
        )
    else:
        specs_sha256 = _table_specs_digest(archs, results, networks)
    out = Path(out_path)
    _write(
        out,
        space=first.space,
        protocol=first.protocol,
        archs=archs,
        canonical=canonical,
        metrics=metrics,
        static=static,
        seeds=seeds,
        devices={str(s): sorted(devices[s])[0] if devices[s] else "" for s in seeds},
        device=device,
        device_names={str(s): sorted(device_names[s]) for s in seeds},
        training_versions={k: sorted(v) for k, v in sorted(training_versions.items())},
        trainers={str(s): sorted(trainers[s]) for s in seeds},
        specs_sha256=specs_sha256,
    )
    logger.info("wrote %s (%d rows, %d seeds, %d epochs)", out, n_rows, S, E)
    return BuildReport(**{**report.__dict__, "path": out})


def _table_specs_digest(
    archs: list[str],
    results: dict[tuple[int, int], tuple[TrialResult, Path]],
    networks: dict[str, tuple[str, Path]],
) -> str:
    """:func:`~nasrepro.spaces.specs_digest` of the rows with a result, in row order, and
    the networks their chunks record (every result's chunk records its network)."""
    row_net = {row: networks[r.arch][0] for (row, _), (r, _) in results.items()}
    rows = sorted(row_net)
    return specs_digest([archs[i] for i in rows], [row_net[i] for i in rows])


def _image(
    attrs: dict[str, Any],
    small: dict[str, np.ndarray],
    metrics: np.ndarray,
    archs_arr: np.ndarray,
    canonical: np.ndarray,
    static: np.ndarray,
    source_index: np.ndarray | None = None,
) -> bytes:
    """The bytes of the HDF5 file, built in memory (no file is touched)."""
    n_rows, S, E, M = metrics.shape
    name = f"nasrepro-table-{os.getpid()}-{id(metrics)}.h5"  # a name only; nothing on disk
    with h5py.File(name, "w", driver="core", backing_store=False, block_size=1 << 20) as f:
        for k, v in attrs.items():
            f.attrs[k] = v
        comp: dict[str, Any] = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
        rows = max(1, min(n_rows, _CHUNK_BYTES // max(1, S * E * M * 4)))
        f.create_dataset("metrics", data=metrics, chunks=(rows, S, E, M), fletcher32=True, **comp)
        f.create_dataset("archs", data=archs_arr, fletcher32=True, **comp)
        f.create_dataset("canonical", data=canonical.astype("<i8"), fletcher32=True, **comp)
        f.create_dataset("static", data=static, fletcher32=True, **comp)
        if source_index is not None:
            si = np.asarray(source_index, dtype="<i8")
            f.create_dataset("source_index", data=si, fletcher32=True, **comp)
        for k, v in small.items():
            f.create_dataset(k, data=v)
        f.flush()
        return bytes(f.id.get_file_image())


def _write(
    out: Path,
    *,
    space: str,
    protocol: Protocol | None,
    archs: list[str],
    canonical: np.ndarray,
    metrics: np.ndarray,
    static: np.ndarray,
    seeds: list[int],
    devices: dict[str, str],
    device: str,
    device_names: dict[str, list[str]],
    training_versions: dict[str, list[str]],
    epochs: Sequence[int] | None = None,
    imported: dict[str, Any] | None = None,
    source_index: np.ndarray | None = None,
    trainers: dict[str, list[str]] | None = None,
    specs_sha256: str | None = None,
) -> None:
    """Write the layout of :mod:`nasrepro.tables._format` atomically.

    ``trainers`` (tables built from sweeps) records per seed which trainers made its
    results, ``single`` and/or ``batched``: reproduce expects bitwise identity only
    from single training. ``specs_sha256`` (tables built from chunks that record
    their networks) is the digest of the networks the rows with a result were
    trained as.

    Schema 1 by default; with ``imported`` (the schema-2 attributes of
    :data:`~nasrepro.tables._format.IMPORT_ATTRS`) schema 2, where ``epochs`` may be
    any increasing epoch numbers and ``protocol`` may be ``None``, and ``source_index``
    (each row's index in the source's numbering, ``-1`` for none) may be given.
    """
    if source_index is not None and imported is None:  # pragma: no cover - a caller bug
        raise ValueError("source_index belongs to imported (schema 2) tables only")
    n_rows, S, E, M = metrics.shape
    encoded = [a.encode("utf-8") for a in archs]
    archs_arr = np.array(encoded, dtype=f"S{max(1, max(len(b) for b in encoded))}")
    small = {
        "metric_names": np.array([m.encode() for m in METRIC_NAMES]),
        "static_names": np.array([m.encode() for m in STATIC_NAMES]),
        "epochs": np.arange(1, E + 1, dtype=np.int64)
        if epochs is None
        else np.asarray(epochs, dtype=np.int64),
        "seeds": np.asarray(seeds, dtype=np.int64),
    }
    attrs: dict[str, Any] = {
        "schema_version": SCHEMA_TRAINED if imported is None else SCHEMA_IMPORTED,
        "space": space,
        "protocol": "null" if protocol is None else protocol.to_json(),
        "protocol_id": "" if protocol is None else protocol.id,
        "created": _created(),
        "nasrepro_version": _versions()["nasrepro"],
        "package_versions": json.dumps(_versions(), sort_keys=True),
        "training_versions": json.dumps(training_versions, sort_keys=True),
        "device": device,
        "devices": json.dumps(devices, sort_keys=True),
        "device_names": json.dumps(device_names, sort_keys=True),
        "metrics_sha256": metrics_digest(metrics),
        "rows_sha256": rows_digest(archs_arr, canonical, static, source_index),
    }
    if trainers is not None:
        attrs["trainers"] = json.dumps(trainers, sort_keys=True)
    if specs_sha256 is not None:
        attrs["specs_sha256"] = specs_sha256
    attrs.update(imported or {})
    attrs["header_sha256"] = header_digest(attrs, small)

    # The HDF5 image is built in memory (the core driver, no backing store) and written
    # with plain file I/O: HDF5 writing straight to a full disk can crash the process
    # (a segfault inside h5py), while here a full disk is an OSError before the rename.
    image = _image(attrs, small, metrics, archs_arr, canonical, static, source_index)
    write_atomically(out, image)
