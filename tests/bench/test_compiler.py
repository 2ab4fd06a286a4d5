"""The compiler: parameter counts equal NAS-Bench-201's reference; dead edges are inert."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from nasrepro.bench.harness._compiler import (
    CellModule,
    GlobalAvgPool,
    compile_network,
    spatial_mean,
)
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


@pytest.mark.parametrize("dims", [1, 2])
def test_global_pooling_on_cpu_is_the_kernel_the_tables_were_trained_with(dims: int) -> None:
    """Bitwise the adaptive average pooling of the shipped tables, forward and backward."""
    shape = (16, 24, 10) if dims == 1 else (16, 24, 8, 8)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0), requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    ref = (torch.nn.AdaptiveAvgPool1d(1) if dims == 1 else torch.nn.AdaptiveAvgPool2d(1))(x_ref)
    out = GlobalAvgPool(dims)(x)
    assert torch.equal(out, ref)
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
    out.backward(g)
    ref.backward(g)
    assert x.grad is not None and x_ref.grad is not None
    assert torch.equal(x.grad, x_ref.grad)


@pytest.mark.parametrize("dims", [1, 2])
def test_global_pooling_off_cpu_agrees_with_the_kernel_to_rounding(dims: int) -> None:
    """Off the CPU (CUDA has no deterministic adaptive-pooling backward) it is a plain mean."""
    shape = (16, 24, 10) if dims == 1 else (16, 24, 8, 8)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    mean = spatial_mean(x)
    assert mean.shape == GlobalAvgPool(dims)(x).shape
    assert torch.allclose(mean, GlobalAvgPool(dims)(x), rtol=0, atol=1e-6)
    meta = GlobalAvgPool(dims)(torch.empty(shape, device="meta"))
    assert meta.shape == mean.shape and meta.device.type == "meta"


@pytest.mark.gpu
@pytest.mark.parametrize("protocol", ["mnist1d-tiny", "cifar10-nb201"])
def test_a_network_trains_under_deterministic_mode_on_cuda(protocol: str, space) -> None:
    """Deterministic mode raises on CUDA ops without a deterministic kernel; none is used."""
    from nasrepro.bench.harness import deterministic
    from nasrepro.tables import DATASET_SHAPES, get_protocol

    dev = torch.device("cuda")
    deterministic(dev)
    p = get_protocol(protocol)
    arch = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|"
    spec = space.lower(space.parse(arch), **p.macro())
    (in_shape, n_classes) = DATASET_SHAPES[p.dataset]
    shape = (8, *in_shape)
    grads = []
    for _ in range(2):
        torch.manual_seed(0)
        net = compile_network(spec, shape[1], n_classes, len(in_shape) - 1).to(dev)
        x = torch.randn(shape, generator=torch.Generator().manual_seed(2)).to(dev)
        loss = torch.nn.functional.cross_entropy(net(x), torch.arange(8, device=dev) % n_classes)
        loss.backward()
        grads.append(torch.cat([q.grad.flatten() for q in net.parameters() if q.grad is not None]))
    assert torch.equal(grads[0], grads[1])
