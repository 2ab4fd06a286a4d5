"""Every built-in space has a fixed-length categorical view (``SearchSpace.decisions()``)."""

from __future__ import annotations

import numpy as np
import pytest

from nasrepro.spaces import ChainSpace, HierSpace, SpaceError, get_space


@pytest.mark.parametrize("name", ["cell", "chain", "hierarchical"])
def test_codes_round_trip_and_every_code_vector_is_an_architecture(name: str) -> None:
    space = get_space(name)
    dec = space.decisions()
    assert dec is not None and len(dec.names) == dec.n_decisions == len(dec.choices)
    rng = np.random.default_rng(0)
    for _ in range(1000):
        a = space.sample(rng)
        codes = dec.to_codes(a)
        assert codes.shape == (dec.n_decisions,) and (codes < dec.n_choices).all()
        assert dec.from_codes(codes) == a
    for _ in range(300):  # what REINFORCE and BOHB draw: any code within the choice counts
        codes = rng.integers(0, dec.n_choices)
        a = dec.from_codes(codes)
        assert space.parse(a.to_string()) == a


def test_the_chain_view_is_length_then_ops_then_widths() -> None:
    dec = ChainSpace(L_max=4, L_min=2).decisions()
    assert dec.names == (
        "length",
        "op0",
        "op1",
        "op2",
        "op3",
        "width0",
        "width1",
        "width2",
        "width3",
    )
    assert dec.n_choices.tolist() == [3] + [6] * 4 + [4] * 4
    a = dec.from_codes(np.array([1, 0, 5, 2, 3, 2, 3, 0, 1]))  # length 3: position 3 unused
    assert a.to_string() == "conv3x3@1.0|skip@1.5|dwsep3x3@0.5"
    assert dec.to_codes(a).tolist() == [1, 0, 5, 2, 0, 2, 3, 0, 0]
    fixed = ChainSpace(L_max=3, L_min=3).decisions()
    assert "length" not in fixed.names and fixed.n_decisions == 6


def test_the_hierarchical_view_is_every_edge_label() -> None:
    space = HierSpace(M=2, n2=3, n3=3)
    dec = space.decisions()
    assert dec.n_decisions == 2 * 3 + 3
    assert dec.choices[-1] == ("m0", "m1", "none")
    a = dec.from_codes(np.array([0, 6, 5, 1, 1, 1, 2, 0, 1]))
    assert (
        a.to_string()
        == "m0=(conv1x1|none,identity) m1=(dwconv3x3|dwconv3x3,dwconv3x3) top=(none|m0,m1)"
    )


@pytest.mark.parametrize("name", ["chain", "hierarchical"])
def test_out_of_range_codes_are_refused(name: str) -> None:
    dec = get_space(name).decisions()
    with pytest.raises(SpaceError, match="codes within their choice counts"):
        dec.from_codes(dec.n_choices)
    with pytest.raises(SpaceError, match="codes within their choice counts"):
        dec.from_codes(np.zeros(dec.n_decisions + 1, dtype=np.int64))
