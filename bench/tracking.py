"""MLflow tracking that never costs a result.

:func:`versions` and :func:`run_environment` import no torch: they report torch's
version and CPU capability only when torch is already loaded (the training harness
loads it; a leaderboard over a table never does).

The store is ``$MLFLOW_TRACKING_URI`` or, by default, ``sqlite:///mlruns.db`` in the
working directory. An unreachable server, a sqlite store that cannot be written (both
checked within seconds, before MLflow's own retries), or any tracking error gives one
warning and turns tracking off for that run; training and result files go on untouched.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import platform
import sqlite3
import sys
import tempfile
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "mlflow_run",
    "Run",
    "tracking_uri",
    "run_environment",
    "versions",
    "DEFAULT_URI",
    "TrackingWarning",
]

logger = logging.getLogger(__name__)

DEFAULT_URI = "sqlite:///mlruns.db"
EXPERIMENT = "nasrepro"


class TrackingWarning(UserWarning):
    """Tracking failed; results are unaffected."""


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI


def _reachable(uri: str, timeout: float = 3.0) -> str | None:
    """``None`` if an HTTP tracking server answers, else the reason it does not."""
    if not uri.startswith(("http://", "https://")):
        return None
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout) as r:
            r.read(64)
        return None
    except (urllib.error.URLError, OSError, ValueError) as e:
        return str(getattr(e, "reason", e))


def _sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (relative to the working directory, or
    absolute with four slashes); ``None`` for other stores and in-memory databases."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def _unwritable(uri: str) -> str | None:
    """``None`` if a sqlite store can be created or opened for writing, else why not.

    Checks in well under a second, before MLflow's retry loop (about 100 s) meets the
    same problem: the directory must take new files (sqlite writes a journal beside
    the database), and an existing database must open for writing. A database that
    another process holds locked is fine: MLflow waits for it.
    """
    path = _sqlite_path(uri)
    if path is None:
        return None
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        return f"its directory {str(folder)!r} does not exist"
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".nasrepro-probe-"):
            pass
    except OSError as e:
        return f"cannot create files in {str(folder)!r}: {e.strerror or e}"
    if not path.exists():
        return None
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=0.5)
        try:
            con.execute("BEGIN IMMEDIATE")
            con.rollback()
        finally:
            con.close()
    except sqlite3.OperationalError as e:
        if "locked" in str(e) or "busy" in str(e):
            return None
        return f"cannot open {str(path)!r} for writing: {e}"
    except sqlite3.DatabaseError as e:
        return f"{str(path)!r} is not a usable sqlite database: {e}"
    return None


class Run:
    """A handle on an MLflow run; every method is a no-op once tracking is off."""

    def __init__(self, mlflow: Any | None, uri: str) -> None:
        self._mlflow = mlflow
        self.uri = uri
        self.run_id: str | None = None

    @property
    def active(self) -> bool:
        return self._mlflow is not None

    def _guard(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if self._mlflow is None:
            return None
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - tracking must never break a run
            warnings.warn(
                f"MLflow tracking to {self.uri} failed while trying to {what} ({e}); tracking "
                "is off for the rest of this run, results are unaffected",
                TrackingWarning,
                stacklevel=3,
            )
            self._mlflow = None
            return None

    def log_params(self, params: dict[str, Any]) -> None:
        if self._mlflow is not None:
            clean = {k: str(v)[:500] for k, v in params.items()}
            self._guard("log params", self._mlflow.log_params, clean)

    def set_tags(self, tags: dict[str, Any]) -> None:
        if self._mlflow is not None:
            self._guard("set tags", self._mlflow.set_tags, {k: str(v) for k, v in tags.items()})

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        if self._mlflow is not None:
            clean = {k: float(v) for k, v in metrics.items()}
            self._guard("log metrics", self._mlflow.log_metrics, clean, step=step)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        if self._mlflow is not None and Path(path).exists():
            self._guard("log an artifact", self._mlflow.log_artifact, str(path), artifact_path)

    def log_dict(self, obj: dict[str, Any], name: str) -> None:
        if self._mlflow is not None:
            self._guard("log a dict", self._mlflow.log_dict, obj, name)


def _code_version() -> str:
    """``$NASREPRO_CODE_VERSION`` (set in the Docker images), else the git commit, else
    ``"unknown"``."""
    if os.environ.get("NASREPRO_CODE_VERSION"):
        return os.environ["NASREPRO_CODE_VERSION"]
    try:
        import subprocess

        here = Path(__file__).resolve().parent
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@functools.cache
def code_sha256() -> str:
    """sha256 (first 16 hex digits) of nasrepro's own source: every ``.py`` file of its
    five packages, by relative path and bytes, read once a process. The version number
    stays "0.1.0" while behaviour changes and a git commit misses uncommitted edits and
    wheel installs; this identifies the code that ran wherever it is installed."""
    import hashlib
    import importlib.util

    h = hashlib.sha256()
    for pkg in ("spaces", "tables", "surrogate", "strategies", "bench"):
        spec = importlib.util.find_spec(f"nasrepro.{pkg}")
        roots = list(spec.submodule_search_locations or []) if spec else []
        for root in roots:
            base = Path(root)
            for f in sorted(base.rglob("*.py")):
                if "__pycache__" in f.parts:
                    continue
                h.update(f"{pkg}/{f.relative_to(base).as_posix()}\0".encode())
                h.update(f.read_bytes())
    return h.hexdigest()[:16]


def versions() -> dict[str, str]:
    """Versions that a result depends on; torch's only where torch is already loaded.

    ``cpu_capability`` is the instruction set ATen's CPU kernels dispatch to (``AVX2``,
    ``AVX512``, ...): the same torch build computes different bits on CPUs that dispatch
    differently, so a bitwise comparison needs it to match as well, and
    ``torch_threads`` is torch's CPU thread count at the call (oneDNN splits a
    convolution's reductions by thread, so CPU bits depend on it too).
    ``onednn_max_cpu_isa`` is oneDNN's instruction-set cap, where one is set (see
    :mod:`nasrepro.bench._cpu_isa`; ATen's shows in ``cpu_capability``). ``xgboost`` and
    ``scikit-learn`` appear where they are loaded (a surrogate benchmark's predictions
    depend on them). ``nasrepro_code`` is :func:`code_sha256`. This function
    never imports torch itself, so torch-free callers (a leaderboard over a table) stay
    torch-free; training has torch loaded and so records ``torch`` and ``cpu_capability``.
    """
    import numpy as np

    out = {"python": platform.python_version()}
    loaded = "torch" in sys.modules
    if loaded:
        import torch

        out["torch"] = torch.__version__
    out["numpy"] = np.__version__
    if loaded:
        out["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
        out["torch_threads"] = str(torch.get_num_threads())
        isa = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA")
        if isa:  # oneDNN capped (``--cpu-isa``, :mod:`nasrepro.bench._cpu_isa`)
            out["onednn_max_cpu_isa"] = isa
    for module, dist in (("xgboost", "xgboost"), ("sklearn", "scikit-learn")):
        if module in sys.modules:  # a surrogate's predictions depend on them
            try:
                out[dist] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                out[dist] = "unknown"
    try:
        out["nasrepro"] = metadata.version("nasrepro")
    except metadata.PackageNotFoundError:
        out["nasrepro"] = "unknown"
    out["nasrepro_code"] = code_sha256()
    return out


@functools.cache
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows;
    read once a process."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def numpy_kernels() -> dict[str, str]:
    """Which CPU kernels numpy computes with: ``numpy_simd``, its run-time dispatch
    targets that this CPU has and that ``NPY_DISABLE_CPU_FEATURES`` leaves on (its
    ``exp``, ``log`` and ``power`` differ in the last bits between AVX2 and AVX-512),
    and ``blas``, its BLAS library and the kernel set it chose (``openblas SkylakeX``;
    ``OPENBLAS_CORETYPE`` sets it). A field is left out where numpy (before 2.0, which
    keeps these elsewhere) or threadpoolctl cannot say."""
    out: dict[str, str] = {}
    with contextlib.suppress(ImportError):
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

        out["numpy_simd"] = ",".join(t for t in __cpu_dispatch__ if __cpu_features__.get(t))
    with contextlib.suppress(ImportError):
        from threadpoolctl import threadpool_info

        blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if blas:
            out["blas"] = f"{blas[0].get('internal_api')} {blas[0].get('architecture')}"
    return out


def run_environment() -> dict[str, str]:
    """What a result was produced with, as flat string fields for tags or a JSON record.

    Returns:
        ``code_version``, ``version.<package>`` for the versions a result depends on
        (:func:`versions`: torch only where it is loaded), ``cpu`` (:func:`cpu_model`)
        and numpy's kernels (:func:`numpy_kernels`; since 2026-12-07: a leaderboard's
        strategies compute in numpy, whose last bits depend on them), and
        ``image_digest`` when ``$NASREPRO_IMAGE_DIGEST`` is set (the Docker image that
        ran, see ``docker/``).

    Example:
        >>> env = run_environment()  # doctest: +SKIP
        >>> env["version.torch"], env.get("image_digest")  # doctest: +SKIP
        ('2.13.0+cpu', 'sha256:730a...')
    """
    env = {"code_version": _code_version(), **{f"version.{k}": v for k, v in versions().items()}}
    env["cpu"] = cpu_model()
    env.update(numpy_kernels())
    image = os.environ.get("NASREPRO_IMAGE_DIGEST")
    if image:
        env["image_digest"] = image
    return env


@contextlib.contextmanager
def mlflow_run(
    name: str,
    *,
    params: dict[str, Any] | None = None,
    tags: dict[str, Any] | None = None,
    enabled: bool = True,
    nested: bool = False,
    experiment: str = EXPERIMENT,
) -> Iterator[Run]:
    """Open an MLflow run, or a no-op :class:`Run` if tracking is off or fails.

    Every run is tagged with :func:`run_environment`: the code version, the package
    versions and, inside a container, the image digest.
    """
    uri = tracking_uri()
    if not enabled:
        yield Run(None, uri)
        return
    reason = _unwritable(uri)
    if reason is not None:
        warnings.warn(
            f"MLflow store {uri} cannot be written ({reason}); the work goes on untracked "
            "(its results are printed and written as without MLflow). Run from a writable "
            "directory, set "
            "MLFLOW_TRACKING_URI to a writable store, or pass --no-track",
            TrackingWarning,
            stacklevel=3,
        )
        yield Run(None, uri)
        return
    reason = _reachable(uri)
    if reason is not None:
        warnings.warn(
            f"MLflow tracking server {uri} is unreachable ({reason}); the work goes on "
            "untracked (its results are printed and written as without MLflow). Start the "
            "server, or unset "
            "MLFLOW_TRACKING_URI to track into the local sqlite:///mlruns.db",
            TrackingWarning,
            stacklevel=3,
        )
        yield Run(None, uri)
        return
    try:
        import mlflow

        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        # MLflow writes "View run ... at URL" to stdout for HTTP servers, which corrupts
        # machine-readable output such as `nasrepro train --json`; the URL is logged below.
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(experiment)
        active = mlflow.start_run(run_name=name, nested=nested)
    except Exception as e:  # noqa: BLE001 - tracking must never break a run
        warnings.warn(
            f"cannot start an MLflow run at {uri} ({e}); the work goes on without tracking",
            TrackingWarning,
            stacklevel=3,
        )
        yield Run(None, uri)
        return
    run = Run(mlflow, uri)
    run.run_id = active.info.run_id
    logger.info("MLflow run %s (%s) at %s", name, run.run_id, uri)
    run.set_tags(run_environment())
    run.set_tags(tags or {})
    if params:
        run.log_params(params)
    status = "FINISHED"
    try:
        yield run
    except BaseException:
        status = "FAILED"
        raise
    finally:
        if run.active:
            run._guard("end the run", mlflow.end_run, status=status)
        else:
            with contextlib.suppress(Exception):
                mlflow.end_run(status=status)
