"""Finished leaderboard runs on disk: a killed, failed or extended leaderboard reruns only
what is missing.

The process that finishes a (strategy, seed) run writes it at once to
``DIR/<strategy>-seed<S>.json`` (a temporary file, then a rename), with a *key*:
everything the run's numbers depend on. That is the benchmark and its provenance, the
budget, the simulated workers, the seed, the sha256 of the source files that define the
strategy (every class of its MRO), the runner, the benchmark and space classes, the Python,
numpy and nasrepro versions, and for a surrogate benchmark ``model_sha256`` (its
hyperparameters, calibration and the installed XGBoost). A table benchmark is matched by
its content, not the name or path it was given as. A later leaderboard with the same ``DIR`` reuses a file only
when its key is equal. Runs are pure functions of their key, so a resumed leaderboard's
``results.json`` equals an uninterrupted one's apart from its ``timing`` section. A
directory holds one configuration (:data:`CONFIG_FIELDS`: benchmark, seed mode, budget,
workers): a leaderboard of another is refused, not run over its runs, unless it is
``fresh``. A file whose key differs only in code, versions or model is run again and
overwritten; an unreadable one, or one whose run does not match its ``run_sha256``, is
renamed ``*.corrupt`` and run again.

While a run is in progress its process keeps a marker ``DIR/.running/<file>.<pid>``:
when a worker process dies, the markers left behind name the runs it was busy with.

The key covers the strategy's own source files, not modules they import: after editing
a helper module of a strategy, rerun with a fresh ``DIR`` (``nasrepro leaderboard
--fresh``).
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import logging
import os
import platform
import re
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from nasrepro.bench.sim._runner import Budget, RunResult
from nasrepro.spaces._errors import access_error
from nasrepro.tables import write_json_atomic
from nasrepro.tables._outfile import remove_stale_temps, set_aside

__all__ = ["RunStore", "run_to_dict", "run_from_dict", "source_sha256"]

logger = logging.getLogger(__name__)

#: The run-file format; a file of another format is run again.
RUN_FORMAT = "nasrepro-run-1"

_ARRAYS = {
    "time": np.float64,
    "valid_acc": np.float64,
    "epoch": np.int64,
    "cost": np.float64,
    "regret": np.float64,
}


def run_to_dict(r: RunResult) -> dict[str, Any]:
    """A :class:`RunResult` as JSON-ready values (floats round-trip exactly)."""
    d: dict[str, Any] = {
        "strategy": r.strategy,
        "seed": r.seed,
        "workers": r.workers,
        "budget": {"kind": r.budget.kind, "value": r.budget.value},
        "incumbents": list(r.incumbents),
        "archs": list(r.archs),
        "strategy_s": r.strategy_s,
        "wall_s": r.wall_s,
    }
    for name in _ARRAYS:
        d[name] = getattr(r, name).tolist()
    d["train_seed"] = r.train_seed.tolist()
    d["resumed"] = r.resumed.tolist()
    return d


def run_from_dict(d: dict[str, Any]) -> RunResult:
    """The inverse of :func:`run_to_dict`.

    Raises:
        KeyError, TypeError, ValueError: ``d`` is not a run written by :func:`run_to_dict`.
    """
    arrays = {name: np.asarray(d[name], dtype=dt).reshape(-1) for name, dt in _ARRAYS.items()}
    n = len(arrays["time"])
    if any(len(a) != n for a in arrays.values()) or len(d["incumbents"]) != n:
        raise ValueError("the run's arrays differ in length")
    return RunResult(
        strategy=str(d["strategy"]),
        seed=int(d["seed"]),
        workers=int(d["workers"]),
        budget=Budget(d["budget"]["kind"], float(d["budget"]["value"])),
        incumbents=[str(a) for a in d["incumbents"]],
        archs=[str(a) for a in d["archs"]],
        strategy_s=float(d["strategy_s"]),
        wall_s=float(d["wall_s"]),
        # absent from runs stored before 2026-12-07
        train_seed=np.asarray(d.get("train_seed", []), dtype=np.int64).reshape(-1),
        resumed=np.asarray(d.get("resumed", []), dtype=bool).reshape(-1),
        **arrays,
    )


def source_sha256(*objects: Any) -> str:
    """sha256 over the source files that define ``objects`` and every class of their MRO,
    and over the user's modules beside them.

    A user's strategy file often imports helpers of its own (``from helper import
    P``); a run made before the helper changed must not be reused. So every module
    already imported whose file lies in the folder tree of a user's source file
    (one outside nasrepro, the standard library and installed packages) is hashed
    too. Classes and modules whose source cannot be found (built-ins, an interactive
    session) are hashed by their qualified name.
    """
    files: set[str] = set()
    names: set[str] = set()
    for obj in objects:
        chain = inspect.getmro(obj) if inspect.isclass(obj) else (obj,)
        for c in chain:
            if c is object:
                continue
            try:
                source = inspect.getsourcefile(c)
            except TypeError:
                source = None
            if source:
                files.add(os.path.realpath(source))
            else:
                names.add(f"{getattr(c, '__module__', '')}.{getattr(c, '__qualname__', c)}")
    files |= _helper_files(files)
    h = hashlib.sha256()
    for f in sorted(files):
        try:
            h.update(Path(f).read_bytes())
        except OSError:
            h.update(f.encode())
    for n in sorted(names):
        h.update(n.encode())
    return h.hexdigest()


def _installed_roots() -> tuple[str, ...]:
    """Folders whose modules are not the user's: the interpreter's and nasrepro's own."""
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    ours = {  # nasrepro's top-level packages (installed from five source folders)
        os.path.dirname(os.path.realpath(str(m.__file__)))
        for name, m in list(sys.modules.items())
        if name.count(".") == 1 and name.startswith("nasrepro.") and getattr(m, "__file__", None)
    }
    return tuple(os.path.realpath(p) + os.sep for p in prefixes | ours)


def _helper_files(files: set[str]) -> set[str]:
    """Imported modules' files under the folders of the user's files among ``files``."""
    skip = _installed_roots()
    user_dirs = {
        os.path.dirname(f) + os.sep
        for f in files
        if not f.startswith(skip) and "site-packages" not in f and "dist-packages" not in f
    }
    if not user_dirs:
        return set()
    found: set[str] = set()
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if not path or not path.endswith(".py") or name.startswith("_nasrepro_user_"):
            continue  # another strategy file is hashed for its own strategy, not this one
        real = os.path.realpath(path)
        if real.startswith(tuple(user_dirs)) and not real.startswith(skip):
            found.add(real)
    return found


def _versions() -> dict[str, str]:
    try:
        ours = metadata.version("nasrepro")
    except metadata.PackageNotFoundError:
        ours = "unknown"
    return {"python": platform.python_version(), "numpy": np.__version__, "nasrepro": ours}


def _file_stem(strategy: str) -> str:
    """A file-name-safe stem for a strategy name or ``module:Class`` spec."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", strategy).strip("._") or "strategy"
    if safe != strategy or len(safe) > 80:
        digest = hashlib.sha256(strategy.encode()).hexdigest()[:8]
        safe = f"{safe[-70:]}-{digest}"
    return safe


#: Key fields that make another leaderboard configuration: a run directory holds one.
CONFIG_FIELDS = ("benchmark", "seed_mode", "budget", "workers")


def _short(value: Any) -> str:
    """A key value for a message: budgets as written, other dicts by their differing size."""
    if isinstance(value, dict) and set(value) == {"kind", "value"}:
        v = value["value"]
        return f"{v:g}s" if value["kind"] == "time" else f"{int(v)}q"
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def _comparable(key: Any) -> Any:
    """``key`` as runs are matched: a table benchmark by its content (protocol id, metrics
    digest, seed mode, cost model), not by the name or path it was given as, so that a
    leaderboard resumes from another working directory or a renamed copy of its table."""
    if not isinstance(key, dict) or not isinstance(key.get("benchmark"), dict):
        return key
    b = key["benchmark"]
    if not b.get("metrics_sha256"):  # a surrogate: its name is part of its identity
        return key
    return {**key, "benchmark": {k: v for k, v in b.items() if k not in ("name", "table")}}


def _differences(stored: dict[str, Any], asked: dict[str, Any]) -> list[str]:
    """``field: stored X, asked Y`` for each configuration field that differs, a dict
    field (the benchmark) by the entries that differ."""
    out = []
    for f in CONFIG_FIELDS:
        a, b = stored.get(f), asked.get(f)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict) and set(a) != {"kind", "value"}:
            out += [
                f"{f}.{k}: stored {_short(a.get(k))}, asked {_short(b.get(k))}"
                for k in sorted(set(a) | set(b))
                if a.get(k) != b.get(k)
            ]
        else:
            out.append(f"{f}: stored {_short(a)}, asked {_short(b)}")
    return out


def _digest(run: Any) -> str:
    """sha256 of a run as JSON, so that an edited or damaged run file is run again."""
    return hashlib.sha256(json.dumps(run, sort_keys=True).encode()).hexdigest()


def _normal(obj: Any) -> Any:
    """``obj`` as it reads back from JSON (tuples become lists), for key comparison."""
    return json.loads(json.dumps(obj))


def run_files(directory: str | os.PathLike[str]) -> list[Path]:
    """The run files in ``directory``, sorted; not a writer's temporary
    (``.NAME.PID@HOST-XXXXXXXX.tmp.json``), though it ends in ``.json`` too."""
    d = Path(directory)
    if not d.is_dir():
        return []
    return sorted(p for p in d.glob("*.json") if not p.name.startswith("."))


class RunStore:
    """The finished runs of one leaderboard directory.

    Args:
        directory: Where the run files live (created on the first write).
        context: The part of every run's key that the leaderboard shares: the
            benchmark, its provenance and the budget.
    """

    def __init__(self, directory: str | os.PathLike[str], context: dict[str, Any]) -> None:
        self.directory = Path(directory)
        self.context = _normal({**context, "versions": _versions()})

    def path(self, strategy: str, seed: int) -> Path:
        return self.directory / f"{_file_stem(strategy)}-seed{seed}.json"

    def key(self, strategy: str, seed: int, workers: int, code_sha256: str) -> dict[str, Any]:
        """The full key of one run: the shared context plus what is the run's own."""
        own = {"strategy": strategy, "seed": seed, "workers": workers, "code": code_sha256}
        return _normal({**self.context, **own})

    def load(self, key: dict[str, Any]) -> RunResult | None:
        """The stored run with this key, or ``None`` (missing, another key, unreadable)."""
        path = self.path(key["strategy"], key["seed"])
        if not path.is_file():
            return None
        try:
            d = json.loads(path.read_text())
            if not isinstance(d, dict):
                raise ValueError(f"a JSON {type(d).__name__}, not a run file's object")
            if d.get("format") != RUN_FORMAT:
                raise ValueError(f"format {d.get('format')!r}")
            if _comparable(d.get("key")) != _comparable(key):
                logger.info("%s holds a run of another configuration; running it again", path)
                return None
            if "run_sha256" in d and d["run_sha256"] != _digest(d["run"]):
                raise ValueError("its run does not match its checksum (edited or damaged)")
            return run_from_dict(d["run"])
        except PermissionError as e:  # a sound run this user may not read: not set aside
            raise access_error(path, e, "run file") from e
        except (OSError, ValueError, KeyError, TypeError) as e:
            try:
                bad: Path | str = set_aside(path)
            except OSError as moved:
                bad = f"nowhere ({moved.strerror})"
            logger.warning("%s is unreadable (%s); set aside as %s, running it again", path, e, bad)
            return None

    def other_configuration(self, keys: list[dict[str, Any]]) -> str | None:
        """What differs, for the first stored run of ``keys``' files made under another
        configuration (:data:`CONFIG_FIELDS`); ``None`` when there is none.

        Runs whose key differs only in code or versions are not another configuration:
        they are run again and replaced, as after editing a strategy.
        """
        for key in keys:
            path = self.path(key["strategy"], key["seed"])
            try:
                stored = json.loads(path.read_text()).get("key")
            except (OSError, ValueError, AttributeError):
                continue
            if not isinstance(stored, dict):
                continue
            diff = _differences(_comparable(stored), _comparable(key))
            if diff:
                return f"{path.name} ({'; '.join(diff)})"
        return None

    def remove_temporaries(self, strategy: str, seed: int) -> list[Path]:
        """Remove what a killed writer of (strategy, seed)'s file left (a pool ends its
        other workers with SIGTERM when one dies, at times in the middle of a write)."""
        return remove_stale_temps(self.path(strategy, seed))

    def save(self, key: dict[str, Any], result: RunResult) -> Path:
        """Write ``result`` under ``key`` atomically; return its path."""
        path = self.path(key["strategy"], key["seed"])
        run = _normal(run_to_dict(result))
        write_json_atomic(
            path, {"format": RUN_FORMAT, "key": key, "run": run, "run_sha256": _digest(run)}
        )
        return path

    # -------------------------------------------------------------- in-progress markers
    @property
    def _running_dir(self) -> Path:
        return self.directory / ".running"

    def clear_markers(self) -> None:
        """Remove the markers a previous, dead leaderboard left behind."""
        if self._running_dir.is_dir():
            for p in self._running_dir.iterdir():
                with contextlib.suppress(OSError):
                    p.unlink()

    @contextlib.contextmanager
    def running(self, strategy: str, seed: int) -> Iterator[None]:
        """Mark (strategy, seed) as in progress in this process while the block runs."""
        marker = self._running_dir / f"{self.path(strategy, seed).stem}.{os.getpid()}"
        with contextlib.suppress(OSError):  # a marker only helps an error message
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(json.dumps({"strategy": strategy, "seed": seed}))
        try:
            yield
        finally:
            with contextlib.suppress(OSError):  # also a part-written one (a full disk)
                marker.unlink()

    def in_progress(self) -> list[tuple[str, int]]:
        """(strategy, seed) of every run still marked in progress, sorted."""
        out = []
        if self._running_dir.is_dir():
            for p in self._running_dir.iterdir():
                try:
                    d = json.loads(p.read_text())
                    out.append((str(d["strategy"]), int(d["seed"])))
                except (OSError, ValueError, KeyError, TypeError):
                    continue
        return sorted(set(out))
