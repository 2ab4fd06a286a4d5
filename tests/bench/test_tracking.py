"""Tracking: the run environment (versions, code version, container image) on every run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nasrepro.bench.tracking import mlflow_run, run_environment, versions

SMOKE_TABLE = Path(__file__).resolve().parents[1] / "data" / "cell-mnist1d-smoke.h5"

#: A small leaderboard over a table in a fresh interpreter; prints whether torch got
#: loaded, and the environment block of the results.json it wrote.
_LEADERBOARD = """
import json, sys
from nasrepro.bench.sim import BenchmarkSpec, LeaderboardConfig, run_leaderboard, write_outputs
config = LeaderboardConfig(
    benchmark=BenchmarkSpec(table=sys.argv[1]),
    strategies=("random-search", "regularized-evolution"),
    seeds=(0,),
    budget="20q",
)
paths = write_outputs(run_leaderboard(config), sys.argv[2])
env = json.loads(paths["results"].read_text())["environment"]
print(json.dumps({"torch_loaded": "torch" in sys.modules, "environment": env}))
"""


def test_run_environment_records_versions_and_image(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NASREPRO_IMAGE_DIGEST", raising=False)
    monkeypatch.setenv("NASREPRO_CODE_VERSION", "abc123")
    env = run_environment()
    assert env["code_version"] == "abc123"
    assert {"version.torch", "version.numpy", "version.python", "version.nasrepro"} <= set(env)
    assert "image_digest" not in env
    monkeypatch.setenv("NASREPRO_IMAGE_DIGEST", "sha256:" + "0" * 64)
    assert run_environment()["image_digest"] == "sha256:" + "0" * 64


def test_run_environment_records_the_cpu_and_numpy_kernels() -> None:
    """A leaderboard's numbers depend on numpy's kernels (their last bits differ between
    AVX2 and AVX-512), so its record names them; a target switched off is left out."""
    env = run_environment()
    assert env["cpu"] and "numpy_simd" in env
    targets = [t for t in env["numpy_simd"].split(",") if t]
    if not targets:
        pytest.skip("numpy dispatches no SIMD target above its baseline on this CPU")
    code = "import json; from nasrepro.bench.tracking import numpy_kernels as k; print(json.dumps(k()))"
    capped = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "NPY_DISABLE_CPU_FEATURES": targets[-1]},
        capture_output=True,
        text=True,
        check=True,
    )
    left = json.loads(capped.stdout)["numpy_simd"].split(",")
    assert targets[-1] not in left and set(left) < set(targets) | {""}


def test_mlflow_run_is_tagged_with_the_image_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mlflow = pytest.importorskip("mlflow")
    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("NASREPRO_IMAGE_DIGEST", "sha256:feed")
    monkeypatch.chdir(tmp_path)  # artifacts of the sqlite store land here
    with mlflow_run("t", params={"a": 1}, experiment="tracking-test") as run:
        assert run.active
    mlflow.set_tracking_uri(uri)
    tags = mlflow.get_run(run.run_id).data.tags
    assert tags["image_digest"] == "sha256:feed"
    assert tags["version.torch"] and tags["code_version"]


def test_a_leaderboard_and_its_results_load_no_torch(tmp_path: Path) -> None:
    """``results.json`` records the environment without importing torch (issue 22)."""
    out = subprocess.run(
        [sys.executable, "-c", _LEADERBOARD, str(SMOKE_TABLE), str(tmp_path / "lb")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["torch_loaded"] is False
    env = got["environment"]
    assert {"version.numpy", "version.python", "version.nasrepro", "code_version"} <= set(env)
    assert "version.torch" not in env and "version.cpu_capability" not in env


def test_versions_report_torch_where_it_is_loaded() -> None:
    """Training has torch loaded, so its results still record torch and the CPU capability."""
    import torch

    v = versions()
    assert v["torch"] == torch.__version__
    assert v["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    from nasrepro.bench.harness import train
    from nasrepro.bench.harness import versions as harness_versions

    assert harness_versions is versions
    cell = "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    r = train(cell, "synthetic-smoke", 0, static=False)
    assert r.versions["torch"] == v["torch"] and r.versions["cpu_capability"] == v["cpu_capability"]


def test_a_surrogate_leaderboard_records_the_model_libraries(tmp_path: Path) -> None:
    """A surrogate benchmark's numbers depend on xgboost (and scikit-learn for its
    baselines); its results record them, as a table leaderboard's record numpy."""
    from nasrepro.bench.cli import main

    out = tmp_path / "lb"
    argv = ["leaderboard", "--benchmark", "chain-mnist1d-tiny-surrogate", "--strategies",
            "random-search", "--seeds", "2", "--budget", "5q", "--no-track", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    env = json.loads((out / "results.json").read_text())["environment"]
    import xgboost

    assert env["version.xgboost"] == xgboost.__version__
