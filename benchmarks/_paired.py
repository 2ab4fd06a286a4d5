"""Paired final-regret comparisons of two variants of one strategy (shared by the
``*_mutation.py`` benchmarks): each seed runs both, and the difference is reported with
a 95% normal interval."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np


def report_pairs(
    pair: Callable[[tuple[str, str, int]], tuple[float, float, float]],
    benchmarks: str,
    budget: str,
    seeds: int,
    jobs: int,
    labels: tuple[str, str],
) -> None:
    """Run ``pair((benchmark, budget, seed))`` -> ``(ours, theirs, seconds)`` for every
    seed of every comma-separated benchmark, and print one line per benchmark."""
    for name in benchmarks.split(","):
        tasks = [(name, budget, s) for s in range(seeds)]
        with ProcessPoolExecutor(jobs) as ex:
            res: list[Any] = list(ex.map(pair, tasks, chunksize=8))
        r = np.array(res)
        diff = r[:, 0] - r[:, 1]
        half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
        print(
            f"{name} ({budget}, {seeds} paired seeds): final regret {labels[0]} "
            f"{r[:, 0].mean():.3f}, {labels[1]} {r[:, 1].mean():.3f}; paired difference "
            f"{diff.mean():+.3f} +- {half:.3f} (95%); {r[:, 2].sum():.0f} s of runs"
        )
