"""What the device check (benchmarks/gpu_check.sh, issue 26) relies on in the harness.

The device machine has no mnist1d and no network: the MNIST-1D data travels as the
harness's own cache file, which must then be found without mnist1d. Deterministic
training on CUDA needs cuBLAS's fixed workspace, or the first linear layer raises.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import torch

from nasrepro.bench.harness._data import DatasetError, load_splits
from nasrepro.bench.harness._train import deterministic


def test_mnist1d_cache_is_found_without_mnist1d(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NASREPRO_CACHE", str(tmp_path))
    made = load_splits("mnist1d", 300, 100, 100, split_seed=0, gen_seed=0)
    load_splits("mnist1d", 400, 100, 100, split_seed=0, gen_seed=0)  # another cache file
    monkeypatch.setitem(sys.modules, "mnist1d", None)  # import mnist1d now raises
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    found = load_splits("mnist1d", 300, 100, 100, split_seed=0, gen_seed=0)
    assert found.digest() == made.digest()
    with pytest.raises(DatasetError, match="no MNIST-1D cache of 600 samples with seed 3"):
        load_splits("mnist1d", 400, 100, 100, split_seed=0, gen_seed=3)


def test_cache_files_record_their_generation_arguments(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NASREPRO_CACHE", str(tmp_path))
    load_splits("mnist1d", 300, 100, 100, split_seed=0, gen_seed=2)
    (path,) = tmp_path.glob("mnist1d-*.npz")
    with np.load(path) as z:
        assert '"num_samples": 500' in str(z["args"]) and '"seed": 2' in str(z["args"])


def test_deterministic_cuda_sets_a_cublas_workspace(monkeypatch) -> None:
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    benchmark = torch.backends.cudnn.benchmark
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
    try:
        deterministic(torch.device("cuda"))  # sets flags only; needs no GPU
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
        assert torch.backends.cudnn.benchmark is False
        assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
        assert torch.are_deterministic_algorithms_enabled()
        monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
        deterministic(torch.device("cuda"))
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"  # the caller's choice stays
    finally:
        torch.backends.cudnn.benchmark = benchmark
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32


def test_a_damaged_or_unwritable_cache_is_not_fatal(tmp_path, monkeypatch, caplog) -> None:
    """A cut-short cache file is made again, and a cache that cannot be written only
    costs a warning: both were tracebacks (BadZipFile, PermissionError, an audit)."""
    import logging

    monkeypatch.setenv("NASREPRO_CACHE", str(tmp_path))
    made = load_splits("mnist1d", 300, 100, 100, split_seed=0, gen_seed=0)
    (path,) = tmp_path.glob("mnist1d-*.npz")
    path.write_bytes(path.read_bytes()[:100])
    with caplog.at_level(logging.WARNING, logger="nasrepro.bench.harness._data"):
        again = load_splits("mnist1d", 300, 100, 100, split_seed=0, gen_seed=0)
    assert again.digest() == made.digest() and "generating it again" in caplog.text
    with np.load(path) as z:  # written whole again
        assert z["x"].shape[0] == 500
    monkeypatch.setenv("NASREPRO_CACHE", str(path / "sub"))  # under a file: not writable
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="nasrepro.bench.harness._data"):
        nocache = load_splits("mnist1d", 300, 100, 100, split_seed=0, gen_seed=0)
    assert nocache.digest() == made.digest() and "cannot cache MNIST-1D" in caplog.text
