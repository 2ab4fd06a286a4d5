"""Retrain one architecture and compare it with its table row.

On the device type that trained the table's seed, every recorded metric (all but the
wall-clock ``epoch_time_s``) must be bitwise identical: the table stores float32, so
the fresh result is rounded to float32 before the comparison. On another device type
the result is compared with the spread between the table's seeds instead, and so is
a table trained by the batched trainer (``versions["trainer"] == "batched"``), whose
grouped kernels match single-model training only to float tolerance.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nasrepro.bench.protocol import Protocol
from nasrepro.bench.train import train
from nasrepro.tables import Table, TableError

__all__ = ["ReproReport", "reproduce"]

logger = logging.getLogger(__name__)

#: Metrics that depend on wall-clock time, never compared.
TIMED = ("epoch_time_s",)


@dataclass
class ReproReport:
    """The outcome of :func:`reproduce`.

    Attributes:
        arch: The architecture trained (the table's class representative).
        seed: The seed.
        table_device: Device type that trained this seed of the table.
        device: Device type of the retraining.
        exact: ``True`` when the devices match and every compared value is identical.
        mismatches: ``(metric, epoch, table value, new value)`` for every difference.
        final: Final-epoch metrics, ``{name: (table, new)}``.
        seed_std: Standard deviation of final valid accuracy across the table's seeds.
        within_noise: Whether the final valid accuracy differs from the table's by at
            most 3 seed standard deviations (the criterion across device types).
        batched: The table was trained by the batched trainer, so bitwise identity is
            not expected even on the same device type.
    """

    arch: str
    seed: int
    table_device: str
    device: str
    exact: bool
    mismatches: list[tuple[str, int, float, float]] = field(default_factory=list)
    final: dict[str, tuple[float, float]] = field(default_factory=dict)
    seed_std: float = float("nan")
    within_noise: bool = False
    batched: bool = False

    @property
    def bitwise(self) -> bool:
        """Whether bitwise identity is the criterion (same device, single-model table)."""
        return self.device == self.table_device and not self.batched

    @property
    def ok(self) -> bool:
        """Identical where :attr:`bitwise` applies, within seed noise otherwise."""
        return self.exact if self.bitwise else self.within_noise

    def to_dict(self) -> dict[str, Any]:
        return {
            "arch": self.arch,
            "seed": self.seed,
            "table_device": self.table_device,
            "device": self.device,
            "exact": self.exact,
            "ok": self.ok,
            "mismatches": [list(m) for m in self.mismatches],
            "final": {k: list(v) for k, v in self.final.items()},
            "seed_std": self.seed_std,
            "within_noise": self.within_noise,
            "batched": self.batched,
        }


def reproduce(
    table: Table, arch: str, seed: int, device: str = "cpu", data_root: str | None = None
) -> ReproReport:
    """Retrain ``arch`` with ``seed`` under the table's protocol and compare.

    Args:
        table: The table to check against.
        arch: Any member of the class (resolved to the table's representative).
        seed: One of ``table.seeds``.
        device: Device to retrain on.
        data_root: Dataset root for datasets read from disk.

    Raises:
        ValueError: ``arch`` is malformed or ``seed`` is not in the table.
        MissingEntryError: The table has no result for ``arch`` at ``seed``.
    """
    if seed not in table.seeds:
        raise ValueError(f"{seed=} is not in the table; it has seeds {list(table.seeds)}")
    protocol = Protocol.from_dict(table.protocol)
    if protocol.id != table.protocol_id:
        raise TableError(
            f"the table's protocol JSON hashes to {protocol.id}, not its recorded "
            f"{table.protocol_id}; the file is inconsistent, rebuild it"
        )
    row = int(table.rows([arch])[0])
    rep = table.archs[row]
    s = table.seeds.index(seed)
    old = table.metrics[row, s]  # (n_epoch, n_metric)
    if np.isnan(old[-1]).all():
        table.query(rep, seed=seed)  # raises MissingEntryError with the fix
    devices = json.loads(str(table.attrs.get("devices", "{}")))
    table_device = devices.get(str(seed), table.device)
    trainers = json.loads(str(table.attrs.get("training_versions", "{}"))).get("trainer", [])
    batched = "batched" in trainers

    result = train(rep, protocol, seed, device, space=table.space_name, data_root=data_root)
    dev_type = result.device
    names = list(table.metric_names)
    mismatches: list[tuple[str, int, float, float]] = []
    for k, name in enumerate(names):
        if name in TIMED:
            continue
        new = np.asarray(result.history[name], dtype=np.float32)
        for e in range(len(new)):
            a, b = old[e, k], new[e]
            if not (a == b or (np.isnan(a) and np.isnan(b))):
                mismatches.append((name, e + 1, float(a), float(b)))
    final = {
        name: (float(old[-1, k]), float(np.float32(result.history[name][-1])))
        for k, name in enumerate(names)
        if name not in TIMED
    }
    va = names.index("valid_acc")
    per_seed = table.metrics[row, :, -1, va]
    per_seed = per_seed[~np.isnan(per_seed)]
    std = float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else float("nan")
    diff = abs(final["valid_acc"][0] - final["valid_acc"][1])
    within = bool(diff <= 3 * std) if std == std else diff == 0.0
    return ReproReport(
        arch=rep,
        seed=seed,
        table_device=table_device,
        device=dev_type,
        exact=dev_type == table_device and not mismatches,
        mismatches=mismatches,
        final=final,
        seed_std=std,
        within_noise=within,
        batched=batched,
    )
