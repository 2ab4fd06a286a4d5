"""Retrain one architecture and compare it with its table row, with a verdict to act on.

Three verdicts, from every recorded metric of every epoch (all but the wall-clock
``epoch_time_s``; the fresh result is rounded to float32, as the table stores it):

* ``IDENTICAL``: bitwise equal. This is what the same seed gives on the same build:
  the same torch, numpy and Python, the same device type and the same CPU kernel
  dispatch (CPU model and ATen's CPU capability) or GPU model.
* ``CLOSE``: not bitwise, but every metric within tolerance: accuracies within the seed
  noise the table itself measures for that row (``ACC_NOISE_K`` standard deviations
  over its *other* seeds at that epoch, all seeds where fewer than two others exist,
  and never less than one example), losses within ``LOSS_RTOL`` relative. That is
  float-level noise that has not grown: short trainings, or kernels that differ in
  rare last bits.
* ``DIFFERENT``: anything else. Across CPU types, devices, and for tables trained by
  the batched trainer, expect DIFFERENT after a full training: SGD amplifies a last-bit
  difference until the two runs are apart like two seeds. Measured 2026-12-07 on
  ``mnist1d-tiny``: 4 cells trained batched (K=4) and retrained singly gave 1 CLOSE and
  3 DIFFERENT, final train losses up to 6% apart. There the question is whether the
  final accuracies lie within the row's seed spread, which the report shows.

The report names each build field that differs between the table and this machine
(:attr:`ReproReport.build_gaps`), since a bitwise comparison means nothing across them,
and whether the space's code now lowers the table's architectures to other networks
than the table trained (:attr:`ReproReport.specs_gap`, from the table's
``specs_sha256``), which retrains another network under the same name.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nasrepro.bench.harness._train import _device_name, train
from nasrepro.bench.tracking import versions
from nasrepro.spaces import get_space, lowered_digests, specs_digest
from nasrepro.spaces._errors import ConfigError
from nasrepro.tables import Protocol, Table

__all__ = [
    "ReproReport",
    "MetricGap",
    "reproduce",
    "current_build",
    "table_build",
    "build_gaps",
    "describe_gaps",
    "describe_specs_gap",
    "table_specs_gap",
    "VERDICTS",
    "LOSS_RTOL",
    "ACC_NOISE_K",
]

logger = logging.getLogger(__name__)

#: Metrics that depend on wall-clock time, never compared.
TIMED = ("epoch_time_s",)
VERDICTS = ("IDENTICAL", "CLOSE", "DIFFERENT")
#: Default relative tolerance on losses for CLOSE (issue 21's definition).
LOSS_RTOL = 1e-4
#: Accuracies count as CLOSE within this many seed standard deviations of the table row.
ACC_NOISE_K = 2.0
#: Build fields compared between the table and this machine, in print order.
BUILD_KEYS = (
    "torch",
    "numpy",
    "python",
    "device",
    "device_name",
    "cpu_capability",
    "torch_threads",
)
#: CPU build fields, compared only when retraining on a CPU.
CPU_KEYS = ("cpu_capability", "torch_threads")


@dataclass(frozen=True)
class MetricGap:
    """How far one metric's retrained history is from the table's, over all epochs.

    Attributes:
        max_abs: Largest absolute difference over the epochs.
        max_rel: Largest difference relative to the table's value.
        epoch: The epoch (1-based) nearest to or furthest past its tolerance: the
            largest ratio of difference to tolerance.
        diff: The absolute difference at ``epoch``.
        tolerance: What CLOSE allows at ``epoch``, absolute (percent points for
            accuracies; ``loss_rtol`` times the table's value for losses).
        within: Every epoch lies within its tolerance.
    """

    max_abs: float
    max_rel: float
    epoch: int
    diff: float
    tolerance: float
    within: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_abs": self.max_abs,
            "max_rel": self.max_rel,
            "epoch": self.epoch,
            "diff": self.diff,
            "tolerance": self.tolerance,
            "within": self.within,
        }


@dataclass
class ReproReport:
    """The outcome of :func:`reproduce`.

    Attributes:
        arch: The architecture trained (the table's class representative).
        seed: The seed.
        table_device: Device type that trained this seed of the table.
        device: Device type of the retraining.
        verdict: ``IDENTICAL``, ``CLOSE`` or ``DIFFERENT`` (see the module docstring).
        mismatches: ``(metric, epoch, table value, new value)`` for every difference.
        final: Final-epoch metrics, ``{name: (table, new)}``.
        gaps: Per-metric distances, ``{name: MetricGap}``.
        table_build: What trained the table's seed (fields it does not record are absent).
        build: This machine's build.
        build_gaps: ``{field: (table, here)}`` for each field that differs or that the
            table does not record (table value ``None``).
        batched: The table was trained by the batched trainer, so bitwise identity is
            not expected even on the same build.
        seed_finals: Final-epoch accuracies of every seed of the table for this row,
            ``{name: [value per seed]}``: where bitwise identity is not expected, how
            the retrained final accuracies sit among them is the useful question.
        loss_rtol: The loss tolerance used.
        specs_gap: ``(table, here)`` digests of the networks of the table's trained
            architectures when they differ: the space's code now lowers them to other
            networks than the table trained (see :func:`table_specs_gap`). ``None``
            when they match or the table records no ``specs_sha256``.
        protocol_id: The table's protocol id, which the retraining ran under.
        versions: Everything the retraining recorded of its build (its
            :attr:`~nasrepro.tables.TrialResult.versions`: nasrepro, torch, numpy,
            threads, a capped oneDNN ISA, ...), beyond the compared :attr:`build`.
    """

    arch: str
    seed: int
    table_device: str
    device: str
    verdict: str
    mismatches: list[tuple[str, int, float, float]] = field(default_factory=list)
    final: dict[str, tuple[float, float]] = field(default_factory=dict)
    gaps: dict[str, MetricGap] = field(default_factory=dict)
    table_build: dict[str, str] = field(default_factory=dict)
    build: dict[str, str] = field(default_factory=dict)
    build_gaps: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    batched: bool = False
    loss_rtol: float = LOSS_RTOL
    seed_finals: dict[str, list[float]] = field(default_factory=dict)
    specs_gap: tuple[str, str] | None = None
    protocol_id: str = ""
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        return self.verdict == "IDENTICAL"

    @property
    def bitwise_expected(self) -> bool:
        """Whether the table and this machine share every recorded build field, and the
        space lowers the table's architectures to the networks the table trained."""
        return not self.batched and not self.build_gaps and self.specs_gap is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "arch": self.arch,
            "seed": self.seed,
            "verdict": self.verdict,
            "table_device": self.table_device,
            "device": self.device,
            "n_mismatches": len(self.mismatches),
            "mismatches": [list(m) for m in self.mismatches[:20]],
            "final": {k: list(v) for k, v in self.final.items()},
            "metrics": {k: g.to_dict() for k, g in self.gaps.items()},
            "table_build": self.table_build,
            "build": self.build,
            "build_gaps": {k: list(v) for k, v in self.build_gaps.items()},
            "bitwise_expected": self.bitwise_expected,
            "batched": self.batched,
            "loss_rtol": self.loss_rtol,
            "acc_noise_k": ACC_NOISE_K,
            "seed_finals": self.seed_finals,
            "specs_gap": None if self.specs_gap is None else list(self.specs_gap),
            "protocol_id": self.protocol_id,
            "versions": self.versions,
        }


def current_build(device: str, result_versions: dict[str, str] | None = None) -> dict[str, str]:
    """This machine's build for ``device``, in the fields of :data:`BUILD_KEYS`."""
    import torch

    v = result_versions or versions()
    dev = torch.device(device)
    return {
        "torch": v["torch"],
        "numpy": v["numpy"],
        "python": v["python"],
        "device": dev.type,
        "device_name": _device_name(dev),
        "cpu_capability": v.get("cpu_capability", ""),
        "torch_threads": v.get("torch_threads", ""),
    }


def _json_attr(table: Table, name: str) -> dict[str, Any]:
    try:
        out = json.loads(str(table.attrs.get(name, "{}")))
    except ValueError:
        return {}
    return out if isinstance(out, dict) else {}


def _one(values: Any) -> str | None:
    """A recorded value, or ``None`` when absent; several values are joined with ``|``."""
    if values is None:
        return None
    if isinstance(values, list):
        return "|".join(str(v) for v in values) if values else None
    return str(values)


def table_build(table: Table, seed: int) -> dict[str, str | None]:
    """What trained ``seed`` of ``table``; ``None`` where the table does not record it.

    A device name of ``x86_64``/``aarch64`` (what older tables recorded for a CPU) names
    no CPU model, so it counts as unrecorded. Tables built before the thread count was
    recorded (2026-12-07) were trained by sweeps, which always train with one thread,
    so an unrecorded ``torch_threads`` reads ``"1"``.
    """
    tv = _json_attr(table, "training_versions")
    devices = _json_attr(table, "devices")
    names = _json_attr(table, "device_names")
    name = _one(names.get(str(seed)))
    if name in ("x86_64", "aarch64", "AMD64", "arm64"):
        name = None
    return {
        "torch": _one(tv.get("torch")),
        "numpy": _one(tv.get("numpy")),
        "python": _one(tv.get("python")),
        "device": _one(devices.get(str(seed))) or table.device,
        "device_name": name,
        "cpu_capability": _one(tv.get("cpu_capability")),
        "torch_threads": _one(tv.get("torch_threads")) or "1",
    }


def build_gaps(
    recorded: dict[str, str | None], here: dict[str, str]
) -> dict[str, tuple[str | None, str]]:
    """Fields that differ, or that the table does not record, ``{field: (table, here)}``.

    The CPU fields only count on CPU, the GPU name only on CUDA.
    """
    out: dict[str, tuple[str | None, str]] = {}
    for key in BUILD_KEYS:
        if key in CPU_KEYS and here["device"] != "cpu":
            continue
        old = recorded.get(key)
        if old != here.get(key, ""):
            out[key] = (old, here.get(key, ""))
    return out


def describe_gaps(gaps: dict[str, tuple[str | None, str]]) -> list[str]:
    """Lines that say what differs and what bitwise identity would need."""
    if not gaps:
        return []
    lines = ["the table was trained on another build than this one:"]
    for key, (old, new) in gaps.items():
        lines.append(
            f"  {key:>14}: table {old if old is not None else '(not recorded)'}, here {new}"
        )
    lines.append("bitwise identity needs the same build, device type and CPU/GPU model.")
    torch_gap = gaps.get("torch")
    if torch_gap and torch_gap[0] and "|" not in torch_gap[0]:
        base = torch_gap[0].split("+")[0]
        lines.append(f"  for the table's torch: pip install torch=={base}")
    if "device_name" in gaps or "cpu_capability" in gaps:
        lines.append(
            "  CPU kernels dispatch by instruction set and model (ATen, oneDNN, MKL), so "
            "another CPU type gives other bits with the same torch"
        )
    isa = gaps.get("cpu_capability")
    if isa and isa[0] in (None, "AVX2") and isa[1].startswith("AVX512"):
        lines.append(
            f"  this CPU dispatches at {isa[1]}; to compute as an AVX2 CPU does (as the "
            "shipped default table's did), retrain with --cpu-isa avx2 (in Python: "
            "nasrepro.bench.cap_cpu_isa('avx2') before importing torch); measured to give "
            "the default table's bits on an AVX-512 AMD EPYC"
        )
    return lines


def table_specs_gap(table: Table) -> tuple[str, str] | None:
    """Whether the space now lowers the table's architectures to other networks.

    Recomputes the table's ``specs_sha256`` (see :mod:`nasrepro.tables._format`) with
    the space's current code: the rows with a result, lowered under the table's
    protocol (0.1-0.3 s for all 15,625 cells).

    Returns:
        ``(table, here)`` digests when they differ; ``None`` when they match or the
        table records none (older tables).
    """
    recorded = table.attrs.get("specs_sha256")
    if recorded is None:
        return None
    recorded = str(recorded)
    params = table.static[:, table.static_names.index("params")]
    rows = np.flatnonzero(np.isfinite(params)).tolist()
    all_archs = table.archs
    archs = [all_archs[i] for i in rows]
    space = get_space(table.space_name)
    here = specs_digest(archs, lowered_digests(space, archs, **table.protocol.macro()))
    return None if here == recorded else (recorded, here)


def describe_specs_gap(gap: tuple[str, str] | None) -> list[str]:
    """Lines that say the space's networks changed since the table was built, or none."""
    if gap is None:
        return []
    return [
        "the space now lowers the table's architectures to other networks than the table "
        f"trained (specs_sha256: table {gap[0][:12]}, here {gap[1][:12]}): its code changed "
        "since the table was built, so the retraining may have trained another network "
        "under this name, the likely reason for a DIFFERENT verdict; restore the space's "
        "code of the table, or sweep and build a new table"
    ]


def _quantum(protocol: Protocol, metric: str) -> float:
    """One example's worth of accuracy, in percent, for ``metric``."""
    n = {
        "train_acc": (protocol.n_train // protocol.batch_size) * protocol.batch_size,
        "valid_acc": protocol.n_valid,
        "test_acc": protocol.n_test,
    }.get(metric, 0)
    return 100.0 / n if n else 0.0


def _seed_std(per_seed: np.ndarray) -> np.ndarray:
    """Per-epoch standard deviation over the finite seeds of ``(n_seed, n_epoch)``; 0 with one."""
    finite = ~np.isnan(per_seed)
    counts = finite.sum(0)
    x = np.where(finite, per_seed, 0.0).astype(np.float64)
    mean = x.sum(0) / np.maximum(counts, 1)
    ss = np.where(finite, (x - mean) ** 2, 0.0).sum(0)
    return np.sqrt(ss / np.maximum(counts - 1, 1)) * (counts > 1)


def _compare(
    old: np.ndarray,
    new: np.ndarray,
    per_seed: np.ndarray,
    name: str,
    protocol: Protocol,
    loss_rtol: float,
) -> MetricGap:
    """Distance of one metric; ``old``/``new`` are ``(n_epoch,)``, ``per_seed`` ``(n_seed, n_epoch)``."""
    old64, new64 = old.astype(np.float64), new.astype(np.float64)
    if name.endswith("_acc"):  # per epoch
        tol = np.maximum(ACC_NOISE_K * _seed_std(per_seed), _quantum(protocol, name))
    else:
        tol = loss_rtol * np.abs(np.nan_to_num(old64))
    if (np.isnan(old64) ^ np.isnan(new64)).any():  # NaN on one side only
        k = int(np.flatnonzero(np.isnan(old64) ^ np.isnan(new64))[0])
        return MetricGap(math.inf, math.inf, k + 1, math.inf, float(tol[k]), False)
    both_nan = np.isnan(old64) & np.isnan(new64)
    diff = np.where(both_nan, 0.0, np.abs(new64 - old64))
    rel = diff / np.maximum(np.abs(np.where(both_nan, 1.0, old64)), 1e-12)
    ratio = np.where(diff == 0, 0.0, diff / np.maximum(tol, 1e-300))
    k = int(np.argmax(ratio))
    within = bool(np.all(diff <= tol + 1e-9))
    return MetricGap(
        float(diff.max()), float(rel.max()), k + 1, float(diff[k]), float(tol[k]), within
    )


def reproduce(
    table: Table,
    arch: str,
    seed: int,
    device: str = "cpu",
    data_root: str | None = None,
    *,
    loss_rtol: float = LOSS_RTOL,
) -> ReproReport:
    """Retrain ``arch`` with ``seed`` under the table's protocol and compare.

    Args:
        table: The table to check against.
        arch: Any member of the class (resolved to the table's representative).
        seed: One of ``table.seeds``.
        device: Device to retrain on.
        data_root: Dataset root for datasets read from disk.
        loss_rtol: Relative tolerance on losses for a ``CLOSE`` verdict.

    Raises:
        ValueError: ``arch`` is malformed, ``seed`` is not in the table, or
            ``loss_rtol`` is negative.
        MissingEntryError: The table has no result for ``arch`` at ``seed``.
    """
    if seed not in table.seeds:
        raise ConfigError(f"{seed=} is not in the table; it has seeds {list(table.seeds)}")
    if not loss_rtol >= 0:
        raise ConfigError(f"the loss tolerance must be >= 0, got {loss_rtol}")
    protocol = table.protocol  # checked against the recorded id (TableError otherwise)
    row = int(table.rows([arch])[0])
    rep = table.archs[row]
    s = table.seeds.index(seed)
    old = table.metrics[row, s]  # (n_epoch, n_metric)
    if np.isnan(old[-1]).all():
        table.query(rep, seed=seed)  # raises MissingEntryError with the fix
    recorded = table_build(table, seed)
    by_seed = _json_attr(table, "trainers").get(str(seed))  # tables built since 2026-12-07
    if by_seed is None:  # older tables: whether any result of the table was batched
        by_seed = _json_attr(table, "training_versions").get("trainer", [])
    batched = "batched" in by_seed
    specs_gap = table_specs_gap(table)

    threads = str(recorded["torch_threads"])
    result = train(
        rep,
        protocol,
        seed,
        device,
        space=table.space_name,
        data_root=data_root,
        threads=int(threads) if threads.isdigit() else 1,  # the table's, where it has one
    )
    here = current_build(device, result.versions)
    names = list(table.metric_names)
    mismatches: list[tuple[str, int, float, float]] = []
    gaps: dict[str, MetricGap] = {}
    for k, name in enumerate(names):
        if name in TIMED:
            continue
        new = np.asarray(result.history[name], dtype=np.float32)
        for e in range(len(new)):
            a, b = old[e, k], new[e]
            if not (a == b or (np.isnan(a) and np.isnan(b))):
                mismatches.append((name, e + 1, float(a), float(b)))
        others = np.delete(table.metrics[row, :, :, k], s, axis=0)
        noise = others if len(others) >= 2 else table.metrics[row, :, :, k]
        gaps[name] = _compare(old[:, k], new, noise, name, protocol, loss_rtol)
    final = {
        name: (float(old[-1, k]), float(np.float32(result.history[name][-1])))
        for k, name in enumerate(names)
        if name not in TIMED
    }
    seed_finals = {
        name: [float(v) for v in table.metrics[row, :, -1, k]]
        for k, name in enumerate(names)
        if name.endswith("_acc")
    }
    if not mismatches:
        verdict = "IDENTICAL"
    elif all(g.within for g in gaps.values()):
        verdict = "CLOSE"
    else:
        verdict = "DIFFERENT"
    return ReproReport(
        arch=rep,
        seed=seed,
        table_device=str(recorded["device"]),
        device=result.device,
        verdict=verdict,
        mismatches=mismatches,
        final=final,
        gaps=gaps,
        table_build={k: v for k, v in recorded.items() if v is not None},
        build=here,
        build_gaps=build_gaps(recorded, here),
        batched=batched,
        loss_rtol=loss_rtol,
        seed_finals=seed_finals,
        specs_gap=specs_gap,
        protocol_id=protocol.id,
        versions={k: str(v) for k, v in result.versions.items()},
    )
