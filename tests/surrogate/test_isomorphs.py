"""Held-out sets and cross-validation folds by class, not by string (benchmarks audit,
2026-12-07, finding 1): a held-out architecture that is the same network as a training
one under another string is dropped, and isomorphs share a fold.

The fixtures are real hierarchical sweeps under ``synthetic-smoke``: a training sample
holding the audit's hand-checked training architecture and a copy of it with its motif
indices permuted, and a held-out sample holding the audit's test architecture (the same
network as both), one exact copy of a training architecture and two others.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nasrepro.spaces import get_space, lowered_class_keys
from nasrepro.surrogate import (
    Surrogate,
    SurrogateError,
    arch_classes,
    calibrate,
    evaluate,
    grouped_folds,
    load_table,
)
from nasrepro.tables import Table, build

#: As the chain fixtures of conftest.py: real training, about 0.3 s an architecture.
PROTOCOL, SEEDS = "synthetic-smoke", [0, 1]
FAST = {"n_estimators": 20, "learning_rate": 0.3, "noise_estimators": 10}
MACRO = {"C": 8, "N": 1, "reduction": "pool"}
AUDIT_TEST = (
    "m0=(none|none,none) m1=(none|none,none) m2=(dwconv3x3|dwconv3x3,maxpool3x3) "
    "m3=(none|none,none) top=(none|none,none|m2,none,none)"
)
AUDIT_TRAIN = (
    "m0=(none|none,none) m1=(none|maxpool3x3,none) m2=(none|none,none) "
    "m3=(none|dwconv3x3,none) top=(m3|none,none|m3,m1,none)"
)
#: AUDIT_TRAIN with motifs 1 and 2 swapped.
AUDIT_TRAIN_PERMUTED = (
    "m0=(none|none,none) m1=(none|none,none) m2=(none|maxpool3x3,none) "
    "m3=(none|dwconv3x3,none) top=(m3|none,none|m3,m2,none)"
)


def _others(n: int) -> list[str]:
    """``n`` sampled canonical architectures, no two (nor any with the audit's) of one class."""
    space = get_space("hierarchical")
    rng = np.random.default_rng(7)
    seen = set(lowered_class_keys(space, [AUDIT_TEST], **MACRO))
    out: list[str] = []
    while len(out) < n:
        a = space.canonical(space.sample(rng)).to_string()
        (key,) = lowered_class_keys(space, [a], **MACRO)
        if key not in seen:
            seen.add(key)
            out.append(a)
    return out


def _sweep(root: Path, name: str, archs: list[str]) -> Table:
    import torch

    from nasrepro.bench.harness._sweep import sweep

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        sweep("hierarchical", PROTOCOL, SEEDS, root / name, archs=archs, chunk_size=len(archs))
    finally:
        torch.set_num_threads(threads)
    build(root / name, root / f"{name}.h5")
    return Table.open(root / f"{name}.h5")


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> tuple[Table, Table, list[str]]:
    """``(train, test, others)``: see the module docstring; ``others[0]`` is the exact
    copy, ``others[3:]`` the held-out architectures that remain."""
    root = tmp_path_factory.mktemp("isomorphs")
    others = _others(5)
    train = _sweep(root, "hier-train", [AUDIT_TRAIN, AUDIT_TRAIN_PERMUTED, *others[:3]])
    test = _sweep(root, "hier-test", [AUDIT_TEST, others[0], *others[3:]])
    return train, test, others


@pytest.fixture(scope="module")
def fitted(tables: tuple[Table, Table, list[str]]) -> Surrogate:
    return Surrogate("xgb", random_state=0, fidelities=False, **FAST).fit(load_table(tables[0]))


def test_the_fixture_holds_what_it_claims(tables: tuple[Table, Table, list[str]]) -> None:
    train, test, others = tables
    assert set(train.archs) == {AUDIT_TRAIN, AUDIT_TRAIN_PERMUTED, *others[:3]}
    assert set(test.archs) & set(train.archs) == {others[0]}  # one exact copy
    # the sampled tables give every string a class of its own, so nothing joins them
    assert len(set(train.canonical.tolist())) == train.n_rows
    proto = train.protocol
    classes = arch_classes([AUDIT_TEST, AUDIT_TRAIN, AUDIT_TRAIN_PERMUTED], "hierarchical", proto)
    assert len(set(classes)) == 1


def test_evaluate_drops_held_out_isomorphs_of_training_architectures(
    tables: tuple[Table, Table, list[str]], fitted: Surrogate
) -> None:
    _, test, others = tables
    ev = evaluate(fitted, test)
    assert set(ev.archs) == set(others[3:])  # neither the copy nor the isomorph
    m = ev.metrics
    assert (m["n_test"], m["n_dropped_trained"], m["n_dropped_isomorphs"]) == (2, 1, 1)
    # the training isomorphs are counted once each, as strings, and twice as one class
    assert fitted.metadata_["n_train_archs"] == {"hierarchical": 5}
    assert len(fitted.metadata_["train_classes"]["hierarchical"]) == 4
    np.testing.assert_array_equal(
        fitted.trained_on_class([AUDIT_TEST, others[0], others[3]], "hierarchical"),
        [True, True, False],
    )
    # without exclusion nothing is dropped
    ev_all = evaluate(fitted, test, exclude_trained=False)
    assert ev_all.metrics["n_test"] == 4 and ev_all.metrics["n_dropped_isomorphs"] == 0


def test_classes_survive_save_and_load_and_can_be_recorded_later(
    tables: tuple[Table, Table, list[str]], fitted: Surrogate, tmp_path: Path
) -> None:
    train, test, _ = tables
    fitted.save(tmp_path / "s")
    loaded = Surrogate.load(tmp_path / "s")
    assert loaded.metadata_["train_classes"] == fitted.metadata_["train_classes"]
    timed = ("queries_per_s",)  # a wall-clock rate
    a, b = evaluate(loaded, test).metrics, evaluate(fitted, test).metrics
    assert {k: v for k, v in a.items() if k not in timed} == {
        k: v for k, v in b.items() if k not in timed
    }
    # a surrogate fitted before classes were recorded drops exact strings only ...
    del loaded.metadata_["train_classes"]
    assert loaded.trained_on_class([AUDIT_TEST], "hierarchical") is None
    old = evaluate(loaded, test)
    assert AUDIT_TEST in old.archs
    assert (old.metrics["n_test"], old.metrics["n_dropped_isomorphs"]) == (3, None)
    # ... until its exact training data gives them back, and no other data does
    loaded.record_train_classes(load_table(train))
    assert loaded.metadata_["train_classes"] == fitted.metadata_["train_classes"]
    with pytest.raises(SurrogateError, match="exact training data"):
        loaded.record_train_classes(load_table(test))


def test_grouped_folds_put_isomorphs_in_one_fold(tables: tuple[Table, Table, list[str]]) -> None:
    train = tables[0]
    data = load_table(train)
    archs = np.array(data.archs)
    twins = np.isin(archs, [AUDIT_TRAIN, AUDIT_TRAIN_PERMUTED])
    for seed in range(3):
        # folds by string alone, as before: 5 strings in 5 folds, so the twins split
        _, groups = np.unique(archs, return_inverse=True)
        by_string = (np.random.default_rng(seed).permutation(groups.max() + 1) % 5)[groups]
        assert len(set(by_string[twins].tolist())) == 2
        folds = grouped_folds(data, 5, seed)
        assert len(set(folds[twins].tolist())) == 1  # one class, one fold
        for a in set(archs.tolist()):  # every seed of a string in one fold
            assert len(set(folds[archs == a].tolist())) == 1
        # the twin drawn first keeps its fold, and so does every other string
        keep = ~np.isin(archs, [max(AUDIT_TRAIN, AUDIT_TRAIN_PERMUTED)])
        np.testing.assert_array_equal(folds[keep], by_string[keep])


def test_calibration_folds_group_by_class(
    tables: tuple[Table, Table, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``calibrate`` holds out the folds of :func:`grouped_folds`: no fold model is
    fitted on one twin and scores the other."""
    data = load_table(tables[0])
    s = Surrogate("xgb", random_state=0, fidelities=False, **FAST).fit(data)
    uniq = np.unique([f"{t}:{a}" for a, t in zip(data.archs, data.spaces, strict=True)])
    twins = {
        int(np.searchsorted(uniq, f"hierarchical:{a}")) for a in (AUDIT_TRAIN, AUDIT_TRAIN_PERMUTED)
    }
    fitted_on: list[set[int]] = []
    new = s._new

    def spy() -> Any:
        model = new()
        fit = model.fit

        def fit_and_record(X: np.ndarray, y: np.ndarray, groups: Any = None) -> Any:
            fitted_on.append(set(np.asarray(groups).tolist()))  # the architectures' groups
            return fit(X, y, groups)

        model.fit = fit_and_record  # type: ignore[method-assign]
        return model

    monkeypatch.setattr(s, "_new", spy)
    calibrate(s, data, folds=5, seed=0)  # 4 classes in 5 folds: one fold stays empty
    assert len(fitted_on) == 2 * 4  # a model per target and non-empty fold
    # every fold model is fitted on both twins or on neither (by string, 5 strings in
    # 5 folds, each fold model would lack exactly one of them)
    assert all(len(twins & f) in (0, 2) for f in fitted_on), fitted_on


# ---------------------------------------------------- one prediction per cell class
def test_isomorphic_cells_get_one_prediction_the_representatives() -> None:
    """The members of a cell class are one network as a table answers for them; the
    surrogate featurized each as it lowers (dead edges and their parameters kept, an
    identity edge not merged), and 1,067 of 1,067 classes with several members among
    20,000 sampled cells got differing predictions, up to 31 points apart (2026-12-07).
    Now every member is predicted as its representative, bit for bit."""
    from nasrepro.spaces import CellArch
    from nasrepro.surrogate import load_shipped

    try:
        s = load_shipped()
    except SurrogateError:
        pytest.skip("no surrogate is shipped in this checkout")
    space = get_space("cell")
    canon = space.canonical_indices()
    reps, sizes = np.unique(canon, return_counts=True)
    big = reps[np.argsort(-sizes, kind="stable")[:20]]  # the 20 largest classes
    members = [np.flatnonzero(canon == r)[:12] for r in big]
    archs = [CellArch.from_index(int(i)).to_string() for m in members for i in m]
    owners = [int(canon[int(i)]) for m in members for i in m]
    assert len(set(archs)) > len(big)  # the classes have several members
    s.clear_memo()
    p = s.predict(archs, "cell")
    rep = s.predict([CellArch.from_index(r).to_string() for r in owners], "cell")
    np.testing.assert_array_equal(p.valid_acc, rep.valid_acc)
    np.testing.assert_array_equal(p.test_std, rep.test_std)
    by_class = {o: set() for o in owners}
    for o, v in zip(owners, p.valid_acc.tolist(), strict=True):
        by_class[o].add(v)
    assert all(len(v) == 1 for v in by_class.values())
    # the representatives' own encoding is unchanged: the shipped cell test figure holds
    X_member = s.encode(archs[:3], "cell")
    X_rep = s.encode([CellArch.from_index(o).to_string() for o in owners[:3]], "cell")
    np.testing.assert_array_equal(X_member, X_rep)


def test_hierarchical_canonical_changes_no_feature() -> None:
    """Why the hierarchical space leaves ``features_of_canonical`` off: its
    ``canonical`` only turns dead edges and unused motifs into ``none``, which the
    graph features ignore, so featurizing the representative would cost (about 60 us
    an architecture, 2026-12-07) and change nothing. Its isomorphs under relabelling,
    which ``canonical`` does not join, can still get differing predictions."""
    from nasrepro.surrogate import features

    space = get_space("hierarchical")
    assert not space.features_of_canonical and get_space("cell").features_of_canonical
    rng = np.random.default_rng(3)
    archs = [space.sample(rng) for _ in range(300)]
    changed = 0
    for a in archs:
        c = space.canonical(a)
        changed += c != a
        np.testing.assert_array_equal(
            features(space.lower(a, **MACRO)), features(space.lower(c, **MACRO))
        )
    assert changed > 100  # canonical did change most of them
