"""``--cpu-isa``: capping torch's CPU kernels so that an AVX-512 CPU computes an AVX2 one's
bits (:mod:`nasrepro.bench._cpu_isa`).

The caps are read when torch first dispatches, so every test that applies one runs in a
fresh process.
"""

from __future__ import annotations

import gzip
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nasrepro.bench import ConfigError, cap_cpu_isa

CELL = "|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"


def _has_avx2() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return platform.machine() in ("x86_64", "AMD64") and " avx2" in flags


needs_avx2 = pytest.mark.skipif(not _has_avx2(), reason="the cap needs an x86-64 CPU with AVX2")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "CPU_ISA" not in k}
    env.pop("ATEN_CPU_CAPABILITY", None)
    return env


def _nasrepro(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = "import sys; from nasrepro.bench.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=cwd,
        timeout=300,
    )


def test_an_unknown_cap_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"unknown CPU instruction-set cap 'avx3'.*\['avx2'\]"):
        cap_cpu_isa("avx3")


def test_too_late_once_torch_is_loaded_names_the_environment_fix() -> None:
    """This process loaded torch without caps: capping now would change nothing, so it
    is refused with the variables to set instead."""
    assert "ONEDNN_MAX_CPU_ISA" not in os.environ
    with pytest.raises(ConfigError) as e:
        cap_cpu_isa("avx2")
    msg = str(e.value)
    assert "torch is already loaded" in msg
    assert "ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2" in msg
    assert "ONEDNN_MAX_CPU_ISA" not in os.environ  # nothing half-set


@needs_avx2
def test_train_records_the_capped_dispatch(tmp_path: Path) -> None:
    r = _nasrepro(
        "train", CELL, "--protocol", "synthetic-smoke", "--cpu-isa", "avx2", "--json",
        "--no-track", cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    versions = json.loads(r.stdout.splitlines()[-1])["versions"]
    assert versions["cpu_capability"] == "AVX2"
    assert versions["onednn_max_cpu_isa"] == "AVX2"
    plain = _nasrepro(
        "train", CELL, "--protocol", "synthetic-smoke", "--json", "--no-track", cwd=tmp_path
    )
    assert plain.returncode == 0, plain.stderr
    assert "onednn_max_cpu_isa" not in json.loads(plain.stdout.splitlines()[-1])["versions"]


@needs_avx2
def test_sweep_workers_inherit_the_cap(tmp_path: Path) -> None:
    archs = tmp_path / "archs.txt"
    archs.write_text(CELL + "\n" + CELL.replace("none~0", "skip_connect~0") + "\n")
    r = _nasrepro(
        "sweep", "--protocol", "synthetic-smoke", "--seeds", "0", "--archs", str(archs),
        "--chunk-size", "1", "--workers", "2", "--out", str(tmp_path / "s"), "--no-progress",
        "--no-track", "--cpu-isa", "avx2", cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    chunks = sorted((tmp_path / "s").rglob("*.json.gz"))
    assert len(chunks) == 2
    for c in chunks:
        for res in json.loads(gzip.decompress(c.read_bytes()))["results"]:
            assert res["versions"]["cpu_capability"] == "AVX2"
            assert res["versions"]["onednn_max_cpu_isa"] == "AVX2"


@pytest.mark.skipif(
    torch.backends.cpu.get_cpu_capability() != "AVX512"
    or "AuthenticAMD" not in (Path("/proc/cpuinfo").read_text() if _has_avx2() else ""),
    reason="measured on an AVX-512 AMD CPU only (the caps did not give the table's bits on "
    "an AVX-512 Intel Xeon)",
)
def test_an_avx512_amd_cpu_retrains_a_default_table_row_bitwise(tmp_path: Path) -> None:
    """The shipped default table was trained on AVX2 CPUs. On an AVX-512 AMD EPYC its rows
    differ from the first epoch on; with --cpu-isa avx2 they match bitwise."""
    cell = "|skip_connect~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|none~1|none~2|"
    plain = _nasrepro("reproduce", cell, cwd=tmp_path)
    assert plain.returncode == 1, plain.stdout + plain.stderr
    assert "DIFFERENT" in plain.stdout and "retrain with --cpu-isa avx2" in plain.stdout
    r = _nasrepro("reproduce", cell, "--cpu-isa", "avx2", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "IDENTICAL: every metric of every epoch matches bitwise" in r.stdout
