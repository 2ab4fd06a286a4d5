"""Graph features: names, values on known networks, and the analytic params/FLOPs counter."""

from __future__ import annotations

import numpy as np
import pytest

from nasrepro.spaces import get_space, list_spaces
from nasrepro.surrogate import count_flops, count_params, feature_names, features, features_many


@pytest.mark.parametrize("space_name", list_spaces())
def test_features_shape_finite_and_stable(space_name: str) -> None:
    space = get_space(space_name)
    rng = np.random.default_rng(0)
    specs = [space.lower(space.sample(rng), C=8, N=1, reduction="pool") for _ in range(20)]
    X = features_many(specs)
    assert X.shape == (20, len(feature_names()))
    assert np.isfinite(X).all() and (X >= 0).all()
    np.testing.assert_array_equal(X[3], features(specs[3]))
    assert len(set(feature_names())) == len(feature_names())


def test_feature_values_of_a_known_cell() -> None:
    space = get_space("cell")
    # 0->1 conv3x3, 0->2 none, 1->2 avgpool, 0->3 skip, 1->3 conv3x3, 2->3 conv3x3
    arch = space.parse(
        "|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    )
    f = dict(zip(feature_names(), features(space.lower(arch, C=16, N=2, reduction="pool"))))
    # paths 0-3 (skip), 0-1-3 (conv, conv), 0-1-2-3 (conv, pool, conv)
    assert (f["paths.len1"], f["paths.len2"], f["paths.len3"], f["paths.total"]) == (1, 1, 1, 3)
    assert f["paths.with.conv3x3"] == 2 and f["paths.with.avgpool3x3"] == 1
    assert f["paths.param_free"] == 1
    # parametric ops per path: 0, 2, 2; receptive-field growth: 0, 4, 6 (pools count too)
    assert (f["paths.param1"], f["paths.param2"], f["paths.param3+"]) == (0, 2, 0)
    assert (f["paths.rf0"], f["paths.rf2"], f["paths.rf4"], f["paths.rf6+"]) == (1, 0, 1, 1)
    assert (f["paths.conv_rf0"], f["paths.conv_rf4"], f["paths.conv_rf6+"]) == (1, 2, 0)
    assert (f["paths.at0.skip"], f["paths.at0.conv3x3"]) == (1, 2)
    assert (f["paths.at1.conv3x3"], f["paths.at1.avgpool3x3"], f["paths.at2.conv3x3"]) == (1, 1, 1)
    assert (f["paths.last.skip"], f["paths.last.conv3x3"], f["paths.last.avgpool3x3"]) == (1, 2, 0)
    assert (f["cell.from_input.conv3x3"], f["cell.from_input.skip"]) == (1, 1)
    assert (f["cell.to_output.conv3x3"], f["cell.to_output.skip"]) == (2, 1)
    assert f["ops.s0.conv3x3"] == 2 * 3 and f["ops.s2.skip"] == 2
    assert f["cell.live_edges"] == 5 and f["cell.output_in_degree"] == 3
    assert (f["cell.longest_path"], f["cell.shortest_path"]) == (3, 1)
    # 3 stages of 2 cells; pool reductions have no depth: longest 6 cells x 3 ops
    assert (f["depth.ops_max"], f["depth.param_max"], f["depth.param_min"]) == (18, 12, 0)
    assert f["blocks.pool"] == 2 and f["blocks.dead_cells"] == 0
    assert (f["width.s0.mean"], f["width.s2.max"], f["width.out"]) == (16, 64, 64)


def test_dead_cell_is_flagged_and_runs_no_flops() -> None:
    space = get_space("cell")
    dead = space.parse("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|")
    spec = space.lower(dead, C=8, N=1, reduction="pool")
    f = dict(zip(feature_names(), features(spec)))
    assert f["blocks.dead_cells"] == 3 and f["paths.total"] == 0
    assert count_params(spec) > 8 * 8 * 3 * 2  # modules of dead edges still count
    # stem conv and the head only
    assert count_flops(spec) == 2 * 8 * 3 * 40 + 2 * 32 * 10


def test_input_shape_is_checked() -> None:
    spec = get_space("chain").lower(get_space("chain").parse("conv3x3@1.0|skip@1.0"))
    with pytest.raises(ValueError, match="input_shape"):
        features(spec, input_shape=(40,))


@pytest.mark.parametrize("space_name", list_spaces())
@pytest.mark.parametrize("reduction", ["resblock", "poolreduce", "pool"])
@pytest.mark.parametrize("input_shape", [(1, 40), (3, 8, 8)])
def test_counts_match_the_compiled_torch_network(
    space_name: str, reduction: str, input_shape: tuple[int, ...]
) -> None:
    """The analytic counter agrees with bench.harness.compiler.compile_network and torch's FlopCounterMode."""
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    from nasrepro.bench.harness._compiler import compile_network

    space = get_space(space_name)
    rng = np.random.default_rng(len(space_name) + len(reduction))
    for _ in range(2):
        spec = space.lower(space.sample(rng), C=8, N=2, reduction=reduction)
        net = compile_network(spec, input_shape[0], 10, dims=len(input_shape) - 1).eval()
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            net(torch.zeros(1, *input_shape))
        assert count_params(spec, input_shape, 10) == net.num_parameters()
        assert count_flops(spec, input_shape, 10) == fc.get_total_flops()


def test_skip_with_a_projection_counts_as_parametric() -> None:
    """A chain skip at a reduction or width change is a 1x1 conv in the compiled net."""
    space = get_space("chain")

    def f(arch: str) -> dict[str, float]:
        spec = space.lower(space.parse(arch), C=16, N=1)
        return dict(zip(feature_names(), features(spec)))

    # 3 layers: reductions at layers 1 and 2, so the skip (layer 1) projects.
    proj = f("conv3x3@1.0|skip@1.0|conv3x3@1.0")
    assert proj["depth.param_max"] == 3 and proj["cell.projections"] == pytest.approx(1 / 3)
    assert proj["paths.param1"] == 1 and proj["paths.conv_rf0"] == pytest.approx(1 / 3)
    # 6 layers: reductions at 2 and 4; the skip at layer 1 keeps 16 channels: identity.
    ident = f("conv3x3@1.0|skip@1.0|conv3x3@1.0|conv3x3@1.0|conv3x3@1.0|conv3x3@1.0")
    assert ident["depth.param_max"] == 5 and ident["cell.projections"] == 0
    assert ident["paths.param_free"] == pytest.approx(1 / 6)
    assert f("conv3x3@1.0|skip@0.5|conv3x3@1.0|conv3x3@1.0")["cell.projections"] > 0
