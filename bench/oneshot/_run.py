"""Run a one-shot search, score its cell with a table, and measure its cost and ranking.

The protocol's training split is cut into two halves: the first trains the supernet's
weights, the second (arch-valid) drives the architecture updates and every
shared-weight evaluation, as DARTS splits CIFAR-10's training set. The protocol's valid
and test splits are never read during a search, so the table's valid and test
accuracies of the derived cell are out-of-sample.

Cost: ``search_seconds`` is the wall time of what the method itself does: its weight
and architecture steps, its end-of-epoch work, and its final derivation. Each epoch
also derives a cell and measures that cell's shared-weight accuracy, for the
trajectory a researcher plots; NB201's scripts do not charge for that (RANDOM-NAS
derives once after training, ENAS logs from 10 samples an epoch and derives from 100 at
the end), so it is timed apart as ``diagnostic_seconds`` and left out of the cost.
The derivation of the last epoch is the method's own and is charged. (Until
2026-12-07 the diagnostics were charged: over half of an RSPS search's time.)
``full_training_equivalents`` divides ``search_seconds`` by the mean
recorded training time of stand-alone trainings of a few fixed cells, run in the same
process on the same device with the same thread count (1), so the ratio does not
depend on the machine. A table's cost model charges the same recorded quantity.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from nasrepro.bench.harness._data import Splits
from nasrepro.bench.harness._train import _augment, deterministic, get_splits, train
from nasrepro.bench.oneshot._methods import (
    Batch,
    Method,
    get_method,
    lr_half_period_steps,
    run_config,
    scaled,
)
from nasrepro.bench.oneshot._supernet import Supernet
from nasrepro.bench.tracking import versions
from nasrepro.spaces import get_space
from nasrepro.spaces._errors import ConfigError, NasreproError
from nasrepro.tables import Protocol, Table, as_table, check_covers_space, get_protocol

__all__ = [
    "EpochRecord",
    "SearchResult",
    "OneShotResult",
    "search",
    "run_oneshot",
    "standalone_seconds",
    "check_table",
    "rank_correlation",
    "RANK_SEED",
    "COST_CELLS",
    "cost_cells",
    "fte_unit_in_table",
    "table_digest",
]

logger = logging.getLogger(__name__)

#: What ``search_seconds`` charges (recorded in every run; a stored run charged another
#: way is not reused): the method's own work, not the per-epoch diagnostics.
COST_ACCOUNTING = "method-only"
#: Seed of the fixed cell sample on which the supernet's ranking is checked.
RANK_SEED = 0
#: Stand-alone trainings timed for the full-training equivalent (fixed cells, seed 0).
COST_CELLS = 3
#: The phase line of the stand-alone timing (``on_phase``).
STANDALONE_PHASE = (
    "timing {n} stand-alone trainings under {protocol} (the unit of full-training equivalents)"
)


@dataclass
class EpochRecord:
    """One search epoch.

    Attributes:
        epoch: 1-based. arch: The cell derived after it. seconds: Charged search time
            so far (without the diagnostics of the module docstring).
        supernet_loss: Mean weight-step training loss of the epoch.
        inherited_acc: Shared-weight accuracy of ``arch`` on the whole arch-valid half.
        probabilities: The architecture distribution per edge (``None`` for RSPS).
        table_valid_acc, table_test_acc: ``arch`` scored by the table (filled by
            :func:`run_oneshot`).
    """

    epoch: int
    arch: str
    seconds: float
    supernet_loss: float
    inherited_acc: float
    probabilities: list[list[float]] | None = None
    table_valid_acc: float | None = None
    table_test_acc: float | None = None


@dataclass
class SearchResult:
    """A finished search: the derived cell, its cost, its trajectory, and the supernet.

    ``search_seconds`` is the charged wall time; ``search_cpu_seconds`` the process's
    CPU time over the same work (equal to it on one thread with nothing else running);
    ``diagnostic_seconds`` and ``diagnostic_cpu_seconds`` the per-epoch derivations and
    shared-weight evaluations left out of them (see the module docstring)."""

    method: str
    seed: int
    protocol: str
    protocol_id: str
    space: str
    arch: str
    epochs: int
    search_seconds: float
    search_cpu_seconds: float
    history: list[EpochRecord]
    config: dict[str, Any]
    device: str
    supernet: Supernet = field(repr=False)
    arch_valid: Batch = field(repr=False)
    diagnostic_seconds: float = 0.0
    diagnostic_cpu_seconds: float = 0.0
    #: Package versions and torch's thread count during the search.
    versions: dict[str, str] = field(default_factory=dict)


def _gen(seed: int, stream: int) -> torch.Generator:
    state = np.random.SeedSequence([seed, stream]).generate_state(1)[0]
    return torch.Generator().manual_seed(int(state))


@torch.no_grad()
def _accuracy(
    net: Supernet, codes: tuple[int, ...], x: torch.Tensor, y: torch.Tensor, bs: int
) -> float:
    net.set_path(codes)
    net.eval()
    right = 0
    for i in range(0, len(y), bs):
        right += int((net(x[i : i + bs]).argmax(1) == y[i : i + bs]).sum())
    return 100.0 * right / max(1, len(y))


def search(
    method: str,
    protocol: Protocol | str = "mnist1d-tiny",
    seed: int = 0,
    *,
    device: str = "cpu",
    epochs: int | None = None,
    space: str = "cell",
    data_root: str | None = None,
    threads: int | None = 1,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    splits: Splits | None = None,
) -> SearchResult:
    """Run one one-shot search.

    Args:
        method: A name of :data:`~nasrepro.bench.oneshot.METHODS`.
        protocol: The protocol whose data, macro skeleton and lr scale the search uses.
        seed: Seeds the supernet's initialisation, the data order and every sample.
        device: ``"cpu"`` or ``"cuda[:K]"``.
        epochs: Override the method's scaled search epochs.
        threads: torch CPU threads during the search (1, as sweeps train, so results
            reproduce bitwise); ``None`` keeps the caller's setting.
        on_epoch: Called with each :class:`EpochRecord`.
        splits: The data to use instead of the protocol's (the same shapes); only its
            training split is read.

    Raises:
        ConfigError: Unknown method, protocol or space, a space without a one-shot form,
            CUDA requested without CUDA, or a training split too small to halve.
    """
    cls = get_method(method)
    p = get_protocol(protocol)
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was requested but CUDA is not available; use --device cpu")
    prev = torch.get_num_threads()
    if threads is not None and dev.type == "cpu":
        torch.set_num_threads(threads)
    try:
        data = splits if splits is not None else get_splits(p, data_root)
        return _search(cls, p, seed, dev, epochs, space, data, on_epoch)
    finally:
        torch.set_num_threads(prev)


def _search(
    cls: type[Method],
    p: Protocol,
    seed: int,
    dev: torch.device,
    epochs: int | None,
    space_name: str,
    splits: Splits,
    on_epoch: Callable[[EpochRecord], None] | None,
) -> SearchResult:
    sp = get_space(space_name)
    half = len(splits.y_train) // 2
    if half < 2:
        raise ConfigError(
            f"protocol {p.name!r} has {len(splits.y_train)} training examples; a search needs >= 4"
        )
    # The training split only: the protocol's valid and test splits never reach the search.
    x = torch.as_tensor(splits.x_train, device=dev)
    y = torch.as_tensor(splits.y_train, device=dev)
    xa, ya, xb, yb = x[:half], y[:half], x[half : 2 * half], y[half : 2 * half]
    dims = splits.dims
    augment = p.augment == "crop_flip" and dims == 2
    cfg = scaled(cls.config, p, half, epochs)

    deterministic(dev)
    torch.manual_seed(seed)
    net = Supernet(sp, p, splits.in_channels, splits.num_classes, dims).to(dev)
    g_data, g_valid, g_method, g_aug = (_gen(seed, k) for k in range(4))
    rng = np.random.default_rng(np.random.SeedSequence([seed, 4]))
    bs = cfg.batch_size
    valid_perm: list[torch.Tensor] = []

    def next_valid() -> Batch:
        if not valid_perm or valid_perm[0].numel() < bs:
            valid_perm[:] = [torch.randperm(half, generator=g_valid)]
        idx, valid_perm[0] = valid_perm[0][:bs], valid_perm[0][bs:]
        xv = xb[idx.to(dev)]
        return (_augment(xv, g_aug) if augment else xv), yb[idx.to(dev)]

    def evaluate(codes: tuple[int, ...], batch: Batch) -> float:
        return _accuracy(net, codes, batch[0], batch[1], len(batch[1]))

    m = cls(net, cfg, rng, g_method, evaluate)
    opt = torch.optim.SGD(
        net.parameters(),
        lr=cfg.lr,
        momentum=cfg.momentum,
        nesterov=cfg.nesterov,
        weight_decay=cfg.weight_decay,
    )
    steps = half // bs
    total = steps * cfg.epochs
    period = lr_half_period_steps(cfg, total)
    history: list[EpochRecord] = []
    t = 0
    diag = diag_cpu = 0.0
    t0, c0 = _clocks(dev)
    for epoch in range(cfg.epochs):
        m.start_epoch(epoch)
        net.train()
        perm = torch.randperm(half, generator=g_data).to(dev)
        loss_sum = 0.0
        for b in range(steps):
            lr = cfg.eta_min + 0.5 * (cfg.lr - cfg.eta_min) * (1 + math.cos(math.pi * t / period))
            for group in opt.param_groups:
                group["lr"] = lr
            idx = perm[b * bs : (b + 1) * bs]
            xt, yt = xa[idx], ya[idx]
            if augment:
                xt = _augment(xt, g_aug)
            if m.arch_first:
                net.train()
                m.arch_step(next_valid(), (xt, yt), lr, opt)
            net.train()
            m.weight_mode()
            loss = F.cross_entropy(net(xt), yt)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
            opt.step()
            loss_sum += float(loss.detach())
            if not m.arch_first:
                m.arch_step(next_valid(), (xt, yt), lr, opt)
            t += 1
        m.end_epoch(next_valid)
        w0, c1 = _clocks(dev)
        codes = m.derive(next_valid)
        w1, c2 = _clocks(dev)
        inherited = _accuracy(net, codes, xb, yb, p.eval_batch_size)
        w2, c3 = _clocks(dev)
        last = epoch == cfg.epochs - 1  # the last derivation is the method's own
        diag += (w2 - w1) + (0.0 if last else w1 - w0)
        diag_cpu += (c3 - c2) + (0.0 if last else c2 - c1)
        probs = m.probabilities()
        rec = EpochRecord(
            epoch=epoch + 1,
            arch=net.arch_of(codes).to_string(),
            seconds=w2 - t0 - diag,
            supernet_loss=loss_sum / max(1, steps),
            inherited_acc=inherited,
            probabilities=None if probs is None else probs.round(6).tolist(),
        )
        history.append(rec)
        if on_epoch is not None:
            on_epoch(rec)
    # The search ends with the last epoch's derivation and its (diagnostic) score: what
    # follows, the record and the caller's on_epoch, is bookkeeping, not the method's
    # cost, so the charged time is the last record's exactly (it was timed after them,
    # 3 ms more than the record under load, which failed a test)
    seconds, cpu_seconds = w2 - t0 - diag, c3 - c0 - diag_cpu
    config = run_config(cls, cfg)
    return SearchResult(
        method=cls.name,
        seed=seed,
        protocol=p.name,
        protocol_id=p.id,
        space=sp.name,
        arch=history[-1].arch,
        epochs=cfg.epochs,
        search_seconds=seconds,
        search_cpu_seconds=cpu_seconds,
        history=history,
        config=config,
        device=dev.type,
        supernet=net,
        arch_valid=(xb, yb),
        diagnostic_seconds=diag,
        diagnostic_cpu_seconds=diag_cpu,
        versions=versions(),
    )


def _clocks(dev: torch.device) -> tuple[float, float]:
    """Wall and process CPU time, after the device's queued work has finished."""
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    return time.perf_counter(), time.process_time()


def standalone_seconds(
    protocol: Protocol | str,
    device: str = "cpu",
    *,
    n: int = COST_CELLS,
    space: str = "cell",
    data_root: str | None = None,
) -> float:
    """Mean recorded training time of the ``n`` :func:`cost_cells` trained stand-alone
    (seed 0)."""
    p = get_protocol(protocol)
    times = []
    for arch in cost_cells(n, space):
        r = train(arch, p, 0, device, static=False, threads=1, data_root=data_root)
        times.append(r.train_time_s)
    return float(np.mean(times))


def cost_cells(n: int = COST_CELLS, space: str = "cell") -> list[str]:
    """The fixed cells whose stand-alone training is the unit of a full-training
    equivalent (drawn with :data:`RANK_SEED`).

    They are not an average cell: on the default table their recorded training times
    average 0.76 of the table's mean, so a comparison in the table's time reads a search
    at ``FTE x`` their recorded mean (:func:`fte_unit_in_table`), not ``FTE x`` the mean.
    """
    sp = get_space(space)
    rng = np.random.default_rng(RANK_SEED)
    return [sp.sample(rng).to_string() for _ in range(n)]


def fte_unit_in_table(table: Table, n: int = COST_CELLS) -> float | None:
    """The table's recorded training time (mean over its seeds) of the :func:`cost_cells`:
    one full-training equivalent in the table's seconds. ``None`` where the table lacks
    one of them or records no time."""
    times = []
    for arch in cost_cells(n, table.space_name):
        try:
            t = float(table.query(arch).train_time_s)
        except NasreproError:
            return None
        if not np.isfinite(t) or t <= 0:
            return None
        times.append(t)
    return float(np.mean(times))


def table_digest(table: Table) -> dict[str, str]:
    """What identifies a table's numbers: the digests of its metrics and of its rows.

    Two files with the same digests score every cell alike, whatever their names; a
    one-shot leaderboard reuses a stored run only on a table with the same digests.
    """
    return {k: str(table.attrs.get(k, "")) for k in ("metrics_sha256", "rows_sha256")}


def check_table(table: Table | str, protocol: Protocol | str, transfer: bool) -> str | None:
    """Refuse scoring a search with a table of another protocol unless ``transfer``, or
    with one that is not of the cell space or lacks a result for some of its cells.

    Returns:
        ``None`` when the table holds the search's protocol, else a label of the
        transfer (``"transfer: searched under X, scored on Y"``).

    Raises:
        ConfigError: The protocols differ and ``transfer`` is off, or the table is not
            of the whole cell space.
    """
    table, protocol = as_table(table), get_protocol(protocol)
    if table.space.name != "cell":
        raise ConfigError(
            f"the table {table.path.name} is of space {table.space.name!r}; one-shot runs on 'cell'"
        )
    check_covers_space(table, "a one-shot search may derive")
    if table.has_protocol and table.protocol_id == protocol.id:
        return None
    if table.has_protocol:
        other = table.protocol.name
        held = f"results of protocol {other} ({str(table.protocol_id)[:12]})"
    else:
        other = f"imported ({table.source.get('name', '?')})"
        held = f"imported results ({table.source.get('name', '?')}) without a training protocol"
    if not transfer:
        raise ConfigError(
            f"the table {table.path.name} holds {held}, but the supernet trains under "
            f"{protocol.name} ({protocol.id[:12]}); score with a table of {protocol.name} (the "
            "default table is mnist1d-tiny's), or pass --transfer to score it as a transfer "
            "experiment"
        )
    return f"transfer: searched under {protocol.name}, scored on {other}"


def rank_correlation(
    result: SearchResult, table: Table, n_cells: int, *, seed: int = RANK_SEED
) -> dict[str, Any]:
    """Kendall tau and Spearman between the supernet's and the table's ranking.

    The cells are ``n_cells`` canonical classes drawn without replacement with
    ``seed`` (the same sample for every method and search seed; all of them when
    ``n_cells`` reaches their number). Each gets its shared-weight accuracy on the whole
    arch-valid half and its table validation accuracy (the search metric).
    """
    from scipy.stats import kendalltau, spearmanr

    net = result.supernet
    sp = table.space
    reps = sp.representatives()  # type: ignore[attr-defined]
    n = min(n_cells, len(reps))
    pick = np.sort(np.random.default_rng(seed).choice(len(reps), n, replace=False))
    cells = [reps[i] for i in pick]
    xb, yb = result.arch_valid
    bs = get_protocol(result.protocol).eval_batch_size
    prev = torch.get_num_threads()
    if result.device == "cpu":
        torch.set_num_threads(1)
    try:
        inherited = np.array([_accuracy(net, net.codes_of(a), xb, yb, bs) for a in cells])
    finally:
        torch.set_num_threads(prev)
    truth = table.query_many([a.to_string() for a in cells], missing="nan").valid_acc
    ok = np.isfinite(truth)
    tau = float(kendalltau(inherited[ok], truth[ok]).statistic)
    rho = float(spearmanr(inherited[ok], truth[ok]).statistic)
    return {
        "cells": int(ok.sum()),
        "sample_seed": seed,
        "kendall_tau": tau,
        "spearman": rho,
        "metric": "table valid_acc (mean over seeds, final epoch) vs shared-weight accuracy on the arch-valid half",
    }


@dataclass
class OneShotResult:
    """What ``nasrepro oneshot run --json`` prints (see :meth:`to_dict`)."""

    search: SearchResult
    table: str
    table_digest: dict[str, str]
    transfer: str | None
    table_valid_acc: float
    table_test_acc: float
    optimum: float
    standalone_seconds: float
    ranking: dict[str, Any] | None
    op_counts: dict[str, int]

    @property
    def regret(self) -> float:
        return self.optimum - self.table_test_acc

    @property
    def full_training_equivalents(self) -> float:
        return self.search.search_seconds / self.standalone_seconds

    def to_dict(self) -> dict[str, Any]:
        s = self.search
        return {
            "method": s.method,
            "seed": s.seed,
            "arch": s.arch,
            "space": s.space,
            "protocol": s.protocol,
            "protocol_id": s.protocol_id,
            "table": self.table,
            "table_digest": self.table_digest,
            "transfer": self.transfer,
            "table_valid_acc": self.table_valid_acc,
            "table_test_acc": self.table_test_acc,
            "table_optimum_test_acc": self.optimum,
            "regret": self.regret,
            "search_seconds": s.search_seconds,
            "search_cpu_seconds": s.search_cpu_seconds,
            "diagnostic_seconds": s.diagnostic_seconds,
            "diagnostic_cpu_seconds": s.diagnostic_cpu_seconds,
            "cost_accounting": COST_ACCOUNTING,
            "standalone_seconds": self.standalone_seconds,
            "full_training_equivalents": self.full_training_equivalents,
            "epochs": s.epochs,
            "op_counts": self.op_counts,
            "ranking": self.ranking,
            "config": s.config,
            "device": s.device,
            "versions": s.versions or versions(),
            "history": [asdict(r) for r in s.history],
        }


def run_oneshot(
    method: str,
    table: Table | str,
    protocol: Protocol | str = "mnist1d-tiny",
    seed: int = 0,
    *,
    device: str = "cpu",
    epochs: int | None = None,
    transfer: bool = False,
    rank_cells: int = 0,
    cost_seconds: float | None = None,
    data_root: str | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> OneShotResult:
    """:func:`search`, then score the cell (and every epoch's cell) with ``table``.

    Args:
        method: A name of :data:`~nasrepro.bench.oneshot.METHODS` (``"darts-v1"``).
        table: The table that scores the derived cells (or a shipped table's name, or a
            table file); it must hold results of ``protocol`` (see :func:`check_table`).
        protocol: The protocol (or its name) the supernet trains under.
        seed: Seeds the weights, the data order and the method.
        device: ``"cpu"`` or ``"cuda"``.
        epochs: Search epochs (default: the method's, scaled to the protocol).
        transfer: Score on a table of another protocol, labelled as a transfer.
        rank_cells: Check the supernet's ranking on this many classes (0: skip).
        cost_seconds: A stand-alone training time measured earlier in this process on
            this device (a leaderboard measures it once); ``None`` measures it now.
        data_root: Where CIFAR-10 is read from (MNIST-1D is generated).
        on_epoch: Called with each epoch's :class:`EpochRecord`.
        on_phase: Called with a short description as each phase without epochs begins
            (loading the data, timing the stand-alone trainings, checking the ranking).
    """
    p = get_protocol(protocol)
    table = as_table(table)
    label = check_table(table, p, transfer)
    phase = on_phase or (lambda text: None)
    phase(f"loading the {p.dataset} data of {p.name}")
    res = search(
        method, p, seed, device=device, epochs=epochs, data_root=data_root, on_epoch=on_epoch
    )
    for rec in res.history:
        r = table.query(rec.arch)
        rec.table_valid_acc, rec.table_test_acc = r.valid_acc, r.test_acc
    final = res.history[-1]
    if cost_seconds is None:
        phase(STANDALONE_PHASE.format(n=COST_CELLS, protocol=p.name))
        cost_seconds = standalone_seconds(p, device, data_root=data_root)
    ranking = None
    if rank_cells > 0:
        phase(f"checking the supernet's ranking on {rank_cells} cell classes")
        ranking = rank_correlation(res, table, rank_cells)
    net = res.supernet
    counts = dict.fromkeys(net.op_names, 0)  # choices per edge of the derived cell
    for k in net.codes_of(table.space.parse(res.arch)):
        counts[net.op_names[k]] += 1
    assert final.table_valid_acc is not None and final.table_test_acc is not None
    return OneShotResult(
        search=res,
        table=table.path.name,
        table_digest=table_digest(table),
        transfer=label,
        table_valid_acc=final.table_valid_acc,
        table_test_acc=final.table_test_acc,
        optimum=table.optimum,
        standalone_seconds=cost_seconds,
        ranking=ranking,
        op_counts=counts,
    )


def op_histogram(archs: Sequence[str], op_names: Sequence[str]) -> dict[str, float]:
    """Share of each op over all edges of ``archs`` (how collapse shows)."""
    sp = get_space("cell")
    counts = dict.fromkeys(op_names, 0)
    for a in archs:
        for op in sp.parse(a).ops:  # type: ignore[attr-defined]
            counts[op] += 1
    total = max(1, sum(counts.values()))
    return {k: v / total for k, v in counts.items()}
