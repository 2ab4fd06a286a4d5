"""Contract tests inherited by every registered search space (needs pytest and hypothesis).

Enrol your own space from a test file of yours: import the module that registers it,
then the tests::

    import my_space  # registers "tinycell" (or set $NASREPRO_PLUGINS)
    from nasrepro.spaces.testing import *  # noqa: F401,F403

and run ``pytest that_file.py -k tinycell``. The tests are parametrised over
:func:`~nasrepro.spaces.list_spaces` when this module is imported, so every space
registered by then is enrolled: string and dict round trips, mutation at distance 1,
canonical idempotence, neighbours, determinism of sampling and lowering, fixed-length
encodings, a symmetric distance, clear errors on malformed strings, the categorical
view where the space has one, and a compile-and-backward pass of sampled
architectures through the torch compiler.

Two tests reach above the spaces layer, inside the test only: the compile test imports
torch and the harness's compiler, and the command-line test the ``nasrepro`` CLI.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nasrepro.spaces._base import Architecture, SearchSpace, get_space, list_spaces

__all__ = [
    "test_string_and_dict_round_trip",
    "test_mutate_returns_valid_different_arch",
    "test_canonical_is_idempotent",
    "test_neighbors_are_valid_and_at_distance_one",
    "test_sample_is_deterministic",
    "test_sample_is_not_constant",
    "test_encode_has_fixed_length",
    "test_distance_is_a_symmetric_premetric",
    "test_malformed_strings_raise_value_error",
    "test_sampled_arch_compiles_and_trains",
    "test_lower_is_deterministic",
    "test_representatives_are_one_canonical_member_per_class",
    "test_decisions_round_trip_where_a_space_has_them",
    "test_every_offered_encoding_encodes_and_no_other",
    "test_index_of_is_the_enumeration_position",
    "test_cli_canonical_json_gives_the_index_where_the_space_has_one",
]

SPACES = list_spaces()
SEEDS = st.integers(0, 2**32 - 1)
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _space(name: str) -> SearchSpace[Architecture]:
    return get_space(name)


def _sample(space: SearchSpace[Architecture], seed: int) -> Architecture:
    return space.sample(np.random.default_rng(seed))


@pytest.mark.parametrize("name", SPACES)
@FAST
@given(seed=SEEDS)
def test_string_and_dict_round_trip(name: str, seed: int) -> None:
    space = _space(name)
    arch = _sample(space, seed)
    s = arch.to_string()
    back = space.parse(s)
    assert back == arch
    assert back.to_string() == s
    assert hash(back) == hash(arch)
    assert type(arch).from_dict(arch.to_dict()) == arch
    assert arch.to_dict()["space"] == name


@pytest.mark.parametrize("name", SPACES)
@FAST
@given(seed=SEEDS, mseed=SEEDS)
def test_mutate_returns_valid_different_arch(name: str, seed: int, mseed: int) -> None:
    space = _space(name)
    arch = _sample(space, seed)
    child = space.mutate(arch, np.random.default_rng(mseed))
    assert isinstance(child, type(arch))
    assert child != arch
    assert space.parse(child.to_string()) == child
    assert space.distance(arch, child) == 1


@pytest.mark.parametrize("name", SPACES)
@FAST
@given(seed=SEEDS)
def test_canonical_is_idempotent(name: str, seed: int) -> None:
    space = _space(name)
    arch = _sample(space, seed)
    c = space.canonical(arch)
    assert isinstance(c, type(arch))
    assert space.canonical(c) == c


@pytest.mark.parametrize("name", SPACES)
@settings(max_examples=15, deadline=None)
@given(seed=SEEDS)
def test_neighbors_are_valid_and_at_distance_one(name: str, seed: int) -> None:
    space = _space(name)
    arch = _sample(space, seed)
    nbrs = space.neighbors(arch)
    assert nbrs
    assert len(set(nbrs)) == len(nbrs)
    assert arch not in nbrs
    for n in nbrs:
        assert space.parse(n.to_string()) == n
        assert space.distance(arch, n) == 1
        assert space.distance(n, arch) == 1


@pytest.mark.parametrize("name", SPACES)
@FAST
@given(seed=SEEDS)
def test_sample_is_deterministic(name: str, seed: int) -> None:
    space = _space(name)
    assert _sample(space, seed) == _sample(space, seed)
    rng = np.random.default_rng(seed)
    first = [space.sample(rng) for _ in range(3)]
    rng = np.random.default_rng(seed)
    assert [space.sample(rng) for _ in range(3)] == first


@pytest.mark.parametrize("name", SPACES)
def test_sample_is_not_constant(name: str) -> None:
    space = _space(name)
    rng = np.random.default_rng(0)
    assert len({space.sample(rng) for _ in range(20)}) > 1


@pytest.mark.parametrize("name", SPACES)
@FAST
@given(seed=SEEDS)
def test_encode_has_fixed_length(name: str, seed: int) -> None:
    space = _space(name)
    x = space.encode(_sample(space, seed))
    ref = space.encode(_sample(space, 0))
    assert x.ndim == 1
    assert x.shape == ref.shape
    assert np.isfinite(x).all()


@pytest.mark.parametrize("name", SPACES)
@FAST
@given(seed=SEEDS)
def test_distance_is_a_symmetric_premetric(name: str, seed: int) -> None:
    space = _space(name)
    a, b = _sample(space, seed), _sample(space, seed + 1)
    assert space.distance(a, a) == 0
    assert space.distance(a, b) == space.distance(b, a)
    assert (space.distance(a, b) == 0) == (a == b)


@pytest.mark.parametrize("name", SPACES)
def test_malformed_strings_raise_value_error(name: str) -> None:
    space = _space(name)
    for bad in ("", "???", _sample(space, 0).to_string() + "#"):
        with pytest.raises(ValueError, match="position|expected"):
            space.parse(bad)


@pytest.mark.parametrize("name", SPACES)
@pytest.mark.parametrize("dims", [1, 2])
def test_sampled_arch_compiles_and_trains(name: str, dims: int) -> None:
    """Two sampled architectures lower, compile to torch and take a backward pass."""
    torch = pytest.importorskip("torch")
    from nasrepro.bench.harness._compiler import compile_network

    space = _space(name)
    torch.manual_seed(0)
    shape = (2, 1, 40) if dims == 1 else (2, 3, 16, 16)
    for seed in range(2):
        arch = _sample(space, seed)
        spec = space.lower(arch, C=4, N=1)
        assert spec.arch == arch.to_string()
        net = compile_network(spec, shape[1], 5, dims=dims)
        x = torch.randn(*shape, requires_grad=True)
        out = net(x)
        assert out.shape == (2, 5)
        assert torch.isfinite(out).all()
        out.square().mean().backward()
        assert all(p.grad is not None for p in net.classifier.parameters())


@pytest.mark.parametrize("name", SPACES)
@FAST
@given(seed=SEEDS)
def test_lower_is_deterministic(name: str, seed: int) -> None:
    space = _space(name)
    arch = _sample(space, seed)
    a, b = space.lower(arch, C=4, N=1), space.lower(arch, C=4, N=1)
    assert a == b
    assert a.digest() == b.digest()


@pytest.mark.parametrize("name", SPACES)
def test_representatives_are_one_canonical_member_per_class(name: str) -> None:
    space = _space(name)
    if not space.bounded:
        with pytest.raises(ValueError, match="unbounded"):
            space.representatives()
        return
    reps = space.representatives()
    # an override (a faster form) must give what the default gives: enumerate + canonical
    assert reps == SearchSpace.representatives(space)
    assert all(space.canonical(a) == a for a in reps) and len(set(reps)) == len(reps)


@pytest.mark.parametrize("name", SPACES)
@FAST
@given(seed=SEEDS)
def test_decisions_round_trip_where_a_space_has_them(name: str, seed: int) -> None:
    space = _space(name)
    dec = space.decisions()
    if dec is None:
        return  # no categorical view (yet): strategies that need one skip this space
    arch = _sample(space, seed)
    codes = dec.to_codes(arch)
    assert codes.shape == (dec.n_decisions,) and codes.dtype == np.int64
    assert ((codes >= 0) & (codes < dec.n_choices)).all()
    assert dec.from_codes(codes) == arch
    assert len(dec.names) == len(dec.choices) == dec.n_decisions
    assert [len(c) for c in dec.choices] == dec.n_choices.tolist()


@pytest.mark.parametrize("name", SPACES)
def test_every_offered_encoding_encodes_and_no_other(name: str) -> None:
    space = _space(name)
    kinds = space.encodings()
    assert kinds[0] == "adjacency"  # the default of encode()
    arch = _sample(space, 0)
    for kind in kinds:
        assert space.encode(arch, kind).ndim == 1
    with pytest.raises(ValueError, match="unknown encoding"):
        space.encode(arch, "not-an-encoding")


@pytest.mark.parametrize("name", SPACES)
def test_index_of_is_the_enumeration_position(name: str) -> None:
    space = _space(name)
    arch = _sample(space, 0)
    index = space.index_of(arch)
    if index is None:  # the default: no enumeration position (an unbounded space has none)
        return
    assert space.bounded
    assert next(a for i, a in enumerate(space.enumerate()) if i == index) == arch


@pytest.mark.parametrize("name", SPACES)
def test_cli_canonical_json_gives_the_index_where_the_space_has_one(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from nasrepro.bench.cli import main

    space = _space(name)
    arch = _sample(space, 1)
    assert main(["space", "canonical", arch.to_string(), "--space", name, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    index = space.index_of(space.canonical(arch))
    assert out.get("canonical_index") == index and ("canonical_index" in out) == (index is not None)
