"""Versioned training protocols and their registry.

A :class:`Protocol` fixes everything that decides a training result except the
architecture, the seed and the device. Its :attr:`Protocol.id` is the sha256 of its
canonical JSON, and every result and table records it. It is the data contract of a
table: besides the training settings it tells the input shape and the number of
classes of its dataset (:data:`DATASET_SHAPES`), which are derived from ``dataset``
and so take no part in the id.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from nasrepro.spaces import REDUCTIONS
from nasrepro.spaces._errors import ConfigError

__all__ = [
    "Protocol",
    "register_protocol",
    "get_protocol",
    "list_protocols",
    "DEFAULT_PROTOCOL",
    "DATASET_SHAPES",
    "MAX_SEED",
]

DEFAULT_PROTOCOL = "mnist1d-tiny"

#: The largest training seed: 2**32 - 1, numpy's ``RandomState`` range and the usual
#: 32-bit seed. torch's ``manual_seed`` overflows past 2**63 - 1 with a raw error.
MAX_SEED = 2**32 - 1

#: ``(input_shape, num_classes)`` of each dataset of ``nasrepro.bench.harness._data``
#: (checked against it in the tests; this layer may not import the harness). The
#: input shape is one sample's: ``(channels, length)`` or ``(channels, height, width)``.
DATASET_SHAPES: dict[str, tuple[tuple[int, ...], int]] = {
    "mnist1d": ((1, 40), 10),
    "synthetic": ((1, 16), 4),
    "digits": ((1, 8, 8), 10),
    "cifar10": ((3, 32, 32), 10),
}


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
        test_split: ``"pool"``: the dataset's examples are pooled, permuted with
            ``split_seed`` and cut into train, valid and test. ``"official"``: train and
            valid are cut from the dataset's own training set (permuted with
            ``split_seed``) and test is drawn from its own test set (all of it when
            ``n_test`` is its size), as NAS-Bench-201 does for CIFAR-10; only datasets
            that have one (CIFAR-10). Recorded only when ``"official"``, so the ids of
            protocols from before the field (2026-12-07) stay as they were.

    The derived properties :attr:`input_shape` and :attr:`num_classes` (from
    ``dataset``) and :attr:`id` are not fields, so they never enter :meth:`to_json`.
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
    test_split: str = "pool"

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
        if self.test_split not in ("pool", "official"):
            raise ConfigError(f"unknown {self.test_split=}; expected 'pool' or 'official'")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if d["test_split"] == "pool":  # the behaviour before the field: the old ids stay
            del d["test_split"]
        return d

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no whitespace."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def id(self) -> str:
        """sha256 hex digest of :meth:`to_json`."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    @classmethod
    def from_dict(cls, d: Any, protocol_id: str | None = None) -> Protocol:
        """The protocol of a recorded dict (:meth:`to_dict`).

        Args:
            d: The dict.
            protocol_id: Its recorded id; when given, the rebuilt protocol must hash to it.

        Raises:
            ValueError: ``d`` is not a dict, lacks or adds fields, holds invalid values,
                or does not hash to ``protocol_id``.
        """
        if not isinstance(d, dict):
            raise ValueError(f"a protocol is a JSON object, got {type(d).__name__}")
        fields = dataclasses.fields(cls)
        unknown = set(d) - {f.name for f in fields}
        if unknown:
            raise ConfigError(f"unknown protocol fields {sorted(unknown)}")
        missing = [f.name for f in fields if f.name not in d and f.default is dataclasses.MISSING]
        if missing:
            raise ConfigError(f"the protocol lacks the fields {missing}")
        try:
            p = cls(**d)
        except TypeError as e:  # a value of the wrong type, e.g. a string epoch count
            raise ConfigError(f"invalid protocol values ({e})") from e
        if protocol_id is not None and p.id != protocol_id:
            raise ConfigError(
                f"the protocol hashes to {p.id[:12]}, not its recorded id {str(protocol_id)[:12]}"
            )
        return p

    @classmethod
    def from_json(cls, text: str, protocol_id: str | None = None) -> Protocol:
        """The protocol of recorded JSON (:meth:`to_json`); see :meth:`from_dict`.

        Raises:
            ValueError: ``text`` is not JSON, or not a valid protocol (see :meth:`from_dict`).
        """
        try:
            d = json.loads(text)
        except ValueError as e:
            raise ConfigError(f"the protocol is not JSON ({e})") from e
        return cls.from_dict(d, protocol_id)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input sample of :attr:`dataset` (see :data:`DATASET_SHAPES`).

        Raises:
            ValueError: The dataset has no entry in :data:`DATASET_SHAPES`.
        """
        return self._shape()[0]

    @property
    def num_classes(self) -> int:
        """Number of classes of :attr:`dataset` (see :data:`DATASET_SHAPES`).

        Raises:
            ValueError: The dataset has no entry in :data:`DATASET_SHAPES`.
        """
        return self._shape()[1]

    def _shape(self) -> tuple[tuple[int, ...], int]:
        try:
            return DATASET_SHAPES[self.dataset]
        except KeyError:
            raise ConfigError(
                f"unknown dataset {self.dataset!r} of protocol {self.name!r}; add its "
                "(input_shape, num_classes) to nasrepro.tables.DATASET_SHAPES"
            ) from None

    def macro(self) -> dict[str, Any]:
        """Macro arguments for ``space.lower``."""
        return {"C": self.C, "N": self.N, "reduction": self.reduction}


_REGISTRY: dict[str, Protocol] = {}


def register_protocol(p: Protocol) -> Protocol:
    """Register ``p`` under ``p.name``; refuses duplicate names."""
    if p.name in _REGISTRY:
        raise ConfigError(
            f"a protocol named {p.name!r} is already registered; give yours another name "
            "(dataclasses.replace(protocol, name=...))"
        )
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


#: NAS-Bench-201's own protocol (Dong & Yang 2020: Table 1, Section 2.2), for GPU
#: users with CIFAR-10 on disk. Train on 25k of the 50k training images, validate on the
#: other 25k, test on the official 10k test set. The settings are NB201's
#: ``configs/nas-benchmark/hyper-opts/200E.config`` (D-X-Y/AutoDL-Projects). Adapted:
#: the harness drops each epoch's last partial batch, so an epoch is 97 steps of 256
#: where NB201's loader runs 98 (the last of 168 images): the schedule is 1% shorter.
#: The 25k/25k halves are a permutation with seed 0, not NB201's fixed index file
#: (``configs/nas-benchmark/cifar-split.txt``), so they are other halves of the same
#: 50k. Until 2026-12-07 this protocol pooled the 60k train and test images and cut a
#: random 25k/25k/10k (id 448ce5a7...): 4,142 official test images were trained on.
#: ``test_split="official"`` fixes that, and gives the protocol a new id.
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
        test_split="official",
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
#: the spread between cells (see the README for the measured trade-off). Not
#: calibrated: batch 128 (our choice, half of NB201's 256, for 31 steps an epoch on
#: 4,000 examples) and SGD's momentum 0.9, Nesterov and weight decay 5e-4, which are
#: the dataclass defaults, NB201's ``200E.config`` values. Also ours, not calibrated:
#: C=8 and N=1, the smallest NB201-shaped network (3 cells), held fixed in every
#: calibration row (the proxy-agreement study in docs/default-vs-nb201.md trains C=16 and N=3 variants
#: against it); 6,000 MNIST-1D samples generated with ``gen_seed`` 0, where the
#: package's own defaults (``mnist1d.data.get_dataset_args``) are 5,000 samples, seed
#: 42 and an 80/20 train/test split: we generate 1,000 more to hold out a validation
#: set the size of the test set, and seed 0, the harness's default data seed; the cut 4,000/1,000/1,000 by a permutation with ``split_seed`` 0; 3 seeds a
#: sweep; and one evaluation batch of 1,000 per split (in eval mode a batch size
#: changes only speed and the summation order of the mean loss).
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
