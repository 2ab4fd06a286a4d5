"""The device check of issue 26: GPU tests, equivalence, determinism and throughput.

Run through ``benchmarks/gpu_check.sh``, which puts the source folders on the path as
the ``nasrepro`` package (nothing is installed) and points ``NASREPRO_CACHE`` at the
carried MNIST-1D cache. Steps, each with a time budget inside one overall budget
(``--budget``); a step or K that would overrun is recorded as ``skipped: time``:

1. ``pytest -m gpu`` on the test files that hold GPU tests (carried pytest wheels are
   installed into a temporary folder when pytest is missing);
2. batched against single training on the device: max abs difference per metric;
3. determinism: the same cell and seed trained twice (single and batched), bitwise or
   the max difference, with the settings that decide it (deterministic algorithms,
   cuDNN flags, TF32, the cuBLAS workspace);
4. throughput in cell-seeds/s, single and batched K in {1, 32, 128, 512, 2048}, on
   ``mnist1d-tiny`` (an out-of-memory K is recorded and larger ones skipped);
5. the ``cifar10-nb201`` macro (C=16, N=5, 32x32, 10 classes) on synthetic tensors:
   step time single and batched, extrapolated to GPU-hours of the full NB201 protocol;
6. a timed slice of the real full-space build through ``sweep(..., batched=K)``,
   extrapolated to all 6,466 classes of the cell space, against the 15-minute goal;
7. one-shot searches (DARTS-V1, GDAS; issue 24) for a few epochs on the device, each run
   twice: bitwise repeatability and the time extrapolated to the full scaled search.

``gpu_check.json`` and ``gpu_check.md`` are rewritten after every step (and every K),
so a run killed at its limit still leaves a partial report. The exit code is 1 when a
step errors or a GPU test fails. ``--tiny`` shrinks every size (CPU smoke run, CI);
``--prepare`` (run where mnist1d and a package registry are reachable) fills the carry
folder with the MNIST-1D cache files and the pytest wheels the device lacks.

Usage:
    bash benchmarks/gpu_check.sh --prepare
    bash benchmarks/gpu_check.sh [--device cuda] [--tiny] [--out DIR] [--budget S]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.util
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import batched_throughput as bt  # noqa: E402  (reused: cell batches, samples, timings)

#: Protocols whose MNIST-1D cache travels to the device.
CACHED_PROTOCOLS = ("mnist1d-tiny", "mnist1d-smoke")
#: Pure-Python wheels that ``pytest -m gpu`` needs where pytest is missing.
WHEELS = ("pytest", "pluggy", "iniconfig", "packaging", "pygments")
#: The whole cell space (canonical classes) and the goal for it, one seed, mnist1d-tiny.
N_CLASSES, GOAL_S = 6466, 15 * 60
#: NAS-Bench-201's protocol on CIFAR-10 (Dong & Yang 2020): 15,625 cells x 3 seeds,
#: 200 epochs of 25k training images in batches of 256; valid 25k + test 10k per epoch.
NB201 = {"cells": 15625, "seeds": 3, "epochs": 200, "n_train": 25000, "batch": 256, "eval": 35000}
NB201_COST = (
    "NB201's total training cost: not found (searched the paper pages and the "
    "AutoDL-Projects/NATS-Bench issues). One reported figure: NATS-Bench topology "
    "architecture 284 trains at 9.75 s per epoch on the authors' machine "
    "(https://github.com/D-X-Y/NATS-Bench/issues/4, GPU not stated)."
)

FULL: dict[str, Any] = {
    "protocol": "mnist1d-tiny",
    "budget_s": 520,
    "steps": {
        "pytest": 100,
        "equivalence": 50,
        "determinism": 40,
        "throughput": 130,
        "cifar": 60,
        "slice": 110,
        "oneshot": 20,
    },
    "equiv_cells": 8,
    "equiv_epochs": 2,
    "det_batched": 8,
    "ks": [1, 32, 128, 512, 2048],
    "single_cells": 16,
    "same_cells": 4,
    "tp_epochs": None,
    "cifar": {"N": 5, "batch": 256, "ks": [4, 16], "steps": 8, "cells": 3, "eval_batch": 1000},
    "slice_cells": 512,
    "default_k": 128,
    "oneshot_epochs": 2,
}
TINY: dict[str, Any] = {
    "protocol": "mnist1d-smoke",
    "budget_s": 115,
    "steps": {
        "pytest": 40,
        "equivalence": 15,
        "determinism": 10,
        "throughput": 20,
        "cifar": 15,
        "slice": 20,
        "oneshot": 10,
    },
    "equiv_cells": 2,
    "equiv_epochs": 1,
    "det_batched": 2,
    "ks": [1, 4],
    "single_cells": 2,
    "same_cells": 1,
    "tp_epochs": 1,
    "cifar": {"N": 1, "batch": 8, "ks": [2], "steps": 2, "cells": 1, "eval_batch": 16},
    "slice_cells": 8,
    "default_k": 4,
    "oneshot_epochs": 1,
}


class Check:
    """The report: steps run in order, each written out as soon as it ends."""

    def __init__(self, out: Path, cfg: dict[str, Any], device: str, budget: float) -> None:
        self.out, self.cfg, self.device = out, cfg, device
        self.t0 = time.perf_counter()
        self.deadline = self.t0 + budget
        self.data: dict[str, Any] = {"meta": _meta(device, cfg, budget), "steps": {}}
        out.mkdir(parents=True, exist_ok=True)

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def run(self, name: str, fn: Callable[[Check, dict[str, Any], float], None]) -> None:
        budget = min(self.cfg["steps"][name], self.left())
        rec: dict[str, Any] = {"status": "running", "budget_s": round(budget, 1), "results": {}}
        self.data["steps"][name] = rec
        if budget < 3:
            rec["status"] = "skipped"
            rec["reason"] = f"skipped: time ({self.left():.0f} s of the overall budget left)"
            self.save()
            return
        self.save()  # a run killed inside this step still shows which one was running
        t = time.perf_counter()
        try:
            fn(self, rec, t + budget)
            rec["status"] = rec.get("status_override", "ok")
            rec.pop("status_override", None)
        except Exception as e:  # noqa: BLE001 - a failed step is recorded, the next runs
            rec["status"] = "error"
            rec["error"] = f"{type(e).__name__}: {e}"
            rec["traceback"] = traceback.format_exc()[-3000:]
        rec["duration_s"] = round(time.perf_counter() - t, 2)
        self.save()

    def save(self) -> None:
        self.data["meta"]["elapsed_s"] = round(time.perf_counter() - self.t0, 1)
        for name, text in (
            ("gpu_check.json", json.dumps(self.data, indent=1)),
            ("gpu_check.md", _markdown(self.data)),
        ):
            tmp = self.out / f".{name}.tmp"
            tmp.write_text(text)
            os.replace(tmp, self.out / name)

    @property
    def failed(self) -> bool:
        return any(s["status"] in ("error", "failed") for s in self.data["steps"].values())


def _meta(device: str, cfg: dict[str, Any], budget: float) -> dict[str, Any]:
    dev = torch.device(device)
    meta: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": device,
        "mode": "tiny" if cfg is TINY else "full",
        "budget_s": budget,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "host": platform.node(),
        "nasrepro_cache": os.environ.get("NASREPRO_CACHE", ""),
    }
    from nasrepro.bench.tracking import versions  # numpy, nasrepro_code, cpu_capability, ...

    meta["versions"] = versions()
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        meta |= {
            "gpu": props.name,
            "gpu_memory_gib": round(props.total_memory / bt.GIB, 1),
            "sm_count": props.multi_processor_count,
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
        }
    return meta


def _settings() -> dict[str, Any]:
    """The switches that decide bitwise reproducibility, as they stand now."""
    return {
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "cuda_matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "CUBLAS_WORKSPACE_CONFIG": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    }


def _sync(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _is_oom(e: BaseException) -> bool:
    return isinstance(e, torch.cuda.OutOfMemoryError) or "out of memory" in str(e)


def _protocol(c: Check, epochs: int | None = None) -> Any:
    from nasrepro.tables import get_protocol

    p = get_protocol(c.cfg["protocol"])
    return p if epochs is None else dataclasses.replace(p, epochs=min(epochs, p.epochs))


def _curve_diff(a: Any, b: Any) -> dict[str, float]:
    """Max abs difference per metric between two results (epoch times left out)."""
    return {
        m: max(abs(x - y) for x, y in zip(a.history[m], b.history[m], strict=True))
        for m in a.history
        if m != "epoch_time_s"
    }


# ----------------------------------------------------------------------------- steps


def step_pytest(c: Check, rec: dict[str, Any], deadline: float) -> None:
    files = sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "tests").rglob("test_*.py")
        if "pytest.mark.gpu" in p.read_text()
    )
    env = dict(os.environ)
    installed: list[str] = []
    if importlib.util.find_spec("pytest") is None:
        wheels = sorted((Path(c.data["meta"]["carry"]) / "wheels").glob("*.whl"))
        if not wheels:
            raise RuntimeError("pytest is not installed and no wheels were carried; run --prepare")
        site = tempfile.mkdtemp(prefix="gpu-check-site-")
        pip = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps"]
        pip += ["--no-compile", "--no-cache-dir", "--target", site, *map(str, wheels)]
        subprocess.run(pip, check=True, capture_output=True, text=True)
        env["PYTHONPATH"] = site + os.pathsep + env.get("PYTHONPATH", "")
        installed = [w.name for w in wheels]
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-m",
        "gpu",
        "-p",
        "no:cacheprovider",
        "-q",
        "-rs",
        *files,
    ]
    rec["settings"] = {"command": " ".join(cmd[1:]), "carried_wheels_installed": installed}
    try:
        proc = subprocess.run(
            cmd,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=deadline - time.perf_counter(),
        )
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else e.stdout or ""
        (c.out / "pytest.log").write_text(out)
        raise RuntimeError(f"pytest ran past its {rec['budget_s']} s budget") from e
    (c.out / "pytest.log").write_text(proc.stdout + proc.stderr)
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    counts = {
        k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|errors?|deselected)", last)
    }
    rec["results"] = {"returncode": proc.returncode, "summary": last, **counts}
    rec["results"]["output_tail"] = (proc.stdout + proc.stderr)[-1500:]
    if proc.returncode != 0:
        rec["status_override"] = "failed"


def step_equivalence(c: Check, rec: dict[str, Any], deadline: float) -> None:
    from nasrepro.bench.harness import train_batched
    from nasrepro.bench.harness._train import train

    p = _protocol(c, c.cfg["equiv_epochs"])
    archs = bt._batch(c.cfg["equiv_cells"], 7)
    seeds = list(range(len(archs)))
    rec["settings"] = {"protocol": p.name, "epochs": p.epochs, "cells": archs, "seeds": seeds}
    batched = train_batched(archs, p, seeds, c.device, static=False)
    singles: list[Any] = []
    for a, s in zip(archs, seeds, strict=True):
        if time.perf_counter() > deadline:
            rec["results"]["note"] = f"skipped: time after {len(singles)} single runs"
            break
        singles.append(train(a, p, s, c.device, static=False))
    diffs = [_curve_diff(s, b) for s, b in zip(singles, batched, strict=False)]
    rec["results"] |= {
        "compared_cells": len(diffs),
        "max_abs_diff": {m: max(d[m] for d in diffs) for m in diffs[0]} if diffs else {},
        "settings_after": _settings(),
    }


def step_determinism(c: Check, rec: dict[str, Any], deadline: float) -> None:
    from nasrepro.bench.harness import train_batched
    from nasrepro.bench.harness._train import train

    p = _protocol(c)
    arch = bt._sample(1, 11)[0]
    rec["settings"] = {"protocol": p.name, "epochs": p.epochs, "cell": arch, "seed": 0}
    a, b = (train(arch, p, 0, c.device, static=False) for _ in range(2))
    d = _curve_diff(a, b)
    rec["results"]["single"] = {"bitwise": all(v == 0 for v in d.values()), "max_abs_diff": d}
    rec["settings"] |= _settings()
    if time.perf_counter() + 2 * a.train_time_s > deadline:
        rec["results"]["batched"] = "skipped: time"
        return
    archs = bt._batch(c.cfg["det_batched"], 13)
    runs = [train_batched(archs, p, 0, c.device, static=False) for _ in range(2)]
    diffs = [_curve_diff(x, y) for x, y in zip(*runs, strict=True)]
    worst = {m: max(di[m] for di in diffs) for m in diffs[0]}
    rec["results"]["batched"] = {
        "k": len(archs),
        "bitwise": all(v == 0 for v in worst.values()),
        "max_abs_diff": worst,
    }


def step_throughput(c: Check, rec: dict[str, Any], deadline: float) -> None:
    import numpy as np

    from nasrepro.bench.harness import batch_waste, train_batched
    from nasrepro.bench.harness._train import train

    p = _protocol(c, c.cfg["tp_epochs"])
    steps = (p.n_train // p.batch_size) * p.epochs
    rec["settings"] = {
        "protocol": p.name,
        "epochs": p.epochs,
        "steps_per_cell": steps,
        "ks": c.cfg["ks"],
        "static": False,
    }
    res: dict[str, Any] = rec["results"]
    warm = bt._sample(2, 1)
    train(warm[0], dataclasses.replace(p, epochs=1), 0, c.device, static=False)
    train_batched(warm, dataclasses.replace(p, epochs=1), 0, c.device, static=False)
    singles = bt._sample(c.cfg["single_cells"], 2)
    t = time.perf_counter()
    done = [train(a, p, 0, c.device, static=False) for a in singles]
    wall = time.perf_counter() - t
    res["single"] = {
        "cells": len(done),
        "cell_seeds_per_s": len(done) / wall,
        "train_step_ms": 1000 * bt._split(done, wall)[0] / len(done) / steps,
    }
    res["batched"] = {}
    c.save()
    last: tuple[int, float] | None = None
    stop = ""
    for k in c.cfg["ks"]:
        row: dict[str, Any] = {}
        res["batched"][str(k)] = row
        if stop:
            row["skipped"] = stop
            continue
        left = deadline - time.perf_counter()
        estimate = last[1] * k / last[0] if last else 0.0
        if estimate > left:
            row["skipped"] = f"skipped: time (~{estimate:.0f} s estimated, {left:.0f} s left)"
            stop = "skipped: time"
            continue
        archs = bt._batch(k, 3 + k)
        row["waste"] = round(batch_waste(archs), 3)
        try:
            _sync(c.device)
            t = time.perf_counter()
            out = train_batched(archs, p, 0, c.device, static=False)
            _sync(c.device)
            wall = time.perf_counter() - t
        except Exception as e:
            if not _is_oom(e):
                raise
            row["oom"] = str(e).splitlines()[0][:300]
            stop = f"skipped: K={k} ran out of memory"
            if torch.device(c.device).type == "cuda":
                torch.cuda.empty_cache()
            c.save()
            continue
        # The gain is over single training of cells of this batch (a random few): a
        # batch groups similar cells, so its cells cost more or less than random ones (a
        # benchmarks audit: at K=1 half the convolution cost of the random singles).
        pick = np.random.default_rng(k).choice(k, min(k, c.cfg["same_cells"]), replace=False)
        same = [archs[int(i)] for i in pick]
        _sync(c.device)
        t = time.perf_counter()
        for a in same:
            train(a, p, 0, c.device, static=False)
        _sync(c.device)
        same_rate = len(same) / (time.perf_counter() - t)
        row |= {
            "wall_s": round(wall, 3),
            "cell_seeds_per_s": k / wall,
            "train_step_ms_all_k": 1000 * bt._split(out, wall)[0] / steps,
            "single_same_cells": {"cells": len(same), "cell_seeds_per_s": same_rate},
            "gain_over_single": (k / wall) / same_rate,
            "gain_over_random_single": (k / wall) / res["single"]["cell_seeds_per_s"],
        }
        if torch.device(c.device).type == "cuda":
            row["peak_gib"] = round(torch.cuda.max_memory_allocated() / bt.GIB, 2)
            torch.cuda.reset_peak_memory_stats()
        last = (k, wall + len(same) / same_rate)
        c.save()
    rates = {
        int(k): r["cell_seeds_per_s"] for k, r in res["batched"].items() if "cell_seeds_per_s" in r
    }
    if rates:
        best = max(rates, key=lambda k: rates[k])
        res["best_k"] = best
        res["full_space_s_at_best_k_training_only"] = N_CLASSES / rates[best]


def _cifar_step(model: Any, x: torch.Tensor, y: torch.Tensor, k: int, n: int, dev: str) -> float:
    """Seconds per SGD step (forward, backward, update) of ``model``; ``k`` > 0: batched."""
    from nasrepro.bench.harness._batched_fit import _cross_entropy, _stack_inputs

    opt = torch.optim.SGD(
        model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4
    )
    model.train()

    def one() -> None:
        if k:
            logits = model(_stack_inputs(x))  # x: (K, B, 3, 32, 32)
            loss = _cross_entropy(logits, y).mean(1).sum()
        else:
            loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(2):
        one()
    _sync(dev)
    t = time.perf_counter()
    for _ in range(n):
        one()
    _sync(dev)
    return (time.perf_counter() - t) / n


@torch.no_grad()
def _cifar_eval(model: Any, x: torch.Tensor, batched: bool, dev: str) -> float:
    model.eval()
    run = model.shared if batched else model
    run(x)
    _sync(dev)
    t = time.perf_counter()
    run(x)
    _sync(dev)
    return time.perf_counter() - t


def step_cifar(c: Check, rec: dict[str, Any], deadline: float) -> None:
    from nasrepro.bench.harness import BatchedNetwork, group_cells
    from nasrepro.bench.harness._compiler import compile_network
    from nasrepro.bench.harness._train import _augment, deterministic
    from nasrepro.spaces import CellArch, get_space

    cfg = c.cfg["cifar"]
    dev = c.device
    space = get_space("cell")
    deterministic(torch.device(dev))
    macro = {"C": 16, "N": cfg["N"], "reduction": "resblock"}
    b = cfg["batch"]
    rec["settings"] = {
        "macro": macro,
        "input": [3, 32, 32],
        "classes": 10,
        "batch": b,
        "timed_steps": cfg["steps"],
    } | _settings()
    gen = torch.Generator().manual_seed(0)
    rng = torch.Generator().manual_seed(1)
    pool = [
        CellArch.from_index(int(i)).to_string() for i in torch.randperm(15625, generator=rng)[:256]
    ]

    def build(archs: list[str]) -> tuple[list[Any], list[Any]]:
        specs = [space.lower(space.parse(a), **macro) for a in archs]
        return [compile_network(s, 3, 10, 2) for s in specs], specs

    x = torch.randn(b, 3, 32, 32, generator=gen).to(dev)
    y = torch.randint(0, 10, (b,), generator=gen).to(dev)
    xe = torch.randn(cfg["eval_batch"], 3, 32, 32, generator=gen).to(dev)
    singles = []
    for a in pool[: cfg["cells"]]:
        (net,), _ = build([a])
        net = net.to(dev)
        singles.append(
            (_cifar_step(net, x, y, 0, cfg["steps"], dev), _cifar_eval(net, xe, False, dev))
        )
    aug_s, aug_error = 0.0, None
    try:  # the protocol's crop and flip, per batch; an op without a kernel must not cost the rest
        aug = time.perf_counter()
        for _ in range(3):
            _augment(x, torch.Generator().manual_seed(2))
        _sync(dev)
        aug_s = (time.perf_counter() - aug) / 3
    except RuntimeError as e:
        aug_error = f"{type(e).__name__}: {e}"[:300]
    step_s = sum(s for s, _ in singles) / len(singles)
    eval_s = sum(e for _, e in singles) / len(singles)
    n = NB201
    steps_total = (n["n_train"] // n["batch"]) * n["epochs"]
    evals_total = math.ceil(n["eval"] / cfg["eval_batch"]) * n["epochs"]
    cell_seeds = n["cells"] * n["seeds"]

    def hours(per_cell_step: float, per_cell_eval: float) -> float:
        return (per_cell_step * steps_total + per_cell_eval * evals_total) * cell_seeds / 3600

    res = rec["results"]
    res["single"] = {
        "cells": len(singles),
        "step_ms": 1000 * step_s,
        "augment_ms_per_batch": aug_error or 1000 * aug_s,
        "eval_ms_per_batch": 1000 * eval_s,
        "nb201_gpu_hours": hours(step_s + aug_s, eval_s),
    }
    res["batched"] = {}
    res["protocol"] = {
        "steps_per_cell_seed": steps_total,
        "eval_batches_per_cell_seed": evals_total,
        "cell_seeds": cell_seeds,
    }
    res["nb201_reported_cost"] = NB201_COST
    c.save()
    for k in cfg["ks"]:
        if deadline - time.perf_counter() < 4 * k * step_s * (cfg["steps"] + 3):
            res["batched"][str(k)] = {"skipped": "skipped: time"}
            continue
        group = [pool[i] for i in group_cells(pool, k)[0]]
        nets, specs = build(group)
        try:
            model = BatchedNetwork(nets, specs).to(dev)
            xs = x.expand(k, *x.shape).contiguous()
            ys = y.expand(k, -1).contiguous()
            s = _cifar_step(model, xs, ys, k, cfg["steps"], dev)
            ev = _cifar_eval(model, xe, True, dev)
        except Exception as err:
            if not _is_oom(err):
                raise
            res["batched"][str(k)] = {"oom": str(err).splitlines()[0][:300]}
            if torch.device(dev).type == "cuda":
                torch.cuda.empty_cache()
            break
        res["batched"][str(k)] = {
            "step_ms_all_k": 1000 * s,
            "step_gain": step_s * k / s,
            "nb201_gpu_hours": hours(s / k + aug_s, ev / k),
        }
        del model
        c.save()


def step_slice(c: Check, rec: dict[str, Any], deadline: float) -> None:
    import numpy as np

    from nasrepro.bench.harness._sweep import sweep

    p = _protocol(c)
    tp = c.data["steps"].get("throughput", {}).get("results", {})
    k = int(tp.get("best_k") or c.cfg["default_k"])
    n = c.cfg["slice_cells"]
    k = min(k, n)
    rate = tp.get("batched", {}).get(str(k), {}).get("cell_seeds_per_s")
    left = deadline - time.perf_counter()
    note = ""
    if rate and 1.5 * n / rate > left:  # 1.5: static measurements and chunk files on top
        n = max(k, int(left * rate / 1.5) // k * k)
        note = f"reduced to {n} cells: time"
    reps = bt._REPS
    idx = np.sort(np.random.default_rng(5).choice(len(reps), n, replace=False))
    archs = [reps[int(i)] for i in idx]
    rec["settings"] = {
        "protocol": p.name,
        "cells": n,
        "seeds": [0],
        "batched": k,
        "chunk_size": k,
        "device": c.device,
    }
    if note:
        rec["settings"]["note"] = note
    with tempfile.TemporaryDirectory(prefix="gpu-check-sweep-") as out:
        report = sweep("cell", p, [0], out, archs=archs, chunk_size=k, batched=k, device=c.device)
    full = report.wall_s * N_CLASSES / report.archs_trained
    rec["results"] = {
        "wall_s": round(report.wall_s, 2),
        "cells_trained": report.archs_trained,
        "cell_seeds_per_s": report.archs_trained / report.wall_s,
        "full_space_s_extrapolated": round(full, 1),
        "goal_s": GOAL_S,
        "meets_goal": full <= GOAL_S if p.name == "mnist1d-tiny" else None,
        "mean_final_valid_acc": float(np.mean(report.final_valid_acc)),
    }


def step_oneshot(c: Check, rec: dict[str, Any], deadline: float) -> None:
    from nasrepro.bench.oneshot import get_method, scaled, search

    p = _protocol(c)
    epochs = c.cfg["oneshot_epochs"]
    rec["settings"] = {"protocol": p.name, "epochs": epochs, "seed": 0, "runs_each": 2}
    spent = 0.0
    for name in ("darts-v1", "gdas"):
        if time.perf_counter() + 2.5 * spent > deadline:
            rec["results"][name] = "skipped: time"
            continue
        t = time.perf_counter()
        a = search(name, p, 0, device=c.device, epochs=epochs)
        b = search(name, p, 0, device=c.device, epochs=epochs)
        spent = (time.perf_counter() - t) / 2
        full = scaled(get_method(name).config, p, p.n_train // 2).epochs
        same = a.arch == b.arch and [r.supernet_loss for r in a.history] == [
            r.supernet_loss for r in b.history
        ]
        rec["results"][name] = {
            "search_s": round(a.search_seconds, 2),
            "s_per_epoch": round(a.search_seconds / epochs, 3),
            "full_epochs": full,
            "full_search_s_extrapolated": round(a.search_seconds / epochs * full, 1),
            "bitwise_repeat": same,
            "arch": a.arch,
        }


STEPS: dict[str, Callable[[Check, dict[str, Any], float], None]] = {
    "pytest": step_pytest,
    "equivalence": step_equivalence,
    "determinism": step_determinism,
    "throughput": step_throughput,
    "cifar": step_cifar,
    "slice": step_slice,
    "oneshot": step_oneshot,
}


# ----------------------------------------------------------------------------- report


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items()) + "}"
    return str(v)


def _markdown(data: dict[str, Any]) -> str:
    m = data["meta"]
    lines = [
        f"# nasrepro device check ({m['mode']}, {m['device']})",
        "",
        f"{m['date']}, {m.get('gpu', platform.processor() or platform.machine())}, torch {m['torch']}, "
        f"Python {m['python']}; {m.get('elapsed_s', 0)} s of a {m['budget_s']} s budget.",
        "",
        "| step | status | seconds |",
        "| --- | --- | --- |",
    ]
    for name, s in data["steps"].items():
        lines.append(f"| {name} | {s['status']} | {s.get('duration_s', '')} |")
    for name, s in data["steps"].items():
        lines += ["", f"## {name}: {s['status']}", ""]
        for key in ("reason", "error"):
            if key in s:
                lines.append(f"- {key}: {s[key]}")
        for key, v in s.get("settings", {}).items():
            lines.append(f"- setting {key}: {_fmt(v)}")
        for key, v in s.get("results", {}).items():
            if key != "output_tail":
                lines.append(f"- {key}: {_fmt(v)}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- prepare


def prepare(carry: Path) -> None:
    """Fill ``carry`` with the MNIST-1D cache files and the wheels the device lacks."""
    from importlib import metadata

    from nasrepro.bench.harness._train import get_splits
    from nasrepro.tables import get_protocol

    cache = carry / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    os.environ["NASREPRO_CACHE"] = str(cache)
    import numpy as np

    for f in cache.glob("mnist1d-*.npz"):  # files from before caches recorded their args
        with np.load(f) as z:
            stale = "args" not in z.files
        if stale:
            f.unlink()
    for name in CACHED_PROTOCOLS:
        get_splits(get_protocol(name))
    wheels = carry / "wheels"
    wheels.mkdir(exist_ok=True)
    for w in wheels.glob("*.whl"):
        w.unlink()
    pins = [f"{n}=={metadata.version(n)}" for n in WHEELS]
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:"]
    cmd += ["--python-version", "3.12", "--implementation", "cp", "-d", str(wheels), *pins]
    subprocess.run(cmd, check=True)
    size = sum(f.stat().st_size for f in carry.rglob("*") if f.is_file())
    print(
        f"{carry}: {len(list(cache.glob('*.npz')))} cache files, wheels {', '.join(pins)}; {size / 2**20:.1f} MiB"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tiny", action="store_true", help="tiny sizes (CPU smoke run)")
    ap.add_argument("--out", default=None, help="report folder (default $OUT, else ./gpu-check)")
    ap.add_argument("--budget", type=float, default=None, help="overall seconds")
    ap.add_argument("--carry", default=str(ROOT / ".gpu-carry"))
    ap.add_argument("--prepare", action="store_true", help="fill the carry folder, then stop")
    ap.add_argument("--steps", default=",".join(STEPS), help="comma-separated steps to run")
    args = ap.parse_args()
    if args.prepare:
        prepare(Path(args.carry))
        return 0
    cfg = TINY if args.tiny else FULL
    out = Path(args.out or os.environ.get("OUT") or "gpu-check")
    if torch.device(args.device).type == "cuda" and not torch.cuda.is_available():
        print(
            "gpu_check: error: --device cuda but no CUDA device is visible; pass --device cpu",
            file=sys.stderr,
        )
        return 2
    torch.set_num_threads(1 if args.device == "cpu" else torch.get_num_threads())
    check = Check(out, cfg, args.device, float(args.budget or cfg["budget_s"]))
    check.data["meta"]["carry"] = args.carry
    bt._REPS.extend(bt._representatives())
    for name in args.steps.split(","):
        print(f"gpu_check: {name} ({check.left():.0f} s left)", flush=True)
        check.run(name, STEPS[name])
        s = check.data["steps"][name]
        print(f"gpu_check: {name}: {s['status']} {s.get('error', s.get('reason', ''))}", flush=True)
    print(f"gpu_check: report in {out}/gpu_check.md and gpu_check.json", flush=True)
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
