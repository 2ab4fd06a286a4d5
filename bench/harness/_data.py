"""Datasets, generated or read locally and split by a seed that belongs to the protocol.

* ``mnist1d``: MNIST-1D (Greydanus 2020), generated with ``mnist1d.data.make_dataset``
  (never downloaded) and cached as ``.npz`` keyed by the generation arguments.
* ``digits``: scikit-learn's 8x8 ``load_digits`` (2-D, 1 channel).
* ``cifar10``: torchvision's CIFAR-10 from a local root (never downloaded).
* ``synthetic``: small random data with a learnable signal, for smoke tests.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nasrepro.spaces._errors import NasreproError, require_extra

__all__ = ["Splits", "DatasetError", "load_splits", "cache_dir", "DATASETS"]

logger = logging.getLogger(__name__)

DATASETS = ("mnist1d", "digits", "cifar10", "synthetic")
#: Datasets with a test set of their own: the size of the training set, which the
#: loader returns first (the test set follows), for ``test_split="official"``.
OFFICIAL_TRAIN = {"cifar10": 50000}


class DatasetError(NasreproError, RuntimeError):
    """A dataset is missing or cannot be built."""


_ARRAYS = ("x_train", "y_train", "x_valid", "y_valid", "x_test", "y_test")


def _canonical(a: np.ndarray) -> np.ndarray:
    """``a`` in C order with canonical strides, copied only where they differ.

    NumPy and torch both call an array with a size-1 axis C-contiguous whatever that
    axis' stride is, yet oneDNN picks its convolution kernels by strides: MNIST-1D made
    by ``[:, None, :]`` (channel stride 4 bytes) and the same data read back from the
    ``.npz`` cache (stride 160) trained to different numbers. Every split therefore gets
    the strides a fresh C-order allocation has, which is also what ``np.load`` gives.
    """
    strides = np.empty(a.shape, dtype=a.dtype).strides if a.size else a.strides
    if a.flags.c_contiguous and a.strides == strides:
        return a
    out = np.empty(a.shape, dtype=a.dtype)
    out[...] = a
    return out


@dataclass(frozen=True)
class Splits:
    """Train/valid/test arrays.

    ``x_*`` have shape ``(n, in_channels, length)`` (1-D) or ``(n, in_channels, H, W)``
    (2-D), float32; ``y_*`` have shape ``(n,)``, int64.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    def __post_init__(self) -> None:
        for name in _ARRAYS:
            object.__setattr__(self, name, _canonical(getattr(self, name)))

    @property
    def in_channels(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def dims(self) -> int:
        return self.x_train.ndim - 2

    def digest(self) -> str:
        """sha256 over all arrays, to pin the exact data a result was trained on: results
        record it as ``versions["data_sha256"]`` (since 2026-12-07), so that data made
        differently (another mnist1d release, another CIFAR-10 copy) shows under an
        unchanged protocol id."""
        h = hashlib.sha256()
        for a in (self.x_train, self.y_train, self.x_valid, self.y_valid, self.x_test, self.y_test):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()


#: What reading a damaged or cut-short ``.npz`` cache file raises.
_UNREADABLE = (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile)


def cache_dir() -> Path:
    """Where generated datasets are cached: ``$NASREPRO_CACHE`` or ``~/.cache/nasrepro``."""
    root = os.environ.get("NASREPRO_CACHE") or Path.home() / ".cache" / "nasrepro"
    return Path(root)


def _cached_mnist1d(n_total: int, gen_seed: int) -> tuple[np.ndarray, np.ndarray] | None:
    """A cached MNIST-1D of ``n_total`` samples and ``gen_seed``, found without mnist1d.

    Each cache file records its generation arguments, so a machine without mnist1d
    (a GPU box that got the cache copied over) can still pick the right one.
    """
    for path in sorted(cache_dir().glob("mnist1d-*.npz")):
        try:
            with np.load(path) as z:
                if "args" not in z.files:
                    continue
                args = json.loads(str(z["args"]))
                if (args.get("num_samples"), args.get("seed")) == (n_total, gen_seed):
                    logger.info("mnist1d is not installed; using the cached %s", path)
                    return z["x"], z["y"]
        except _UNREADABLE as e:
            logger.warning("skipping the unreadable MNIST-1D cache file %s (%s)", path, e)
    return None


def _mnist1d(n_total: int, gen_seed: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as e:
        cached = _cached_mnist1d(n_total, gen_seed)
        if cached is not None:
            return cached
        raise DatasetError(
            f"mnist1d is not installed and {cache_dir()} holds no MNIST-1D cache of "
            f"{n_total} samples with seed {gen_seed}; run `pip install mnist1d`"
        ) from e
    args = get_dataset_args()
    args.num_samples = n_total
    args.seed = gen_seed
    args.train_split = 1.0
    key = {k: v for k, v in vars(args).items() if k != "url"}
    name = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_dir() / f"mnist1d-{name}.npz"
    if path.exists():
        try:
            with np.load(path) as z:
                return z["x"], z["y"]
        except _UNREADABLE as e:  # a killed copy, a full disk: made again below
            logger.warning(
                "the MNIST-1D cache file %s is unreadable (%s); generating it again", path, e
            )
    state = np.random.get_state()  # make_dataset seeds the global RNG; leave it as it was
    try:
        d = make_dataset(args)
    finally:
        np.random.set_state(state)
    x = np.concatenate([d["x"], d["x_test"]]).astype(np.float32)[:, None, :]
    y = np.concatenate([d["y"], d["y_test"]]).astype(np.int64)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(tmp, x=x, y=y, args=np.array(json.dumps(key, sort_keys=True)))
        os.replace(tmp, path)
    except OSError as e:  # the data is made; training goes on without the cache
        with contextlib.suppress(OSError):
            tmp.unlink()
        logger.warning(
            "cannot cache MNIST-1D in %s (%s); it is generated again by each process: set "
            "NASREPRO_CACHE to a writable directory",
            path.parent,
            e.strerror or e,
        )
    else:
        logger.info("generated MNIST-1D (%d samples) into %s", len(y), path)
    return x, y


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None, :, :]
    x = (x - x.mean()) / x.std()
    return x, d.target.astype(np.int64)


def _cifar10(root: str | None) -> tuple[np.ndarray, np.ndarray]:
    """The 50,000 training images, then the 10,000 test images (:data:`OFFICIAL_TRAIN`)."""
    root_path = Path(root or os.environ.get("NASREPRO_DATA") or cache_dir() / "data")
    folder = root_path / "cifar-10-batches-py"
    if not folder.is_dir():
        raise DatasetError(
            f"CIFAR-10 not found at {folder}. On a machine with internet run\n"
            f"  python -c \"import torchvision; torchvision.datasets.CIFAR10('{root_path}', "
            'download=True)"\n'
            f"and copy the folder cifar-10-batches-py to {root_path} here, or pass --data-root / "
            "set NASREPRO_DATA to where it is."
        )
    try:
        from torchvision.datasets import CIFAR10
    except ImportError as e:
        raise require_extra("reading CIFAR-10", "torchvision", "cifar", e) from e

    parts = [CIFAR10(str(root_path), train=t, download=False) for t in (True, False)]
    x = np.concatenate([p.data for p in parts]).astype(np.float32) / 255.0
    # Per-channel mean and std of the 50,000 training images, as CIFAR training code
    # commonly quotes them. NB201 (xautodl/datasets/get_dataset_with_transform.py) uses
    # [125.3, 123.0, 113.9] / 255 and [63.0, 62.1, 66.7] / 255, within 2e-4 of these;
    # kept, since a change would alter results under an unchanged protocol id.
    mean = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32)
    std = np.array([0.2470, 0.2435, 0.2616], dtype=np.float32)
    x = ((x - mean) / std).transpose(0, 3, 1, 2)
    y = np.concatenate([np.asarray(p.targets) for p in parts]).astype(np.int64)
    return np.ascontiguousarray(x), y


def _synthetic(n_total: int, gen_seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(gen_seed)
    n_classes, length = 4, 16
    templates = rng.normal(size=(n_classes, length)).astype(np.float32)
    y = rng.integers(0, n_classes, n_total)
    x = templates[y] + 1.0 * rng.normal(size=(n_total, length)).astype(np.float32)
    return x[:, None, :].astype(np.float32), y.astype(np.int64)


def split_indices(
    n: int,
    n_train: int,
    n_valid: int,
    n_test: int,
    split_seed: int,
    official_train: int | None = None,
    dataset: str = "the dataset",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of the train, valid and test examples among ``n`` (see :func:`load_splits`).

    ``official_train``: the examples ``[0, official_train)`` are the dataset's training
    set and the rest its test set; ``None`` pools them all.
    """
    a, b = n_train, n_train + n_valid
    if official_train is None:
        perm = np.random.default_rng(split_seed).permutation(n)[: b + n_test]
        return perm[:a], perm[a:b], perm[b:]
    n_off_test = n - official_train
    if b > official_train or n_test > n_off_test:
        raise DatasetError(
            f"{dataset}'s training set has {official_train} examples and its test set "
            f"{n_off_test}, but the splits need {b} ({n_train=} + {n_valid=}) and {n_test=}; "
            "lower the split sizes"
        )
    perm = np.random.default_rng(split_seed).permutation(official_train)
    sub = np.random.default_rng([split_seed, 1]).permutation(n_off_test)[:n_test]
    return perm[:a], perm[a:b], official_train + np.sort(sub)


def load_splits(
    dataset: str,
    n_train: int,
    n_valid: int,
    n_test: int,
    split_seed: int,
    gen_seed: int = 0,
    root: str | None = None,
    test_split: str = "pool",
) -> Splits:
    """Build the train/valid/test splits of ``dataset``.

    ``test_split="pool"``: the pool of examples is permuted with ``split_seed`` and cut
    into consecutive train, valid and test parts. ``"official"`` (datasets with their
    own test set, :data:`OFFICIAL_TRAIN`): the training set is permuted with
    ``split_seed`` and cut into train and valid, and test is the whole test set in its
    file order, or, when ``n_test`` is smaller, a sorted random subset of it (seeded by
    ``split_seed``). Either way the splits are a pure function of the arguments.

    Raises:
        DatasetError: The dataset is unknown, missing, or smaller than the splits, or
            ``test_split`` is ``"official"`` for a dataset without a test set of its own.
    """
    if test_split == "official" and dataset not in OFFICIAL_TRAIN:
        raise DatasetError(
            f"{dataset!r} has no official test set (those that do: {sorted(OFFICIAL_TRAIN)}); "
            "use test_split='pool'"
        )
    if test_split not in ("pool", "official"):
        raise DatasetError(f"unknown {test_split=}; expected 'pool' or 'official'")
    n_total = n_train + n_valid + n_test
    if dataset == "mnist1d":
        x, y = _mnist1d(n_total, gen_seed)
    elif dataset == "digits":
        x, y = _digits()
    elif dataset == "cifar10":
        x, y = _cifar10(root)
    elif dataset == "synthetic":
        x, y = _synthetic(n_total, gen_seed)
    else:
        raise DatasetError(f"unknown dataset {dataset!r}; choose one of {DATASETS}")
    if len(y) < n_total:
        raise DatasetError(
            f"{dataset} has {len(y)} examples but the splits need {n_total} "
            f"({n_train=}, {n_valid=}, {n_test=}); lower the split sizes"
        )
    n_off = OFFICIAL_TRAIN[dataset] if test_split == "official" else None
    tr, va, te = split_indices(len(y), n_train, n_valid, n_test, split_seed, n_off, dataset)
    return Splits(
        np.ascontiguousarray(x[tr]),
        y[tr],
        np.ascontiguousarray(x[va]),
        y[va],
        np.ascontiguousarray(x[te]),
        y[te],
        int(y.max()) + 1,
    )


def describe(splits: Splits) -> dict[str, Any]:
    """Sizes and shapes, for logs and the CLI."""
    return {
        "train": len(splits.y_train),
        "valid": len(splits.y_valid),
        "test": len(splits.y_test),
        "input": list(splits.x_train.shape[1:]),
        "classes": splits.num_classes,
    }
