"""The ``nasrepro`` command line. Nothing heavy is imported until a command runs."""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import json
import logging
import os
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from nasrepro.bench.cli._args import (
    add_cpu_isa,
    device,
    int_at_least,
    seed_list,
    seed_value,
    thread_count,
)
from nasrepro.bench.cli._outputs import describe_os_error, user_message
from nasrepro.spaces._base import quote
from nasrepro.spaces._errors import ConfigError, NasreproError

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``nasrepro: error: ...``, exit code 2."""

    def error(self, message: str) -> NoReturn:
        """Print one line naming the command, the problem and where help is; exit 2."""
        where = self.prog.removeprefix("nasrepro").strip()
        prefix = f"nasrepro: error: {where}: " if where else "nasrepro: error: "
        self.exit(2, f"{prefix}{message} (see '{self.prog} --help')\n")


#: The errors of a write that ran out of room or lost its permission part way.
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


def _shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"shard must look like i/n (e.g. 0/4), got {quote(text)}"
        ) from None
    if not (n >= 1 and 0 <= i < n):
        raise argparse.ArgumentTypeError(f"shard i/n needs 0 <= i < n, got {quote(text)}")
    return i, n


# ----------------------------------------------------------------------------- space


def _cmd_space_list(args: argparse.Namespace) -> int:
    from nasrepro.spaces import list_spaces

    for name in list_spaces():
        print(name)
    return 0


def _cmd_space_info(args: argparse.Namespace) -> int:
    from nasrepro.spaces import get_space

    info = get_space(args.name).info()
    if args.json:
        print(json.dumps(info, indent=1))
    else:
        for k, v in info.items():
            print(f"{k:>18}: {v}")
    return 0


def _cmd_space_sample(args: argparse.Namespace) -> int:
    import numpy as np

    from nasrepro.spaces import get_space

    space = get_space(args.name)
    rng = np.random.default_rng(args.seed)
    for _ in range(args.n):
        print(space.sample(rng).to_string())
    return 0


def _cmd_space_canonical(args: argparse.Namespace) -> int:
    from nasrepro.spaces import get_space, parse_any

    arch = parse_any(args.arch, args.space)
    space = get_space(arch.space_name)
    canon = space.canonical(arch)
    if args.json:
        out: dict[str, Any] = {
            "space": space.name,
            "arch": arch.to_string(),
            "canonical": canon.to_string(),
        }
        index = space.index_of(canon)
        if index is not None:
            out["canonical_index"] = index
        print(json.dumps(out))
    else:
        print(canon.to_string())
    return 0


# ----------------------------------------------------------------------------- protocol


def _cmd_protocol_list(args: argparse.Namespace) -> int:
    from nasrepro.tables import get_protocol, list_protocols

    print(f"{'name':<16} {'dataset':<10} {'train/valid/test':>18} {'epochs':>6} {'batch':>5} "
          f"{'C':>3} {'N':>2}  id")  # fmt: skip
    for name in list_protocols():
        p = get_protocol(name)
        split = f"{p.n_train}/{p.n_valid}/{p.n_test}"
        print(f"{name:<16} {p.dataset:<10} {split:>18} {p.epochs:>6} {p.batch_size:>5} "
              f"{p.C:>3} {p.N:>2}  {p.id[:12]}")  # fmt: skip
    return 0


def _cmd_protocol_info(args: argparse.Namespace) -> int:
    from nasrepro.tables import get_protocol

    p = get_protocol(args.name)
    info = {**p.to_dict(), "id": p.id, "input_shape": list(p.input_shape)}
    if args.json:
        print(json.dumps(info, indent=1))
    else:
        for k, v in info.items():
            print(f"{k:>16}: {v}")
        print("(id: the sha256 of the canonical JSON of the fields from name to eval_batch_size;")
        print(
            " every result and table records it. The settings' sources: nasrepro.tables._protocol)"
        )
    return 0


# ----------------------------------------------------------------------------- train


def _cmd_train(args: argparse.Namespace) -> int:
    from nasrepro.bench.harness._train import result_summary, train
    from nasrepro.bench.tracking import mlflow_run
    from nasrepro.tables import METRIC_NAMES, get_protocol

    protocol = get_protocol(args.protocol)
    cols = METRIC_NAMES
    quiet = args.json

    with mlflow_run(
        f"train-{args.space}-{protocol.name}-seed{args.seed}",
        params={
            "arch": args.arch,
            "space": args.space,
            "protocol": protocol.name,
            "seed": args.seed,
            "device": args.device,
        },
        tags={"kind": "train", "protocol_id": protocol.id},
        enabled=not args.no_track,
    ) as run:
        header = [not quiet]  # printed with the first epoch: not before bad input is refused

        def on_epoch(epoch: int, row: dict[str, float]) -> None:
            run.log_metrics(row, step=epoch)
            if header[0]:
                print(f"{'epoch':>5} " + " ".join(f"{c:>12}" for c in cols))
                header[0] = False
            if not quiet:
                print(f"{epoch:>5} " + " ".join(f"{row[c]:>12.4f}" for c in cols), flush=True)

        result = train(
            args.arch,
            protocol,
            args.seed,
            args.device,
            space=args.space,
            data_root=args.data_root,
            on_epoch=on_epoch,
            threads=args.threads,
        )
        summary = result_summary(result)
        # at the final epoch's step: the per-epoch values came at steps 1..n, and the
        # final accuracies are theirs (at step 0 a history read 1, 2, ..., n, 0)
        final = {k: v for k, v in summary.items() if isinstance(v, (int, float))}
        run.log_metrics(final, step=result.n_epochs)
        run.log_dict(result.to_dict(), "result.json")
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print()
        for k, v in summary.items():
            print(f"{k:>14}: {v}")
        print(f"{'protocol_id':>14}: {protocol.id}")
    return 0


# ----------------------------------------------------------------------------- sweep


def _cmd_sweep(args: argparse.Namespace) -> int:
    from nasrepro.bench.cli._outputs import OutputError, check_dir, describe_os_error
    from nasrepro.spaces import get_space

    if args.batched is not None and args.batched > args.chunk_size:
        raise ConfigError(
            f"--batched {args.batched} exceeds --chunk-size {args.chunk_size}: a batch never "
            f"crosses a chunk's boundary; pass --batched {args.chunk_size} or less, or "
            f"--chunk-size {args.batched} (in a new --out directory)"
        )
    archs = None
    if args.archs:
        try:
            with open(args.archs) as f:
                numbered = [(i, s.strip()) for i, s in enumerate(f, start=1) if s.strip()]
        except OSError as e:
            raise ConfigError(
                f"--archs {quote(args.archs)}: cannot read it ({describe_os_error(e)}); "
                "name a file with one arch string per line"
            ) from None
        except UnicodeDecodeError as e:
            raise ConfigError(
                f"--archs {quote(args.archs)}: byte {e.start} is not text ({e.reason}); "
                "name a text file with one arch string per line"
            ) from None
        if not numbered:
            raise ConfigError(
                f"--archs {quote(args.archs)} holds no architectures; put one arch string per line"
            )
        space = get_space(args.space)
        for i, s in numbered:  # name the line of a bad string, before any training
            try:
                space.parse(s)
            except ValueError as e:
                raise ConfigError(f"--archs {args.archs}:{i}: {e}") from None
        archs = [s for _, s in numbered]
    check_dir(args.out, "--out")
    from nasrepro.bench.harness._sweep import SweepInterrupted

    try:
        report = _run_sweep(args, archs)
    except SweepInterrupted as e:  # SIGINT or SIGTERM: what is saved, and how to resume
        print(f"nasrepro: {e}", file=sys.stderr)
        return 128 + e.signum
    except OSError as e:  # a full disk part way: finished chunks stay on disk
        if e.errno not in _WRITE_ERRNOS:
            raise
        raise OutputError(
            f"--out {quote(args.out)}: writing failed ({describe_os_error(e)}); make room and "
            "run the same command again: it resumes from the finished chunks"
        ) from None
    print(
        f"sweep {args.out}: {report.units_done} chunks trained ({report.archs_trained} "
        f"arch-seeds) in {report.wall_s:.1f}s; {report.units_skipped} of {report.units_total} "
        "chunks of this shard were already done"
    )
    return 0


def _run_sweep(args: argparse.Namespace, archs: list[str] | None) -> Any:
    from nasrepro.bench.harness._sweep import sweep

    return sweep(
        args.space,
        args.protocol,
        args.seeds,
        args.out,
        shard=args.shard,
        workers=args.workers,
        executor=args.executor,
        ray_address=args.ray_address,
        archs=archs,
        sample=args.sample,
        sample_seed=args.sample_seed,
        chunk_size=args.chunk_size,
        device=args.device,
        data_root=args.data_root,
        progress=not args.no_progress,
        track=not args.no_track,
        batched=args.batched,
        amp=args.amp,
    )


# ----------------------------------------------------------------------------- reproduce


def _cmd_reproduce(args: argparse.Namespace) -> int:
    import numpy as np

    from nasrepro.bench.harness._reproduce import (
        ACC_NOISE_K,
        LOSS_RTOL,
        describe_gaps,
        describe_specs_gap,
        reproduce,
    )
    from nasrepro.tables import load_default, open_table

    table = load_default() if args.table is None else open_table(args.table)
    rtol = LOSS_RTOL if args.tolerance is None else args.tolerance
    allow_close = args.allow_close or args.tolerance is not None
    verdicts: list[str] = []
    for seed in args.seed:
        rep = reproduce(table, args.arch, seed, args.device, args.data_root, loss_rtol=rtol)
        verdicts.append(rep.verdict)
        if args.json:
            print(json.dumps(rep.to_dict()))
            continue
        batched = ", table trained batched" if rep.batched else ""
        print(f"{rep.arch}  seed {seed}  ({rep.device} vs table {rep.table_device}{batched})")
        print(
            f"{'metric':>12} {'table':>12} {'retrained':>12} {'max |diff|':>11}"
            f"   nearest its tolerance: epoch, |diff| / tolerance"
        )
        for name, (old, new) in rep.final.items():
            g = rep.gaps[name]
            near = f"{g.epoch:>5}, {g.diff:.3g} / {g.tolerance:.3g}" if g.max_abs else ""
            print(f"{name:>12} {old:>12.6g} {new:>12.6g} {g.max_abs:>11.3g}   {near}")
        if rep.verdict == "IDENTICAL":
            print("IDENTICAL: every metric of every epoch matches bitwise")
        else:
            first = rep.mismatches[0]
            outside = [n for n, g in rep.gaps.items() if not g.within]
            detail = (
                f"every metric within tolerance (accuracies within {ACC_NOISE_K:g} standard "
                f"deviations of the row's other seeds, losses within {rtol:g} relative)"
                if rep.verdict == "CLOSE"
                else f"outside tolerance: {', '.join(outside)}"
            )
            if rep.verdict == "DIFFERENT" and all(n.endswith("_loss") for n in outside):
                worst = max(rep.gaps[n].max_rel for n in outside)
                detail += (
                    f" (every accuracy is within the row's seed noise; the losses differ "
                    f"by up to {worst:.2g} relative: --tolerance {worst:.2g} accepts that)"
                )
            print(
                f"{rep.verdict}: {len(rep.mismatches)} values differ (first: {first[0]} at "
                f"epoch {first[1]}, {first[2]!r} vs {first[3]!r}); {detail}"
            )
        for line in describe_gaps(rep.build_gaps):
            print(line)
        for line in describe_specs_gap(rep.specs_gap):
            print(line)
        if rep.verdict != "IDENTICAL" and rep.bitwise_expected:
            print("the builds match, so this difference is not explained by the build")
        elif rep.verdict == "DIFFERENT" and rep.specs_gap is None:
            why = "the batched trainer's kernels" if rep.batched else "another build"
            placed = []
            for n, values in rep.seed_finals.items():
                v = np.asarray(values, dtype=np.float64)
                v = v[np.isfinite(v)]
                sd = float(v.std(ddof=1)) if len(v) > 1 else 0.0
                z = f", {(rep.final[n][1] - v.mean()) / sd:+.1f} sd" if sd > 0 else ""
                placed.append(f"{n} {rep.final[n][1]:.4g} (seeds {v.mean():.4g} +- {sd:.2g}{z})")
            print(
                f"not bitwise by design ({why}): SGD grows last-bit differences over a full "
                "training until two runs are apart like two seeds, so DIFFERENT is expected "
                "here; the final accuracies against the table's seeds for this row: "
                + "; ".join(placed)
            )
    if "DIFFERENT" in verdicts:
        return 1
    if "CLOSE" in verdicts and not allow_close:
        if not args.json:
            print(
                "exit 3: not bitwise; pass --allow-close (or --tolerance REL) to accept CLOSE",
                file=sys.stderr,
            )
        return 3
    return 0


# ----------------------------------------------------------------------------- parser


_DATA_ROOT_HELP = (
    "where CIFAR-10 is read from (default $NASREPRO_DATA, else $NASREPRO_CACHE/data, "
    "~/.cache/nasrepro/data); it must already be there. MNIST-1D ignores it: it is "
    "generated and cached in $NASREPRO_CACHE (default ~/.cache/nasrepro)"
)


def build_parser() -> argparse.ArgumentParser:
    from nasrepro.tables import DEFAULT_PROTOCOL

    ap = _Parser(
        prog="nasrepro",
        description="A reproducible benchmark suite for neural architecture search.",
    )
    ap.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-v, -vv)")
    sub = ap.add_subparsers(dest="command", required=True)

    sp = sub.add_parser("space", help="inspect search spaces")
    ssub = sp.add_subparsers(dest="space_command", required=True)
    p = ssub.add_parser("list", help="list the registered spaces")
    p.set_defaults(func=_cmd_space_list)
    p = ssub.add_parser("info", help="describe a space")
    p.add_argument("name", help="a registered space (`nasrepro space list`)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_space_info)
    p = ssub.add_parser("sample", help="sample architectures")
    p.add_argument("name", help="a registered space (`nasrepro space list`)")
    p.add_argument("-n", type=int_at_least(1, "-n"), default=5, help="how many (default 5)")
    p.add_argument("--seed", type=seed_value, default=0, help="sampling seed (0)")
    p.set_defaults(func=_cmd_space_sample)
    p = ssub.add_parser("canonical", help="the canonical representative of an architecture")
    p.add_argument("arch", help="architecture string")
    p.add_argument("--space", default=None, help="space name (guessed from the string if omitted)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_space_canonical)

    pp = sub.add_parser("protocol", help="list the training protocols and what each defines")
    psub = pp.add_subparsers(dest="protocol_command", required=True)
    p = psub.add_parser("list", help="the registered protocols, a line each")
    p.set_defaults(func=_cmd_protocol_list)
    p = psub.add_parser("info", help="every field of a protocol, and its id")
    p.add_argument("name", help="a registered protocol (`nasrepro protocol list`)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_protocol_info)

    p = sub.add_parser("train", help="train one architecture under a protocol")
    p.add_argument("arch", help="architecture string of --space")
    p.add_argument("--space", default="cell", help="search space (default cell)")
    p.add_argument(
        "--protocol",
        default=DEFAULT_PROTOCOL,
        help=f"training protocol (default {DEFAULT_PROTOCOL}; `nasrepro protocol list`)",
    )
    p.add_argument("--seed", type=seed_value, default=0, help="training seed (0)")
    p.add_argument("--device", type=device, default="cpu", help="cpu, cuda or cuda:K")
    p.add_argument("--data-root", default=None, help=_DATA_ROOT_HELP)
    p.add_argument("--json", action="store_true", help="print the TrialResult as one JSON object")
    p.add_argument(
        "--threads",
        type=thread_count,
        default=1,
        help="CPU threads (default 1, as sweeps train; CPU bits depend on it)",
    )
    add_cpu_isa(p)
    p.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("sweep", help="train a whole space (or a sample), resumable and sharded")
    p.add_argument("--space", default="cell", help="search space (default cell)")
    p.add_argument(
        "--protocol",
        default=DEFAULT_PROTOCOL,
        help=f"training protocol (default {DEFAULT_PROTOCOL})",
    )
    p.add_argument(
        "--seeds", type=seed_list, default=[0, 1, 2], help="training seeds (default 0,1,2)"
    )
    p.add_argument("--out", required=True, help="sweep directory (resumed if it exists)")
    p.add_argument("--shard", type=_shard, default=(0, 1), help="i/n: take every n-th chunk")
    p.add_argument(
        "--workers", type=int_at_least(1, "workers"), default=1, help="processes (default 1)"
    )
    p.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="local processes, or tasks on a Ray cluster",
    )
    p.add_argument(
        "--ray-address", default=None, help="the Ray cluster (default: start a local one)"
    )
    p.add_argument(
        "--sample",
        type=int_at_least(1, "sample"),
        default=None,
        help="sweep N sampled archs (unbounded spaces)",
    )
    p.add_argument(
        "--sample-seed",
        type=seed_value,
        default=0,
        help="seed of the --sample draw (0)",
    )
    p.add_argument("--archs", default=None, help="file with one arch string per line")
    p.add_argument(
        "--chunk-size",
        type=int_at_least(1, "chunk-size"),
        default=16,
        help="architectures per result file, the unit of resuming (default 16)",
    )
    p.add_argument("--device", type=device, default="cpu", help="cpu, cuda or cuda:K")
    p.add_argument("--data-root", default=None, help=_DATA_ROOT_HELP)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    p.add_argument(
        "--batched",
        type=int_at_least(1, "batched"),
        default=None,
        metavar="K",
        help="train K cells at once as one stacked module (cell space; K <= --chunk-size), "
        "for GPU throughput; off by default, since batched numbers are not bitwise "
        "reproducible by `nasrepro reproduce`",
    )
    p.add_argument(
        "--amp", action="store_true", help="bfloat16 autocast in batched training (changes numbers)"
    )
    add_cpu_isa(p)
    p.set_defaults(func=_cmd_sweep, resumable=("out", "chunks/s*-c*.json.gz", "chunk"))

    p = sub.add_parser(
        "reproduce", help="retrain one architecture and compare it with the table row"
    )
    p.add_argument("arch", help="architecture string")
    p.add_argument("--seed", type=seed_list, default=[0], help="seed(s), comma-separated")
    p.add_argument(
        "--table",
        default=None,
        metavar="NAME|PATH",
        help="a shipped table name or a table file (default: the shipped default table)",
    )
    p.add_argument("--device", type=device, default="cpu", help="cpu, cuda or cuda:K")
    p.add_argument("--data-root", default=None, help=_DATA_ROOT_HELP)
    p.add_argument("--json", action="store_true", help="one JSON object per seed")
    p.add_argument(
        "--tolerance",
        type=float,
        default=None,
        metavar="REL",
        help="relative loss tolerance for CLOSE (default 1e-4); implies --allow-close",
    )
    p.add_argument(
        "--allow-close",
        action="store_true",
        help="exit 0 on CLOSE (within tolerance, not bitwise) instead of 3",
    )
    add_cpu_isa(p)
    p.set_defaults(func=_cmd_reproduce)

    for module in _EXTENSIONS:  # an import that fails is a bug: it is not hidden
        importlib.import_module(module).add_parser(sub)
    return ap


#: Modules that add commands (each defines ``add_parser(subparsers)``).
_EXTENSIONS = (
    "nasrepro.bench.cli._table",
    "nasrepro.bench.cli._surrogate",
    "nasrepro.bench.cli._leaderboard",
    "nasrepro.bench.cli._oneshot",
)


def _chosen(ap: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The (sub)command parser that ``args`` came from."""
    p = ap
    while True:
        sub = next((a for a in p._actions if isinstance(a, argparse._SubParsersAction)), None)
        name = getattr(args, sub.dest, None) if sub is not None else None
        if sub is None or name not in sub.choices:
            return p
        p = sub.choices[name]


def _attach_negative_values(argv: list[str]) -> list[str]:
    """``--budget -5x`` as ``--budget=-5x``: argparse takes a value that starts with ``-``
    and a digit but is not a plain number for an option and answers "expected one
    argument"; attached, the value reaches its own check, which names the fix."""
    out: list[str] = []
    for a in argv:
        prev = out[-1] if out else ""
        if (
            len(a) > 1
            and a[0] == "-"
            and a[1].isdigit()
            and prev.startswith("-")
            and prev != "--"
            and "=" not in prev
        ):
            out[-1] = f"{prev}={a}"
        else:
            out.append(a)
    return out


def _one_line_warnings(default: Any) -> Any:
    """``warnings.formatwarning`` that prints nasrepro's own warnings as one line,
    ``nasrepro: warning: ...``, and leaves other libraries' warnings to ``default``."""

    def fmt(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> str:
        if category.__module__.startswith("nasrepro."):
            return f"nasrepro: warning: {message}\n"
        return str(default(message, category, *args, **kwargs))

    return fmt


def _stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader has closed it."""
    try:
        import select

        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no poll (Windows), or no real stdout
        return False


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread as Ctrl-C is, so the same clean-up runs (a
    leaderboard's pool finishes and saves its running runs) before one line and 143."""


def _terminate_gracefully() -> Callable[[], object]:
    """Turn SIGTERM into :class:`_Terminated` (a sweep installs its own handler inside);
    return what restores the previous handler. Off the main thread: nothing."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends at once
        raise _Terminated

    old = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, old if old is not None else signal.SIG_DFL)


def _kept(args: argparse.Namespace, *, resumes: bool) -> str:
    """What an interrupted command leaves: only commands with a store of finished
    results and that store given. A command names it with ``set_defaults(resumable=
    (option, pattern, noun))``: the option naming the store, the glob of its finished
    results in it, and what one is called ("run")."""
    option, pattern, noun = getattr(args, "resumable", None) or (None, "", "")
    store = getattr(args, option, None) if option else None
    if store is None:
        return ""
    # a writer's temporary (.NAME.PID@HOST-XXXXXXXX.tmp.json) matches the pattern too
    n = sum(1 for p in Path(store).glob(pattern) if not p.name.startswith("."))
    if not n:
        return f"; no {noun} had finished, so nothing is kept"
    nouns = noun if n == 1 else noun + ("es" if noun.endswith("h") else "s")
    return f"; {n} finished {nouns} {'is' if n == 1 else 'are'} on disk in {store}" + (
        ", and the same command resumes from them" if resumes else ""
    )


def _cap_cpu_isa(args: argparse.Namespace) -> None:
    """Apply ``--cpu-isa`` before the command loads torch."""
    isa = getattr(args, "cpu_isa", None)
    if isa is None:
        return
    if str(getattr(args, "device", "cpu")).startswith("cuda"):
        raise ConfigError(
            f"--cpu-isa caps the CPU's kernels, and --device {args.device} trains on a GPU; "
            "drop one of them"
        )
    from nasrepro.bench._cpu_isa import cap_cpu_isa

    cap_cpu_isa(isa)


def _bug() -> int:
    """Report the exception being handled as a bug: the traceback is what a report needs."""
    traceback.print_exc(file=sys.stderr)
    print(
        "nasrepro: internal error (a bug, not your input); please report it with the "
        "traceback above",
        file=sys.stderr,
    )
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``nasrepro`` command line; return its exit code.

    A :class:`~nasrepro.spaces.NasreproError` (bad input, a missing resource) is one
    line ``nasrepro: error: ...`` and exit code 2; ``-v`` prints its traceback first.
    Any other exception is a bug: its full traceback and exit code 1.
    """
    ap = build_parser()
    given = list(sys.argv[1:] if argv is None else argv)
    args, extra = ap.parse_known_args(_attach_negative_values(given))
    if extra:  # named by the command they were given to, with that command's help
        _chosen(ap, args).error(f"unrecognized arguments: {' '.join(extra)}")
    args.argv = given  # recorded by `table import`
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # MLflow logs its store's set-up at INFO through its own handler ("Creating initial
    # MLflow database tables..."), amid our progress bars; -v shows it, as a user's own
    # MLFLOW_LOGGING_LEVEL does.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", logging.getLevelName(level))
    default_format = warnings.formatwarning
    warnings.formatwarning = _one_line_warnings(default_format)
    on_term = _terminate_gracefully()
    try:
        _cap_cpu_isa(args)
        rc = int(args.func(args) or 0)
        sys.stdout.flush()  # here, so that a reader gone away is caught below
        return rc
    except NasreproError as e:
        if args.verbose:
            traceback.print_exc(file=sys.stderr)
        print(f"nasrepro: error: {user_message(e)}", file=sys.stderr)
        return 2
    except _Terminated:
        print(f"nasrepro: terminated (SIGTERM){_kept(args, resumes=True)}", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print(f"nasrepro: interrupted{_kept(args, resumes=False)}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        if not _stdout_closed():  # another pipe or socket broke: a bug or a server's fault
            traceback.print_exc(file=sys.stderr)
            print("nasrepro: internal error (a broken pipe, not stdout)", file=sys.stderr)
            return 1
        # The reader of stdout went away (`nasrepro table top | head`): stop quietly, as
        # shell tools do; stdout points at /dev/null so the exit flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, the shell's code for a reader that closed the pipe
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            return _bug()
        # A full disk or quota, here while writing stdout (`> file` on a full disk): our
        # own output files name it in an OutputError. Stdout goes to /dev/null so the
        # exit flush cannot fail again.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(
            f"nasrepro: error: writing the output failed ({describe_os_error(e)}); free "
            "some space, or write it elsewhere",
            file=sys.stderr,
        )
        return 2
    except Exception:
        return _bug()
    finally:
        warnings.formatwarning = default_format
        on_term()


if __name__ == "__main__":
    sys.exit(main())
