"""The compiler: parameter counts equal NAS-Bench-201's reference; dead edges are inert."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from nasrepro.bench.harness._compiler import CellModule, compile_network
from nasrepro.spaces import CellArch, CellSpace, get_space

N_CELLS = 15_625
CHUNK = 1_000
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
#: Edge 1<-0 is a conv whose node 1 feeds nothing: a dead edge.
DEAD_CONV = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
DEAD_NONE = "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def space() -> CellSpace:
    sp = get_space("cell")
    assert isinstance(sp, CellSpace)
    return sp


def _reference_params(arch_str: str) -> int:
    models = pytest.importorskip("xautodl.models")
    config_utils = pytest.importorskip("xautodl.config_utils")
    config = config_utils.dict2config(
        {"name": "infer.tiny", "C": 16, "N": 5, "arch_str": arch_str, "num_classes": 10}, None
    )
    with torch.device("meta"):
        net = models.get_cell_based_tiny_net(config)
    return sum(p.numel() for p in net.parameters())


def _our_params(space: CellSpace, arch: CellArch) -> int:
    with torch.device("meta"):
        net = compile_network(space.lower(arch, C=16, N=5), 3, 10, dims=2)
    return net.num_parameters()


def _check_indices(space: CellSpace, indices: list[int]) -> None:
    mismatches = []
    for i in indices:
        arch = CellArch.from_index(i)
        ref, ours = _reference_params(arch.to_string()), _our_params(space, arch)
        if ref != ours:
            mismatches.append((i, arch.to_string(), ref, ours))
    assert not mismatches, f"{len(mismatches)} cells differ, first: {mismatches[:3]}"


def test_param_counts_match_reference_on_a_sample(space: CellSpace) -> None:
    rng = np.random.default_rng(0)
    indices = [0, N_CELLS - 1, 9918, *rng.choice(N_CELLS, 27, replace=False).tolist()]
    _check_indices(space, indices)


@pytest.mark.slow
@pytest.mark.parametrize("start", range(0, N_CELLS, CHUNK))
def test_param_counts_match_reference_on_all_cells(space: CellSpace, start: int) -> None:
    _check_indices(space, list(range(start, min(start + CHUNK, N_CELLS))))


def test_docstring_example_count(space: CellSpace) -> None:
    arch = space.parse(
        "|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    )
    assert _our_params(space, arch) == 802_426


@pytest.mark.parametrize("dims", [1, 2])
def test_all_none_cells_compile(space: CellSpace, dims: int) -> None:
    net = compile_network(space.lower(space.parse(ALL_NONE), C=4, N=2), 3, 7, dims=dims)
    x = torch.randn(2, 3, 16) if dims == 1 else torch.randn(2, 3, 8, 8)
    out = net(x)
    assert out.shape == (2, 7)
    out.sum().backward()
    # The cells have no parameters; the stem is cut off from the logits.
    cells = [m for m in net.cells if isinstance(m, CellModule)]
    assert len(cells) == 6 and all(not list(c.parameters()) for c in cells)
    assert net.stem[0].weight.grad is None


def test_dead_edge_modules_exist_but_do_not_matter(space: CellSpace) -> None:
    dead, plain = space.parse(DEAD_CONV), space.parse(DEAD_NONE)
    torch.manual_seed(0)
    net = compile_network(space.lower(dead, C=4, N=1), 1, 3, dims=1)
    # The dead 3x3 conv keeps its parameters (ReLU-Conv-BN: 4*4*3 weights + 2*4 BN).
    extra = net.num_parameters() - (
        compile_network(space.lower(plain, C=4, N=1), 1, 3, dims=1).num_parameters()
    )
    assert extra == (4 * 4 * 3 + 8) + (8 * 8 * 3 + 16) + (16 * 16 * 3 + 32)
    net.eval()
    x = torch.randn(2, 1, 40)
    before = net(x)
    dead_modules = [m.layers[0] for m in net.cells if isinstance(m, CellModule)]
    assert len(dead_modules) == 3
    with torch.no_grad():
        for mod in dead_modules:
            for p in mod.parameters():
                p.add_(torch.randn_like(p))
    torch.testing.assert_close(net(x), before, rtol=0, atol=0)
    net(x).sum().backward()
    assert all(p.grad is None for mod in dead_modules for p in mod.parameters())


def test_compile_rejects_bad_arguments(space: CellSpace) -> None:
    spec = space.lower(space.parse(ALL_NONE), C=4, N=1)
    with pytest.raises(ValueError, match="dims"):
        compile_network(spec, 3, 10, dims=3)
    with pytest.raises(ValueError, match="positive"):
        compile_network(spec, 0, 10)
