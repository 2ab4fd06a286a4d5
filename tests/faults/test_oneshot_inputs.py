"""``nasrepro oneshot``: runs print valid cells with their table accuracies; bad input is one line."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from nasrepro.spaces import get_space
from nasrepro.tables import Table, open_table

SMOKE = str(Path(__file__).resolve().parents[1] / "data" / "cell-mnist1d-smoke.h5")


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
    md = (out / "oneshot.md").read_text()
    assert "| rsps | 1 |" in md and "| darts-v1 | 1 |" in md
    assert "random-search" in md and "FTE (rsps)" in md
    res = json.loads((out / "oneshot.json").read_text())
    assert res["summary"]["rsps"]["seeds"] == 2
    assert res["summary"]["darts-v1"]["op_share"]["none"] == 0  # DARTS never derives none
    assert set(res["blackbox"]["rsps"]) == {"random-search", "hyperband"}
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
    os.remove(runs[0])  # as if killed before that run finished
    r2 = cli(*args)
    assert r2.rc == 0, r2.err  # type: ignore[attr-defined]
    assert [p.stat().st_mtime_ns for p in runs[1:]] == stamps[1:]  # finished runs reused
    other = list(args)
    other[other.index("--epochs") + 1] = "2"  # another configuration into the same --out
    cli(*other).assert_user_error("holds a run of another configuration", "1 epochs")  # type: ignore[attr-defined]
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
    cli(*args).assert_user_error("made with other settings (grad_clip differ", "remove it")  # type: ignore[attr-defined]


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
