"""Versioned training protocols and their registry.

A :class:`Protocol` fixes everything that decides a training result except the
architecture, the seed and the device. Its :attr:`Protocol.id` is the sha256 of its
canonical JSON, and every result and table records it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from nasrepro.spaces import REDUCTIONS
from nasrepro.spaces._errors import ConfigError

__all__ = ["Protocol", "register_protocol", "get_protocol", "list_protocols", "DEFAULT_PROTOCOL"]

DEFAULT_PROTOCOL = "mnist1d-tiny"


@dataclass(frozen=True)
class Protocol:
    """A training protocol.

    Attributes:
        name: Registry name (part of the id, so a renamed protocol is a new one).
        dataset: One of ``nasrepro.bench.harness._data.DATASETS``.
        n_train, n_valid, n_test: Split sizes.
        split_seed: Seed of the split permutation.
        gen_seed: Seed of dataset generation (MNIST-1D, synthetic).
        C: Initial channels. N: Cells per stage.
        reduction: Reduction block between stages (``resblock``, ``poolreduce`` or
            ``pool``; see ``nasrepro.spaces.NetworkSpec``).
        epochs, batch_size: Training length and batch size (the last partial batch
            of an epoch is dropped).
        lr, momentum, nesterov, weight_decay: SGD settings; the learning rate
            follows a per-step cosine decay to zero.
        augment: ``none`` or ``crop_flip`` (2-D only: 4-pixel padded crop, h-flip).
        n_seeds: Number of training seeds a sweep runs by default.
        eval_batch_size: Batch size for validation and test evaluation.
    """

    name: str
    dataset: str
    n_train: int
    n_valid: int
    n_test: int
    epochs: int
    batch_size: int
    C: int = 16
    N: int = 5
    reduction: str = "resblock"
    split_seed: int = 0
    gen_seed: int = 0
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    augment: str = "none"
    n_seeds: int = 3
    eval_batch_size: int = 1024

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError(
                f"need positive epochs and batch size, got {self.epochs=}, {self.batch_size=}"
            )
        if self.batch_size > self.n_train:
            raise ConfigError(f"{self.batch_size=} exceeds {self.n_train=}")
        if self.augment not in ("none", "crop_flip"):
            raise ConfigError(f"unknown {self.augment=}; expected 'none' or 'crop_flip'")
        if self.reduction not in REDUCTIONS:
            raise ConfigError(f"unknown {self.reduction=}; expected one of {sorted(REDUCTIONS)}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no whitespace."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def id(self) -> str:
        """sha256 hex digest of :meth:`to_json`."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Protocol:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ConfigError(f"unknown protocol fields {sorted(unknown)}")
        return cls(**d)

    def macro(self) -> dict[str, Any]:
        """Macro arguments for ``space.lower``."""
        return {"C": self.C, "N": self.N, "reduction": self.reduction}


_REGISTRY: dict[str, Protocol] = {}


def register_protocol(p: Protocol) -> Protocol:
    """Register ``p`` under ``p.name``; refuses duplicate names."""
    if p.name in _REGISTRY:
        raise ValueError(f"a protocol named {p.name!r} is already registered")
    _REGISTRY[p.name] = p
    return p


def get_protocol(name: str | Protocol) -> Protocol:
    """The protocol registered as ``name`` (a :class:`Protocol` passes through)."""
    if isinstance(name, Protocol):
        return name
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown protocol {name!r}; choose one of {list_protocols()}") from None


def list_protocols() -> list[str]:
    return sorted(_REGISTRY)


#: NAS-Bench-201's own protocol (Dong & Yang 2020, Table 2), for GPU users with CIFAR-10
#: on disk. Train on 25k of the training images, validate on the other 25k, test on
#: the official 10k test set.
register_protocol(
    Protocol(
        name="cifar10-nb201",
        dataset="cifar10",
        n_train=25000,
        n_valid=25000,
        n_test=10000,
        epochs=200,
        batch_size=256,
        C=16,
        N=5,
        reduction="resblock",
        lr=0.1,
        momentum=0.9,
        nesterov=True,
        weight_decay=5e-4,
        augment="crop_flip",
        n_seeds=3,
        eval_batch_size=1000,
    )
)

#: A seconds-long protocol for smoke tests: tiny random data, 2 epochs.
register_protocol(
    Protocol(
        name="synthetic-smoke",
        dataset="synthetic",
        n_train=256,
        n_valid=128,
        n_test=128,
        epochs=2,
        batch_size=64,
        C=4,
        N=1,
        reduction="poolreduce",
        lr=0.05,
        n_seeds=2,
        eval_batch_size=256,
    )
)

#: A minute-scale MNIST-1D protocol with real signal, for test fixtures: the whole cell
#: space under it is ``tests/data/cell-mnist1d-smoke.h5`` (one seed).
register_protocol(
    Protocol(
        name="mnist1d-smoke",
        dataset="mnist1d",
        n_train=1000,
        n_valid=300,
        n_test=300,
        epochs=2,
        batch_size=50,
        C=4,
        N=1,
        reduction="pool",
        lr=0.2,
        n_seeds=1,
        eval_batch_size=300,
    )
)

#: The embedded default: MNIST-1D with 1-D convolutions, sized for a 2-core CPU.
#: Calibrated with benchmarks/calibrate_mnist1d.py: the parameter-free ``pool``
#: reduction spreads the cells apart (a 1x1-conv reduction lifts every cell to ~80%),
#: and 6 epochs at lr 0.05 is the shortest training that kept seed noise well below
#: the spread between cells (see the README for the measured trade-off).
register_protocol(
    Protocol(
        name="mnist1d-tiny",
        dataset="mnist1d",
        n_train=4000,
        n_valid=1000,
        n_test=1000,
        epochs=6,
        batch_size=128,
        C=8,
        N=1,
        reduction="pool",
        lr=0.05,
        n_seeds=3,
        eval_batch_size=1000,
    )
)
