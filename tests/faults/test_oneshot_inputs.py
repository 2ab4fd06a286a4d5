"""``nasrepro oneshot``: runs print valid cells with their table accuracies; bad input is one line."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from nasrepro.spaces import get_space
from nasrepro.tables import Table, open_table

SMOKE = str(Path(__file__).resolve().parents[1] / "data" / "cell-mnist1d-smoke.h5")


def _strict_json(text: str) -> object:
    """``json.loads`` as strict parsers read: ``NaN`` and ``Infinity`` are errors."""

    def refuse(name: str) -> object:
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def _run(cli: Callable[..., object], *flags: str) -> object:
    return cli("oneshot", "run", *flags, "--no-track")


def test_run_json_prints_a_valid_cell_and_its_table_accuracies(cli: Callable[..., object]) -> None:
    r = _run(
        cli,
        "rsps",
        "--seed",
        "0",
        "--json",
        "--table",
        SMOKE,
        "--epochs",
        "2",
        "--rank-cells",
        "30",
    )
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    d = json.loads(r.out)  # type: ignore[attr-defined]
    arch = get_space("cell").parse(d["arch"])
    assert arch.to_string() == d["arch"]
    t = Table.open(SMOKE)
    row = t.query(d["arch"])
    assert (d["table_valid_acc"], d["table_test_acc"]) == (row.valid_acc, row.test_acc)
    assert d["regret"] == pytest.approx(t.optimum - row.test_acc)
    assert d["full_training_equivalents"] == pytest.approx(
        d["search_seconds"] / d["standalone_seconds"]
    )
    assert d["search_seconds"] > 0 and d["standalone_seconds"] > 0
    assert d["protocol"] == "mnist1d-smoke" and d["protocol_id"] == t.protocol_id
    assert d["transfer"] is None and d["epochs"] == 2 and len(d["history"]) == 2
    assert -1 <= d["ranking"]["kendall_tau"] <= 1 and d["ranking"]["cells"] == 30
    assert sum(d["op_counts"].values()) == 6
    assert d["config"]["cite"].startswith("Li & Talwalkar 2019")
    for h in d["history"]:
        assert t.query(h["arch"]).test_acc == h["table_test_acc"]


@pytest.mark.slow
def test_rsps_under_the_default_protocol_scores_on_the_default_table(
    cli: Callable[..., object],
) -> None:
    """The issue's check, at full length: `nasrepro oneshot run rsps --seed 0 --json`."""
    r = _run(cli, "rsps", "--seed", "0", "--json")
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    d = json.loads(r.out)  # type: ignore[attr-defined]
    assert d["protocol"] == "mnist1d-tiny" and d["table"] == "cell-mnist1d-tiny.h5"
    assert open_table("cell-mnist1d-tiny").query(d["arch"]).test_acc == d["table_test_acc"]


def test_scoring_across_protocols_is_refused_unless_a_transfer(cli: Callable[..., object]) -> None:
    _run(
        cli, "rsps", "--table", SMOKE, "--protocol", "synthetic-smoke", "--epochs", "1"
    ).assert_user_error(  # type: ignore[attr-defined]
        "holds results of protocol mnist1d-smoke", "--transfer"
    )
    _run(cli, "rsps", "--table", "nb201-cifar10", "--epochs", "1").assert_user_error(  # type: ignore[attr-defined]
        "imported without a training protocol", "--protocol P --transfer"
    )
    r = _run(cli, "rsps", "--table", "nb201-cifar10", "--protocol", "synthetic-smoke", "--transfer",
             "--epochs", "1", "--json")  # fmt: skip
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    d = json.loads(r.out)  # type: ignore[attr-defined]
    assert d["transfer"].startswith("transfer: searched under synthetic-smoke, scored on imported")
    assert d["table_test_acc"] == open_table("nb201-cifar10").query(d["arch"]).test_acc


@pytest.mark.parametrize(
    ("flags", "fragments"),
    [
        (["dart"], ["unknown one-shot method 'dart'", "darts-v1"]),
        (["rsps", "--epochs", "0"], ["--epochs"]),
        (["rsps", "--seed", "-1"], ["--seed"]),
        (["rsps", "--table", "/no/such.h5"], ["/no/such.h5"]),
        (["rsps", "--protocol", "nope"], ["unknown protocol 'nope'"]),
    ],
)
def test_bad_input_is_one_line(
    cli: Callable[..., object], flags: list[str], fragments: list[str]
) -> None:
    _run(cli, *flags).assert_user_error(*fragments)  # type: ignore[attr-defined]


def test_list_names_every_method_with_its_source(cli: Callable[..., object]) -> None:
    r = cli("oneshot", "list", "--json")
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    rows = {m["method"]: m for m in json.loads(r.out)["methods"]}  # type: ignore[attr-defined]
    assert list(rows) == ["rsps", "darts-v1", "darts-v2", "gdas", "setn", "enas"]
    assert rows["darts-v1"]["epochs"] == 6 and "DARTS.config" in rows["darts-v1"]["source"]


def test_leaderboard_runs_resumes_and_sets_black_box_beside(
    cli: Callable[..., object], tmp_path: Path
) -> None:
    out = tmp_path / "os"
    args = ["oneshot", "leaderboard", "--table", SMOKE, "--methods", "rsps,darts-v1", "--seeds", "2",
            "--epochs", "1", "--rank-cells", "20", "--strategies", "random-search,hyperband",
            "--jobs", "1", "--out", str(out), "--no-track"]  # fmt: skip
    r = cli(*args)
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    err = r.err  # type: ignore[attr-defined]
    for phase in ("timing 3 stand-alone trainings", "one-shot searches", "retraining rsps's",
                  "retraining darts-v1's", "black-box strategies"):  # fmt: skip
        assert phase in err, err
    md = (out / "oneshot.md").read_text()
    assert "| rsps | 1 |" in md and "| darts-v1 | 1 |" in md
    assert "random-search" in md and "FTE (rsps)" in md
    res = _strict_json((out / "oneshot.json").read_text())
    assert res["summary"]["rsps"]["seeds"] == 2
    # what the board ran under, and what the stand-alone timing ran on (an audit)
    assert len(res["header"]["protocol_id"]) == 64 and "torch" in res["header"]["versions"]
    cost = json.loads((out / "cost.json").read_text())
    assert cost["protocol_id"] == res["header"]["protocol_id"] and cost["cpu"]
    assert {"torch", "numpy", "nasrepro", "torch_threads"} <= set(cost["versions"])
    assert res["summary"]["darts-v1"]["op_share"]["none"] == 0  # DARTS never derives none
    assert set(res["blackbox"]["rsps"]) == {"random-search", "hyperband"}
    # each strategy at rsps's cost: regret, test mean and std, and the Welch p of rsps's
    # per-seed regrets against the strategy's (both sides have 2 seeds)
    # per-seed regrets against the strategy's (both sides have 2 seeds), and that p
    # Holm-adjusted over rsps's two comparisons
    row = res["blackbox"]["rsps"]
    reg, _, _, p, p_holm = row["random-search"]
    assert len(res["summary"]["rsps"]["regrets"]) == 2 and "; p " in md and ", Holm " in md
    assert reg >= 0.0 and 0.0 <= p <= 1.0
    from nasrepro.bench.sim._leaderboard_stats import holm

    ps = [row[n][3] for n in ("random-search", "hyperband")]
    assert [row[n][4] for n in ("random-search", "hyperband")] == holm(ps)
    assert (out / "oneshot-epochs.png").stat().st_size > 1000
    for m in ("rsps", "darts-v1"):  # --retrain 1: the seed-0 cell, retrained for real
        (rt,) = res["retrained"][m]
        assert rt["arch"] == json.loads((out / "runs" / f"{m}-seed0.json").read_text())["arch"]
        assert rt["verdict"] in ("IDENTICAL", "CLOSE", "DIFFERENT")
        if rt["bitwise_expected"]:  # the same build as the table's: bitwise
            assert rt["verdict"] == "IDENTICAL"
        assert "Derived cells retrained for real" in md
    runs = sorted((out / "runs").glob("*.json"))
    assert [p.name for p in runs] == ["darts-v1-seed0.json", "darts-v1-seed1.json",
                                      "rsps-seed0.json", "rsps-seed1.json"]  # fmt: skip
    stamps = [p.stat().st_mtime_ns for p in runs]
    kept = sorted((out / "retrained").glob("*.json"))  # each real retraining, as it ended
    assert 1 <= len(kept) <= 2  # the two methods' seed-0 cells (one file if the same cell)
    kept_stamps = [p.stat().st_mtime_ns for p in kept]
    os.remove(runs[0])  # as if killed before that run finished
    r2 = cli(*args)
    assert r2.rc == 0, r2.err  # type: ignore[attr-defined]
    assert [p.stat().st_mtime_ns for p in runs[1:]] == stamps[1:]  # finished runs reused
    # the retrainings too (they were run again in full until 2026-12-07, a crash audit)
    assert [p.stat().st_mtime_ns for p in kept] == kept_stamps
    assert _strict_json((out / "oneshot.json").read_text())["retrained"] == res["retrained"]
    jobs2 = list(args)
    jobs2[jobs2.index("--jobs") + 1] = "2"  # all finished: asked a pool of 0 workers, crashed
    r3 = cli(*jobs2)
    assert r3.rc == 0, r3.err  # type: ignore[attr-defined]
    assert [p.stat().st_mtime_ns for p in runs[1:]] == stamps[1:]
    other = list(args)
    other[other.index("--epochs") + 1] = "2"  # another configuration into the same --out
    cli(*other).assert_user_error(  # type: ignore[attr-defined]
        "holds a run of another configuration", "epochs: stored 1, asked 2"
    )
    again = json.loads((out / "oneshot.json").read_text())
    timing = ("fte_mean", "search_s_mean")
    for m in ("rsps", "darts-v1"):  # the rerun run gives the same numbers (timing aside)
        a, b = res["summary"][m], again["summary"][m]
        assert {k: v for k, v in a.items() if k not in timing} == {
            k: v for k, v in b.items() if k not in timing
        }
    stale = json.loads(runs[1].read_text())
    stale["config"]["grad_clip"] = None  # a run made by a version with other settings
    runs[1].write_text(json.dumps(stale))
    cli(*args).assert_user_error(  # type: ignore[attr-defined]
        "made with other settings (grad_clip differ",
        "grad_clip: stored None, asked 5.0",
        "remove it",
    )


def test_a_search_is_tracked_in_mlflow(
    cli: Callable[..., object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    r = cli("oneshot", "run", "darts-v1", "--table", SMOKE, "--epochs", "3", "--plot", "p.png")
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    rid = run.info.run_id
    assert [m.step for m in client.get_metric_history(rid, "supernet_loss")] == [1, 2, 3]
    assert len(client.get_metric_history(rid, "p_edge5_op4")) == 3  # the arch trajectory
    assert get_space("cell").parse(run.data.tags["arch"])
    names = {a.path for a in client.list_artifacts(rid)}
    assert {"derived_cells.json", "oneshot.json", "p.png"} <= names


def _board(cli: Callable[..., object], table: Path, out: Path, *flags: str) -> object:
    """A one-shot leaderboard of one short RSPS search under synthetic-smoke, scored on
    ``table`` as a transfer."""
    return cli("oneshot", "leaderboard", "--table", str(table), "--protocol", "synthetic-smoke",
               "--transfer", "--methods", "rsps", "--epochs", "1", "--rank-cells", "0",
               "--retrain", "0", "--jobs", "1", "--out", str(out), "--no-track", *flags)  # fmt: skip


def test_a_stored_run_scored_on_another_table_of_the_same_name_is_refused(
    cli: Callable[..., object], tmp_path: Path
) -> None:
    """The walkthrough's case: CIFAR-100 and CIFAR-10 tables both named ``t.h5``; the
    second leaderboard reused the first's run and printed its CIFAR-100 numbers."""
    data = Path(open_table("nb201-cifar10").path).parent
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    (tmp_path / "C").mkdir()
    a, b, c = tmp_path / "A" / "t.h5", tmp_path / "B" / "t.h5", tmp_path / "C" / "renamed.h5"
    shutil.copy(data / "nb201-cifar100.h5", a)
    shutil.copy(data / "nb201-cifar10.h5", b)
    shutil.copy(data / "nb201-cifar100.h5", c)
    out = tmp_path / "ob"
    r = _board(cli, a, out, "--seeds", "1", "--strategies", "none")
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    run = out / "runs" / "rsps-seed0.json"
    d = json.loads(run.read_text())
    assert d["table_test_acc"] == Table.open(a).query(d["arch"]).test_acc
    assert d["table_digest"]["metrics_sha256"] == Table.open(a).attrs["metrics_sha256"]
    stamp = run.stat().st_mtime_ns
    sha_a = str(Table.open(a).attrs["metrics_sha256"])[:12]
    sha_b = str(Table.open(b).attrs["metrics_sha256"])[:12]
    _board(cli, b, out, "--seeds", "1", "--strategies", "none").assert_user_error(  # type: ignore[attr-defined]
        "holds a run of another configuration",
        f"table: stored t.h5 (metrics sha256 {sha_a}), asked t.h5 (metrics sha256 {sha_b})",
        "use another --out",
    )
    assert run.stat().st_mtime_ns == stamp  # refused before anything ran
    # the same content under another name scores every cell alike: reused
    r = _board(cli, c, out, "--seeds", "1", "--strategies", "none")
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    assert run.stat().st_mtime_ns == stamp
    # on B in its own --out: B's numbers
    r = _board(cli, b, tmp_path / "ob-b", "--seeds", "1", "--strategies", "none")
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    res = _strict_json((tmp_path / "ob-b" / "oneshot.json").read_text())
    tb = Table.open(b)
    assert res["header"]["optimum"] == tb.optimum  # type: ignore[index]
    assert res["summary"]["rsps"]["test_mean"] == tb.query(d["arch"]).test_acc  # type: ignore[index]


def test_a_run_without_a_recorded_table_digest_is_refused(
    cli: Callable[..., object], tmp_path: Path
) -> None:
    """A run stored before runs recorded their table's content: its table is unknown."""
    out = tmp_path / "ob"
    r = _board(cli, Path(SMOKE), out, "--seeds", "1", "--strategies", "none")
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    run = out / "runs" / "rsps-seed0.json"
    d = json.loads(run.read_text())
    del d["table_digest"]
    run.write_text(json.dumps(d))
    _board(cli, Path(SMOKE), out, "--seeds", "1", "--strategies", "none").assert_user_error(  # type: ignore[attr-defined]
        "table: stored cell-mnist1d-smoke.h5 (not recorded), asked cell-mnist1d-smoke.h5"
    )


def test_the_cost_leaves_out_the_per_epoch_diagnostics_and_older_runs_are_refused(
    cli: Callable[..., object], tmp_path: Path
) -> None:
    """RSPS derived from 100 candidates and scored the cell every epoch, and all of it was
    charged: over half its recorded cost, work NB201's script does once at the end."""
    out = tmp_path / "ob"
    r = _board(cli, Path(SMOKE), out, "--seeds", "1", "--strategies", "none", "--epochs", "2")
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    run = out / "runs" / "rsps-seed0.json"
    d = json.loads(run.read_text())
    assert d["cost_accounting"] == "method-only"
    assert d["diagnostic_seconds"] > 0 and d["diagnostic_cpu_seconds"] > 0
    assert d["history"][-1]["seconds"] == d["search_seconds"]  # the method's time, no more
    assert d["history"][0]["seconds"] < d["history"][-1]["seconds"]
    assert d["full_training_equivalents"] == pytest.approx(
        d["search_seconds"] / d["standalone_seconds"]
    )
    del d["cost_accounting"]  # as every run stored before 2026-12-07
    run.write_text(json.dumps(d))
    _board(
        cli, Path(SMOKE), out, "--seeds", "1", "--strategies", "none", "--epochs", "2"
    ).assert_user_error(  # type: ignore[attr-defined]
        "cost accounting: stored diagnostics charged (before 2026-12-07), asked method-only"
    )


def test_damaged_run_and_cost_files_are_redone_not_a_traceback(
    cli: Callable[..., object], tmp_path: Path
) -> None:
    """A run file that is JSON but no object, and a cut-short cost.json (a full disk, a
    killed writer): the run is set aside and searched again, the cost measured again."""
    out = tmp_path / "ob"
    args = ("--seeds", "1", "--strategies", "none")
    assert _board(cli, Path(SMOKE), out, *args).rc == 0  # type: ignore[attr-defined]
    run, cost = out / "runs" / "rsps-seed0.json", out / "cost.json"
    seconds = json.loads(cost.read_text())["standalone_seconds"]
    run.write_text("[]")
    cost.write_text(cost.read_text()[:10])
    r = _board(cli, Path(SMOKE), out, *args)
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    assert "Traceback" not in r.err  # type: ignore[attr-defined]
    assert (out / "runs" / "rsps-seed0.corrupt").read_text() == "[]"
    assert json.loads(run.read_text())["seed"] == 0
    assert json.loads(cost.read_text())["standalone_seconds"] > 0
    assert json.loads(cost.read_text())["standalone_seconds"] != seconds  # measured again


@pytest.mark.parametrize(
    ("flags", "fragments"),
    [
        (["--strategies", "bogus"], ["unknown strategy 'bogus'", "random-search"]),
        (["--strategies", "random-search,,hyperband"], ["--strategies", "empty entry"]),
        (["--seeds", "0,0"], ["--seeds"]),
        (["--seeds", "0"], ["--seeds", "at least 1"]),
    ],
)
def test_leaderboard_input_is_checked_before_any_search(
    cli: Callable[..., object], tmp_path: Path, flags: list[str], fragments: list[str]
) -> None:
    out = tmp_path / "ob"
    _board(cli, Path(SMOKE), out, *flags).assert_user_error(*fragments)  # type: ignore[attr-defined]
    assert not (out / "cost.json").exists() and not (out / "runs").exists()


def test_leaderboard_takes_a_list_of_seeds(cli: Callable[..., object], tmp_path: Path) -> None:
    out = tmp_path / "ob"
    r = _board(cli, Path(SMOKE), out, "--seeds", "3,0", "--strategies", "random-search")
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    assert sorted(p.name for p in (out / "runs").glob("*.json")) == [
        "rsps-seed0.json",
        "rsps-seed3.json",
    ]
    res = _strict_json((out / "oneshot.json").read_text())
    assert res["header"]["seeds"] == 2 and res["summary"]["rsps"]["seeds"] == 2  # type: ignore[index]
    assert list((out / "blackbox-runs").glob("budget-*x/*.json")) != []


def test_json_text_writes_null_for_nan(tmp_path: Path) -> None:
    from nasrepro.bench.oneshot._board import json_text

    text = json_text({"rsps": {"random-search": [float("nan"), 1.5, float("inf")]}, "n": 2})
    assert _strict_json(text) == {"rsps": {"random-search": [None, 1.5, None]}, "n": 2}


def test_run_names_the_protocols_it_could_search_under(cli: Callable[..., object]) -> None:
    r = _run(cli, "rsps", "--table", "nb201-cifar10", "--epochs", "1")
    r.assert_user_error(  # type: ignore[attr-defined]
        "--protocol P --transfer",
        "cifar10-nb201 (cifar10, C=16 N=5 resblock = NAS-Bench-201's own protocol",
        "mnist1d-tiny (mnist1d",
    )
    r = _run(cli, "rsps", "--table", "nb201-cifar10", "--protocol", "synthetic-smoke")
    r.assert_user_error(  # type: ignore[attr-defined]
        "holds imported results (NAS-Bench-201", "without a training protocol", "--transfer"
    )
    assert "()" not in r.err  # type: ignore[attr-defined]


def test_run_says_what_each_long_phase_is(cli: Callable[..., object]) -> None:
    r = _run(cli, "darts-v1", "--table", SMOKE, "--epochs", "2", "--rank-cells", "5",
             "--retrain")  # fmt: skip
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    err = r.err  # type: ignore[attr-defined]
    phases = ["loading the mnist1d data of mnist1d-smoke", "epoch    1", "epoch    2",
              "timing 3 stand-alone trainings under mnist1d-smoke",
              "checking the supernet's ranking on 5 cell classes",
              "retraining the derived cell for real under mnist1d-smoke"]  # fmt: skip
    at = [err.index(p) for p in phases]
    assert at == sorted(at), err
    assert err.count("shared-weight acc: ") == 1  # the note, once, before the first epoch
    assert err.index("near chance early on is expected") < at[1]


def test_list_says_how_its_epochs_compare_with_nb201s(cli: Callable[..., object]) -> None:
    r = cli("oneshot", "list", "--protocol", "cifar10-nb201")
    assert r.rc == 0, r.err  # type: ignore[attr-defined]
    text = " ".join(r.out.split())  # type: ignore[attr-defined]
    assert "12,500 of its 25,000 examples" in text
    assert "half the images" in text and "twice as many epochs" in text
