"""``nasrepro surrogate fit | eval | predict`` end to end on real sweep tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nasrepro.bench.cli import main
from nasrepro.surrogate import METRICS


@pytest.fixture(scope="module")
def fitted(chain_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "model"
    rc = main(
        [
            "surrogate",
            "fit",
            "--table",
            str(chain_dir / "chain-train.h5"),
            "--param",
            "n_estimators=20",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    return out


def test_fit_writes_json_only(fitted: Path) -> None:
    names = [p.name for p in fitted.iterdir()]
    assert "metadata.json" in names and all(n.endswith((".json", ".json.gz")) for n in names)
    assert json.loads((fitted / "metadata.json").read_text())["model_params"]["n_estimators"] == 20


def test_eval_json(
    fitted: Path, chain_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(
        [
            "surrogate",
            "eval",
            "--models",
            str(fitted),
            "--test",
            str(chain_dir / "chain-test.h5"),
            "--json",
            "--report",
            str(tmp_path / "r"),
        ]
    )
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == ["chain"] and tuple(sorted(out["chain"])) == tuple(sorted(METRICS))
    assert (tmp_path / "r" / "scatter-chain.png").is_file()
    assert "| chain |" in (tmp_path / "r" / "report.md").read_text()


def test_predict_json(fitted: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arch = "conv3x3@1.0|skip@0.5|mbconv_e6_k5@1.5"
    rc = main(["surrogate", "predict", arch, "--space", "chain", "--models", str(fitted), "--json"])
    assert rc == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["arch"] == arch and row["cost_s"] > 0 and row["valid_std"] >= 0


def test_eval_without_test_tables_names_the_fix(
    fitted: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["surrogate", "eval", "--models", str(fitted)]) == 2
    assert "--test" in capsys.readouterr().err


def test_eval_defaults_to_the_shipped_surrogate(capsys: pytest.CaptureFixture[str]) -> None:
    """With no --models, eval scores the shipped surrogate on its shipped test sets, one
    entry per space it models (it used to be tested with both patched to a test fit)."""
    from nasrepro.surrogate import load_shipped

    assert main(["surrogate", "eval", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    shipped = load_shipped()
    assert (
        sorted(out)
        == sorted(shipped.metadata_["n_train_archs"])
        == [
            "cell",
            "chain",
            "hierarchical",
        ]
    )
    for space, m in out.items():
        assert m["n_train"] == shipped.metadata_["n_train_archs"][space]
