"""Throughput of batched multi-architecture training against single-model training.

Prints cell-seeds per second (architectures trained with one seed, per second of
wall clock) for single-model training (``nasrepro.bench.harness._train.train``, one cell after
another) and for batched training (``nasrepro.bench.harness.train_batched``, K cells as
one stacked module), for each K, in one run.

To finish in minutes on a small CPU the protocol is truncated: ``--steps`` training
steps per epoch (``n_train = steps * batch_size``) and ``--epochs`` epochs; the
validation and test sets keep their size, so evaluation and model building weigh
more than in the full protocol. The script therefore also prints the training-step
time alone (from the recorded ``epoch_time_s``), per model and scaled to the full
protocol's step count. Single-model training is timed right after each batched run,
on ``min(K, --single-cells)`` random cells, so both see the same machine load.

The K cells of a batch are one batch, drawn at random, of all canonical cells ordered
and cut by :func:`nasrepro.bench.harness.group_cells` (the single-model cells are drawn
at random). Before each K
the script estimates the activation memory the batched step needs (from the tensors
autograd saves in a forward pass with ``min(K, 8)`` models, scaled to K) and skips K
when it exceeds ``--max-gib`` (default: half of the available memory).

Usage:
    python benchmarks/batched_throughput.py [--protocol mnist1d-tiny] [--ks 1,8,32,128,512]
        [--steps 4] [--epochs 1] [--single-cells 8] [--device cpu] [--amp]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import numpy as np
import torch

from nasrepro.bench.harness import BatchedNetwork, batch_waste, group_cells, train_batched
from nasrepro.bench.harness._compiler import compile_network
from nasrepro.bench.harness._train import get_splits, train
from nasrepro.spaces import CellArch, get_space
from nasrepro.tables import Protocol, TrialResult, get_protocol

GIB = 1 << 30
_REPS: list[str] = []


def _available_gib() -> float:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 / GIB
    except OSError:
        pass
    return float("inf")


def _representatives() -> list[str]:
    reps = get_space("cell").representative_indices()
    return [CellArch.from_index(int(i)).to_string() for i in reps]


def _batch(k: int, seed: int) -> list[str]:
    """One batch of ``k`` canonical cells, as a sweep over the whole space forms them.

    All canonical cells are ordered by :func:`group_cells` and cut into batches of ``k``;
    one batch (not the short last one) is drawn at random.
    """
    groups = group_cells(_REPS, k)
    full = [g for g in groups if len(g) == k] or groups
    g = full[int(np.random.default_rng(seed).integers(len(full)))]
    return [_REPS[i] for i in g]


def _sample(n: int, seed: int) -> list[str]:
    """``n`` distinct canonical cells drawn at random."""
    rng = np.random.default_rng(seed)
    return [_REPS[int(i)] for i in rng.choice(len(_REPS), n, replace=False)]


def _activation_gib(archs: list[str], p: Protocol, k: int) -> float:
    """Bytes autograd saves in one training forward pass of ``k`` stacked models, in GiB."""
    probe = archs[: min(k, 8)]
    space = get_space("cell")
    specs = [space.lower(space.parse(a), **p.macro()) for a in probe]
    splits = get_splits(p)
    dims = splits.x_train.ndim - 2
    nets = [compile_network(s, splits.in_channels, splits.num_classes, dims) for s in specs]
    model = BatchedNetwork(nets, specs).train()
    x = torch.as_tensor(splits.x_train[: p.batch_size]).repeat(1, len(probe), *[1] * dims)
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x).sum()
    return sum(seen.values()) * k / len(probe) / GIB


def _split(results: list[TrialResult], wall: float) -> tuple[float, float]:
    """``(training-step seconds, other seconds)`` of a run that produced ``results``."""
    steps = sum(sum(r.history["epoch_time_s"]) for r in results)
    return steps, wall - steps


def _time_single(archs: list[str], p: Protocol, device: str) -> tuple[float, float]:
    t0 = time.perf_counter()
    results = [train(a, p, 0, device, static=False) for a in archs]
    wall = time.perf_counter() - t0
    return wall, _split(results, wall)[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--protocol", default="mnist1d-tiny")
    ap.add_argument("--ks", default="1,8,32,128,512", help="comma-separated batch sizes K")
    ap.add_argument("--steps", type=int, default=4, help="training steps per epoch")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--single-cells", type=int, default=8, help="cells timed one at a time")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--amp", action="store_true", help="bfloat16 autocast in batched training")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-gib", type=float, default=None, help="skip K above this memory")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ks = [int(k) for k in args.ks.split(",") if k.strip()]
    full = get_protocol(args.protocol)
    n_train = args.steps * full.batch_size
    p = dataclasses.replace(
        full,
        n_train=n_train,
        # MNIST-1D generates whole tens of samples
        n_valid=full.n_valid - (n_train + full.n_valid + full.n_test) % 10,
        epochs=min(args.epochs, full.epochs),
    )
    full_steps = (full.n_train // full.batch_size) * full.epochs
    max_gib = args.max_gib if args.max_gib is not None else 0.5 * _available_gib()
    print(
        f"protocol {full.name}: measured {args.steps} steps x {p.epochs} epoch(s) "
        f"(batch {p.batch_size}, C={p.C}, N={p.N}, {p.reduction}); full protocol has "
        f"{full_steps} steps; valid {p.n_valid} + test {p.n_test} evaluated per epoch"
    )
    print(
        f"device {args.device}, {torch.get_num_threads()} thread(s), torch {torch.__version__}, "
        f"load average {os.getloadavg()[0]:.2f}, memory cap {max_gib:.1f} GiB"
    )

    _REPS.extend(_representatives())
    warm = _sample(2, args.seed + 1)  # one-time costs (allocators, oneDNN kernels) first
    train(warm[0], dataclasses.replace(p, epochs=1), 0, args.device, static=False)
    train_batched(warm, dataclasses.replace(p, epochs=1), 0, args.device, static=False)

    n_singles = args.single_cells
    measured_steps = args.steps * p.epochs
    print(
        f"{'K':>5} {'single c-s/s':>13} {'batched c-s/s':>14} {'gain':>8} "
        f"{'single ms/st':>12} {'batched ms/st':>13} {'st gain':>8} {'waste':>6} "
        f"{'act GiB':>8} {'single s/c':>9} {'batch s/c':>9}"
    )
    for k in ks:
        archs = _batch(k, args.seed + 3 + k)
        gib = _activation_gib(archs, p, k)
        if gib > max_gib:
            print(
                f"{k:>5} skipped: the batched step needs ~{gib:.1f} GiB of activations, over "
                f"the {max_gib:.1f} GiB cap (--max-gib)"
            )
            continue
        t0 = time.perf_counter()
        results = train_batched(archs, p, 0, args.device, amp=args.amp, static=False)
        wall = time.perf_counter() - t0
        b_steps, _ = _split(results, wall)
        # right after, same load; cells of this batch (a random few): a batch groups
        # similar cells, so random ones cost more or less (at K=1, twice its conv cost)
        n_single = min(k, n_singles)
        pick = np.random.default_rng(args.seed + k).choice(k, n_single, replace=False)
        s_wall, s_steps = _time_single([archs[int(i)] for i in pick], p, args.device)
        s_ms = 1000 * s_steps / n_single / measured_steps  # one model
        b_ms = 1000 * b_steps / measured_steps  # all K models
        s_rate, b_rate = n_single / s_wall, k / wall
        print(
            f"{k:>5} {s_rate:>13.2f} {b_rate:>14.2f} {b_rate / s_rate:>7.2f}x "
            f"{s_ms:>12.1f} {b_ms:>13.1f} {s_ms * k / b_ms:>7.2f}x {batch_waste(archs):>6.2f} "
            f"{gib:>8.2f} {full_steps * s_ms / 1000:>9.2f} {full_steps * b_ms / k / 1000:>9.2f}"
        )
    print(
        "c-s/s: cell-seeds per second, measured end to end on the truncated protocol (model "
        "building, training, evaluation); ms/step: one training step of one model (single) "
        "or of all K models (batched); step gain: single ms/step x K / batched ms/step; "
        "waste: share of cell-edge compute no model keeps; act GiB: estimated activation "
        f"memory of a batched step; steps s/cell: training-step seconds per cell-seed for "
        f"the full protocol ({full_steps} steps)"
    )


if __name__ == "__main__":
    main()
