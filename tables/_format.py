"""The HDF5 table layout, schema versions 1 and 2, shared by the builder, the importer and the reader.

Schema 1 is what ``nasrepro table build`` writes from our own sweeps; schema 2 is what
``nasrepro table import`` writes from someone else's results file. Schema 2 is schema 1
plus the attributes in :data:`IMPORT_ATTRS` (below), and two relaxations: ``epochs``
may be any increasing positive epoch numbers (a file with final values only has one,
e.g. ``[12]``), and ``protocol`` may be ``"null"`` (``protocol_id`` ``""``) when the
results were not trained under a nasrepro protocol.

Root attributes:

* ``schema_version`` (int), ``space`` (str), ``protocol`` (canonical JSON str),
  ``protocol_id`` (sha256 hex), ``created`` (ISO 8601 UTC), ``nasrepro_version``,
  ``package_versions`` (JSON: the builder's packages), ``training_versions`` (JSON:
  the versions recorded by the trials), ``device`` (``"cpu"``, ``"cuda"`` or
  ``"mixed"``), ``devices`` (JSON: seed -> device type), ``device_names`` (JSON:
  seed -> processor/GPU names), and, in tables built since 2026-12-07, ``trainers``
  (JSON: seed -> the trainers that made it, ``"single"`` and/or ``"batched"``);
  ``training_versions`` holds ``torch_threads`` (torch's CPU thread count) since
  the same date, and a table without it was trained with one thread;
* ``specs_sha256`` (str, tables built since 2026-12-07 from chunks that record their
  networks): :func:`~nasrepro.spaces.specs_digest` of the architecture strings of the
  rows with a result, in row order, and the digests of the networks they were trained
  as (:func:`~nasrepro.spaces.network_digests`, recorded by each chunk); ``nasrepro
  reproduce`` recomputes it with the space's current code to tell whether the space
  now lowers them to other networks. Absent where a chunk recorded no networks;
* ``metrics_sha256``: sha256 of the little-endian float32 bytes of ``metrics``;
* ``rows_sha256``: sha256 of ``archs``, ``canonical`` (int64 LE) and ``static``
  (float32 LE) bytes, so a flipped bit in the row index is caught too;
* ``header_sha256``: sha256 of every other attribute (whatever their names, so
  ``trainers`` and ``specs_sha256`` too) and the small datasets below, so that no
  metadata can change unnoticed.

Datasets:

* ``archs``: ``(n_arch,)`` fixed-length UTF-8 bytes, the architecture strings in the
  space's enumeration order (or sample order for unbounded spaces);
* ``canonical``: ``(n_arch,)`` int64, the row of each architecture's representative;
* ``metrics``: ``(n_arch, n_seed, n_epoch, n_metric)`` float32, NaN where not trained;
* ``metric_names`` ``(n_metric,)``, ``epochs`` ``(n_epoch,)`` (1-based epoch numbers),
  ``seeds`` ``(n_seed,)``;
* ``static``: ``(n_arch, n_static)`` float32 with ``static_names`` ``(n_static,)``;
* ``source_index`` (schema 2, optional): ``(n_arch,)`` int64, each row's index in the
  source's own numbering (NAS-Bench-201's ``arch_index``), ``-1`` where the source gave
  none; written when the import mapping names an ``index_column``, and covered by
  ``rows_sha256``.

Schema 2 attributes (:data:`IMPORT_ATTRS`, all JSON strings but ``per_cell``):

* ``per_cell`` (bool): every row holds its own values (the source trained isomorphic
  cells separately, as NAS-Bench-201 did), so a query returns the cell's own row;
  ``canonical`` still groups the rows into classes;
* ``search_metric`` / ``report_metric``: the source columns stored as ``valid_acc``
  (what strategies see) and ``test_acc`` (what leaderboards score);
* ``columns``: nasrepro name -> source column of every imported value;
* ``absent``: the metric and static names the source does not give (NaN in the
  arrays: absent, not "not trained");
* ``computed``: static name -> how nasrepro computed it (e.g. parameters counted on
  the declared macro skeleton), for values not from the source;
* ``macro``: the declared macro skeleton (``{"C": 16, "N": 5, "input_shape": [3, 32,
  32], "num_classes": 10}``) or ``null``;
* ``source``: name, citation, license, url, the input file's name and sha256, its
  format, the import command and the mapping.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nasrepro.tables._errors import TableError
from nasrepro.tables._records import METRIC_NAMES, STATIC_NAMES

if TYPE_CHECKING:
    import h5py

__all__ = [
    "representative_mask",
    "SCHEMA_VERSION",
    "REQUIRED_ATTRS",
    "IMPORT_ATTRS",
    "SCHEMA_TRAINED",
    "SCHEMA_IMPORTED",
    "header_digest",
    "rows_digest",
    "metrics_digest",
    "check_layout",
    "corrupt",
]

#: The newest schema this reader reads.
SCHEMA_VERSION = 2
#: What ``table build`` writes (our own sweeps).
SCHEMA_TRAINED = 1
#: What ``table import`` writes.
SCHEMA_IMPORTED = 2
REQUIRED_ATTRS: tuple[str, ...] = (
    "schema_version",
    "space",
    "protocol",
    "protocol_id",
    "created",
    "nasrepro_version",
    "package_versions",
    "training_versions",
    "device",
    "devices",
    "device_names",
    "metrics_sha256",
    "rows_sha256",
    "header_sha256",
)
IMPORT_ATTRS: tuple[str, ...] = (
    "per_cell",
    "search_metric",
    "report_metric",
    "columns",
    "absent",
    "computed",
    "macro",
    "source",
)
SMALL_DATASETS: tuple[str, ...] = ("metric_names", "static_names", "epochs", "seeds")


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def header_digest(attrs: Mapping[str, Any], small: Mapping[str, Any]) -> str:
    """sha256 over all attributes but ``header_sha256``, and the small datasets.

    Args:
        attrs: The root attributes (values as h5py returns them, or as written).
        small: ``metric_names``, ``static_names``, ``epochs`` and ``seeds`` arrays.
    """
    doc = {
        "attrs": {k: _plain(v) for k, v in sorted(attrs.items()) if k != "header_sha256"},
        "datasets": {k: _plain(small[k]) for k in SMALL_DATASETS},
    }
    blob = json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def rows_digest(
    archs: np.ndarray,
    canonical: np.ndarray,
    static: np.ndarray,
    source_index: np.ndarray | None = None,
) -> str:
    """sha256 of the row index.

    Args:
        archs: ``(n_arch,)`` fixed-length bytes.
        canonical: ``(n_arch,)`` integers.
        static: ``(n_arch, n_static)`` floats.
        source_index: ``(n_arch,)`` integers, or ``None`` for a table without one (the
            digest is then what it was before ``source_index`` existed).
    """
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(archs).tobytes())
    h.update(np.ascontiguousarray(canonical, dtype="<i8").tobytes())
    h.update(np.ascontiguousarray(static, dtype="<f4").tobytes())
    if source_index is not None:
        h.update(b"source_index")
        h.update(np.ascontiguousarray(source_index, dtype="<i8").tobytes())
    return h.hexdigest()


def metrics_digest(metrics: np.ndarray) -> str:
    """sha256 of ``metrics`` as C-ordered little-endian float32 bytes.

    Args:
        metrics: ``(n_arch, n_seed, n_epoch, n_metric)``.
    """
    arr = np.ascontiguousarray(metrics, dtype="<f4")
    return hashlib.sha256(arr.data).hexdigest()


def corrupt(p: Path, e: BaseException) -> TableError:
    return TableError(
        f"{p}: corrupt or truncated table ({type(e).__name__}: {e}); download or rebuild it"
    )


def check_layout(p: Path, f: h5py.File, small: dict[str, Any], schema: int = 1) -> None:
    """Shapes and dtypes of the datasets agree with each other and with the schema."""
    try:
        shapes = {k: f[k].shape for k in ("archs", "canonical", "metrics", "static")}
        dtypes = {k: f[k].dtype for k in ("archs", "canonical", "metrics", "static")}
    except Exception as e:
        raise corrupt(p, e) from e
    n = shapes["archs"][0] if len(shapes["archs"]) == 1 else -1
    S, E = len(small["seeds"]), len(small["epochs"])
    M, K = len(small["metric_names"]), len(small["static_names"])
    problems = []
    if shapes["canonical"] != (n,):
        problems.append(f"canonical {shapes['canonical']} != ({n},)")
    if shapes["metrics"] != (n, S, E, M):
        problems.append(f"metrics {shapes['metrics']} != {(n, S, E, M)}")
    if shapes["static"] != (n, K):
        problems.append(f"static {shapes['static']} != {(n, K)}")
    if dtypes["metrics"] != np.dtype("<f4") or dtypes["static"] != np.dtype("<f4"):
        problems.append(f"metrics/static dtypes {dtypes['metrics']}/{dtypes['static']} != float32")
    if dtypes["canonical"].kind not in "iu" or dtypes["archs"].kind != "S":
        problems.append(f"canonical/archs dtypes {dtypes['canonical']}/{dtypes['archs']}")
    names = tuple(b.decode("utf-8", "replace") for b in np.atleast_1d(small["metric_names"]))
    if names != METRIC_NAMES:
        problems.append(f"metric_names {names} != {METRIC_NAMES}")
    static_names = tuple(b.decode("utf-8", "replace") for b in np.atleast_1d(small["static_names"]))
    if static_names != STATIC_NAMES:
        problems.append(f"static_names {static_names} != {STATIC_NAMES}")
    epochs = np.asarray(small["epochs"])
    if schema < SCHEMA_IMPORTED:
        if E < 1 or not np.array_equal(epochs, np.arange(1, E + 1)):
            problems.append("epochs are not 1..n_epoch")
    elif E < 1 or epochs.min() < 1 or np.any(np.diff(epochs) <= 0):
        problems.append("epochs are not increasing positive numbers")
    if S < 1 or len(set(np.asarray(small["seeds"]).tolist())) != S:
        problems.append("seeds are empty or repeated")
    if "source_index" in f:
        try:
            si_shape, si_dtype = f["source_index"].shape, f["source_index"].dtype
        except Exception as e:
            raise corrupt(p, e) from e
        if schema < SCHEMA_IMPORTED:
            problems.append("source_index in a schema-1 table")
        if si_shape != (n,) or si_dtype.kind not in "iu":
            problems.append(f"source_index {si_shape} {si_dtype} != ({n},) int64")
    if problems:
        raise TableError(f"{p}: inconsistent table layout: {'; '.join(problems)}; rebuild it")


def representative_mask(canonical: np.ndarray) -> np.ndarray:
    """Which rows are their class's representative (``canonical[i] == i``): bool ``(n,)``.

    Args:
        canonical: The table's ``canonical`` dataset, int ``(n_arch,)``.

    Example:
        >>> representative_mask(np.array([0, 0, 2, 2])).tolist()
        [True, False, True, False]
    """
    return np.asarray(canonical) == np.arange(len(canonical))
