"""The executors of a sweep: a local process pool whose workers never outlive the sweep,
a Ray executor, and how a sweep is interrupted (SIGINT, SIGTERM).

The local pool's workers die with the sweep process, even by ``kill -9`` and in the
middle of a chunk (:func:`_die_with`), so the shard lock is never released while they
still train. Both executors run the sweep's ``run_unit`` function on each job; see
:mod:`nasrepro.bench.harness._sweep` for what a unit is.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import multiprocessing as mp
import os
import signal
import socket
import threading
from collections.abc import Callable, Generator, Iterator
from typing import Any

from nasrepro.bench._children import die_with as _die_with
from nasrepro.spaces._errors import NasreproError, require_extra

__all__ = ["SweepError", "SweepInterrupted"]

logger = logging.getLogger(__name__)


class SweepError(NasreproError, RuntimeError):
    """A sweep cannot start or cannot go on; the message says how to fix it."""


class SweepInterrupted(KeyboardInterrupt):
    """A sweep stopped by a signal (SIGINT or SIGTERM); its finished chunks are on disk.

    A :class:`KeyboardInterrupt`, so code that handles Ctrl-C handles it. The message
    says how many of the shard's chunks are saved and how to resume; the command line
    prints it and exits with ``128 + signum`` (130 for SIGINT, 143 for SIGTERM).

    Attributes:
        signum: The signal's number.
    """

    def __init__(self, signum: int, message: str | None = None) -> None:
        name = signal.Signals(signum).name
        super().__init__(
            message
            or f"sweep stopped by {name}; its finished chunks are on disk; run the same "
            "command again to resume"
        )
        self.signum = signum


class _Skipped(NasreproError):
    """A queued unit that a worker did not start because the sweep is stopping (never
    reaches a user: the stopping sweep drops it)."""


#: In a pool worker: the pool's stop event (set when the sweep is interrupted).
_STOP: Any = None


def stopping() -> bool:
    """In a pool worker: whether the sweep is stopping (its queued units are dropped)."""
    return _STOP is not None and bool(_STOP.is_set())


#: The signals the sweep process holds back while it starts its workers (see
#: :meth:`_LocalPool._submit_all`); a worker is born with them blocked.
_HELD = frozenset({signal.SIGINT, signal.SIGTERM})
#: Whether signals can be held back (blocked) per thread: POSIX, not Windows.
_CAN_HOLD = hasattr(signal, "pthread_sigmask")


def _init_worker(parent: int, stop: Any) -> None:
    """Set up a pool worker: it ignores SIGINT (a terminal's Ctrl-C reaches the whole
    process group; the sweep process decides what an interrupt stops) and dies with
    the sweep process.

    It was born with SIGINT and SIGTERM blocked (:meth:`_LocalPool._submit_all`):
    ignoring SIGINT discards a Ctrl-C that came while it was importing, and SIGTERM is
    unblocked with its default action, so a pending one ends it now."""
    global _STOP
    _STOP = stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with(parent)
    if _CAN_HOLD and threading.current_thread() is threading.main_thread():
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[list[bool]]:
    """While a unit trains in this process: a first SIGINT is noted (the list it yields
    becomes non-empty) and the unit goes on; a second raises ``KeyboardInterrupt`` at
    once. Until 2026-12-07 the first stopped the unit, so with one worker (the default)
    Ctrl-C lost the running chunk where with more it waited for it."""
    pending: list[bool] = []
    if threading.current_thread() is not threading.main_thread():
        yield pending
        return

    def on_sigint(signum: int, frame: object) -> None:
        if pending:
            raise KeyboardInterrupt
        pending.append(True)
        logger.warning(
            "interrupted: waiting for the running chunk to finish; press Ctrl-C again to stop now"
        )

    old = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield pending
    finally:
        signal.signal(signal.SIGINT, old if old is not None else signal.SIG_DFL)


class _LocalPool:
    """The local executor: runs units in this process, or on ``workers`` processes that
    never outlive it (:func:`_die_with`).

    Iterating yields each finished unit's summary, in the order they finish. After an
    interrupt, :meth:`finish_running` lets the running units finish (and yields them)
    while the queued ones are dropped, and :meth:`kill` stops the workers at once.
    Leaving the ``with`` block waits for the running units.

    An interrupt (SIGINT, or SIGTERM turned into one) that comes while the workers are
    started is held back until iteration begins, where the sweep handles interrupts:
    it is raised by the first ``next``, not lost and not raised out of ``__enter__``.
    """

    def __init__(
        self,
        jobs: list[dict[str, Any]],
        workers: int,
        run_unit: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> None:
        self.jobs = jobs
        self.workers = workers
        self.run_unit = run_unit  # a module-level function: workers unpickle it by name

    @property
    def serial(self) -> bool:
        """Whether units run in this process (one worker). A first Ctrl-C there lets the
        running unit finish, as the workers' do (:func:`_sigint_deferred`)."""
        return self.workers <= 1

    def __enter__(self) -> _LocalPool:
        self._ex: cf.ProcessPoolExecutor | None = None
        self._futures: list[cf.Future[dict[str, Any]]] = []
        self._reported: set[cf.Future[dict[str, Any]]] = set()
        self._in_unit = False  # serial: a unit is being trained in this process
        self._held_mask: set[int | signal.Signals] | None = None  # the mask to restore
        if not self.serial:
            ctx = mp.get_context("spawn")
            self._stop = ctx.Event()
            self._ex = cf.ProcessPoolExecutor(
                self.workers,
                mp_context=ctx,
                initializer=_init_worker,
                initargs=(os.getpid(), self._stop),
            )
            self._futures = self._submit_all()
        return self

    def _submit_all(self) -> list[cf.Future[dict[str, Any]]]:
        """Submit every job; the workers start here, with SIGINT and SIGTERM blocked.

        A terminal's Ctrl-C reaches the whole process group. A worker that was still
        importing when it came printed a ``KeyboardInterrupt`` traceback before its
        initializer could ignore SIGINT. So this thread blocks SIGINT and SIGTERM while
        it starts them: a spawned child keeps the mask across ``exec``, and its
        initializer discards what came meanwhile (:func:`_init_worker`). The threads
        the pool starts here (its manager, its queue feeder) keep them blocked, so
        only this thread receives an interrupt. Here the signals stay pending, not
        lost; :meth:`_release` delivers them once the sweep can handle them.

        Until 2026-12-07 SIGINT was ignored (``SIG_IGN``) here instead, which the
        children inherited too, but a Ctrl-C in this window was then dropped: the
        sweep ran on to the end (a known race of the Ctrl-C test). Where signals
        cannot be blocked (Windows), that is still what happens.
        """
        assert self._ex is not None
        main = threading.current_thread() is threading.main_thread()
        if main and _CAN_HOLD:
            self._held_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
            return [self._ex.submit(self.run_unit, job) for job in self.jobs]
        old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            return [self._ex.submit(self.run_unit, job) for job in self.jobs]
        finally:
            if main:
                signal.signal(signal.SIGINT, old if old is not None else signal.SIG_DFL)

    def _release(self) -> None:
        """Unblock the signals :meth:`_submit_all` held back; one that came meanwhile
        is raised here (as ``KeyboardInterrupt`` or :class:`SweepInterrupted`)."""
        mask, self._held_mask = self._held_mask, None
        if mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if self._ex is None:
            for job in self.jobs:
                with _sigint_deferred() as pending:
                    self._in_unit = True
                    res = self.run_unit(job)
                    self._in_unit = False
                yield res
                if pending:  # the Ctrl-C that came while the unit trained, now it is kept
                    raise KeyboardInterrupt
            return
        self._release()  # an interrupt that came while the workers started is raised here
        try:
            for fut in cf.as_completed(self._futures):
                res = fut.result()
                self._reported.add(fut)
                yield res
        except cf.process.BrokenProcessPool as e:
            raise SweepError(
                "a sweep worker died (killed, or out of memory); every finished chunk is "
                "kept on disk; run the same command again to resume"
            ) from e

    def _unreported(self) -> list[cf.Future[dict[str, Any]]]:
        return [f for f in self._futures if f not in self._reported and not f.cancelled()]

    def _drop_queued(self) -> None:
        if self._ex is not None:
            self._stop.set()  # a unit already handed to a worker's queue is skipped
            for fut in self._futures:
                fut.cancel()

    def running(self) -> int:
        """Drop the queued units; return how many are still running."""
        self._drop_queued()
        return min(self.workers, sum(not f.done() for f in self._unreported()))

    def finish_running(self) -> Iterator[dict[str, Any]]:
        """Drop the queued units and yield the running ones as they finish."""
        self._drop_queued()
        for fut in cf.as_completed(self._unreported()):
            try:
                res = fut.result()
            except Exception:  # skipped, or its worker died: not saved
                continue
            self._reported.add(fut)
            yield res

    def kill(self) -> int:
        """Stop every worker now (SIGKILL); return how many running units were lost."""
        if self._ex is None:
            return int(self._in_unit)  # an interrupt already stopped it
        lost = self.running()
        procs = list((getattr(self._ex, "_processes", None) or {}).values())
        # Python 3.14 has kill_workers(); before it, the executor's process table
        kill_workers = getattr(self._ex, "kill_workers", None)
        if kill_workers is not None:
            kill_workers()
        else:
            for proc in procs:
                proc.kill()
        for proc in procs:  # gone before the caller counts the saved chunks: a worker in
            proc.join(timeout=10)  # its last rename could add one after the count
        return lost

    def __exit__(self, *exc: object) -> None:
        if self._ex is None:
            return
        self._drop_queued()
        try:
            self._release()  # not iterated (an error came first): unblock the signals
            self._ex.shutdown(wait=True, cancel_futures=True)
        except KeyboardInterrupt:  # interrupted while waiting for the running units
            self.kill()
            self._ex.shutdown(wait=True)
            raise


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Within the block, the first SIGTERM raises :class:`SweepInterrupted` in the
    main thread, as SIGINT raises :class:`KeyboardInterrupt` (later ones are ignored:
    the sweep is already stopping). Nothing changes outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = False

    def handler(signum: int, frame: Any) -> None:
        nonlocal fired
        if not fired:
            fired = True
            raise SweepInterrupted(signum)

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old if old is not None else signal.SIG_DFL)


#: Seconds to wait for a TCP connection to a Ray cluster's address before giving up.
RAY_CONNECT_TIMEOUT_S = 10.0


def _probe_ray(address: str) -> None:
    """Refuse an address where nothing answers, in seconds: ``ray.init`` retries an
    unreachable one for minutes, printing warnings, without raising."""
    target = address.removeprefix("ray://")
    if target in ("auto", "local") or ":" not in target:
        return  # Ray resolves these itself
    host, _, port = target.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=RAY_CONNECT_TIMEOUT_S).close()
    except (OSError, ValueError) as e:
        raise SweepError(
            f"cannot reach the Ray cluster at {address!r} ({e}); start it with "
            "`ray start --head` or pass the right --ray-address"
        ) from None


def _ray_executor(
    jobs: list[dict[str, Any]],
    workers: int,
    address: str | None,
    run_unit: Callable[[dict[str, Any]], dict[str, Any]],
) -> Generator[dict[str, Any], None, None]:
    try:
        import ray
    except ImportError as e:
        raise require_extra("the ray executor", "ray", "ray", e) from e
    started_here = False
    if not ray.is_initialized():
        if address:
            _probe_ray(address)
        try:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=max(1, workers), log_to_driver=False, include_dashboard=False)
        except (ConnectionError, RuntimeError) as e:
            raise SweepError(
                f"cannot reach the Ray cluster at {address!r} ({e}); start it with "
                "`ray start --head` or pass the right --ray-address"
            ) from e
        started_here = True
    try:
        remote = ray.remote(num_cpus=1, max_retries=2)(run_unit)
        pending = [remote.remote(job) for job in jobs]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                try:
                    yield ray.get(ref)
                except ray.exceptions.RayError as e:
                    raise SweepError(
                        f"a Ray task failed ({type(e).__name__}); every finished chunk is kept "
                        "on disk; run the same command again to resume"
                    ) from e
    finally:
        if started_here:
            ray.shutdown()
