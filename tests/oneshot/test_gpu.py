"""The one-shot track on CUDA (skipped without a GPU; run by benchmarks/gpu_check.sh)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasrepro.bench.harness import deterministic
from nasrepro.bench.oneshot import METHODS, Supernet, search
from nasrepro.spaces import get_space
from nasrepro.tables import get_protocol

pytestmark = pytest.mark.gpu
CELL = get_space("cell")


def test_a_path_computes_the_compiled_cell_on_cuda() -> None:
    dev = torch.device("cuda")
    deterministic(dev)
    p = get_protocol("mnist1d-tiny")
    torch.manual_seed(0)
    sup = Supernet(CELL, p, 1, 10, 1).to(dev)
    x = torch.randn((64, 1, 40), generator=torch.Generator().manual_seed(2)).to(dev)
    rng = np.random.default_rng(0)
    for _ in range(10):
        codes = sup.codes_of(CELL.sample(rng))
        net = sup.extract(codes).to(dev)
        sup.set_path(codes)
        sup.train()
        net.train()
        assert torch.equal(sup(x), net(x))


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_runs_and_repeats_bitwise_on_cuda(name: str) -> None:
    a = search(name, "synthetic-smoke", seed=1, device="cuda", epochs=2)
    b = search(name, "synthetic-smoke", seed=1, device="cuda", epochs=2)
    assert a.device == "cuda" and CELL.parse(a.arch)
    assert a.arch == b.arch
    assert [r.supernet_loss for r in a.history] == [r.supernet_loss for r in b.history]
    assert [r.inherited_acc for r in a.history] == [r.inherited_acc for r in b.history]
