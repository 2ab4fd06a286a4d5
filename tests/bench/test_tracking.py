"""Tracking: the run environment (versions, code version, container image) on every run."""

from __future__ import annotations

from pathlib import Path

import pytest

from nasrepro.bench.tracking import mlflow_run, run_environment


def test_run_environment_records_versions_and_image(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NASREPRO_IMAGE_DIGEST", raising=False)
    monkeypatch.setenv("NASREPRO_CODE_VERSION", "abc123")
    env = run_environment()
    assert env["code_version"] == "abc123"
    assert {"version.torch", "version.numpy", "version.python", "version.nasrepro"} <= set(env)
    assert "image_digest" not in env
    monkeypatch.setenv("NASREPRO_IMAGE_DIGEST", "sha256:" + "0" * 64)
    assert run_environment()["image_digest"] == "sha256:" + "0" * 64


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
