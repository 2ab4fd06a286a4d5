"""Deterministic training of one architecture under a protocol.

The same seed on the same device gives bitwise-identical metrics: parameters are
initialised from ``torch.manual_seed(seed)``, batches are drawn from a
``torch.Generator`` seeded with ``seed``, and deterministic algorithms are enforced.
"""

from __future__ import annotations

import functools
import logging
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nasrepro.bench.harness._compiler import compile_network
from nasrepro.bench.harness._data import Splits, load_splits
from nasrepro.bench.harness._loop import fit
from nasrepro.bench.tracking import cpu_model, versions
from nasrepro.spaces import Architecture, NetworkSpec, get_space, list_spaces, parse_in
from nasrepro.spaces._errors import ConfigError
from nasrepro.tables import MAX_SEED, Protocol, TrialResult, get_protocol

__all__ = [
    "train",
    "resolve_spec",
    "versions",
    "get_splits",
    "Prepared",
    "prepare",
    "deterministic",
]

logger = logging.getLogger(__name__)

EpochCallback = Callable[[int, dict[str, float]], None]


def deterministic(device: torch.device) -> None:
    """Enforce deterministic kernels for training on ``device``.

    On CUDA, cuBLAS needs a fixed workspace (``CUBLAS_WORKSPACE_CONFIG``) before
    deterministic mode lets matrix products run; without it the first linear layer
    raises. A value the caller set is kept. TF32 is turned off for convolutions (where
    torch enables it by default on Ampere and later GPUs) and matrix products: it rounds
    their inputs to 10 mantissa bits, so a table's numbers would depend on whether the
    GPU has TF32. NAS-Bench-201 trained in full fp32 (its GPUs predate TF32).
    """
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    torch.use_deterministic_algorithms(True)


def torch_device(device: str | torch.device) -> torch.device:
    """``device`` as a :class:`torch.device` the harness trains on: ``"cpu"``, ``"cuda"``
    or ``"cuda:K"``, CUDA only where it is available.

    Raises:
        ConfigError: Another name (``"gpu"``), or CUDA asked for where there is none.
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"device {device!r}: expected 'cpu', 'cuda' or 'cuda:K'")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"device {device!r} was requested but CUDA is not available; use device 'cpu' "
            "(--device cpu)"
        )
    return dev


@functools.lru_cache(maxsize=4)
def get_splits(protocol: Protocol, root: str | None = None) -> Splits:
    """The protocol's data splits (cached per process)."""
    p = protocol
    return load_splits(
        p.dataset, p.n_train, p.n_valid, p.n_test, p.split_seed, p.gen_seed, root, p.test_split
    )


def resolve_spec(
    arch: Architecture | NetworkSpec | str, protocol: Protocol | str, space: str | None = None
) -> tuple[NetworkSpec, str, str]:
    """Turn an architecture (object or string) into ``(spec, arch_string, space_name)``.

    A string is parsed in ``space`` (default ``"cell"``); one of another space is named
    as such (:func:`~nasrepro.spaces.parse_in`)."""
    protocol = get_protocol(protocol)
    if isinstance(arch, NetworkSpec):
        _check_macro(arch, protocol)
        return arch, arch.arch, arch.space
    if isinstance(arch, str):
        sp = get_space(space or "cell")
        parsed = parse_in(sp, arch)
    elif not isinstance(arch, Architecture):
        raise ConfigError(
            f"arch {arch!r} ({type(arch).__name__}): expected an architecture string, an "
            "Architecture or a NetworkSpec"
        )
    else:
        sp = get_space(arch.space_name)
        parsed = arch
    return sp.lower(parsed, **protocol.macro()), parsed.to_string(), sp.name


def _check_macro(spec: NetworkSpec, protocol: Protocol) -> None:
    """Refuse a lowered network that is not what ``protocol`` builds for its architecture:
    its result would record the protocol (and the architecture) for another network.
    A spec that names no registered space and architecture is taken as it is."""
    if not spec.arch or spec.space not in list_spaces():
        return
    sp = get_space(spec.space)
    try:
        want = sp.lower(sp.parse(spec.arch), **protocol.macro())
    except Exception:  # noqa: BLE001 (a spec of its own making: nothing to compare with)
        return
    if want != spec:
        macro = ", ".join(f"{k}={v}" for k, v in protocol.macro().items())
        raise ConfigError(
            f"this NetworkSpec of {spec.arch!r} is not the network protocol {protocol.name} "
            f"builds for it ({macro}), so its result would be recorded for another network; "
            "pass the architecture itself, or lower it with "
            "space.lower(arch, **protocol.macro())"
        )


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return cpu_model()


@dataclass
class Prepared:
    """Tensors of a protocol's splits, on one device."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_valid: torch.Tensor
    y_valid: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    sha256: str = ""  #: :meth:`Splits.digest` of the arrays they were made from


def prepare(splits: Splits, device: torch.device) -> Prepared:
    t = functools.partial(torch.as_tensor, device=device)
    return Prepared(
        t(splits.x_train),
        t(splits.y_train),
        t(splits.x_valid),
        t(splits.y_valid),
        t(splits.x_test),
        t(splits.y_test),
        splits.num_classes,
        splits.digest(),
    )


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random 4-pixel padded crop and horizontal flip of a 2-D batch ``(B, C, H, W)``."""
    b, _, h, w = x.shape
    padded = F.pad(x, (4, 4, 4, 4))
    dx = torch.randint(0, 9, (b,), generator=gen).tolist()
    dy = torch.randint(0, 9, (b,), generator=gen).tolist()
    flip = torch.rand(b, generator=gen).lt(0.5).tolist()
    out = torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(b)])
    idx = [i for i, f in enumerate(flip) if f]
    if idx:
        out[idx] = out[idx].flip(-1)
    return out


@torch.no_grad()
def _evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, bs: int) -> tuple[float, float]:
    """Mean cross-entropy and accuracy (percent)."""
    model.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(y), bs):
        logits = model(x[i : i + bs])
        loss += F.cross_entropy(logits, y[i : i + bs], reduction="sum").item()
        correct += int((logits.argmax(1) == y[i : i + bs]).sum().item())
    return loss / len(y), 100.0 * correct / len(y)


def _flops(model: nn.Module, sample: torch.Tensor) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(sample)
    return int(fc.get_total_flops())


@torch.no_grad()
def _latency(model: nn.Module, batch: torch.Tensor, repeats: int = 5) -> float:
    model.eval()
    times = []
    for _ in range(repeats):
        if batch.device.type == "cuda":
            torch.cuda.synchronize(batch.device)
        t0 = time.perf_counter()
        model(batch)
        if batch.device.type == "cuda":
            torch.cuda.synchronize(batch.device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def train(
    arch: Architecture | NetworkSpec | str,
    protocol: Protocol | str,
    seed: int,
    device: str = "cpu",
    *,
    space: str | None = None,
    data_root: str | None = None,
    on_epoch: EpochCallback | None = None,
    static: bool = True,
    threads: int | None = 1,
) -> TrialResult:
    """Train ``arch`` under ``protocol`` with ``seed`` and record every epoch.

    Args:
        arch: An architecture, its string (with ``space``), or a lowered spec.
        protocol: A :class:`Protocol` or a registered name.
        seed: Seeds the parameter initialisation and the data order: an ``int``
            (numpy integers too); anything else is a :class:`ConfigError`.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:K"``.
        space: Space name when ``arch`` is a string (default ``"cell"``).
        data_root: Dataset root, for datasets read from disk (CIFAR-10).
        on_epoch: Called as ``on_epoch(epoch, metrics)`` after every epoch, with
            ``epoch`` 1-based (``1..protocol.epochs``), as in tables.
        static: Also measure FLOPs and latency (parameters are always counted).
        threads: torch CPU threads while training, restored afterwards. On CPU the
            numbers are bitwise reproducible only at the same thread count (oneDNN
            splits convolution reductions by thread); sweeps train with 1, so the
            default reproduces every table. ``None`` keeps the caller's setting.

    Returns:
        The :class:`~nasrepro.tables.TrialResult`, with per-epoch train/valid/test
        loss and accuracy (percent) and the epoch's training time.

    Example:
        >>> r = train("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
        ...           "synthetic-smoke", seed=0)
        >>> r.n_epochs
        2
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ConfigError(
            f"seed must be an int (a numpy integer is fine), got {seed!r} of type "
            f"{type(seed).__name__}; pass an int, e.g. int(seed)"
        )
    seed = int(seed)  # a numpy integer too: torch and the result record a plain int
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"seed must lie in [0, {MAX_SEED}] (2**32 - 1), got {seed}")
    if threads is not None and threads < 1:
        raise ConfigError(f"threads must be >= 1 or None, got {threads}")
    prev = torch.get_num_threads()
    if threads is not None and torch_device(device).type == "cpu":
        torch.set_num_threads(threads)
    try:
        return _train(arch, protocol, seed, device, space, data_root, on_epoch, static)
    finally:
        torch.set_num_threads(prev)


def _train(
    arch: Architecture | NetworkSpec | str,
    protocol: Protocol | str,
    seed: int,
    device: str,
    space: str | None,
    data_root: str | None,
    on_epoch: EpochCallback | None,
    static: bool,
) -> TrialResult:
    p = get_protocol(protocol)
    dev = torch_device(device)
    spec, arch_str, space_name = resolve_spec(arch, p, space)
    data = prepare(get_splits(p, data_root), dev)
    dims = data.x_train.ndim - 2
    if p.augment == "crop_flip" and dims != 2:
        raise ConfigError(f"augment 'crop_flip' needs 2-D data; {p.dataset} is {dims}-D")

    deterministic(dev)
    torch.manual_seed(seed)
    model = compile_network(spec, data.x_train.shape[1], data.num_classes, dims).to(dev)
    gen = torch.Generator().manual_seed(seed)

    def step(idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = data.x_train[idx[0]], data.y_train[idx[0]]
        if p.augment == "crop_flip":
            x = _augment(x, gen)
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        return loss.reshape(1), (logits.detach().argmax(1) == y).sum().reshape(1)

    def evaluate(x: torch.Tensor, y: torch.Tensor) -> tuple[list[float], list[float]]:
        loss, acc = _evaluate(model, x, y, p.eval_batch_size)
        return [loss], [acc]

    def epoch_done(epoch: int, rows: list[dict[str, float]]) -> None:
        if on_epoch is not None:
            on_epoch(epoch + 1, rows[0])  # 1-based, as every table's epochs

    (history,) = fit(model, p, data, dev, [gen], step, evaluate, on_epoch=epoch_done)

    flops, latency = 0, float("nan")
    if static:
        flops = _flops(model, data.x_valid[:1])
        latency = _latency(model, data.x_valid[: p.eval_batch_size])
    return TrialResult(
        arch=arch_str,
        space=space_name,
        seed=seed,
        protocol_id=p.id,
        device=dev.type,
        history=history,
        params=model.num_parameters(),
        flops=flops,
        latency_s=latency,
        versions=versions() | {"data_sha256": data.sha256},
        device_name=_device_name(dev),
    )


def result_summary(r: TrialResult) -> dict[str, Any]:
    """Final figures of a result, for printing and logging."""
    f = r.final
    return {
        "arch": r.arch,
        "seed": r.seed,
        "valid_acc": f["valid_acc"],
        "test_acc": f["test_acc"],
        "train_time_s": r.train_time_s,
        "params": r.params,
        "flops": r.flops,
        "latency_s": r.latency_s,
    }
