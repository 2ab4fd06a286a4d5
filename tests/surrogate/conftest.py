"""Fixtures: small real chain sweeps (train and held-out samples), built into tables.

They train for real under ``synthetic-smoke`` (about 0.3 s an architecture), so they
exercise the whole path from sweep results to a surrogate. Their accuracies carry
little signal; quality is tested on the real MNIST-1D cell fixture table.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nasrepro.tables import Table, build

PROTOCOL = "synthetic-smoke"
SEEDS = [0, 1]
N_TRAIN, N_TEST = 6, 4


def _sweep_table(root: Path, name: str, n: int, sample_seed: int, space: str = "chain") -> Path:
    import torch

    from nasrepro.bench.harness._sweep import sweep

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        sweep(
            space,
            PROTOCOL,
            SEEDS,
            root / name,
            sample=n,
            sample_seed=sample_seed,
            chunk_size=n,
            workers=1,
        )
    finally:
        torch.set_num_threads(threads)
    path = root / f"{name}.h5"
    build(root / name, path)
    return path


@pytest.fixture(scope="session")
def chain_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with ``chain-train.h5`` (``N_TRAIN`` archs, sample seed 0) and
    ``chain-test.h5`` (``N_TEST`` archs, sample seed 1), both with seeds 0 and 1."""
    root = tmp_path_factory.mktemp("chain")
    _sweep_table(root, "chain-train", N_TRAIN, 0)
    _sweep_table(root, "chain-test", N_TEST, 1)
    return root


@pytest.fixture(scope="session")
def hier_train_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``N_TRAIN`` hierarchical archs (sample seed 0), seeds 0 and 1, under the chain
    fixtures' protocol: a second space to fit beside the chain."""
    return _sweep_table(tmp_path_factory.mktemp("hier"), "hier-train", N_TRAIN, 0, "hierarchical")


@pytest.fixture
def chain_train(chain_dir: Path) -> Table:
    return Table.open(chain_dir / "chain-train.h5")


@pytest.fixture
def chain_test(chain_dir: Path) -> Table:
    return Table.open(chain_dir / "chain-test.h5")


@pytest.fixture(scope="session")
def cell_table(smoke_table: Table) -> Table:
    """The real MNIST-1D cell fixture (whole space, 1 seed, 2 epochs)."""
    return smoke_table
