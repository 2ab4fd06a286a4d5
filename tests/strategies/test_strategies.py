"""Registry, loading, and the behaviour of individual strategies."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from nasrepro.spaces import CELL_OPS, CellArch, get_space
from nasrepro.strategies import (
    BOHB,
    LocalSearch,
    MLPEnsemble,
    RandomSearch,
    Reinforce,
    Strategy,
    Trial,
    check_strategy,
    drive,
    expected_improvement,
    fit_gp,
    get_strategy,
    hyperband_brackets,
    list_strategies,
    load_strategy,
    register_strategy,
)
from nasrepro.strategies._checks import StrategyContractError
from nasrepro.tables import Evaluation, TabularBenchmark

EXPECTED = {
    "random-search",
    "regularized-evolution",
    "reinforce",
    "gp-bo",
    "bananas",
    "local-search",
    "successive-halving",
    "hyperband",
    "bohb",
}


def test_registry_lists_the_issue_strategies() -> None:
    assert EXPECTED <= set(list_strategies())
    for name in EXPECTED:
        cls = get_strategy(name)
        assert cls.name == name
        assert cls.__doc__ and any(str(y) in cls.__doc__ for y in range(2012, 2022)), name


def test_registry_refuses_duplicates_and_unknown_names() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_strategy("random-search")(RandomSearch)
    with pytest.raises(ValueError, match="choose one of"):
        get_strategy("no-such-strategy")


def test_load_strategy_from_module_and_file(tmp_path: Path) -> None:
    assert load_strategy("nasrepro.strategies:RandomSearch") is RandomSearch
    assert load_strategy("local-search") is LocalSearch
    f = tmp_path / "mine.py"
    f.write_text(
        textwrap.dedent(
            """
            from nasrepro.strategies import RandomSearch

            class Mine(RandomSearch):
                pass

            NOT_A_STRATEGY = 3
            """
        )
    )
    cls = load_strategy(f"{f}:Mine")
    assert issubclass(cls, Strategy) and cls.__name__ == "Mine"
    with pytest.raises(ValueError, match="not a nasrepro.strategies.Strategy"):
        load_strategy(f"{f}:NOT_A_STRATEGY")
    with pytest.raises(ValueError, match="no attribute"):
        load_strategy(f"{f}:Missing")
    with pytest.raises(ValueError, match="cannot import"):
        load_strategy("no_such_module_xyz:Cls")
    with pytest.raises(ValueError, match="does not exist"):
        load_strategy(f"{tmp_path}/absent.py:Cls")


def test_a_class_object_or_a_main_class_is_refused_with_the_fix() -> None:
    """From Python both gave "argument of type 'ABCMeta' is not iterable" or
    "__main__.__spec__ is None"."""
    with pytest.raises(ValueError, match=r"'path/to/file.py:ClassName'.*not as the object"):
        load_strategy(RandomSearch)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"move it into a file and pass 'that_file.py:Mine'"):
        load_strategy("__main__:Mine")


def test_a_module_in_the_current_directory_is_named_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`examples.my_strategy:Cls` from the repository root: the console script does not put
    the current directory on the path, so the module is not found; the file is."""
    (tmp_path / "mine_xyz").mkdir()
    (tmp_path / "mine_xyz" / "strat.py").write_text("x = 1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", str(tmp_path))])
    with pytest.raises(
        ValueError, match=r"the file mine_xyz/strat.py is here.*pass mine_xyz/strat.py:Cls"
    ):
        load_strategy("mine_xyz.strat:Cls")


def test_example_strategy_passes_the_contract(benchmark: TabularBenchmark) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "my_strategy.py"
    check_strategy(load_strategy(f"{example}:TopKMutation"), benchmark)


def test_contract_catches_a_nondeterministic_strategy(benchmark: TabularBenchmark) -> None:
    class Unseeded(RandomSearch):
        def ask(self) -> Trial:
            return Trial(self.space.sample(np.random.default_rng()), self.max_epoch)

    with pytest.raises(StrategyContractError, match="not deterministic"):
        check_strategy(Unseeded, benchmark)


def test_contract_catches_waiting_with_nothing_pending(benchmark: TabularBenchmark) -> None:
    class Stuck(RandomSearch):
        def ask(self) -> Trial | None:  # type: ignore[override]
            return None

    with pytest.raises(StrategyContractError, match="None with no trial pending"):
        check_strategy(Stuck, benchmark)


def test_hyperband_brackets_match_li_et_al_table_1() -> None:
    # Li et al. 2018, Table 1 (R = 81, eta = 3), bracket s = 4 and s = 0.
    b = hyperband_brackets(81, 1, 3)
    assert b[0] == [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)]
    assert b[-1] == [(5, 81)]
    assert [len(x) for x in b] == [5, 4, 3, 2, 1]
    assert hyperband_brackets(2, 1, 3) == [[(1, 2)]]
    with pytest.raises(ValueError):
        hyperband_brackets(8, 9, 3)


def _ev(arch: CellArch, acc: float, epoch: int = 8) -> Evaluation:
    return Evaluation(arch.to_string(), epoch, 0, acc, acc, 1.0)


def test_reinforce_policy_moves_towards_rewarded_ops() -> None:
    space = get_space("cell")
    s = Reinforce(space, max_epoch=8, seed=0, learning_rate=0.05)
    good = CellArch(("nor_conv_3x3",) * 6)
    p0 = s.policy()[:, CELL_OPS.index("nor_conv_3x3")].copy()
    for _ in range(30):
        t = s.ask()
        s.tell(t, _ev(t.arch, 10.0))
        s.tell(Trial(good, 8), _ev(good, 90.0))
    p1 = s.policy()[:, CELL_OPS.index("nor_conv_3x3")]
    assert np.all(p1 > p0 + 0.1)
    assert np.allclose(s.policy().sum(axis=1), 1.0)


def test_gp_interpolates_and_ei_prefers_high_means() -> None:
    rng = np.random.default_rng(0)
    X = np.eye(30)[rng.integers(0, 30, 40)]  # (40, 30) one-hot rows
    w = rng.normal(size=30)
    y = X @ w
    mu, sd = fit_gp(X, y, X)
    assert np.corrcoef(mu, y)[0, 1] > 0.95
    assert np.all(sd >= 0)
    ei = expected_improvement(np.array([0.0, 1.0, 2.0]), np.ones(3), best=1.0)
    assert np.all(np.diff(ei) > 0) and np.all(ei > 0)


def test_mlp_ensemble_fits_a_linear_target() -> None:
    rng = np.random.default_rng(0)
    X = (rng.random((60, 20)) < 0.3).astype(float)
    y = X @ rng.normal(size=20)
    pred = MLPEnsemble(3, 3, 20, 0.01, 200, 32, rng).fit(X, y).predict(X)  # (3, 60)
    assert pred.shape == (3, 60)
    assert np.corrcoef(pred.mean(axis=0), y)[0, 1] > 0.9


def test_local_search_moves_to_better_neighbours(benchmark: TabularBenchmark) -> None:
    s = LocalSearch(benchmark.space, max_epoch=benchmark.max_epoch, seed=0)
    drive(s, benchmark, 150, seed=0)
    assert len(s.centers_) >= 2
    moves = 0
    for (a, acc_a, ra), (b, acc_b, rb) in zip(s.centers_, s.centers_[1:], strict=False):
        if ra == rb:  # a step of one descent: to a strictly better neighbour
            assert benchmark.space.distance(a, b) == 1
            assert acc_b > acc_a
            moves += 1
    assert moves >= 1


def test_bohb_samples_near_good_configurations() -> None:
    space = get_space("cell")
    s = BOHB(space, max_epoch=8, seed=0, random_fraction=0.0)
    rng = np.random.default_rng(1)
    good = ("nor_conv_3x3",) * 6
    for _ in range(40):  # results at epoch 8: the all-conv3x3 neighbourhood is best
        a = space.sample(rng)
        acc = 90.0 - 10 * sum(o != g for o, g in zip(a.ops, good, strict=True))
        s._observe(Trial(a, 8), _ev(a, acc))
    samples = [s._sample(8) for _ in range(100)]
    hits = np.mean([sum(o == "nor_conv_3x3" for o in a.ops) for a in samples])
    assert hits > 1.6  # uniform sampling: 6 / 5 = 1.2, standard error 0.1


def test_bananas_picks_its_encoding_from_the_space_hook() -> None:
    from nasrepro.spaces import CellSpace, get_space
    from nasrepro.strategies import Bananas

    class AdjacencyOnlyCells(CellSpace):
        def encodings(self) -> tuple[str, ...]:
            return ("adjacency",)

    assert Bananas(get_space("cell"), max_epoch=2, seed=0).encoding == "path"
    assert Bananas(AdjacencyOnlyCells(), max_epoch=2, seed=0).encoding == "adjacency"
    assert Bananas(get_space("chain"), max_epoch=2, seed=0).encoding == "adjacency"


def test_decisions_of_asks_the_space() -> None:
    from nasrepro.spaces import CellSpace, ChainArch, ChainSpace, Decisions, get_space
    from nasrepro.strategies import Reinforce, decisions_of

    class NoDecisionCells(CellSpace):
        def decisions(self) -> Decisions | None:
            return None

    class FixedChains(ChainSpace):
        """Chains of two conv3x3 layers with a width decision each."""

        def decisions(self) -> Decisions:
            class Widths(Decisions):
                def to_codes(self, arch: object) -> np.ndarray:
                    assert isinstance(arch, ChainArch)
                    return np.array([["0.5", "1.0"].index(str(w)) for w in arch.widths])

                def from_codes(self, codes: np.ndarray) -> ChainArch:
                    w = [(0.5, 1.0)[int(c)] for c in codes]
                    return ChainArch(("conv3x3", "conv3x3"), tuple(w))

            return Widths(["w0", "w1"], [["0.5", "1.0"]] * 2)

    assert decisions_of(get_space("cell")) is not None
    assert decisions_of(NoDecisionCells()) is None and not Reinforce.supports(NoDecisionCells())
    dec = decisions_of(FixedChains())
    assert dec is not None and dec.n_choices.tolist() == [2, 2]
    assert Reinforce.supports(FixedChains())
    from nasrepro.strategies import list_strategies, load_strategy

    needs = {n for n in list_strategies() if load_strategy(n).needs_decisions}
    assert needs == {"reinforce", "bohb"}  # the leaderboard names this when it skips them
    assert [n for n in needs if load_strategy(n).supports(NoDecisionCells())] == []
