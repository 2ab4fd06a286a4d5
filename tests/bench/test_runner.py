"""The simulated-clock runner: budgets, workers, multi-fidelity cost, and random search
against the closed-form expectation of the best of n draws."""

from __future__ import annotations

import numpy as np
import pytest

from nasrepro.bench.sim import bootstrap_ci
from nasrepro.bench.sim._runner import Budget, run
from nasrepro.strategies import RandomSearch, Strategy, StrategyContractError, Trial
from nasrepro.tables import Evaluation, Table, TabularBenchmark


@pytest.fixture(scope="module")
def table(smoke_table: Table) -> Table:
    return smoke_table


class Scripted(Strategy):
    """Asks a fixed list of trials, one at a time; records what it is told."""

    def __init__(self, trials: list[Trial], max_epoch: int) -> None:
        from nasrepro.spaces import get_space

        super().__init__(get_space("cell"), max_epoch=max_epoch, seed=0)
        self.trials = list(trials)
        self.told: list[Evaluation] = []

    def ask(self) -> Trial | None:
        return self.trials.pop(0) if self.trials else None

    def tell(self, trial: Trial, evaluation: Evaluation) -> None:
        self.told.append(evaluation)


def test_budget_parse() -> None:
    assert Budget.parse("3600") == Budget("time", 3600.0)
    assert Budget.parse("90.5s") == Budget("time", 90.5)
    assert Budget.parse("200q") == Budget("queries", 200)
    assert Budget.parse("10x", typical_cost_s=3.0) == Budget("time", 30.0)
    for bad in ("", "ten", "5m", "-3"):
        with pytest.raises(ValueError):
            Budget.parse(bad, typical_cost_s=1.0)
    with pytest.raises(ValueError, match="mean training cost"):
        Budget.parse("10x")


def test_continued_runs_pay_only_the_extra_epochs(table: Table) -> None:
    bench = TabularBenchmark(table, seed_mode=table.seeds[0])
    a = bench.space.parse(table.top(1, "test_acc")[0].arch)
    b = bench.space.sample(np.random.default_rng(0))
    E = bench.max_epoch
    assert E >= 2, "the cost test needs a table with at least two epochs"
    t1 = table.query(a, 1, table.seeds[0]).train_time_s
    tE = table.query(a, E, table.seeds[0]).train_time_s
    tb = table.query(b, E, table.seeds[0]).train_time_s
    assert 0 < t1 < tE
    trials = [
        Trial(a, 1),
        Trial(a, E, resume=True),  # continues: pays epochs 2..E only
        Trial(a, 1, resume=True),  # already trained past epoch 1: free
        Trial(b, E),
        Trial(a, E),  # not a continuation: a fresh run pays in full
    ]
    s = Scripted(trials, E)
    r = run(s, bench, Budget("queries", len(trials)))
    np.testing.assert_allclose(r.cost, [t1, tE - t1, 0.0, tb, tE], rtol=1e-12)
    np.testing.assert_allclose(r.time, np.cumsum(r.cost), rtol=1e-12)
    assert [e.epoch for e in s.told] == [1, E, 1, E, E]


def test_a_resume_never_continues_a_run_still_in_flight(table: Table) -> None:
    """With two workers, a promotion asked while the run it names is still training has
    no checkpoint to continue: it trains from scratch; once that run has finished, a
    resume continues it (the audit of 2026-12-07 found BOHB on 4 workers continuing
    in-flight runs in 9% of its promotions, finishing up to 12 s before physically
    possible)."""
    seed = table.seeds[0]
    bench = TabularBenchmark(table, seed_mode=seed)
    a = bench.space.parse(table.top(1, "test_acc")[0].arch)
    E = bench.max_epoch
    t1, tE = (table.query(a, e, seed).train_time_s for e in (1, E))
    trials = [
        Trial(a, 1),  # worker 1
        Trial(a, E, resume=True),  # worker 2, at time 0: epoch 1 is still training
        Trial(a, E, resume=True),  # asked when the epoch-1 run is done: continues it
    ]
    r = run(Scripted(trials, E), bench, Budget("queries", 3), workers=2)
    got = sorted(zip(r.cost.tolist(), r.resumed.tolist(), r.time.tolist(), strict=True))
    np.testing.assert_allclose([c for c, _, _ in got], sorted([t1, tE, tE - t1]), rtol=1e-12)
    assert sorted(zip(r.cost.tolist(), r.resumed.tolist(), strict=True)) == sorted(
        [(t1, False), (tE, False), (tE - t1, True)]
    )
    cont = next(t for c, res, t in got if res)
    assert cont == pytest.approx(t1 + (tE - t1))  # starts only when epoch 1 has finished
    assert r.train_seed.tolist() == [seed] * 3


def test_per_cell_runs_are_the_cells_own(tmp_path) -> None:
    """On a per-cell table with curves, a resume of a cell never continues an isomorphic
    cell's run: each cell was trained separately, with its own times."""
    import json

    from nasrepro.tables import ImportMapping, import_table

    a = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    b = "|none~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|"  # isomorphic to a
    lines = [
        {"arch": x, "ep": e, "v": 50 + e, "t": 50 + e, "secs": secs}
        for x, secs in ((a, 1.0), (b, 3.0))
        for e in range(1, 7)
    ]
    f = tmp_path / "r.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    m = ImportMapping("v", "t", epoch_column="ep", columns={"epoch_time_s": "secs"}, partial=True)
    import_table(f, tmp_path / "t.h5", m)
    bench = TabularBenchmark(Table.open(tmp_path / "t.h5"))
    assert bench.per_cell and bench.space.canonical(a) == bench.space.canonical(b)
    sp = bench.space
    trials = [Trial(sp.parse(a), 2), Trial(sp.parse(b), 6, resume=True)]
    r = run(Scripted(trials, 6), bench, Budget("queries", 2))
    assert r.cost.tolist() == [2.0, 18.0] and r.resumed.tolist() == [False, False]
    assert r.archs == [a, b]


def test_time_budget_workers_and_incumbent(table: Table) -> None:
    bench = TabularBenchmark(table)
    budget = Budget.parse("30x", bench.typical_cost_s)
    one = run(RandomSearch(bench.space, max_epoch=bench.max_epoch, seed=0), bench, budget, seed=0)
    four = run(
        RandomSearch(bench.space, max_epoch=bench.max_epoch, seed=0), bench, budget, workers=4
    )
    assert one.time[-1] <= budget.value and four.time[-1] <= budget.value
    assert np.all(np.diff(one.time) > 0)
    assert 3 * one.n_evaluations <= four.n_evaluations <= 5 * one.n_evaluations + 4
    # the incumbent is the best validation accuracy so far; regret never increases with it
    best = np.maximum.accumulate(one.valid_acc)
    for k in range(one.n_evaluations):
        assert one.valid_acc[one.archs.index(one.incumbents[k])] == best[k]
    opt = bench.optimum
    want = [opt - bench.final_test_acc(i) for i in one.incumbents]
    np.testing.assert_allclose(one.regret, want)
    assert np.all(one.regret >= 0)


def test_waiting_with_nothing_pending_is_an_error(table: Table) -> None:
    bench = TabularBenchmark(table)
    with pytest.raises(
        StrategyContractError,
        match=r"\(seed 0, after 0 trials\): ask\(\) returned None with no trial pending",
    ):
        run(Scripted([], bench.max_epoch), bench, Budget("queries", 3))


def _expected_regret_best_of(table: Table, ns: list[int]) -> np.ndarray:
    """E[regret] of the best-of-n by validation accuracy, n i.i.d. uniform cells and seeds.

    Every (cell, seed) pair is equally likely; its validation accuracy is the seed's,
    its score the class's mean final test accuracy. Among equal validation
    accuracies the runner keeps the first drawn, which is uniform over the tie, so
    a tied group contributes its mean score.
    """
    rows = np.arange(table.n_rows)
    score = table.query_many(rows).test_acc  # (n_rows,) by class
    valid = np.concatenate([table.query_many(rows, seed=s).valid_acc for s in table.seeds])
    score = np.tile(score, len(table.seeds))
    levels, inv = np.unique(valid, return_inverse=True)  # ascending
    p = np.bincount(inv) / len(valid)  # probability of each validation level
    mean_score = np.bincount(inv, weights=score) / np.bincount(inv)
    F = np.cumsum(p)
    F_below = F - p
    out = []
    for n in ns:
        p_max = F**n - F_below**n  # P(the best of n lies at this level)
        out.append(table.optimum - float(p_max @ mean_score))
    return np.array(out)


def test_random_search_matches_best_of_n_expectation(table: Table) -> None:
    ns = [10, 50, 200]
    bench = TabularBenchmark(table)
    runs = [
        run(
            RandomSearch(bench.space, max_epoch=bench.max_epoch, seed=s),
            bench,
            Budget("queries", max(ns)),
            seed=s,
        )
        for s in range(300)
    ]
    want = _expected_regret_best_of(table, ns)
    for n, w in zip(ns, want, strict=True):
        got = np.array([r.regret[n - 1] for r in runs])
        lo, hi = bootstrap_ci(got)
        assert lo <= w <= hi, f"n={n}: analytic {w:.4f} outside the 95% CI [{lo:.4f}, {hi:.4f}]"


def test_strategies_are_told_no_test_accuracy(table: Table) -> None:
    """A search may use validation accuracy only; the regret still uses the test's."""
    bench = TabularBenchmark(table, seed_mode="mean")
    a = bench.space.parse(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    )
    s = Scripted([Trial(a)], bench.max_epoch)
    r = run(s, bench, Budget("queries", 1))
    (told,) = s.told
    assert np.isnan(told.test_acc) and told.valid_acc == bench.query(a).valid_acc
    assert r.regret[-1] == pytest.approx(bench.optimum - bench.final_test_acc(told.arch))


@pytest.mark.parametrize("workers", [1, 4])
def test_every_continued_run_starts_after_the_run_it_continues(table: Table, workers: int) -> None:
    """BOHB on several workers: each resumed evaluation continues a run of the same class
    and seed that had finished when it started, and pays exactly the epochs in between."""
    from nasrepro.strategies import BOHB

    bench = TabularBenchmark(table)
    sp, E = bench.space, bench.max_epoch
    budget = Budget.parse("40x", bench.typical_cost_s)
    r = run(BOHB(sp, max_epoch=E, seed=1, eta=2), bench, budget, workers=workers, seed=1)
    assert r.resumed.any() and len(r.train_seed) == r.n_evaluations
    start = r.time - r.cost
    for i in np.flatnonzero(r.resumed & (r.cost > 0)):
        s, e = int(r.train_seed[i]), int(r.epoch[i])
        before = [
            j
            for j in range(r.n_evaluations)
            if r.archs[j] == r.archs[i]
            and r.train_seed[j] == s
            and r.epoch[j] < e
            and r.time[j] <= start[i] + 1e-9
        ]
        assert before, f"evaluation {i} continues no finished run"
        paid = [
            table.query(r.archs[i], e, s).train_time_s
            - table.query(r.archs[i], int(r.epoch[j]), s).train_time_s
            for j in before
        ]
        assert min(abs(p - r.cost[i]) for p in paid) < 1e-6
