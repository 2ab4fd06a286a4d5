"""The harness's one training loop, shared by single and batched training.

Both train ``K`` models (``K = 1`` for :func:`nasrepro.bench.harness.train`) under a
protocol's schedule: SGD with Nesterov momentum and weight decay, and a cosine decay of
the learning rate to zero, as NAS-Bench-201 trains (Dong & Yang 2020, Table 1; the
``configs/nas-benchmark/hyper-opts/200E.config`` of D-X-Y/AutoDL-Projects: SGD, Nesterov,
momentum 0.9, lr 0.1, weight decay 5e-4, cosine with ``eta_min`` 0), the decay applied
at every optimiser step as its ``exps/NAS-Bench-201/functions.py`` does
(``scheduler.update(None, i / len(loader))``). Adapted: each protocol sets its own lr,
weight decay and epochs, and each epoch drops its last partial batch (NB201's loaders
keep it), so that every step has the same batch size and the ``K`` models of a batched
training share their shapes. Model ``k`` sees the data order of its own seed's
``torch.Generator``. What differs between the two trainers (how a batch is gathered, the
forward pass and the loss, evaluation) comes in as two callables.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from nasrepro.tables import METRIC_NAMES, Protocol

if TYPE_CHECKING:
    from nasrepro.bench.harness._train import Prepared

__all__ = ["cosine_lr", "sgd", "fit", "StepFn", "EvalFn", "EpochRows"]

#: ``step(idx)`` trains on the batch ``idx`` ``(K, B)`` (indices into the training split,
#: one row per model) and returns each model's mean loss ``(K,)`` (the tensor to
#: back-propagate through, summed) and its number of correct predictions ``(K,)``.
StepFn = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
#: ``evaluate(x, y)`` returns each model's mean loss and accuracy (percent), ``K`` each.
EvalFn = Callable[[torch.Tensor, torch.Tensor], tuple[list[float], list[float]]]
#: ``on_epoch(epoch, rows)``: after each epoch (0-based), one metrics dict per model.
EpochRows = Callable[[int, list[dict[str, float]]], None]


def cosine_lr(protocol: Protocol, step: int, total_steps: int) -> float:
    """The learning rate at ``step`` of ``total_steps``: ``lr/2 * (1 + cos(pi*step/total))``."""
    return 0.5 * protocol.lr * (1.0 + math.cos(math.pi * step / total_steps))


def sgd(params: Iterable[nn.Parameter], protocol: Protocol) -> torch.optim.SGD:
    """The protocol's optimiser: SGD with its lr, momentum, Nesterov flag and weight decay."""
    return torch.optim.SGD(
        params,
        lr=protocol.lr,
        momentum=protocol.momentum,
        nesterov=protocol.nesterov,
        weight_decay=protocol.weight_decay,
    )


def fit(
    model: nn.Module,
    protocol: Protocol,
    data: Prepared,
    device: torch.device,
    gens: Sequence[torch.Generator],
    step: StepFn,
    evaluate: EvalFn,
    *,
    on_epoch: EpochRows | None = None,
) -> list[dict[str, list[float]]]:
    """Train ``model`` (``K = len(gens)`` models) for the protocol's epochs.

    Returns:
        One history per model, ``{metric: [value per epoch]}`` over
        :data:`~nasrepro.tables.METRIC_NAMES`. ``epoch_time_s`` is the epoch's wall
        time divided by ``K``, each model's amortised share.
    """
    p = protocol
    k = len(gens)
    n = len(data.y_train)
    bs = p.batch_size
    steps_per_epoch = n // bs
    total_steps = steps_per_epoch * p.epochs
    seen = steps_per_epoch * bs
    opt = sgd(model.parameters(), p)
    history: list[dict[str, list[float]]] = [{m: [] for m in METRIC_NAMES} for _ in range(k)]
    t = 0
    for epoch in range(p.epochs):
        model.train()
        t0 = time.perf_counter()
        perm = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(device)  # (K, n)
        loss_sum = torch.zeros(k, device=device)
        correct = torch.zeros(k, dtype=torch.long, device=device)
        for b in range(steps_per_epoch):
            for g in opt.param_groups:
                g["lr"] = cosine_lr(p, t, total_steps)
            losses, right = step(perm[:, b * bs : (b + 1) * bs])
            opt.zero_grad(set_to_none=True)
            losses.sum().backward()
            opt.step()
            loss_sum += losses.detach() * bs
            correct += right
            t += 1
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        epoch_time = (time.perf_counter() - t0) / k
        vl, va = evaluate(data.x_valid, data.y_valid)
        tl, ta = evaluate(data.x_test, data.y_test)
        tr_loss = (loss_sum.double() / seen).tolist()
        tr_acc = (100.0 * correct.double() / seen).tolist()
        rows = [
            {
                "train_loss": tr_loss[m],
                "train_acc": tr_acc[m],
                "valid_loss": vl[m],
                "valid_acc": va[m],
                "test_loss": tl[m],
                "test_acc": ta[m],
                "epoch_time_s": epoch_time,
            }
            for m in range(k)
        ]
        for m, row in enumerate(rows):
            for key, v in row.items():
                history[m][key].append(v)
        if on_epoch is not None:
            on_epoch(epoch, rows)
    return history
