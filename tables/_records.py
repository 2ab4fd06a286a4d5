"""Trial records and the on-disk format of sweep results.

A sweep directory holds::

    DIR/sweep.json                      # manifest: space, protocol, seeds, work units
    DIR/chunks/s{seed}-c{chunk:05d}.json.gz   # one finished chunk, written atomically

The manifest is a :class:`SweepManifest` as JSON (sorted keys, no whitespace)::

    {"format": 1, "space": str, "protocol": Protocol.to_dict(), "protocol_id": str,
     "archs": [str, ...], "seeds": [int, ...], "chunk_size": int,
     "sample": int | null, "sample_seed": int, "versions": {str: str},
     "specs_sha256": str}

A manifest without ``format`` is read as version 1; ``sample``, ``sample_seed`` and
``versions`` may be absent (``null``, 0 and ``{}``). The protocol must hash to
``protocol_id``. ``specs_sha256`` (since 2026-12-07; absent before, read as ``None``)
is :func:`~nasrepro.spaces.specs_digest` of the sweep's architectures and the networks
the space lowered them to under the protocol's macro when the sweep began: a resume
refuses to train on when the space's code now lowers them to other networks.

Each chunk file is gzip-compressed JSON (``mtime=0``, so the bytes are reproducible)::

    {"format": 1, "protocol_id": str, "space": str, "seed": int, "chunk": int,
     "results": [TrialResult.to_dict(), ...], "networks": {arch: sha256}}

``networks`` (since 2026-12-07; absent in older chunks) maps each architecture of
the chunk to the :func:`~nasrepro.spaces.network_digests` of the network it was
trained as, so that ``table build`` can refuse chunks that trained one architecture
as two networks.

Chunks are written to a temporary file in the same directory and renamed into place,
so a reader sees a whole chunk or none, and a killed sweep never leaves half a chunk.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nasrepro.spaces._errors import access_error
from nasrepro.tables._errors import TableError
from nasrepro.tables._outfile import write_bytes_atomic
from nasrepro.tables._protocol import Protocol

__all__ = [
    "METRIC_NAMES",
    "STATIC_NAMES",
    "TrialResult",
    "write_json_atomic",
    "write_chunk",
    "read_chunk",
    "iter_chunks",
    "chunk_path",
    "CHUNK_FORMAT",
    "SweepManifest",
    "read_manifest",
    "write_manifest",
    "MANIFEST",
    "MANIFEST_FORMAT",
]

#: Per-epoch metrics, in the order of the table's last axis. Accuracies in percent.
METRIC_NAMES: tuple[str, ...] = (
    "train_loss",
    "train_acc",
    "valid_loss",
    "valid_acc",
    "test_loss",
    "test_acc",
    "epoch_time_s",
)
#: Static figures of a network, in the order of the table's ``static`` columns.
STATIC_NAMES: tuple[str, ...] = ("params", "flops", "latency_s")
CHUNK_FORMAT = 1
#: File name of a sweep's manifest, and the newest manifest format this code reads.
MANIFEST = "sweep.json"
MANIFEST_FORMAT = 1


@dataclass(frozen=True, eq=False)
class TrialResult:
    """The outcome of training one architecture under one protocol and seed.

    Equality compares everything that training determines (the learning curves,
    parameters, FLOPs, identity fields) and ignores wall-clock fields, which differ
    between runs: two trainings with the same seed on the same device compare equal.

    Attributes:
        arch: Architecture string that was trained.
        space: Space name.
        seed: Training seed.
        protocol_id: sha256 of the protocol's canonical JSON.
        device: Device type it ran on, e.g. ``"cpu"`` or ``"cuda"``.
        history: Per-epoch lists, one per name in :data:`METRIC_NAMES`; ``epoch_time_s``
            is the training time of that epoch (evaluation excluded).
        params: Parameter count.
        flops: Forward FLOPs for one input sample.
        latency_s: Median inference time of one evaluation batch (wall clock).
        versions: Package versions (nasrepro, torch, numpy, python).
        device_name: Processor or GPU name (wall-clock context only).
    """

    arch: str
    space: str
    seed: int
    protocol_id: str
    device: str
    history: dict[str, list[float]]
    params: int
    flops: int
    latency_s: float
    versions: dict[str, str] = field(default_factory=dict)
    device_name: str = ""

    def __post_init__(self) -> None:
        missing = [m for m in METRIC_NAMES if m not in self.history]
        if missing:
            raise ValueError(f"history lacks metrics {missing}")
        lengths = {len(self.history[m]) for m in METRIC_NAMES}
        if len(lengths) != 1:
            raise ValueError(f"history lists differ in length: {lengths}")

    @property
    def n_epochs(self) -> int:
        return len(self.history["valid_acc"])

    @property
    def curves(self) -> dict[str, list[float]]:
        """The deterministic curves (all metrics but the epoch times)."""
        return {m: self.history[m] for m in METRIC_NAMES if m != "epoch_time_s"}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TrialResult):
            return NotImplemented
        keys = ("arch", "space", "seed", "protocol_id", "device", "params", "flops")
        return all(getattr(self, k) == getattr(other, k) for k in keys) and (
            self.curves == other.curves
        )

    def __hash__(self) -> int:
        return hash((self.arch, self.space, self.seed, self.protocol_id, self.device))

    @property
    def final(self) -> dict[str, float]:
        """Metrics at the last epoch."""
        return {m: self.history[m][-1] for m in METRIC_NAMES}

    @property
    def train_time_s(self) -> float:
        return float(sum(self.history["epoch_time_s"]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "arch": self.arch,
            "space": self.space,
            "seed": self.seed,
            "protocol_id": self.protocol_id,
            "device": self.device,
            "history": {m: list(self.history[m]) for m in METRIC_NAMES},
            "params": self.params,
            "flops": self.flops,
            "latency_s": self.latency_s,
            "versions": dict(self.versions),
            "device_name": self.device_name,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrialResult:
        """A result read back from a chunk or run file.

        Raises:
            ValueError: A field is missing or malformed, or a value no training can
                produce: a finite accuracy outside [0, 100] percent or an infinite one,
                a negative loss, epoch time, parameter or FLOP count (a diverged run's
                NaN or infinite loss is kept).
        """
        r = cls(
            arch=str(d["arch"]),
            space=str(d["space"]),
            seed=int(d["seed"]),
            protocol_id=str(d["protocol_id"]),
            device=str(d["device"]),
            history={m: [float(v) for v in d["history"][m]] for m in METRIC_NAMES},
            params=int(d["params"]),
            flops=int(d["flops"]),
            latency_s=float(d["latency_s"]),
            versions=dict(d.get("versions", {})),
            device_name=str(d.get("device_name", "")),
        )
        for m, vals in r.history.items():
            for e, v in enumerate(vals, 1):
                if m.endswith("_acc"):
                    bad = math.isinf(v) or not (math.isnan(v) or 0.0 <= v <= 100.0)
                    rule = "an accuracy lies in [0, 100] percent"
                else:
                    bad, rule = v < 0, f"{'a loss' if m.endswith('_loss') else 'a time'} is >= 0"
                if bad:
                    raise ValueError(f"{r.arch} seed {r.seed}: {m} {v:g} at epoch {e} ({rule})")
        for name, v in (("params", r.params), ("flops", r.flops), ("latency_s", r.latency_s)):
            if v < 0:
                raise ValueError(f"{r.arch} seed {r.seed}: {name} {v:g} is negative")
        return r


def write_json_atomic(path: Path, obj: Any, compress: bool = False) -> None:
    """Write ``obj`` as JSON to ``path`` through :func:`~nasrepro.tables.atomic_output`
    (a temporary file, flushed, then renamed; stale temporaries of killed writers go)."""
    data = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    write_bytes_atomic(path, gzip.compress(data, mtime=0) if compress else data)


def chunk_path(sweep_dir: Path, seed: int, chunk: int) -> Path:
    return Path(sweep_dir) / "chunks" / f"s{seed}-c{chunk:05d}.json.gz"


def write_chunk(
    sweep_dir: Path,
    seed: int,
    chunk: int,
    protocol_id: str,
    space: str,
    results: list[TrialResult],
    networks: dict[str, str] | None = None,
) -> Path:
    """Atomically write one finished chunk; returns its path.

    ``networks`` (architecture -> network digest) is written where given.
    """
    path = chunk_path(sweep_dir, seed, chunk)
    payload: dict[str, Any] = {
        "format": CHUNK_FORMAT,
        "protocol_id": protocol_id,
        "space": space,
        "seed": seed,
        "chunk": chunk,
        "results": [r.to_dict() for r in results],
    }
    if networks is not None:
        payload["networks"] = dict(networks)
    write_json_atomic(path, payload, compress=True)
    return path


def read_chunk(path: Path) -> dict[str, Any]:
    """Read one chunk file; results come back as :class:`TrialResult` objects.

    ``networks`` is ``{}`` in a chunk written before it was recorded.

    Raises:
        ValueError: The file is not a readable chunk (names the file and the fix).
        AccessError: This user may not read it (the chunk itself may be sound).
    """
    try:
        with gzip.open(path, "rb") as f:
            payload = json.loads(f.read())
        if not isinstance(payload, dict):
            raise ValueError(f"a JSON {type(payload).__name__}, not a chunk's object")
        if payload.get("format") != CHUNK_FORMAT:
            raise ValueError(f"unknown chunk format {payload.get('format')!r}")
        payload["results"] = [TrialResult.from_dict(r) for r in payload["results"]]
        networks = payload.setdefault("networks", {})
        if not isinstance(networks, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in networks.items()
        ):
            raise ValueError("networks is not an object of strings")
    except PermissionError as e:
        raise access_error(path, e, "sweep chunk") from e
    except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(
            f"{path}: not a readable sweep chunk ({e}); delete it and resume the sweep "
            "to retrain that chunk"
        ) from e
    return payload


def iter_chunks(sweep_dir: Path) -> Iterator[Path]:
    """Finished chunk files of a sweep directory, sorted by name."""
    d = Path(sweep_dir) / "chunks"
    if d.is_dir():
        yield from sorted(d.glob("s*-c*.json.gz"))


@dataclass(frozen=True)
class SweepManifest:
    """What a sweep directory trains: the record in ``DIR/sweep.json``.

    Attributes:
        space: Space name.
        protocol: The training protocol; :attr:`protocol_id` is its id.
        archs: Architecture strings, in sweep order (chunk ``c`` holds
            ``archs[c * chunk_size : (c + 1) * chunk_size]``).
        seeds: Training seeds.
        chunk_size: Architectures per chunk.
        sample: Size of the random sample of an unbounded space (``None``: not sampled).
        sample_seed: Seed of that sample.
        versions: Package versions of the process that wrote the manifest, with
            ``torch_threads`` the thread count the sweep's workers train with.
        specs_sha256: Digest of the architectures' lowered networks when the sweep
            began (:func:`~nasrepro.spaces.specs_digest`), or ``None`` in a manifest
            written before it was recorded.
        format: Manifest format version (:data:`MANIFEST_FORMAT`).
    """

    space: str
    protocol: Protocol
    archs: tuple[str, ...]
    seeds: tuple[int, ...]
    chunk_size: int
    sample: int | None = None
    sample_seed: int = 0
    versions: dict[str, str] = field(default_factory=dict)
    specs_sha256: str | None = None
    format: int = MANIFEST_FORMAT

    @property
    def protocol_id(self) -> str:
        return self.protocol.id

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``sweep.json``; ``specs_sha256`` only where recorded."""
        out: dict[str, Any] = {
            "format": self.format,
            "space": self.space,
            "protocol": self.protocol.to_dict(),
            "protocol_id": self.protocol_id,
            "archs": list(self.archs),
            "seeds": list(self.seeds),
            "chunk_size": self.chunk_size,
            "sample": self.sample,
            "sample_seed": self.sample_seed,
            "versions": dict(self.versions),
        }
        if self.specs_sha256 is not None:
            out["specs_sha256"] = self.specs_sha256
        return out

    @classmethod
    def from_dict(cls, d: Any) -> SweepManifest:
        """The manifest of a parsed ``sweep.json``; a dict without ``format`` is version 1.

        Raises:
            ValueError: A field is missing or of the wrong type, the format is unknown,
                or the protocol does not hash to ``protocol_id``.
        """
        if not isinstance(d, dict):
            raise ValueError(f"a manifest is a JSON object, got {type(d).__name__}")
        version = d.get("format", 1)
        if not _is_int(version) or not 1 <= version <= MANIFEST_FORMAT:
            raise ValueError(
                f"unknown manifest format {version!r}; this nasrepro reads formats 1 to "
                f"{MANIFEST_FORMAT}"
            )
        missing = [
            k
            for k in ("space", "protocol", "protocol_id", "archs", "seeds", "chunk_size")
            if k not in d
        ]
        if missing:
            raise ValueError(f"missing fields {missing}")
        archs, seeds, sample = d["archs"], d["seeds"], d.get("sample")
        problems = []
        if not isinstance(d["space"], str):
            problems.append("space is not a string")
        if not isinstance(archs, list) or not all(isinstance(a, str) for a in archs):
            problems.append("archs is not a list of strings")
        if not isinstance(seeds, list) or not all(_is_int(s) for s in seeds):
            problems.append("seeds is not a list of integers")
        if not _is_int(d["chunk_size"]) or d["chunk_size"] < 1:
            problems.append("chunk_size is not a positive integer")
        if not (sample is None or _is_int(sample)) or not _is_int(d.get("sample_seed", 0)):
            problems.append("sample or sample_seed is not an integer")
        if not isinstance(d.get("versions", {}), dict):
            problems.append("versions is not an object")
        if not isinstance(d.get("specs_sha256", ""), str):
            problems.append("specs_sha256 is not a string")
        if problems:
            raise ValueError("; ".join(problems))
        try:
            protocol = Protocol.from_dict(d["protocol"], protocol_id=str(d["protocol_id"]))
        except ValueError as e:
            raise ValueError(f"bad protocol: {e}") from e
        return cls(
            space=d["space"],
            protocol=protocol,
            archs=tuple(archs),
            seeds=tuple(int(s) for s in seeds),
            chunk_size=int(d["chunk_size"]),
            sample=None if sample is None else int(sample),
            sample_seed=int(d.get("sample_seed", 0)),
            versions={str(k): str(v) for k, v in d.get("versions", {}).items()},
            specs_sha256=d.get("specs_sha256"),
            format=int(version),
        )


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def read_manifest(sweep_dir: Path) -> SweepManifest:
    """The manifest of a sweep directory, checked.

    Raises:
        TableError: There is no manifest, or it is unreadable, of a newer format,
            incomplete, or its protocol does not hash to its id (names the file and
            the fix).
    """
    path = Path(sweep_dir) / MANIFEST
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise TableError(
            f"{sweep_dir}: not a sweep directory (no {MANIFEST}); pass the --out "
            "directory of `nasrepro sweep`"
        ) from None
    except (OSError, ValueError) as e:
        raise TableError(f"{path}: unreadable sweep manifest ({e}); {_REWRITE}") from e
    version = raw.get("format", 1) if isinstance(raw, dict) else 1
    if _is_int(version) and version > MANIFEST_FORMAT:
        raise TableError(
            f"{path}: sweep manifest format {version} is newer than this nasrepro reads "
            f"({MANIFEST_FORMAT}); upgrade nasrepro (pip install -U nasrepro)"
        )
    try:
        return SweepManifest.from_dict(raw)
    except ValueError as e:
        raise TableError(f"{path}: invalid sweep manifest ({e}); {_REWRITE}") from e


_REWRITE = (
    "delete it and run the same `nasrepro sweep` command with this --out again to rewrite "
    "it (finished chunks of that sweep are kept)"
)


def write_manifest(sweep_dir: Path, manifest: SweepManifest) -> Path:
    """Atomically write ``manifest`` as the sweep directory's ``sweep.json``; returns it."""
    path = Path(sweep_dir) / MANIFEST
    write_json_atomic(path, manifest.to_dict())
    return path
