"""The batched fit loop: K stacked cells trained with single training's schedule and records
(see :mod:`nasrepro.bench.harness._batched_modules` for how the stacking works)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from nasrepro.bench.harness._batched_modules import (
    _EVAL_SAMPLE_MODELS,
    BATCHED_SPACES,
    BatchedNetwork,
    _check_stackable,
)
from nasrepro.bench.harness._compiler import compile_network
from nasrepro.bench.harness._loop import fit
from nasrepro.bench.harness._train import (
    _augment,
    _device_name,
    _flops,
    _latency,
    deterministic,
    get_splits,
    prepare,
    resolve_spec,
    torch_device,
    versions,
)
from nasrepro.spaces import Architecture, NetworkSpec
from nasrepro.spaces._errors import ConfigError
from nasrepro.tables import Protocol, TrialResult, get_protocol

__all__ = ["BatchedRun", "fit_batched", "train_batched"]

logger = logging.getLogger(__name__)


@dataclass
class BatchedRun:
    """What :func:`fit_batched` returns: one result per model, and the trained module."""

    results: list[TrialResult]
    model: BatchedNetwork


def _stack_inputs(x: torch.Tensor) -> torch.Tensor:
    """``(K, B, c, *spatial)`` -> ``(B, K * c, *spatial)``."""
    k, b, c, *spatial = x.shape
    return x.transpose(0, 1).reshape(b, k * c, *spatial)


def _cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy ``(K, B)`` of logits ``(K, B, n_classes)`` and labels ``(K, B)``.

    Each row goes through the same log-softmax kernel as in single-model training, so
    the gradients match it bit for bit.
    """
    k, b, n = logits.shape
    return F.cross_entropy(logits.reshape(k * b, n), y.reshape(k * b), reduction="none").view(k, b)


def _autocast(device: torch.device, amp: bool) -> contextlib.AbstractContextManager[None]:
    if not amp:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


@torch.no_grad()
def _evaluate(
    model: BatchedNetwork, x: torch.Tensor, y: torch.Tensor, bs: int, amp: bool
) -> tuple[list[float], list[float]]:
    """Per-model mean cross-entropy and accuracy (percent), each a list of length K."""
    model.eval()
    loss = torch.zeros(model.k, dtype=torch.float64, device=x.device)
    correct = torch.zeros(model.k, dtype=torch.long, device=x.device)
    for i in range(0, len(y), bs):
        with _autocast(x.device, amp):
            logits = model.shared(x[i : i + bs]).float()  # (K, b, n_classes)
        yb = y[i : i + bs].expand(model.k, -1)  # (K, b)
        loss += _cross_entropy(logits, yb).sum(1).double()
        correct += (logits.argmax(2) == yb).sum(1)
    return (loss / len(y)).tolist(), (100.0 * correct.double() / len(y)).tolist()


def fit_batched(
    archs: Sequence[Architecture | NetworkSpec | str],
    protocol: Protocol | str,
    seeds: int | Sequence[int],
    device: str = "cpu",
    *,
    space: str | None = None,
    data_root: str | None = None,
    amp: bool = False,
    static: bool = True,
) -> BatchedRun:
    """Train K cells together; like :func:`train_batched`, but also returns the module.

    See :func:`train_batched` for the arguments.
    """
    p = get_protocol(protocol)
    dev = torch_device(device)
    if not archs:
        raise ValueError("no architectures given to train_batched")
    seed_list = [int(seeds)] * len(archs) if isinstance(seeds, int) else [int(s) for s in seeds]
    if len(seed_list) != len(archs):
        raise ValueError(f"need one seed per architecture, got {len(seed_list)=}, {len(archs)=}")
    resolved = [resolve_spec(a, p, space) for a in archs]
    specs = [r[0] for r in resolved]
    for _, arch_str, space_name in resolved:
        if space_name not in BATCHED_SPACES:
            raise ConfigError(
                f"batched training supports the spaces {BATCHED_SPACES} (one shared skeleton); "
                f"{arch_str!r} is from {space_name!r}; train it with nasrepro.bench.harness._train.train"
            )
    _check_stackable(specs)
    data = prepare(get_splits(p, data_root), dev)
    dims = data.x_train.ndim - 2
    if p.augment == "crop_flip" and dims != 2:
        raise ConfigError(f"augment 'crop_flip' needs 2-D data; {p.dataset} is {dims}-D")

    deterministic(dev)
    nets = []
    for spec, seed in zip(specs, seed_list, strict=True):
        torch.manual_seed(seed)  # the draws of single-model training, model by model
        nets.append(compile_network(spec, data.x_train.shape[1], data.num_classes, dims))
    model = BatchedNetwork(nets, specs).to(dev)
    k = model.k
    gens = [torch.Generator().manual_seed(s) for s in seed_list]
    logger.info("training %d cells as one batched module on %s", k, dev)

    bs = p.batch_size
    eval_bs = max(1, min(p.eval_batch_size, max(bs, _EVAL_SAMPLE_MODELS // k)))

    def step(idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        xs, y = data.x_train[idx], data.y_train[idx]  # (K, B, c, *spatial), (K, B)
        if p.augment == "crop_flip":
            xs = torch.stack([_augment(xs[m], gens[m]) for m in range(k)])
        with _autocast(dev, amp):
            logits = model(_stack_inputs(xs)).float()  # (K, B, n_classes)
        losses = _cross_entropy(logits, y).mean(1)  # (K,)
        return losses, (logits.detach().argmax(2) == y).sum(1)

    def evaluate(x: torch.Tensor, y: torch.Tensor) -> tuple[list[float], list[float]]:
        return _evaluate(model, x, y, eval_bs, amp)

    history = fit(model, p, data, dev, gens, step, evaluate)

    singles = model.export() if static else nets
    vers = versions() | {"trainer": "batched", "data_sha256": data.sha256}
    vers |= {"amp": "bfloat16"} if amp else {}
    results = []
    for m, (net, (_, arch_str, space_name)) in enumerate(zip(singles, resolved, strict=True)):
        flops, latency = 0, float("nan")
        if static:
            net.to(dev)
            flops = _flops(net, data.x_valid[:1])
            latency = _latency(net, data.x_valid[: p.eval_batch_size])
            net.to("cpu")
        results.append(
            TrialResult(
                arch=arch_str,
                space=space_name,
                seed=seed_list[m],
                protocol_id=p.id,
                device=dev.type,
                history=history[m],
                params=net.num_parameters(),
                flops=flops,
                latency_s=latency,
                versions=vers,
                device_name=_device_name(dev),
            )
        )
    return BatchedRun(results, model)


def train_batched(
    archs: Sequence[Architecture | NetworkSpec | str],
    protocol: Protocol | str,
    seeds: int | Sequence[int],
    device: str = "cpu",
    *,
    space: str | None = None,
    data_root: str | None = None,
    amp: bool = False,
    static: bool = True,
) -> list[TrialResult]:
    """Train K cells of the cell space under ``protocol`` together, as one stacked module.

    Each model ``k`` starts from the parameters that ``train(archs[k], protocol,
    seeds[k])`` would draw, sees the same batches in the same order, and gets the
    same per-epoch metrics up to float rounding.

    Args:
        archs: K architectures of the ``cell`` space (objects, strings with ``space``,
            or lowered specs); other spaces raise ``ValueError``.
        protocol: A :class:`Protocol` or a registered name.
        seeds: One seed for all models, or one per model.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:K"``.
        space: Space name when ``archs`` are strings (default ``"cell"``).
        data_root: Dataset root, for datasets read from disk (CIFAR-10).
        amp: Run forward passes under bfloat16 autocast. Off by default: it changes
            the numbers (results then carry ``versions["amp"]``).
        static: Also measure FLOPs and latency of each trained single network.

    Returns:
        One :class:`~nasrepro.tables.TrialResult` per architecture, in order.
        ``epoch_time_s`` is the batched epoch's wall time divided by K.
    """
    run = fit_batched(
        archs,
        protocol,
        seeds,
        device,
        space=space,
        data_root=data_root,
        amp=amp,
        static=static,
    )
    return run.results
