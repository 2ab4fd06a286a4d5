"""Harness overhead: ``nasrepro.bench.harness._train`` against a minimal hand-written loop.

Both train the same compiled model on the same tensors with the same optimizer,
learning-rate schedule, batch order and per-epoch evaluation of the validation and
test sets; the hand-written loop keeps no history and measures nothing else. The
harness also counts FLOPs and times inference once per trial (``static=True``, as a
sweep runs), so the script reports the ratio with and without those static figures.
Runs alternate (harness, loop, harness, ...) so that a busy machine affects both alike.

Usage:
    python benchmarks/train_overhead.py [--protocol mnist1d-tiny] [--cells 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from nasrepro.bench.harness._compiler import compile_network
from nasrepro.bench.harness._train import get_splits, prepare, resolve_spec, train
from nasrepro.spaces import get_space
from nasrepro.tables import get_protocol


def hand_loop(arch: str, protocol_name: str, seed: int) -> float:
    """Train like a user would by hand; returns the final validation accuracy."""
    p = get_protocol(protocol_name)
    spec, _, _ = resolve_spec(arch, p, "cell")
    d = prepare(get_splits(p), torch.device("cpu"))
    torch.manual_seed(seed)
    model = compile_network(spec, d.x_train.shape[1], d.num_classes, 1)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(
        model.parameters(), lr=p.lr, momentum=p.momentum, nesterov=True, weight_decay=p.weight_decay
    )
    n = len(d.y_train)
    steps = n // p.batch_size
    total = steps * p.epochs
    step = 0
    acc = 0.0
    for _ in range(p.epochs):
        model.train()
        perm = torch.randperm(n, generator=gen)
        for b in range(steps):
            for g in opt.param_groups:
                g["lr"] = 0.5 * p.lr * (1 + math.cos(math.pi * step / total))
            idx = perm[b * p.batch_size : (b + 1) * p.batch_size]
            loss = F.cross_entropy(model(d.x_train[idx]), d.y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
        model.eval()
        with torch.no_grad():
            acc = 100.0 * int((model(d.x_valid).argmax(1) == d.y_valid).sum()) / len(d.y_valid)
            (model(d.x_test).argmax(1) == d.y_test).float().mean().item()
    return acc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--protocol", default="mnist1d-tiny")
    ap.add_argument("--cells", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    space = get_space("cell")
    reps = np.array(space.representative_indices())
    rng = np.random.default_rng(0)
    cells = [space.arch_type.from_index(int(i)).to_string() for i in rng.choice(reps, args.cells)]
    train(cells[0], args.protocol, 0)  # warm-up: dataset cache, first-call costs
    hand_loop(cells[0], args.protocol, 0)

    t_full: list[float] = []
    t_nostatic: list[float] = []
    t_hand: list[float] = []
    for _ in range(args.repeats):
        for arch in cells:
            t0 = time.perf_counter()
            r = train(arch, args.protocol, 0)
            t_full.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            train(arch, args.protocol, 0, static=False)
            t_nostatic.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            acc = hand_loop(arch, args.protocol, 0)
            t_hand.append(time.perf_counter() - t0)
            if abs(acc - r.final["valid_acc"]) > 1e-9:
                raise SystemExit(f"the loops disagree on {arch}: {acc} vs {r.final['valid_acc']}")

    hand = statistics.median(t_hand)
    print(f"protocol {args.protocol}, {args.cells} cells x {args.repeats} repeats, 1 thread")
    print(f"{'loop':<34} {'median s/cell-seed':>20} {'ratio':>8}")
    print(f"{'hand-written loop (baseline)':<34} {hand:>20.3f} {1.0:>8.3f}")
    nost = statistics.median(t_nostatic)
    print(f"{'nasrepro train, static=False':<34} {nost:>20.3f} {nost / hand:>8.3f}")
    full = statistics.median(t_full)
    print(f"{'nasrepro train (as a sweep runs)':<34} {full:>20.3f} {full / hand:>8.3f}")
    print("both loops reached identical validation accuracy on every cell")


if __name__ == "__main__":
    main()
