"""``nasrepro.tables.import_table``: small synthetic files in, real HDF5 tables out."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from nasrepro.spaces import ConfigError, count_static, get_space
from nasrepro.tables import (
    ImportError_,
    ImportMapping,
    MissingEntryError,
    Table,
    TableError,
    TabularBenchmark,
    import_table,
    open_table,
    representative_mask,
)

CELL = get_space("cell")
ALL = [a.to_string() for a in CELL.enumerate()]
CANON = CELL.canonical_indices()
# Two cells of one isomorphism class: the members of the class of row 1000.
_MEMBERS = np.flatnonzero(CANON == CANON[1000])
SKIP_A, SKIP_B = ALL[int(_MEMBERS[0])], ALL[int(_MEMBERS[1])]
# Two cells that are neither of them.
OTHER_A, OTHER_B = [a for a in ALL[:4] if a not in (SKIP_A, SKIP_B)][:2]


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _full_csv(path: Path, seed: int = 0) -> tuple[Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    va = np.round(rng.uniform(10, 90, len(ALL)), 4)
    te = np.round(rng.uniform(10, 90, len(ALL)), 4)
    rows = [[i, a, v, t] for i, (a, v, t) in enumerate(zip(ALL, va, te, strict=True))]
    return _write_csv(path, ["idx", "arch", "va", "te"], rows), va, te


def test_isomorphic_cells_keep_their_own_values(tmp_path: Path) -> None:
    a, b = CELL.parse(SKIP_A), CELL.parse(SKIP_B)
    assert CELL.canonical(a) == CELL.canonical(b)  # one class, as the test assumes
    f = _write_csv(tmp_path / "r.csv", ["arch", "v", "t"], [[SKIP_A, 50, 60], [SKIP_B, 70, 80]])
    m = ImportMapping(search_metric="v", report_metric="t", partial=True)
    import_table(f, tmp_path / "t.h5", m)
    t = Table.open(tmp_path / "t.h5")
    assert t.per_cell and t.kind == "imported" and t.schema_version == 2
    assert (t.query(SKIP_A).valid_acc, t.query(SKIP_A).test_acc) == (50.0, 60.0)
    assert (t.query(SKIP_B).valid_acc, t.query(SKIP_B).test_acc) == (70.0, 80.0)
    assert t.query(b).arch == SKIP_B  # an Architecture object: its own row too
    rows = t.rows([SKIP_A, SKIP_B])
    assert rows[0] != rows[1]
    np.testing.assert_array_equal(t.query_many([SKIP_B, SKIP_A]).test_acc, [80.0, 60.0])
    assert t.n_classes == 6466  # the class partition is kept beside the per-cell values
    assert t.best("test_acc").arch == SKIP_B
    # a partial import is refused where every cell may be asked for, with its own fix
    # (it said to finish a sweep that an imported table never had)
    from nasrepro.tables import check_covers_space

    with pytest.raises(ConfigError, match=r"import the complete results file \(without --partial"):
        check_covers_space(t)


def test_class_values_resolve_to_the_representative(tmp_path: Path) -> None:
    f = _write_csv(tmp_path / "r.csv", ["arch", "v", "t"], [[SKIP_A, 50, 60]])
    m = ImportMapping(search_metric="v", report_metric="t", partial=True, per_cell=False)
    import_table(f, tmp_path / "t.h5", m)
    t = Table.open(tmp_path / "t.h5")
    assert not t.per_cell
    assert t.query(SKIP_B).test_acc == 60.0  # answered by its class
    assert t.query(SKIP_B).arch == t.query(SKIP_A).arch


def test_two_lines_of_one_class_are_a_duplicate_without_per_cell(tmp_path: Path) -> None:
    f = _write_csv(tmp_path / "r.csv", ["arch", "v", "t"], [[SKIP_A, 50, 60], [SKIP_B, 70, 80]])
    m = ImportMapping(search_metric="v", report_metric="t", partial=True, per_cell=False)
    with pytest.raises(ImportError_, match=r"r\.csv:3: duplicated isomorphism class.*line 2"):
        import_table(f, tmp_path / "t.h5", m)


def test_full_cell_file_round_trips_every_value(tmp_path: Path) -> None:
    f, va, te = _full_csv(tmp_path / "full.csv")
    macro = {"C": 8, "N": 1, "input_shape": [3, 8, 8], "num_classes": 10}
    m = ImportMapping(search_metric="va", report_metric="te", final_epoch=12, macro=macro)
    rep = import_table(f, tmp_path / "t.h5", m, command="nasrepro table import full.csv")
    assert rep.rows_with_values == rep.n_rows == 15625 and rep.n_classes == 6466
    t = Table.open(tmp_path / "t.h5", verify=True)
    r = t.query_many(ALL)
    np.testing.assert_array_equal(r.valid_acc, va.astype(np.float32))
    np.testing.assert_array_equal(r.test_acc, te.astype(np.float32))
    assert t.epochs == (12,) and t.final_epoch == 12 and not t.has_curves and not t.has_times
    assert set(t.absent) == {
        "train_loss",
        "train_acc",
        "valid_loss",
        "test_loss",
        "epoch_time_s",
        "latency_s",
    }
    assert np.isnan(r.train_time_s).all() and np.isnan(r.latency_s).all()
    # params and FLOPs: computed on the declared skeleton, labelled so
    assert set(t.computed) == {"params", "flops"} and "C" in t.computed["params"]
    k = 1234
    spec = CELL.lower(CELL.parse(ALL[k]), C=8, N=1)
    assert (int(r.params[k]), int(r.flops[k])) == count_static(spec, (3, 8, 8), 10)
    src = t.source
    assert src["input_sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()
    assert src["import_command"] == "nasrepro table import full.csv"
    assert src["mapping"]["search_metric"] == "va" and src["format"] == "csv"
    assert t.search_metric == "va" and t.report_metric == "te"
    with pytest.raises(ValueError, match=r"epoch=3 is not in this table; use one of \[12\]"):
        t.query(ALL[0], epoch=3)
    with pytest.raises(Exception, match="imported from .* no nasrepro training protocol"):
        t.protocol  # noqa: B018
    bench = TabularBenchmark(t)
    assert bench.cost_model == "per-training" and bench.protocol is None
    ev = bench.query(ALL[k])
    assert ev.cost_s == 1.0 and ev.epoch == 12
    assert bench.typical_cost_s == 1.0 and bench.optimum == float(te.astype(np.float32).max())
    with pytest.raises(ValueError, match="records no training times"):
        TabularBenchmark(t, cost_model="recorded")


def test_long_jsonl_with_seeds_epochs_times_and_static(tmp_path: Path) -> None:
    """Per-seed, per-epoch lines: curves, seed means, cumulative times, given params."""
    lines = []
    archs = ALL[:3]
    for i, a in enumerate(archs):
        for seed in (0, 1):
            for e in (1, 2, 3):
                lines.append(
                    {
                        "net": a,
                        "seed": seed,
                        "ep": e,
                        "acc_v": 10.0 * e + i + seed,
                        "acc_t": 11.0 * e + i,
                        "secs": 2.0 + seed,
                        "p": 1000 + i,
                    }
                )
    f = tmp_path / "r.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    m = ImportMapping(
        search_metric="acc_v",
        report_metric="acc_t",
        arch_column="net",
        seed_column="seed",
        epoch_column="ep",
        columns={"epoch_time_s": "secs", "params": "p"},
        partial=True,
    )
    import_table(f, tmp_path / "t.h5", m)
    t = Table.open(tmp_path / "t.h5")
    assert t.seeds == (0, 1) and t.epochs == (1, 2, 3) and t.has_curves and t.has_times
    r = t.query(archs[2], epoch=2)
    assert r.valid_acc == pytest.approx(22.5) and r.per_seed_valid_acc == (22.0, 23.0)
    assert r.train_time_s == pytest.approx((2 * 2 + 2 * 3) / 2)  # epochs 1..2, mean of seeds
    assert r.params == 1002 and r.flops is None  # no macro: FLOPs absent, not invented
    assert t.query(archs[0], epoch=3, seed=1).valid_acc == 31.0
    np.testing.assert_allclose(t.curve(archs[1], "test_acc"), [12.0, 23.0, 34.0])
    assert "flops" in t.absent and "params" not in t.absent
    assert TabularBenchmark(t).cost_model == "recorded"


def test_unbounded_space_rows_come_from_the_file(tmp_path: Path) -> None:
    chain = get_space("chain")
    archs = [chain.sample(np.random.default_rng(s)).to_string() for s in range(4)]
    f = _write_csv(
        tmp_path / "c.csv", ["a", "v", "t"], [[a, 50 + i, 60 + i] for i, a in enumerate(archs)]
    )
    import_table(f, tmp_path / "c.h5", ImportMapping("v", "t", space="chain", arch_column="a"))
    t = Table.open(tmp_path / "c.h5")
    assert t.space_name == "chain" and t.n_rows == 4 and t.archs == archs
    assert t.query(archs[3]).test_acc == 63.0


def test_accuracies_on_two_scales_are_refused(tmp_path: Path) -> None:
    """A walkthrough imported validation fractions beside test percents, and a fraction
    column with one stray percent value, silently: values 100 times apart."""
    rows = [[a, 0.80 + 0.001 * i, 85.0 + i % 7] for i, a in enumerate(ALL[:40])]
    f = _write_csv(tmp_path / "a.csv", ["arch", "v", "t"], rows)
    m = ImportMapping("v", "t", partial=True)
    with pytest.raises(
        ImportError_, match=r"column 'v' looks like fractions .* and 't' like percent"
    ):
        import_table(f, tmp_path / "t.h5", m)
    rows = [[a, 0.80, 0.85] for a in ALL[:40]]
    rows[17][2] = 93.2  # line 19
    f = _write_csv(tmp_path / "b.csv", ["arch", "v", "t"], rows)
    with pytest.raises(
        ImportError_, match=r"'t' mixes scales: 39 values in \[0, 1\].* 93.2 on line 19"
    ):
        import_table(f, tmp_path / "t.h5", m)
    assert not (tmp_path / "t.h5").exists()
    # percent with a few dead networks at chance (CIFAR-100: 1%, ImageNet16-120: 0.83%)
    rows = [
        [a, 0.83 if i < 3 else 60.0 + i % 9, 1.0 if i < 3 else 61.0] for i, a in enumerate(ALL[:40])
    ]
    f = _write_csv(tmp_path / "c.csv", ["arch", "v", "t"], rows)
    import_table(f, tmp_path / "t.h5", m)
    assert Table.open(tmp_path / "t.h5").query(ALL[0]).valid_acc == pytest.approx(0.83)


def test_a_scale_on_percent_data_says_to_drop_it(tmp_path: Path) -> None:
    f = _write_csv(tmp_path / "r.csv", ["arch", "v", "t"], [[SKIP_A, 82.25, 85.0]])
    with pytest.raises(
        ImportError_, match=r"82.25 x 100 from --accuracy-scale.*Drop --accuracy-scale"
    ):
        import_table(
            f, tmp_path / "t.h5", ImportMapping("v", "t", partial=True, accuracy_scale=100)
        )


def test_accuracy_scale_turns_fractions_into_percent(tmp_path: Path) -> None:
    f = _write_csv(tmp_path / "r.csv", ["arch", "v", "t"], [[SKIP_A, 0.5, 0.625]])
    with pytest.raises(ImportError_, match=r"lies in \[0, 1\].*--accuracy-scale 100"):
        import_table(f, tmp_path / "t.h5", ImportMapping("v", "t", partial=True))
    assert not (tmp_path / "t.h5").exists()
    import_table(f, tmp_path / "t.h5", ImportMapping("v", "t", partial=True, accuracy_scale=100))
    assert Table.open(tmp_path / "t.h5").query(SKIP_A).test_acc == 62.5
    import_table(f, tmp_path / "t.h5", ImportMapping("v", "t", partial=True, accuracy_scale=1))
    assert Table.open(tmp_path / "t.h5").query(SKIP_A).test_acc == 0.625


def test_shipped_nb201_tables_are_complete_per_cell_and_attributed() -> None:
    for name, (search, report) in {
        "nb201-cifar10": ("cifar10_valid_xvalid", "cifar10_ori_test"),
        "nb201-cifar100": ("cifar100_xvalid", "cifar100_xtest"),
        "nb201-imagenet16-120": ("imagenet16_120_xvalid", "imagenet16_120_xtest"),
    }.items():
        t = open_table(name, verify=True)
        assert t.per_cell and t.n_rows == 15625 and t.n_classes == 6466
        assert (t.search_metric, t.report_metric) == (search, report)
        assert t.source["license"].startswith("MIT") and "NAS-Bench-201" in t.source["citation"]
        assert t.source["input_sha256"] == (
            "f583161f3fb9bac0441081aba45207ac6bc4db80de943e8831d3c069db7b9570"
        )
        assert t.trained().all()
        assert int(np.count_nonzero(representative_mask(t.canonical))) == 6466


def test_shipped_nb201_cifar10_equals_the_csv() -> None:
    """20 random cells of the shipped table equal the vendored CSV (as float32)."""
    root = Path(__file__).resolve().parents[2]
    path = root / "benchmarks" / "data" / "nb201-12epoch" / "nb201-12epoch.csv"
    if not path.is_file():
        pytest.skip("the vendored NB201 CSV is not in this checkout")
    with open(path, newline="") as fh:
        lines = list(csv.DictReader(fh))
    t = open_table("nb201-cifar10")
    rng = np.random.default_rng(7)
    for i in rng.choice(len(lines), 20, replace=False).tolist():
        r = t.query(lines[i]["arch"])
        assert r.valid_acc == float(np.float32(lines[i]["cifar10_valid_xvalid"]))
        assert r.test_acc == float(np.float32(lines[i]["cifar10_ori_test"]))
        # NAS-Bench-201's own numbering is kept: arch_index i is the CSV's line i.
        assert int(lines[i]["arch_index"]) == i
        assert t.arch_at_source_index(i) == lines[i]["arch"]
        assert t.source_index_of(lines[i]["arch"]) == i


def test_plot_of_an_imported_table(tmp_path: Path) -> None:
    from nasrepro.tables import plot_table

    out = plot_table(open_table("nb201-cifar10"), tmp_path / "p.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


# ------------------------------------------------------------- the source's own index
def test_index_column_is_kept_and_looked_up_both_ways(tmp_path: Path) -> None:
    rows = [[SKIP_A, 50, 60, 907], [SKIP_B, 70, 80, 12], [OTHER_A, 30, 40, 0]]
    f = _write_csv(tmp_path / "r.csv", ["arch", "v", "t", "arch_index"], rows)
    m = ImportMapping(search_metric="v", report_metric="t", partial=True, index_column="arch_index")
    import_table(f, tmp_path / "t.h5", m)
    t = Table.open(tmp_path / "t.h5", verify=True)
    assert t.index_column == "arch_index"
    si = t.source_index
    assert si is not None and si.dtype == np.int64 and si.shape == (len(ALL),)
    assert int(np.count_nonzero(si >= 0)) == 3 and not si.flags.writeable
    # isomorphic cells keep their own indices (a per-cell table)
    assert (t.arch_at_source_index(907), t.arch_at_source_index(12)) == (SKIP_A, SKIP_B)
    assert t.source_index_of(SKIP_B) == 12 and t.source_index_of(CELL.parse(OTHER_A)) == 0
    assert t.query(t.arch_at_source_index(12)).test_acc == 80.0
    with pytest.raises(MissingEntryError, match=r"no architecture has arch_index 13 .*0\.\.907"):
        t.arch_at_source_index(13)
    with pytest.raises(MissingEntryError, match="the source gave no index for"):
        t.source_index_of(OTHER_B)
    df = t.to_dataframe()
    assert dict(zip(df["arch"], df["source_index"], strict=True)) == {
        SKIP_A: 907,
        SKIP_B: 12,
        OTHER_A: 0,
    }


def test_index_lines_must_agree(tmp_path: Path) -> None:
    head = ["arch", "seed", "v", "t", "idx"]
    m = ImportMapping(
        search_metric="v", report_metric="t", partial=True, seed_column="seed", index_column="idx"
    )
    ok = _write_csv(tmp_path / "ok.csv", head, [[SKIP_A, 0, 51, 52, 4], [SKIP_A, 1, 51, 52, 4]])
    import_table(ok, tmp_path / "ok.h5", m)  # one index on each seed's line is fine
    assert Table.open(tmp_path / "ok.h5").source_index_of(SKIP_A) == 4
    two = _write_csv(tmp_path / "two.csv", head, [[SKIP_A, 0, 51, 52, 4], [SKIP_A, 1, 51, 52, 5]])
    with pytest.raises(
        ImportError_, match=r"two\.csv:3: column 'idx': .* index 5 here but 4 on line 2"
    ):
        import_table(two, tmp_path / "x.h5", m)
    dup = _write_csv(tmp_path / "dup.csv", head, [[SKIP_A, 0, 51, 52, 4], [SKIP_B, 0, 51, 52, 4]])
    with pytest.raises(
        ImportError_, match=r"dup\.csv:3: .*index 4 is given to .* line 2; indices must be unique"
    ):
        import_table(dup, tmp_path / "x.h5", m)
    neg = _write_csv(tmp_path / "neg.csv", head, [[SKIP_A, 0, 51, 52, -1]])
    with pytest.raises(ImportError_, match=r"neg\.csv:2: column 'idx': .* not an integer >= 0"):
        import_table(neg, tmp_path / "x.h5", m)
    nocol = _write_csv(tmp_path / "nocol.csv", head[:-1], [[SKIP_A, 0, 51, 52]])
    with pytest.raises(ImportError_, match=r"missing column\(s\) \['idx'\]"):
        import_table(nocol, tmp_path / "x.h5", m)
    assert not (tmp_path / "x.h5").exists()


def test_index_column_needs_per_cell_values() -> None:
    with pytest.raises(ImportError_, match="index_column needs per-cell values"):
        ImportMapping(search_metric="v", report_metric="t", per_cell=False, index_column="i")
    with pytest.raises(ImportError_, match="is not a column name"):
        ImportMapping.from_dict({"search_metric": "v", "report_metric": "t", "index_column": 3})


@pytest.mark.parametrize("key", ["per_cell", "partial"])
def test_mapping_flags_must_be_booleans(key: str, tmp_path: Path) -> None:
    """A JSON mapping's "false" (a string) read as true: a 50-line file imported as partial."""
    f = tmp_path / "m.json"
    f.write_text(json.dumps({"search_metric": "v", "report_metric": "t", key: "false"}))
    with pytest.raises(ImportError_, match=f"{key} must be true or false, not 'false'"):
        ImportMapping.from_file(f)
    f.write_text(json.dumps({"search_metric": "v", "report_metric": "t", key: False}))
    assert getattr(ImportMapping.from_file(f), key) is False


def test_a_changed_source_index_fails_the_row_checksum(tmp_path: Path) -> None:
    import h5py

    f = _write_csv(tmp_path / "r.csv", ["arch", "v", "t", "i"], [[SKIP_A, 50, 60, 3]])
    m = ImportMapping(search_metric="v", report_metric="t", partial=True, index_column="i")
    import_table(f, tmp_path / "t.h5", m)
    with h5py.File(tmp_path / "t.h5", "r+") as h:
        si = h["source_index"][()]
        si[int(np.flatnonzero(si == 3)[0])] = 4
        h["source_index"][...] = si  # h5py rewrites the chunk's own checksum
    with pytest.raises(TableError, match="row index checksum mismatch"):
        Table.open(tmp_path / "t.h5", verify=True)


def test_tables_without_an_index_say_so(tmp_path: Path) -> None:
    f = _write_csv(tmp_path / "r.csv", ["arch", "v", "t"], [[SKIP_A, 50, 60]])
    import_table(
        f, tmp_path / "t.h5", ImportMapping(search_metric="v", report_metric="t", partial=True)
    )
    for t in (Table.open(tmp_path / "t.h5"), open_table("cell-mnist1d-tiny")):
        assert t.source_index is None and t.index_column is None
        with pytest.raises(MissingEntryError, match="keeps no source index"):
            t.arch_at_source_index(0)
        with pytest.raises(MissingEntryError, match="keeps no source index"):
            t.source_index_of(SKIP_A)
        assert "source_index" not in t.to_dataframe().columns
