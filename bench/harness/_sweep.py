"""Resumable, sharded sweeps over a space, on a local process pool or a Ray cluster.

A sweep trains every canonical class of a bounded space (or a fixed sample of an
unbounded one) once per seed. The work is cut into *units* of ``(seed, chunk)``, a
chunk being ``chunk_size`` consecutive architectures. Each finished unit is written
atomically to ``DIR/chunks/`` (see :mod:`nasrepro.tables._records`), and units whose
file exists and reads back whole are skipped, so a killed sweep resumes where it
stopped and loses at most the units in flight (a damaged chunk file is set aside as
``*.corrupt`` and retrained, with a warning). Shard ``i/n`` takes the units whose
position is ``i`` modulo ``n``, so processes sweeping different shards into one ``DIR``
never write the same file; a lock per shard (``DIR/.lock-shard-i-of-n``, an ``flock``
that dies with its process) stops a second process from sweeping the same shard.

The local pool's workers never outlive the sweep process: they die with it, even by
``kill -9`` and in the middle of a chunk (see :func:`~nasrepro.bench._children.die_with`), so the lock is never
released while they still train and a resume cannot train a chunk twice. An interrupt
raises :class:`SweepInterrupted`, naming how many of the shard's chunks are saved:
Ctrl-C (SIGINT) lets the running chunks finish (a second Ctrl-C stops them), SIGTERM
stops them at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from nasrepro.bench.harness._executors import (
    SweepError,
    SweepInterrupted,
    _LocalPool,
    _ray_executor,
    _sigterm_interrupts,
    _Skipped,
    stopping,
)
from nasrepro.spaces import get_space, lowered_digests, specs_digest
from nasrepro.tables import (
    MANIFEST,
    Protocol,
    SweepManifest,
    TableError,
    chunk_path,
    get_protocol,
    iter_chunks,
    read_chunk,
    read_manifest,
    write_chunk,
    write_manifest,
)
from nasrepro.tables._outfile import set_aside

__all__ = [
    "SweepPlan",
    "SweepReport",
    "SweepError",
    "SweepInterrupted",
    "plan_sweep",
    "sweep",
    "load_results",
    "WORKER_THREADS",
]

logger = logging.getLogger(__name__)

#: torch CPU threads each sweep worker trains with (CPU bits depend on it).
WORKER_THREADS = 1


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep trains: architectures (in order), seeds and the chunking."""

    space: str
    protocol: Protocol
    archs: tuple[str, ...]
    seeds: tuple[int, ...]
    chunk_size: int = 16
    sample: int | None = None
    sample_seed: int = 0

    @property
    def n_chunks(self) -> int:
        return -(-len(self.archs) // self.chunk_size)

    def units(self) -> list[tuple[int, int]]:
        """All ``(seed, chunk)`` units, seed-major."""
        return [(s, c) for s in self.seeds for c in range(self.n_chunks)]

    def shard_units(self, shard: tuple[int, int]) -> list[tuple[int, int]]:
        i, n = shard
        return [u for k, u in enumerate(self.units()) if k % n == i]

    def chunk_archs(self, chunk: int) -> tuple[str, ...]:
        return self.archs[chunk * self.chunk_size : (chunk + 1) * self.chunk_size]

    def specs_sha256(self) -> str:
        """Digest of the networks the space lowers :attr:`archs` to under the protocol's
        macro, now (:func:`~nasrepro.spaces.specs_digest`; 0.1-0.3 s for 15,625 cells)."""
        sp = get_space(self.space)
        return specs_digest(self.archs, lowered_digests(sp, self.archs, **self.protocol.macro()))

    def manifest(self) -> SweepManifest:
        """The sweep directory's record of this plan: this process's versions, but the
        thread count the workers train with (:data:`WORKER_THREADS`), and the digest of
        the networks the space lowers the architectures to now."""
        from nasrepro.bench.tracking import versions

        return SweepManifest(
            space=self.space,
            protocol=self.protocol,
            archs=self.archs,
            seeds=self.seeds,
            chunk_size=self.chunk_size,
            sample=self.sample,
            sample_seed=self.sample_seed,
            versions=versions() | {"torch_threads": str(WORKER_THREADS)},
            specs_sha256=self.specs_sha256(),
        )


@dataclass
class SweepReport:
    """What one call of :func:`sweep` did."""

    out: Path
    units_total: int
    units_skipped: int
    units_done: int
    archs_trained: int
    wall_s: float
    chunk_files: list[Path] = field(default_factory=list)
    final_valid_acc: list[float] = field(default_factory=list)


def plan_sweep(
    space: str,
    protocol: Protocol | str,
    seeds: Sequence[int],
    *,
    archs: Sequence[str] | None = None,
    sample: int | None = None,
    sample_seed: int = 0,
    chunk_size: int = 16,
) -> SweepPlan:
    """Decide the architectures of a sweep.

    Bounded spaces default to every canonical class representative, in enumeration
    order; unbounded spaces need ``sample`` (distinct canonical archs drawn with
    ``sample_seed``). ``archs`` overrides both (each is replaced by its canonical form).
    """
    sp = get_space(space)
    p = get_protocol(protocol)
    if not seeds:
        raise SweepError("no seeds given; pass e.g. --seeds 0,1,2")
    if chunk_size < 1:
        raise SweepError(f"chunk_size must be positive, got {chunk_size=}")
    if archs is not None and sample is not None:
        raise SweepError(
            "give archs or sample, not both (--archs trains the file's list, --sample N draws "
            "N); the manifest would record a sample that was never drawn"
        )
    if archs is not None:
        names = list(dict.fromkeys(sp.canonical(sp.parse(a)).to_string() for a in archs))
    elif sample is not None:
        rng = np.random.default_rng(sample_seed)
        seen: dict[str, None] = {}
        tries = 0
        while len(seen) < sample:
            seen.setdefault(sp.canonical(sp.sample(rng)).to_string(), None)
            tries += 1
            if tries > 100 * sample:
                n_classes = f" (it has {len(sp.representatives()):,} classes)" if sp.bounded else ""
                raise SweepError(
                    f"could not draw {sample} distinct architectures from {space}{n_classes}; "
                    "ask for fewer" + (", or omit --sample to sweep it whole" if sp.bounded else "")
                )
        names = list(seen)
    elif sp.bounded:
        names = [sp.canonical(a).to_string() for a in sp.representatives()]
    else:
        raise SweepError(f"space {space!r} is unbounded; pass --sample N to sweep N of it")
    return SweepPlan(
        space, p, tuple(names), tuple(int(s) for s in seeds), chunk_size, sample, sample_seed
    )


def _sync_manifest(plan: SweepPlan, out: Path) -> None:
    """Create ``sweep.json``, or check that the existing one describes the same sweep.

    The existing manifest's ``specs_sha256`` must equal the digest of the networks the
    space lowers the architectures to now: a space whose code changed since the sweep
    began would train the remaining units as other networks under the same names. A
    manifest written before the digest was recorded resumes with a warning.

    Raises:
        SweepError: The existing manifest is unreadable or invalid (see
            :func:`~nasrepro.tables.read_manifest`), describes another sweep, or the
            space now lowers its architectures to other networks.
    """
    new = plan.manifest()
    if (out / MANIFEST).exists():
        try:
            old = read_manifest(out)
        except TableError as e:
            raise SweepError(str(e)) from e
        for key in ("space", "protocol_id", "archs", "chunk_size"):
            if getattr(old, key) != getattr(new, key):
                raise SweepError(
                    f"{out} holds a different sweep ({key} differs: "
                    f"{_short(getattr(old, key))} vs {_short(getattr(new, key))}); choose "
                    f"another --out, or delete {out} to discard it"
                )
        if old.specs_sha256 is None:
            logger.warning(
                "%s records no digest of its networks (written before nasrepro recorded "
                "one), so this resume cannot check that space %r still lowers its "
                "architectures to the networks it trained; if the space's code changed, "
                "sweep into a new directory",
                out / MANIFEST,
                plan.space,
            )
        elif old.specs_sha256 != new.specs_sha256:
            raise SweepError(
                f"refusing to resume {out}: space {plan.space!r} now lowers these "
                f"architectures to other networks than this sweep trained (specs_sha256 "
                f"{old.specs_sha256[:12]} in {MANIFEST}, {str(new.specs_sha256)[:12]} now): "
                "its code changed; sweep into a new directory, or restore the space's code"
            )
        seeds = sorted(set(old.seeds) | set(new.seeds))
        if seeds == sorted(old.seeds):
            return
        new = replace(new, seeds=tuple(seeds), specs_sha256=old.specs_sha256)
    write_manifest(out, new)


def _short(v: Any) -> str:
    s = repr(v)
    return s if len(s) < 60 else s[:57] + "..."


_WARM: set[tuple[str, str]] = set()


def _warm_up(job: dict[str, Any], p: Protocol) -> None:
    """Train one throwaway epoch once per process, so that one-time costs (kernel JIT,
    lazy initialisation) do not inflate the recorded epoch time of the first result."""
    from nasrepro.bench.harness._train import train

    key = (job["space"], p.id)
    if key in _WARM or not job["archs"]:
        return
    train(
        job["archs"][0],
        replace(p, epochs=1),
        0,
        job["device"],
        space=job["space"],
        data_root=job["data_root"],
        static=False,
    )
    _WARM.add(key)


def _run_unit(job: dict[str, Any]) -> dict[str, Any]:
    """Train one chunk of architectures with one seed and write its file (runs in a worker)."""
    if stopping():  # queued before the sweep was interrupted
        raise _Skipped(f"unit {job['seed']}/{job['chunk']} skipped: the sweep is stopping")
    import torch

    from nasrepro.bench.harness._train import train

    torch.set_num_threads(job.get("threads", WORKER_THREADS))
    p = Protocol.from_dict(job["protocol"])
    # what this worker's copy of the space lowers the chunk to: the networks it trains
    nets = lowered_digests(get_space(job["space"]), job["archs"], **p.macro())
    _warm_up(job, p)
    if job.get("batched", 0) > 1:
        results = _train_chunk_batched(job, p)
    else:
        results = [
            train(
                a,
                p,
                job["seed"],
                job["device"],
                space=job["space"],
                data_root=job["data_root"],
                threads=job.get("threads", WORKER_THREADS),
            )
            for a in job["archs"]
        ]
    networks = dict(zip(job["archs"], nets, strict=True))
    path = write_chunk(
        Path(job["out"]), job["seed"], job["chunk"], p.id, job["space"], results, networks
    )
    return {
        "seed": job["seed"],
        "chunk": job["chunk"],
        "path": str(path),
        "n": len(results),
        "valid_acc": [r.final["valid_acc"] for r in results],
    }


def _train_chunk_batched(job: dict[str, Any], p: Protocol) -> list[Any]:
    """Train a chunk in batches of ``job["batched"]`` cells (see :mod:`nasrepro.bench.harness._batched_modules`)."""
    from nasrepro.bench.harness import group_cells, train_batched

    archs = job["archs"]
    results: list[Any] = [None] * len(archs)
    for idx in group_cells(archs, job["batched"], space=job["space"]):
        group = [archs[i] for i in idx]
        done = train_batched(
            group,
            p,
            job["seed"],
            job["device"],
            space=job["space"],
            data_root=job["data_root"],
            amp=job.get("amp", False),
        )
        for i, r in zip(idx, done, strict=True):
            results[i] = r
    return results


def sweep(
    space: str,
    protocol: Protocol | str,
    seeds: Sequence[int],
    out: str | Path,
    *,
    shard: tuple[int, int] = (0, 1),
    workers: int = 1,
    executor: str = "local",
    ray_address: str | None = None,
    archs: Sequence[str] | None = None,
    sample: int | None = None,
    sample_seed: int = 0,
    chunk_size: int = 16,
    device: str = "cpu",
    data_root: str | None = None,
    progress: bool = False,
    track: bool = False,
    on_unit: Callable[[dict[str, Any]], None] | None = None,
    batched: int | None = None,
    amp: bool = False,
) -> SweepReport:
    """Train every architecture of a sweep plan under ``protocol`` for each seed.

    Args:
        space: Space name.
        protocol: Protocol or registered name.
        seeds: Training seeds.
        out: Sweep directory (created if missing; resumed if it holds this sweep).
        shard: ``(i, n)``: this process takes units ``i, i+n, i+2n, ...``.
        workers: Parallel worker processes (each with :data:`WORKER_THREADS` torch thread).
        executor: ``"local"`` (process pool) or ``"ray"``.
        ray_address: Address of an existing Ray cluster; a local one is started if None.
        archs, sample, sample_seed, chunk_size: See :func:`plan_sweep`.
        device: Training device.
        data_root: Dataset root for on-disk datasets.
        progress: Show a tqdm progress bar with an ETA.
        track: Log the shard as one MLflow run (see :mod:`nasrepro.bench.tracking`).
        on_unit: Called with each finished unit's summary.
        batched: Train up to this many cells of a chunk at once as one stacked module
            (:mod:`nasrepro.bench.harness._batched_modules`; cell space only; at most ``chunk_size``).
            ``None`` or 1: off, on every device. Batched results match single-model
            training only to float tolerance (grouped kernels differ in the last
            bits, and SGD amplifies them), so a batched table cannot be reproduced
            bitwise by ``train`` or ``nasrepro reproduce``; opt in for throughput.
        amp: bfloat16 autocast in batched training; it changes the recorded numbers.

    Returns:
        A :class:`SweepReport`.

    Raises:
        SweepError: Bad arguments, a foreign sweep in ``out``, a space that now lowers
            the sweep's architectures to other networks than ``out`` trained, or a
            dead worker.
    """
    i, n = shard
    if not (n >= 1 and 0 <= i < n):
        raise SweepError(f"shard must be i/n with 0 <= i < n, got {i}/{n}")
    if executor not in ("local", "ray"):
        raise SweepError(f"unknown executor {executor!r}; choose 'local' or 'ray'")
    if executor == "local" and ray_address is not None:
        raise SweepError(
            f"a Ray address ({ray_address}) is used by the ray executor only; pass "
            "--executor ray as well, or drop --ray-address"
        )
    plan = plan_sweep(
        space,
        protocol,
        seeds,
        archs=archs,
        sample=sample,
        sample_seed=sample_seed,
        chunk_size=chunk_size,
    )
    k = _batch_size(batched, space, chunk_size)
    if amp and k <= 1:
        raise SweepError(
            "amp only applies to batched training; pass --batched K (batched=K) with K > 1 too"
        )
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SweepError(f"{out} is a file, not a sweep directory; pass another out")
    out.mkdir(parents=True, exist_ok=True)
    chunks = out / "chunks"
    if chunks.exists() and not chunks.is_dir():  # found before any training, not after
        raise SweepError(
            f"{chunks} is a file where the sweep keeps its chunk folder; move it away and run again"
        )
    # the lock is held until the sweep ends, or its process dies (its workers with it)
    with _shard_lock(out, (i, n)), _sigterm_interrupts():
        _sync_manifest(plan, out)
        units = plan.shard_units((i, n))
        todo = [u for u in units if not _chunk_done(plan, out, *u)]
        jobs: list[dict[str, Any]] = [
            {
                "space": plan.space,
                "protocol": plan.protocol.to_dict(),
                "seed": s,
                "chunk": c,
                "archs": list(plan.chunk_archs(c)),
                "out": str(out),
                "device": device,
                "data_root": data_root,
                "batched": k,
                "amp": amp,
                "threads": WORKER_THREADS,
            }
            for s, c in todo
        ]
        report = SweepReport(out, len(units), len(units) - len(todo), 0, 0, 0.0)
        logger.info(
            "sweep %s/%s shard %d/%d: %d units, %d already done",
            space,
            plan.protocol.name,
            i,
            n,
            len(units),
            report.units_skipped,
        )
        t0 = time.perf_counter()
        from nasrepro.bench.tracking import mlflow_run

        params = {
            "space": plan.space,
            "protocol": plan.protocol.name,
            "seeds": ",".join(map(str, plan.seeds)),
            "shard": f"{i}/{n}",
            "workers": workers,
            "executor": executor,
            "n_archs": len(plan.archs),
        } | {f"protocol.{k}": v for k, v in plan.protocol.to_dict().items()}
        with mlflow_run(
            f"sweep-{plan.space}-{plan.protocol.name}-shard{i}of{n}",
            params=params,
            tags={"kind": "sweep", "protocol_id": plan.protocol.id},
            enabled=track,
        ) as run:
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=sum(len(j["archs"]) for j in jobs), unit="arch", desc="sweep")

            def record(res: dict[str, Any]) -> None:
                report.units_done += 1
                report.archs_trained += res["n"]
                report.chunk_files.append(Path(res["path"]))
                report.final_valid_acc.extend(res["valid_acc"])
                if bar is not None:
                    bar.update(res["n"])  # a no-op once the bar is closed
                if on_unit is not None:
                    on_unit(res)

            try:
                with contextlib.ExitStack() as stack:
                    pool: _LocalPool | None = None
                    results: Iterable[dict[str, Any]]
                    if executor == "ray":
                        ray_results = _ray_executor(jobs, workers, ray_address, _run_unit)
                        results = stack.enter_context(contextlib.closing(ray_results))
                    else:
                        results = pool = stack.enter_context(_LocalPool(jobs, workers, _run_unit))
                    try:
                        for res in results:
                            record(res)
                    except KeyboardInterrupt as e:
                        if bar is not None:
                            bar.close()  # before any message, so that the bar does not freeze
                        signum = e.signum if isinstance(e, SweepInterrupted) else signal.SIGINT
                        lost, signum = _wind_down(pool, signum, record)
                        raise SweepInterrupted(
                            signum, _stopped_message(signum, plan, out, (i, n), report, lost)
                        ) from None
            finally:
                if bar is not None:
                    bar.close()
                report.wall_s = time.perf_counter() - t0
                acc = report.final_valid_acc
                run.log_metrics(
                    {
                        "units_done": report.units_done,
                        "archs_trained": report.archs_trained,
                        "wall_s": report.wall_s,
                        **({"mean_final_valid_acc": float(np.mean(acc))} if acc else {}),
                        **({"max_final_valid_acc": float(np.max(acc))} if acc else {}),
                    }
                )
                run.log_artifact(out / MANIFEST)
                for path in report.chunk_files:
                    run.log_artifact(path, "chunks")
    return report


def _wind_down(
    pool: _LocalPool | None, signum: int, record: Callable[[dict[str, Any]], None]
) -> tuple[int, int]:
    """Stop a sweep after the signal ``signum``: SIGINT lets the running units finish
    (recording them) unless a second signal comes, anything else stops them at once.

    Returns:
        How many running units were lost, and the last signal received.
    """
    if pool is None:  # Ray: closing its results shuts down a Ray started here
        return 0, signum
    if signum != signal.SIGINT or pool.serial:
        return pool.kill(), signum
    running = pool.running()
    if running:
        logger.warning(
            "interrupted: waiting for %d running chunk%s to finish; press Ctrl-C again to stop now",
            running,
            "" if running == 1 else "s",
        )
    try:
        for res in pool.finish_running():
            record(res)
    except KeyboardInterrupt as e:
        return pool.kill(), e.signum if isinstance(e, SweepInterrupted) else signal.SIGINT
    return 0, signum


def _stopped_message(
    signum: int,
    plan: SweepPlan,
    out: Path,
    shard: tuple[int, int],
    report: SweepReport,
    lost: int,
) -> str:
    """One line for an interrupted sweep: what is saved, what was lost, how to resume."""
    units = plan.shard_units(shard)
    saved = sum(chunk_path(out, s, c).exists() for s, c in units)
    where = "" if shard[1] == 1 else f" of shard {shard[0]}/{shard[1]}"
    stopped = f"; {lost} running chunk{'' if lost == 1 else 's'} stopped unfinished" if lost else ""
    return (
        f"sweep stopped by {signal.Signals(signum).name}: {saved} of {len(units)} "
        f"chunks{where} are saved in {out} ({report.units_done} by this run{stopped}); "
        "run the same command again to resume"
    )


def _batch_size(batched: int | None, space: str, chunk_size: int) -> int:
    """Cells per batched training run (1: single-model training)."""
    from nasrepro.bench.harness import BATCHED_SPACES

    if batched is None:
        return 1
    if batched < 1:
        raise SweepError(f"batched must be a positive number of cells, got {batched=}")
    if batched > 1 and space not in BATCHED_SPACES:
        raise SweepError(
            f"batched training supports the spaces {BATCHED_SPACES}, not {space!r}; drop --batched"
        )
    if batched > chunk_size:
        logger.warning(
            "batched=%d exceeds chunk_size=%d; batches are cut at chunk boundaries, so pass "
            "--chunk-size %d (in a new sweep directory) to batch %d cells",
            batched,
            chunk_size,
            batched,
            batched,
        )
    return min(batched, chunk_size)


def load_results(out: str | Path) -> list[Any]:
    """Every :class:`~nasrepro.tables.TrialResult` in a sweep directory, in file order."""
    results = []
    for path in iter_chunks(Path(out)):
        results.extend(read_chunk(path)["results"])
    return results


def _lock_path(out: Path, shard: tuple[int, int]) -> Path:
    return out / f".lock-shard-{shard[0]}-of-{shard[1]}"


@contextlib.contextmanager
def _shard_lock(out: Path, shard: tuple[int, int]) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the shard's lock file, with this process's PID in it.

    The kernel drops the lock when its holder dies, so a killed sweep never blocks
    the next one. Where ``fcntl`` is missing (Windows) sweeps run unlocked.

    Raises:
        SweepError: Another live process holds the lock; the message names its PID.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX
        logger.debug("no fcntl: sweeping %s without a shard lock", out)
        yield
        return
    path = _lock_path(out, shard)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise SweepError(
                f"another sweep (PID {holder}) is running shard {shard[0]}/{shard[1]} in "
                f"{out}; wait for it to finish, run the other process with another --shard, "
                "or stop it and run this command again to resume"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _chunk_done(plan: SweepPlan, out: Path, seed: int, chunk: int) -> bool:
    """Whether the unit's chunk file exists and reads back whole, for this plan.

    A damaged or foreign file is renamed to ``*.corrupt`` (``*.corrupt-2`` ... where
    one was set aside before; kept for inspection, and no longer read by ``table
    build``) with a warning, and its unit is retrained.
    """
    path = chunk_path(out, seed, chunk)
    if not path.exists():
        return False
    try:
        payload = read_chunk(path)
        archs = [r.arch for r in payload["results"]]
        if payload.get("protocol_id") != plan.protocol.id:
            raise ValueError(f"protocol {payload.get('protocol_id')!r} is not this sweep's")
        if archs != list(plan.chunk_archs(chunk)) or any(
            r.seed != seed for r in payload["results"]
        ):
            raise ValueError(f"it holds other architectures or seeds than unit {seed}/{chunk}")
    except (ValueError, KeyError, TypeError) as e:
        aside = set_aside(path)
        why = e.__cause__ or e  # read_chunk's own advice (delete it) is what happens here
        logger.warning(
            "sweep chunk %s is damaged (%s); moved to %s, retraining it", path, why, aside
        )
        return False
    return True
