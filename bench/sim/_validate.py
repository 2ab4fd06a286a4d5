"""``nasrepro validate``: a user's strategy against the shipped references, then real training.

1. The strategy class must pass the contract (:func:`~nasrepro.strategies.check_strategy`).
2. It runs for ``seeds`` seeds under the reference's budget and worker count.
3. Its mean final regret is ranked among the reference strategies, and compared with
   each by a two-sided Mann-Whitney U test, with the probability of superiority
   ``P(user's regret < reference's) + P(tie) / 2`` and the rank-biserial correlation
   ``2 P - 1`` as effect sizes (positive: the user's strategy is better).
4. The final incumbents of the first ``validate_top`` runs are trained for real with
   :func:`nasrepro.bench.harness._train.train`, under the benchmark's
   :attr:`~nasrepro.tables.Benchmark.protocol` (a table's first seed, or seed 0), and
   their accuracies are shown beside the benchmark's answer for that seed (the table's
   record, or a surrogate's prediction).
"""

from __future__ import annotations

import json
import logging
import math
import numbers
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from nasrepro.bench.sim._contract import check_contract, seed_note
from nasrepro.bench.sim._leaderboard_report import budget_text, pm
from nasrepro.bench.sim._leaderboard_run import (
    BenchmarkSpec,
    LeaderboardConfig,
    as_spec,
    cost_model_text,
    open_benchmark,
    run_leaderboard,
)
from nasrepro.bench.sim._leaderboard_stats import holm, mean_ci
from nasrepro.bench.sim._runstore import source_sha256
from nasrepro.spaces._errors import ConfigError, access_error
from nasrepro.strategies import (
    DEFAULT_STRATEGY_TIMEOUT_S,
    load_strategy,
)
from nasrepro.tables import (
    Benchmark,
    Protocol,
    TabularBenchmark,
    TrialResult,
    write_text_atomic,
)
from nasrepro.tables._ranking import tie_round

__all__ = ["validate", "load_reference", "reference_path", "ValidateReport", "Comparison"]

logger = logging.getLogger(__name__)


def reference_path(benchmark: str) -> Path | None:
    """The shipped reference file of ``benchmark``, or ``None``."""
    res = resources.files("nasrepro.strategies").joinpath("reference", f"{benchmark}.json")
    if not res.is_file():
        return None
    with resources.as_file(res) as p:
        return Path(p)


def load_reference(benchmark: str, path: str | Path | None = None) -> dict[str, Any]:
    """A reference ``results.json`` (shipped for ``benchmark``, or at ``path``).

    Raises:
        ConfigError: None is shipped for ``benchmark`` and no path was given, or the
            file is not a readable leaderboard result.
    """
    p = Path(path) if path is not None else reference_path(benchmark)
    if p is None or not p.is_file():
        raise ConfigError(
            f"no reference results for benchmark {benchmark!r}"
            + (f" at {p}" if p is not None else " are shipped")
            + "; generate them with `python benchmarks/make_reference.py --table PATH --out "
            "ref.json` (or `nasrepro leaderboard --out DIR`) and pass --reference ref.json"
        )
    remake = (
        "make it again with `python benchmarks/make_reference.py` (for a shipped one: "
        "reinstall nasrepro) or pass another --reference"
    )
    try:
        data = json.loads(p.read_text())
    except PermissionError as e:
        raise access_error(p, e, "reference") from None
    except (OSError, ValueError) as e:  # unreadable, or not JSON (cut short, edited)
        raise ConfigError(
            f"{p} is not a readable leaderboard results.json ({e}); {remake}"
        ) from None
    if (
        not isinstance(data, dict)
        or data.get("format") != "nasrepro-leaderboard-1"
        or "strategies" not in data
    ):
        raise ConfigError(f"{p} is not a nasrepro leaderboard results.json; {remake}")
    return dict(data)


@dataclass
class Comparison:
    """The user's final regrets against one reference strategy's."""

    reference: str
    reference_mean: float
    n_reference: int
    u_statistic: float
    p_value: float
    prob_better: float
    rank_biserial: float
    #: ``p_value`` Holm-corrected over the comparisons with every reference strategy.
    p_holm: float = float("nan")


@dataclass
class Retrained:
    """One final incumbent trained for real, beside the benchmark's answer for it.

    The ``table_*`` fields hold the benchmark's answer for ``train_seed``: the table's
    record, or a surrogate's prediction.
    """

    run_seed: int
    arch: str
    train_seed: int
    table_valid_acc: float
    table_test_acc: float
    table_mean_test_acc: float
    real_valid_acc: float
    real_test_acc: float
    wall_s: float
    #: Read back from ``--out DIR/retrained`` (trained by an earlier run on this build).
    reused: bool = False


@dataclass
class ValidateReport:
    """Everything ``nasrepro validate`` prints."""

    strategy: str
    benchmark: str
    budget: str
    workers: int
    final_regret: list[float]
    mean: float
    ci: tuple[float, float]
    median: float
    rank: int
    n_ranked: int
    comparisons: list[Comparison] = field(default_factory=list)
    retrained: list[Retrained] = field(default_factory=list)
    retrain_note: str = ""
    #: Said when every run asked the same first trials: the strategy ignores its seed.
    seed_note: str = ""
    #: What identifies the benchmark's numbers (its protocol id, metrics digest, ...).
    provenance: dict[str, Any] = field(default_factory=dict)
    #: sha256 of the source files that define the strategy's classes.
    code_sha256: str = ""
    #: ``{field: [table, here]}`` where the retraining build differs from the table's
    #: (see :func:`nasrepro.bench.harness._reproduce.build_gaps`); then the real numbers are
    #: expected to differ from the table's within seed noise, not bitwise.
    build_gaps: dict[str, list[str | None]] = field(default_factory=dict)
    #: The final incumbents' mean test accuracy (the report metric): mean and sample
    #: standard deviation over seeds, as NAS-Bench-201's Table 5 reports it.
    test_acc: tuple[float, float] = (float("nan"), float("nan"))
    report_metric: str = "test_acc"
    cost_model: str = ""
    #: Runs read back from ``--out``'s run directory instead of being run again.
    reused: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_text(self) -> str:
        lines = [
            f"strategy {self.strategy} on {self.benchmark}: budget {self.budget}, "
            f"{self.workers} worker(s), {len(self.final_regret)} seeds"
            + (f" ({self.reused} read back from an earlier --out)" if self.reused else ""),
            f"final test regret: mean {self.mean:.3f} [95% CI {self.ci[0]:.3f}, "
            f"{self.ci[1]:.3f}] (Student t), median {self.median:.3f}",
            f"final incumbents' {self.report_metric}: {pm(*self.test_acc)} % (mean ± std over seeds)",
            *([self.cost_model] if self.cost_model else []),
            f"rank {self.rank} of {self.n_ranked} by mean final regret among the references",
            "",
            f"{'reference':<24}{'mean':>8}{'U':>9}{'p':>10}{'p (Holm)':>10}{'P(better)':>11}"
            f"{'r_rb':>8}",
        ]
        for c in self.comparisons:
            lines.append(
                f"{c.reference:<24}{c.reference_mean:>8.3f}{c.u_statistic:>9.1f}"
                f"{c.p_value:>10.2g}{c.p_holm:>10.2g}{c.prob_better:>11.2f}"
                f"{c.rank_biserial:>8.2f}"
            )
        lines.append(
            "(P(better): probability that a run of yours ends with lower regret; p (Holm): "
            "corrected for the comparisons with every reference, read this one; above 0.05 "
            "the seeds did not show a difference, which is not to say there is none: on the "
            "default table 30 seeds show a 0.7-point difference in mean regret in about 90% of "
            "validations and a 0.27-point one in 6% (benchmarks/validate_power.py), so give "
            "--seeds 100 for small differences)"
        )
        if self.retrained:
            lines += [
                "",
                "retrained final incumbents (real training vs the benchmark, same seed):",
                f"{'run':>4} {'arch':<70}{'valid':>8}{'table':>8}{'test':>8}{'table':>8}"
                f"{'mean':>8}",
            ]
            for r in self.retrained:
                lines.append(
                    f"{r.run_seed:>4} {r.arch:<70}{r.real_valid_acc:>8.2f}"
                    f"{r.table_valid_acc:>8.2f}{r.real_test_acc:>8.2f}{r.table_test_acc:>8.2f}"
                    f"{r.table_mean_test_acc:>8.2f}"
                )
            if kept := sum(r.reused for r in self.retrained):
                lines.append(
                    f"({kept} read back from --out's retrained/, trained by an earlier run on "
                    "this build)"
                )
            if self.build_gaps:
                from nasrepro.bench.harness._reproduce import describe_gaps

                gaps = {k: (v[0], str(v[1])) for k, v in self.build_gaps.items()}
                lines += describe_gaps(gaps)
                lines.append(
                    "  so the real numbers above may differ from the table's by floating-point "
                    "noise between builds, not by a fault"
                )
        if self.seed_note:
            lines += ["", self.seed_note]
        if self.retrain_note:
            lines += ["", self.retrain_note]
        return "\n".join(lines)


def first_validate_seed(ref: dict[str, Any]) -> int:
    """The first seed of a validation: one past the reference's largest, so that the
    user's runs and the reference's are independent samples (the Mann-Whitney test
    assumes so; a built-in strategy validated on seeds 0.. would repeat its own
    reference runs exactly)."""
    seeds = [int(s) for s in ref.get("config", {}).get("seeds", [])]
    return max(seeds) + 1 if seeds else 0


def compare(user: np.ndarray, reference: dict[str, list[float]]) -> list[Comparison]:
    """Mann-Whitney U of ``user`` final regrets ``(n,)`` against each reference's;
    regrets equal to 4 decimals tie (:func:`~nasrepro.tables._ranking.tie_round`)."""
    from scipy.stats import mannwhitneyu

    out = []
    tied_user = tie_round(user)
    for name, values in reference.items():
        ref = np.asarray(values, dtype=np.float64)
        ref = ref[np.isfinite(ref)]
        # U of the reference sample: pairs where the reference's regret is higher.
        res = mannwhitneyu(tie_round(ref), tied_user, alternative="two-sided")
        p_better = float(res.statistic) / (len(ref) * len(user))
        out.append(
            Comparison(
                name,
                float(ref.mean()),
                len(ref),
                float(res.statistic),
                float(res.pvalue),
                p_better,
                2 * p_better - 1,
            )
        )
    for c, adjusted in zip(out, holm([c.p_value for c in out]), strict=True):
        c.p_holm = adjusted
    return out


def validate(
    strategy: str,
    benchmark: BenchmarkSpec | str | None = None,
    *,
    seeds: int = 30,
    reference: str | Path | None = None,
    validate_top: int = 3,
    jobs: int = 1,
    device: str = "cpu",
    retrain: bool = True,
    out: str | Path | None = None,
    track: bool = False,
    progress: Callable[[int, int], None] | None = None,
    strategy_timeout: float = DEFAULT_STRATEGY_TIMEOUT_S,
) -> ValidateReport:
    """Validate ``strategy`` (``module:Class`` or ``file.py:Class``).

    Args:
        strategy: The user's class.
        benchmark: The benchmark (default: the shipped table).
        seeds: Runs of the user's strategy, with seeds that follow the reference's
            (:func:`first_validate_seed`; 100..129 against a shipped reference).
        reference: A reference ``results.json`` (default: the one shipped for the benchmark).
        validate_top: How many final incumbents (of runs 0, 1, ...) to train for real.
        jobs: Processes for the runs.
        device: Device for the real training.
        retrain: Do the real training.
        out: Directory to write ``validate.json`` into; the runs are kept in
            ``out/runs/`` as they finish, and a rerun reuses those whose strategy code
            and configuration are unchanged.
        track: Log the report to MLflow.
        progress: Called as ``progress(done, total)`` after each run.
        strategy_timeout: Seconds one call of the strategy (import, construction,
            ``ask``, ``tell``) may take; ``0``: no limit.

    Raises:
        ConfigError: No reference, or one made on another table.
        StrategyContractError: The class breaks the strategy contract.
        StrategyError: The strategy's own code raised or hung; the message names the
            seed and the trial count, and carries the strategy's traceback.
    """
    spec = as_spec(benchmark) if benchmark is not None else BenchmarkSpec()
    if isinstance(seeds, bool) or not isinstance(seeds, numbers.Integral) or seeds < 1:
        raise ConfigError(
            f"seeds {seeds!r}: validate takes a count of runs (they get the seeds after the "
            "reference's own, so that no seed is shared), e.g. seeds=30"
        )
    bench = open_benchmark(spec)
    # before any run: a table whose protocol does not hash to its id raises here
    protocol = bench.protocol if retrain and validate_top > 0 else None
    ref = load_reference(bench.name if spec.table is None else spec.label, reference)
    _check_same_benchmark(ref, bench)
    _check_same_seed_mode(ref, spec.seed_mode)
    cls = load_strategy(strategy, timeout_s=strategy_timeout)
    if getattr(cls, "multi_fidelity", False) and not getattr(bench, "has_curves", True):
        raise ConfigError(
            f"{strategy} is a multi-fidelity strategy (it asks for early epochs) and "
            f"{bench.name} has results at the final epoch only, as a leaderboard lists it "
            "n/a there; validate it on a benchmark with learning curves (the default table)"
        )
    check_contract(strategy, cls, bench, spec, strategy_timeout)
    first_seed = first_validate_seed(ref)
    config = LeaderboardConfig(
        benchmark=spec,
        strategies=(strategy,),
        seeds=tuple(range(first_seed, first_seed + seeds)),
        budget=str(ref["config"]["budget"]),
        workers=int(ref["workers"]),
        jobs=jobs,
        strategy_timeout=strategy_timeout,
    )
    runs_dir = Path(out) / "runs" if out is not None else None
    lb = run_leaderboard(config, progress=progress, runs_dir=runs_dir, check_contracts=False)
    runs = lb.runs[strategy]
    final = np.array([r.final_regret for r in runs])
    refs = {n: s["final_regret"] for n, s in ref["strategies"].items()}
    means = sorted([float(np.nanmean(v)) for v in refs.values()] + [float(np.nanmean(final))])
    report = ValidateReport(
        strategy=strategy,
        benchmark=bench.name,
        budget=budget_text(lb),
        workers=config.workers,
        final_regret=final.tolist(),
        mean=float(np.nanmean(final)),
        ci=mean_ci(final),
        median=float(np.nanmedian(final)),
        rank=means.index(float(np.nanmean(final))) + 1,
        n_ranked=len(means),
        comparisons=compare(final[np.isfinite(final)], refs),
    )
    test = bench.optimum - final  # (n_seeds,) the final incumbents' mean test accuracy
    report.test_acc = (
        float(np.nanmean(test)),
        float(np.nanstd(test, ddof=1)) if len(test) > 1 else math.nan,
    )
    report.report_metric = str(lb.benchmark.get("report_metric") or "test accuracy")
    report.reused = lb.reused
    report.seed_note = seed_note(runs)
    report.provenance = bench.provenance()
    report.code_sha256 = source_sha256(cls)
    report.cost_model = cost_model_text(lb.benchmark)
    if retrain and validate_top > 0:
        incumbents = [(r.seed, r.final_incumbent) for r in runs[:validate_top]]
        store = Path(out) / "retrained" if out is not None else None
        _retrain(report, bench, protocol, incumbents, device, store)
    elif not retrain:
        report.retrain_note = "real retraining skipped (--no-retrain)"
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        write_text_atomic(
            Path(out) / "validate.json", json.dumps(report.to_dict(), indent=1) + "\n"
        )
    if track:
        _track(report)
    return report


def _check_same_benchmark(ref: dict[str, Any], bench: Benchmark) -> None:
    ref_sha = ref.get("benchmark", {}).get("metrics_sha256")
    sha = bench.provenance().get("metrics_sha256")
    if ref_sha and sha and ref_sha != sha:
        raise ConfigError(
            f"the reference was made on another table (metrics {ref_sha[:12]}, this one "
            f"{sha[:12]}); regenerate it with benchmarks/make_reference.py on this table"
        )


def _check_same_seed_mode(ref: dict[str, Any], seed_mode: str | int) -> None:
    """The references answer each trial by one seed's result (``random``); runs answered
    another way (``mean``, a fixed seed) have other regrets, so they do not compare."""
    made = ref.get("config", {}).get("benchmark", {}).get("seed_mode", "random")
    if str(made) != str(seed_mode):
        raise ConfigError(
            f"the reference runs were made with --seed-mode {made}, this validation uses "
            f"{seed_mode}: a table answers each trial differently under them, so the regrets "
            f"would not compare; validate with --seed-mode {made}, or pass --reference with "
            f"a leaderboard's results.json made with --seed-mode {seed_mode}"
        )


def _retrain(
    report: ValidateReport,
    bench: Benchmark,
    protocol: Protocol | None,
    incumbents: list[tuple[int, str | None]],
    device: str,
    store: Path | None = None,
) -> None:
    """Train each incumbent for real under ``protocol``, beside the benchmark's answer.

    A table's incumbents train with its first seed, and the build they trained on
    is compared with the table's; others train with seed 0. With a ``store`` (``--out
    DIR/retrained``) each training is kept as it finishes and read back by a rerun on
    the same build (:func:`nasrepro.bench.harness._kept.kept`).
    """
    if protocol is None:
        report.retrain_note = f"{bench.name} has no training protocol to retrain under; skipped"
        return
    from nasrepro.bench.harness._kept import kept
    from nasrepro.bench.harness._train import train

    table = bench.table if isinstance(bench, TabularBenchmark) else None
    train_seed = table.seeds[0] if table is not None else 0
    for run_seed, arch in incumbents:
        if arch is None:
            continue

        def one(arch: str = arch) -> dict[str, Any]:
            t0 = time.perf_counter()
            res = train(arch, protocol, train_seed, device, space=bench.space.name)
            return {"result": res.to_dict(), "wall_s": time.perf_counter() - t0}

        key = {"retrain": arch, "space": bench.space.name, "protocol_id": protocol.id,
               "seed": train_seed, "device": device}  # fmt: skip
        value, reused = kept(store, key, device, one)
        result = TrialResult.from_dict(value["result"])
        if table is not None and not report.retrained:
            from nasrepro.bench.harness._reproduce import build_gaps, current_build, table_build

            gaps = build_gaps(
                table_build(table, train_seed), current_build(device, result.versions)
            )
            report.build_gaps = {k: [old, new] for k, (old, new) in gaps.items()}
        rec = bench.query(arch, seed=train_seed)
        report.retrained.append(
            Retrained(
                run_seed=run_seed,
                arch=arch,
                train_seed=train_seed,
                table_valid_acc=rec.valid_acc,
                table_test_acc=rec.test_acc,
                table_mean_test_acc=bench.final_test_acc(arch),
                real_valid_acc=_final(result, "valid_acc"),
                real_test_acc=_final(result, "test_acc"),
                wall_s=float(value["wall_s"]),
                reused=reused,
            )
        )
        logger.info("retrained %s in %.1fs%s", arch, value["wall_s"], " (kept)" if reused else "")


def _final(result: TrialResult, metric: str) -> float:
    v = float(result.history[metric][-1])
    return v if math.isfinite(v) else math.nan


def _track(report: ValidateReport) -> None:
    from nasrepro.bench.tracking import mlflow_run

    with mlflow_run(
        f"validate-{report.strategy}",
        params={
            "strategy": report.strategy,
            "benchmark": report.benchmark,
            "budget": report.budget,
            "protocol_id": report.provenance.get("protocol_id"),
            "code_sha256": report.code_sha256,
        },
        tags={"kind": "validate"},
    ) as run:
        run.log_metrics({"final_regret_mean": report.mean, "rank": report.rank})
        run.log_dict(report.to_dict(), "validate.json")
