"""``compare_tables`` and ``nasrepro table compare``: small imported tables whose figures
are recomputed here independently (scipy on plain dicts), and the shipped tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import kendalltau, spearmanr

from nasrepro.bench.cli import main
from nasrepro.spaces import CellArch, get_space
from nasrepro.tables import (
    ConfigError,
    ImportMapping,
    Table,
    TableError,
    compare_tables,
    import_table,
    open_table,
)

SPACE = get_space("cell")


def _import(
    tmp_path: Path, name: str, rows: dict[str, tuple[float, float]], *, per_cell: bool = True
) -> Table:
    """A partial table of ``rows``: arch -> (search value, report value)."""
    csv = tmp_path / f"{name}.csv"
    lines = ["arch,search,report"] + [f"{a},{v},{t}" for a, (v, t) in rows.items()]
    csv.write_text("\n".join(lines) + "\n")
    mapping = ImportMapping(
        search_metric="search",
        report_metric="report",
        space=SPACE.name,
        per_cell=per_cell,
        partial=True,
    )
    out = tmp_path / f"{name}.h5"
    import_table(csv, out, mapping)
    return Table.open(out)


#: Every class of the cell space: canonical string -> its members.
CLASSES: dict[str, list[str]] = {}


def _classes() -> dict[str, list[str]]:
    if not CLASSES:
        for arch in SPACE.enumerate():
            CLASSES.setdefault(SPACE.canonical(arch).to_string(), []).append(arch.to_string())
    return CLASSES


def _cells_by_class(n_multi: int, size: int, n_single: int, seed: int) -> list[list[str]]:
    """``n_multi`` classes with ``size`` members each, ``n_single`` one-member picks."""
    canon = _classes()
    rng = np.random.default_rng(seed)
    keys = sorted(canon)
    multi = [k for k in keys if len(canon[k]) >= size]
    picked = rng.choice(len(multi), n_multi, replace=False)
    groups = [list(rng.choice(canon[multi[i]], size, replace=False)) for i in picked]
    rest = [k for k in keys if k not in {multi[i] for i in picked}]
    groups += [[canon[rest[i]][0]] for i in rng.choice(len(rest), n_single, replace=False)]
    return groups


@pytest.fixture(scope="module")
def groups() -> list[list[str]]:
    return _cells_by_class(n_multi=6, size=3, n_single=12, seed=0)


def test_correlations_and_counts_match_scipy(tmp_path: Path, groups: list[list[str]]) -> None:
    """Per-cell A and B: taus, rhos and counts over the shared cells and over classes
    (A's grouping, a class's value the mean of its members) against scipy on dicts."""
    rng = np.random.default_rng(1)
    cells = [c for g in groups for c in g]  # 30 cells
    # values on a coarse grid, so that there are ties (tau-b corrects for them)
    va = {c: (float(rng.integers(40, 60)), float(rng.integers(40, 60))) for c in cells}
    only_b = list(dict.fromkeys(SPACE.sample(rng).to_string() for _ in range(40)))
    only_b = [c for c in only_b if c not in va][:5]
    shared = cells[:24]
    vb = {c: (float(rng.integers(40, 60)), float(rng.integers(40, 60))) for c in shared + only_b}
    a, b = _import(tmp_path, "a", va), _import(tmp_path, "b", vb)
    c = compare_tables(a, b)  # test_acc: the report column
    assert (c.n_a, c.n_b, c.cells.n) == (30, 29, 24)
    assert (c.column_a, c.column_b) == ("report", "report")
    x, y = [va[s][1] for s in shared], [vb[s][1] for s in shared]
    assert c.cells.kendall_tau == pytest.approx(kendalltau(x, y).statistic, abs=1e-12)
    assert c.cells.spearman == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    # classes: group the shared cells by their canonical string, mean per class
    by: dict[str, list[str]] = {}
    for s in shared:
        by.setdefault(SPACE.canonical(SPACE.parse(s)).to_string(), []).append(s)
    keys = sorted(by)
    xa = [np.mean([va[s][1] for s in by[k]]) for k in keys]
    xb = [np.mean([vb[s][1] for s in by[k]]) for k in keys]
    assert c.classes.n == len(keys) < c.cells.n
    assert c.classes.kendall_tau == pytest.approx(kendalltau(xa, xb).statistic, abs=1e-12)
    assert c.classes.spearman == pytest.approx(spearmanr(xa, xb).statistic, abs=1e-12)
    # the search metric of A against the report metric of B
    v = compare_tables(a, b, metric_a="valid_acc", metric_b="test_acc")
    assert v.column_a == "search"
    xs = [va[s][0] for s in shared]
    assert v.cells.kendall_tau == pytest.approx(kendalltau(xs, y).statistic, abs=1e-12)


def test_class_valued_table_gives_each_cell_its_class_value(
    tmp_path: Path, groups: list[list[str]]
) -> None:
    """A class-valued A (one line per class) answers for every member; B per-cell."""
    rng = np.random.default_rng(2)
    cls_value = {g[0]: (float(rng.integers(0, 100)), float(rng.normal(50, 5))) for g in groups}
    a = _import(tmp_path, "a", cls_value, per_cell=False)
    members = {m: g[0] for g in groups for m in g}
    vb = {m: (float(rng.integers(0, 100)), float(rng.normal(50, 5))) for m in members}
    b = _import(tmp_path, "b", vb)
    c = compare_tables(a, b)
    order = sorted(members, key=lambda m: SPACE.parse(m).index)  # A's row order
    x = [cls_value[members[m]][1] for m in order]
    y = [vb[m][1] for m in order]
    assert c.cells.n == len(members)
    canon = _classes()
    covered = {SPACE.canonical(SPACE.parse(g[0])).to_string() for g in groups}
    assert c.n_a == sum(len(canon[k]) for k in covered)  # every member of a covered class
    assert c.cells.kendall_tau == pytest.approx(kendalltau(x, y).statistic, abs=1e-6)
    xa = [cls_value[g[0]][1] for g in groups]
    xb = [np.mean([vb[m][1] for m in g]) for g in groups]
    assert c.classes.n == len(groups)
    assert c.classes.kendall_tau == pytest.approx(kendalltau(xa, xb).statistic, abs=1e-6)


def test_top_k_overlap_and_best_ranks_by_hand(tmp_path: Path) -> None:
    """12 cells c0..c11 in enumeration order. A ranks them c0 (best) .. c11. B's top
    ten: c11, c0..c6, c9, then c8 and c10 tie at 50 and the lower row, c8, wins: 9 of
    A's top ten (c0..c9). Top-1: A's c0 against B's c11. c0 is 2nd in B (only c11 is
    better); c11 is last of 12 in A."""
    rng = np.random.default_rng(3)
    idx = sorted(rng.choice(15625, 12, replace=False).tolist())
    c = [CellArch.from_index(i).to_string() for i in idx]
    va = {c[i]: (0.0, 12.0 - i) for i in range(12)}
    b_report = [90, 89, 88, 87, 86, 85, 84, 10, 50, 60, 50, 100]
    vb = {c[i]: (0.0, float(b_report[i])) for i in range(12)}
    cmp = compare_tables(_import(tmp_path, "a", va), _import(tmp_path, "b", vb))
    tops = {o.label: (o.k, o.common, o.fraction) for o in cmp.cells.top_k}
    assert tops == {"10": (10, 9, 0.9), "1%": (1, 0, 0.0)}  # k = 100 > 12 items: left out
    best = cmp.cells.best_a_in_b
    assert (best.arch, best.rank, best.n) == (c[0], 2, 12)
    assert best.percent == pytest.approx(100 * 2 / 12)
    assert (best.value_here, best.value_there) == (12.0, 90.0)
    worst = cmp.cells.best_b_in_a
    assert (worst.arch, worst.rank) == (c[11], 12)
    # structure: with 12 items both "top 100s" are all 12 cells, so the shares agree
    assert cmp.cells.structure and all(s.share_a == s.share_b for s in cmp.cells.structure)
    # ties share the best rank: B ties c8 and c10; c8 is B's best if A is reversed
    vb2 = {c[i]: (0.0, 5.0 if i in (8, 10) else 1.0) for i in range(12)}
    cmp2 = compare_tables(_import(tmp_path, "a", va), _import(tmp_path, "b2", vb2))
    assert cmp2.cells.best_b_in_a.arch == c[8]  # the tie goes to A's earlier row
    assert cmp2.cells.best_a_in_b.rank == 3  # c0 is behind c8 and c10 (5.0 > 1.0)


@pytest.fixture(scope="module")
def default_vs_nb201() -> object:
    return compare_tables(open_table("cell-mnist1d-tiny"), open_table("nb201-cifar10"))


def test_shipped_tables_structure_and_best(default_vs_nb201: object) -> None:
    """The top-100 op shares and the best-cell ranks, recounted from ``Table.top`` and
    plain queries of the shipped tables."""
    c = default_vs_nb201
    assert c.space == "cell" and c.cells.n == 15625 and c.classes.n == 6466  # type: ignore[attr-defined]
    nb = open_table("nb201-cifar10")
    top = [r.arch for r in nb.top(100, "test_acc")]  # per-cell, ties by row (= enumeration)
    skip = sum(SPACE.parse(s).ops[3] == "skip_connect" for s in top) / 100  # type: ignore[attr-defined]
    share = c.cells.share("0->3", "skip_connect")  # type: ignore[attr-defined]
    assert share is not None and share.share_b == pytest.approx(skip)
    ours = open_table("cell-mnist1d-tiny")
    best = ours.best("test_acc")
    vals = nb.query_many(np.arange(15625)).test_acc  # rows in enumeration order
    cell = c.cells.best_a_in_b  # type: ignore[attr-defined]
    assert cell.arch == best.arch  # the lowest-index member: the representative
    assert cell.rank == 1 + int((vals > vals[best.index]).sum())
    # B's class value: the mean of the members; rank = 1 + classes strictly better
    canon = np.asarray(ours.canonical)
    reps = canon == np.arange(15625)
    cls_mean = np.bincount(canon, vals, 15625)[reps] / np.bincount(canon, minlength=15625)[reps]
    mine = vals[canon == best.index].mean()
    r = c.classes.best_a_in_b  # type: ignore[attr-defined]
    assert r.arch == best.arch and r.value_there == pytest.approx(mine)
    assert r.rank == 1 + int((cls_mean > mine).sum())


def test_errors_name_the_problem(tmp_path: Path, smoke_table_path: Path) -> None:
    rng = np.random.default_rng(4)
    cells = list({SPACE.sample(rng).to_string() for _ in range(8)})
    a = _import(tmp_path, "a", {s: (1.0, 2.0) for s in cells[:4]})
    b = _import(tmp_path, "b", {s: (1.0, 2.0) for s in cells[4:]})
    with pytest.raises(TableError, match="no cell with a value in both"):
        compare_tables(a, b)
    chain = get_space("chain")
    csv = tmp_path / "c.csv"
    csv.write_text("arch,s,r\n" + f'"{chain.sample(rng).to_string()}",1,2\n')
    import_table(csv, tmp_path / "c.h5", ImportMapping("s", "r", space="chain", partial=True))
    with pytest.raises(TableError, match="same space"):
        compare_tables(a, Table.open(tmp_path / "c.h5"))
    smoke = Table.open(smoke_table_path)
    with pytest.raises(ConfigError, match="unknown metric 'accuracy' for table B"):
        compare_tables(smoke, a, metric_b="accuracy")
    with pytest.raises(ConfigError, match=r"no train_loss values \(absent in its source\)"):
        compare_tables(smoke, a, metric_b="train_loss")


def run(*argv: str) -> int:
    return main(["table", "compare", *argv])


def test_cli_text_and_json(
    smoke_table_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(str(smoke_table_path), "nb201-cifar10", "--metric-b", "valid_acc") == 0
    text = capsys.readouterr().out
    for word in (
        "table B     nb201-cifar10: valid_acc (cifar10_valid_xvalid), per-cell values",
        "Kendall tau-b",
        "top-100 overlap",
        "best of A, rank in B",
        "0->3",
    ):
        assert word in text, word
    assert run(str(smoke_table_path), "nb201-cifar10", "--metric-b", "valid_acc", "--json") == 0
    got = json.loads(capsys.readouterr().out)
    want = compare_tables(
        Table.open(smoke_table_path), open_table("nb201-cifar10"), metric_b="valid_acc"
    )
    assert got["tables"] == json.loads(json.dumps(want.to_dict()))
    assert "strategies" not in got
    assert f"{want.cells.kendall_tau:.3f}" in text


def test_cli_notes_a_comparison_over_few_classes(
    tmp_path: Path, groups: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    """8 classes printed a tau of 0.93 over "475 cells" and top-100 100/100, unqualified."""
    rows = {g[0]: (float(i), float(i)) for i, g in enumerate(groups)}  # a value per class
    small = _import(tmp_path, "small", rows, per_cell=False)
    assert run(str(small.path), "nb201-cifar10") == 0
    text = capsys.readouterr().out
    assert f"note        only {len(groups)} classes in common" in text
    assert "the cell column repeats each class's value over its cells" in text
    assert run(str(small.path), "nb201-cifar10", "--json") == 0  # JSON stays as it was
    got = json.loads(capsys.readouterr().out)
    want = compare_tables(Table.open(small.path), open_table("nb201-cifar10"))
    assert got["tables"] == json.loads(json.dumps(want.to_dict()))
    assert "classes in common" not in json.dumps(got)  # the note is for the text only


def test_cli_errors_exit_2(
    smoke_table_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = str(smoke_table_path)
    with pytest.raises(SystemExit) as e:
        run(s, "nb201-cifar10", "--metric-a", "accuracy")
    assert e.value.code == 2
    assert "invalid choice: 'accuracy'" in capsys.readouterr().err
    assert run(s, "nb201-cifar10", "--metric-b", "train_loss") == 2
    assert "no train_loss values" in capsys.readouterr().err
    assert run(s, "nb201-cifar10", "--seeds", "3") == 2
    assert "--seeds applies only with --strategies" in capsys.readouterr().err
    assert run(s, "no-such-table") == 2
    assert "no table of that name or path" in capsys.readouterr().err
    assert run(s, "nb201-cifar10", "--strategies", "random-search", "--budget", "10x") == 2
    assert "needs a query budget" in capsys.readouterr().err


def test_plot_marks_what_the_comparison_counts(smoke_table_path: Path, tmp_path: Path) -> None:
    """The picture's marks are the comparison's figures: the top-100 of both is the
    overlap, and each table's best sits at the rank the text reports for it."""
    from nasrepro.tables._compare import paired_values
    from nasrepro.tables._compare_plot import marked_classes, plot_comparison

    a, b = Table.open(smoke_table_path), open_table("nb201-cifar10")
    c = compare_tables(a, b)
    k, groups, ra, rb = marked_classes(paired_values(a, b))
    assert k == 100 and len(ra) == c.classes.n
    assert sum(m.sum() for m in groups.values()) == c.classes.n  # a partition
    assert not any(
        np.any(m1 & m2) for m1 in groups.values() for m2 in groups.values() if m1 is not m2
    )
    hundred = next(t for t in c.classes.top_k if t.k == 100)
    assert groups["top 100 of both"].sum() == hundred.common
    assert (
        groups["top 100 of A only"].sum()
        == groups["top 100 of B only"].sum()
        == 100 - hundred.common
    )
    assert rb[ra == 1].min() == c.classes.best_a_in_b.rank
    assert ra[rb == 1].min() == c.classes.best_b_in_a.rank

    import matplotlib.image

    out = plot_comparison(a, b, tmp_path / "c.png", dpi=50)
    assert matplotlib.image.imread(out).shape[:2] == (250, 800)  # 16 x 5 inches


def test_cli_plot(
    smoke_table_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import matplotlib.image

    s = str(smoke_table_path)
    out = tmp_path / "cmp.png"
    assert run(s, "nb201-cifar10", "--plot", str(out)) == 0
    assert capsys.readouterr().out.rstrip().endswith(f"wrote {out}")
    assert matplotlib.image.imread(out).shape == (600, 1920, 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cmp.png"]  # no temporaries left
    assert run(s, "nb201-cifar10", "--plot", str(tmp_path / "cmp.txt")) == 2
    assert "names no figure format" in capsys.readouterr().err
    before = smoke_table_path.read_bytes()
    assert run(s, "nb201-cifar10", "--plot", s) == 2  # never over a table it reads
    assert "is the table being read; writing a figure there would destroy it" in (
        capsys.readouterr().err
    )
    assert smoke_table_path.read_bytes() == before


def test_values_equal_to_4_decimals_tie(tmp_path: Path, groups: list[list[str]]) -> None:
    """97.20001 and 97.2 are distinct float32 values but one result (what averaging a
    class's float32 seed values by different routes gives): B's best, 97.2 in A, shares
    A's first place instead of ranking 2nd behind float noise."""
    early, late, three = (g[0] for g in groups[-3:])  # three one-member classes
    rows = {x.to_string(): i for i, x in enumerate(SPACE.enumerate())}
    two, one = sorted((early, late), key=rows.__getitem__)  # "one" has the later row
    a = _import(tmp_path, "a", {one: (0, 97.20001), two: (0, 97.2), three: (0, 90.0)})
    b = _import(tmp_path, "b", {one: (0, 50.0), two: (0, 80.0), three: (0, 60.0)})
    c = compare_tables(a, b)
    for level in (c.cells, c.classes):
        assert level.best_b_in_a.rank == 1
        assert level.best_b_in_a.value_there == pytest.approx(97.2)  # reported unrounded
        assert level.kendall_tau == pytest.approx(kendalltau([1, 1, 0], [0, 2, 1]).statistic)
    # equal results by row: "two" comes first though its float value is the lower
    assert [r.arch for r in a.top(2, metric="test_acc")] == [two, one]
