"""The supernet: a fixed path computes what the stand-alone compiled cell computes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasrepro.bench.harness import compile_network
from nasrepro.bench.oneshot import Supernet, candidate_ops
from nasrepro.spaces import ConfigError, Op, get_space
from nasrepro.tables import get_protocol

CELL = get_space("cell")

#: Edge cases beside random cells: empty, skip-only, dead edges, a cut-off node.
SPECIAL = [
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",
    "|none~0|+|none~0|nor_conv_3x3~1|+|nor_conv_1x1~0|nor_conv_3x3~1|avg_pool_3x3~2|",
    "|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|none~0|none~1|nor_conv_1x1~2|",
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|",
]


def _cells(n: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [CELL.parse(s) for s in SPECIAL] + [CELL.sample(rng) for _ in range(n)]


def _randomize(net: torch.nn.Module) -> None:
    """Give every parameter (BN affine included) non-trivial values."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)


@pytest.mark.parametrize(
    ("protocol", "shape"),
    [("mnist1d-tiny", (8, 1, 40)), ("synthetic-smoke", (8, 1, 16))],
)
def test_a_fixed_path_computes_what_the_compiled_cell_computes(protocol: str, shape: tuple) -> None:
    p = get_protocol(protocol)
    torch.manual_seed(0)
    sup = Supernet(CELL, p, shape[1], 10, 1)
    _randomize(sup)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(2))
    for arch in _cells(25):
        codes = sup.codes_of(arch)
        net = sup.extract(codes)
        ref = compile_network(CELL.lower(arch, **p.macro()), shape[1], 10, 1)
        assert net.num_parameters() == ref.num_parameters()
        sup.set_path(codes)
        sup.train()
        net.train()
        assert torch.equal(sup(x), net(x)), arch.to_string()


def test_the_2d_nb201_macro_builds_by_the_same_code() -> None:
    """cifar10-nb201's skeleton (C=16, N=5, 2-D): equal to the compiled network."""
    p = get_protocol("cifar10-nb201")
    torch.manual_seed(0)
    sup = Supernet(CELL, p, 3, 10, 2)
    _randomize(sup)
    x = torch.randn((2, 3, 32, 32), generator=torch.Generator().manual_seed(2))
    for arch in _cells(2)[2:5]:
        codes = sup.codes_of(arch)
        net = sup.extract(codes)
        sup.set_path(codes)
        sup.train()
        net.train()
        assert torch.equal(sup(x), net(x))
    # every op of every edge of all 15 cells is there: 5 x 6 x 15 mixed-op modules
    assert sum(len(e.ops) for c in sup.net.cells if hasattr(c, "edges") for e in c.edges) == 450


def test_one_hot_weights_and_a_hard_sample_equal_the_path() -> None:
    """The relaxation with one-hot weights, and GDAS' hard sample, run the path's ops.

    On cells without ``none`` no edge is dead, so the weighted sum (which computes
    every edge) must equal the pruned path exactly.
    """
    p = get_protocol("mnist1d-tiny")
    torch.manual_seed(0)
    sup = Supernet(CELL, p, 1, 10, 1)
    _randomize(sup)
    sup.train()
    x = torch.randn((8, 1, 40), generator=torch.Generator().manual_seed(3))
    rng = np.random.default_rng(5)
    for _ in range(10):
        codes = tuple(int(v) for v in rng.integers(1, 5, 6))  # no none (index 0)
        one_hot = torch.nn.functional.one_hot(torch.tensor(codes), 5).float()
        sup.set_path(codes)
        want = sup(x)
        sup.set_weights(one_hot)
        assert torch.equal(sup(x), want)
        soft = torch.softmax(torch.randn(6, 5), -1).requires_grad_()
        sup.set_hard(one_hot + (soft - soft.detach()), codes)
        assert torch.equal(sup(x), want)


def test_candidate_ops_are_read_from_the_space() -> None:
    template, ops = candidate_ops(CELL, get_protocol("mnist1d-tiny").macro())
    assert len(template.edges) == 6
    assert ops[0] == [Op.NONE, Op.SKIP, Op.CONV1X1, Op.CONV3X3, Op.AVGPOOL3X3]
    assert all(row == ops[0] for row in ops)


@pytest.mark.parametrize("space", ["chain", "hierarchical"])
def test_a_space_without_a_one_shot_form_is_refused(space: str) -> None:
    with pytest.raises(ConfigError, match="one-shot"):
        Supernet(get_space(space), get_protocol("mnist1d-tiny"), 1, 10, 1)


def test_bad_paths_are_refused() -> None:
    sup = Supernet(CELL, get_protocol("synthetic-smoke"), 1, 4, 1)
    with pytest.raises(ValueError, match="6 op indices"):
        sup.set_path((0, 1, 2))
    with pytest.raises(ValueError, match="6 op indices"):
        sup.set_path((0, 1, 2, 3, 4, 5))
    with pytest.raises(RuntimeError, match="before the forward pass"):
        sup(torch.zeros(2, 1, 16))
