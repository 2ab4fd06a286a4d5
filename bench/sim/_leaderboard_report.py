"""Leaderboard outputs: markdown, HTML, plots, ``results.json`` and the MLflow record."""

from __future__ import annotations

import html
import json
import logging
import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from nasrepro.bench.sim._leaderboard_run import NO_CURVES, Leaderboard, cost_model_text
from nasrepro.bench.sim._leaderboard_stats import ALPHA, summarize
from nasrepro.bench.tracking import run_environment
from nasrepro.tables import save_figure_atomic, write_text_atomic

__all__ = ["to_markdown", "to_html", "plot", "results_dict", "write_outputs", "track"]

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------ outputs
#: MLflow names of a strategy's summary figures (a summary's keys are short; only the
#: first four are regrets).
_METRIC_NAMES = {
    "mean": "final_regret_mean",
    "ci_low": "final_regret_ci_low",
    "ci_high": "final_regret_ci_high",
    "median": "final_regret_median",
    "auc": "regret_auc",
    "rank": "average_rank",
    "evaluations": "evaluations_mean",
    "test_mean": "final_test_acc_mean",
    "test_std": "final_test_acc_std",
}


def pm(mean: float, std: float, digits: int = 2) -> str:
    """``mean ± std``; the std reads ``n/a`` where it is undefined (one seed: NaN)."""
    return f"{mean:.{digits}f} ± " + (f"{std:.{digits}f}" if math.isfinite(std) else "n/a")


def _table_rows(summary: dict[str, Any]) -> list[tuple[str, dict[str, float]]]:
    rows = [(n, s["summary"]) for n, s in summary["strategies"].items()]
    return sorted(rows, key=lambda r: (r[1]["mean"], r[1]["rank"], r[0]))


def budget_text(lb: Leaderboard) -> str:
    """The budget in the clock's own unit: simulated seconds, or full trainings on a
    table without training times, with the budget as given (``100s (20x)``)."""
    if lb.budget.kind != "time":
        return str(lb.budget)
    if lb.benchmark.get("cost_model") == "per-training":
        return f"{lb.budget.value:g} full trainings ({lb.config.budget})"
    return f"{lb.budget} ({lb.config.budget})"


def _header(lb: Leaderboard) -> str:
    b = lb.benchmark
    budget = budget_text(lb)
    report = f" ({b['report_metric']})" if b.get("report_metric") else ""
    return (
        f"benchmark {b['name']} (optimum {b['optimum']:.2f}% test accuracy{report}), "
        f"budget {budget}, {lb.config.workers} worker(s), {len(lb.config.seeds)} seeds; "
        f"{cost_model_text(b)}" + (f"; {lb.noise}" if lb.noise else "")
    )


def _test_header(lb: Leaderboard) -> str:
    metric = lb.benchmark.get("report_metric")
    return f"test acc{f' ({metric})' if metric else ''} mean ± std"


def to_markdown(lb: Leaderboard, summary: dict[str, Any]) -> str:
    """The leaderboard as a markdown table, best mean final regret first."""
    lines = [
        f"# Leaderboard: {lb.benchmark['name']}",
        "",
        _header(lb) + ".",
        "Regret: optimum minus the incumbent's mean final test accuracy (percent points); "
        "the incumbent is the best validation accuracy seen. AUC: mean regret over the "
        "log-spaced grid of the curves, which starts when every run of this leaderboard has "
        "a result, so it moves with the set of strategies run: compare AUCs within one "
        "leaderboard only. 95% CI: Student t over the seeds.",
        "",
        f"| # | strategy | final regret: mean [95% CI] | {_test_header(lb)} | median | AUC | "
        "avg rank | evals |",
        "|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for k, (n, s) in enumerate(_table_rows(summary), start=1):
        lines.append(
            f"| {k} | {n} | {s['mean']:.3f} {_ci_text(s)} | "
            f"{pm(s['test_mean'], s['test_std'])} | "
            f"{s['median']:.3f} | {s['auc']:.3f} | {s['rank']:.2f} | {s['evaluations']:.0f} |"
        )
    for n, why in lb.skipped.items():
        if why == NO_CURVES:
            lines.append(f"| – | {n} | {why} | | | | | |")
    lines += ["", pairwise_text(summary)]
    for n, why in lb.skipped.items():
        if why != NO_CURVES:
            lines.append(f"\nSkipped {n}: {why}.")
    for n, note in lb.notes.items():
        lines.append(f"\n**{n}**: {note}.")
    return "\n".join(lines) + "\n"


def _ci_text(s: dict[str, float]) -> str:
    if not (math.isfinite(s["ci_low"]) and math.isfinite(s["ci_high"])):
        return "[n/a: one seed]"
    return f"[{s['ci_low']:.3f}, {s['ci_high']:.3f}]"


def pairwise_text(summary: dict[str, Any]) -> str:
    """One paragraph: which strategies' final regrets the seeds tell apart."""
    pw = summary.get("pairwise") or {}
    pairs = pw.get("pairs", [])
    if not pairs:
        return "Pairwise tests: none (they need two strategies with two seeds or more each)."
    head = (
        f"Pairwise: Welch's t-test on final regret for each of the {len(pairs)} pairs, "
        f"Holm-corrected, alpha {pw['alpha']:g}: "
    )
    differ = sorted((p for p in pairs if p["differs"]), key=lambda p: p["p_holm"])
    if not differ:
        return head + "no pair differs; these seeds cannot order the strategies."
    said = "; ".join(
        (f"{p['a']} < {p['b']}" if p["diff"] < 0 else f"{p['b']} < {p['a']}")
        + f" (p {p['p_holm']:.2g})"
        for p in differ
    )
    rest = len(pairs) - len(differ)
    return head + f"{len(differ)} differ: {said}. The other {rest} cannot be told apart."


def to_html(lb: Leaderboard, summary: dict[str, Any]) -> str:
    """The leaderboard as a standalone HTML page with the two plots."""
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "#",
            "strategy",
            "final regret mean",
            "95% CI",
            html.escape(_test_header(lb)),
            "median",
            "AUC",
            "avg rank",
        )
    )
    body = "".join(
        f"<tr><td>{k}</td><td>{html.escape(n)}</td><td>{s['mean']:.3f}</td>"
        f"<td>{_ci_text(s)}</td>"
        f"<td>{pm(s['test_mean'], s['test_std'])}</td><td>{s['median']:.3f}</td>"
        f"<td>{s['auc']:.3f}</td><td>{s['rank']:.2f}</td></tr>"
        for k, (n, s) in enumerate(_table_rows(summary), start=1)
    )
    body += "".join(
        f"<tr><td>–</td><td>{html.escape(n)}</td><td colspan='7'>{html.escape(why)}</td></tr>"
        for n, why in lb.skipped.items()
    )
    title = html.escape(f"Leaderboard: {lb.benchmark['name']}")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:right}"
        "td:nth-child(2){text-align:left}</style></head><body>"
        f"<h1>{title}</h1><p>{html.escape(_header(lb))}</p>"
        f"<table><tr>{head}</tr>{body}</table><p>{html.escape(pairwise_text(summary))}</p>"
        + "".join(
            f"<p><b>{html.escape(n)}</b>: {html.escape(note)}.</p>" for n, note in lb.notes.items()
        )
        + "<p><img src='regret.png' alt='anytime regret'><img src='ranks.png' alt='ranks'></p>"
        "</body></html>\n"
    )


def plot(
    summary: dict[str, Any], out_dir: Path, title: str, *, per_training: bool = False
) -> tuple[Path, Path]:
    """Write ``regret.png`` (mean regret, 95% t band over seeds) and ``ranks.png``.

    ``per_training``: the clock counts full trainings (a table without times), not seconds.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import t as t_dist

    from nasrepro.tables._plot import log_x_125

    grid = np.asarray(summary["grid"])
    paths = []
    for kind in ("regret", "ranks"):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for n, s in summary["strategies"].items():
            if kind == "ranks":
                ax.plot(grid, summary["ranks"][n], label=n)
                continue
            c = np.asarray(s["curves"], dtype=np.float64)  # (n_seeds, g)
            # before a strategy's first result its columns are all NaN: numpy warns
            # "Mean of empty slice" (a warning, not a floating-point error) and gives NaN
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(c, axis=0)
                k = np.isfinite(c).sum(axis=0)  # seeds with a result at each grid point
                half = t_dist.ppf(1 - ALPHA / 2, k - 1) * np.nanstd(c, axis=0, ddof=1) / np.sqrt(k)
                lo, hi = mean - half, mean + half
                (line,) = ax.plot(grid, mean, label=n)
            ax.fill_between(grid, lo, hi, color=line.get_color(), alpha=0.15, linewidth=0)
        log_x_125(ax)
        ax.set(
            xlabel=(
                "evaluations"
                if summary["axis"] != "time"
                else "simulated full trainings"
                if per_training
                else "simulated training time (s)"
            ),
            ylabel="test regret (% points)" if kind == "regret" else "average rank (1 = best)",
            title=title,
        )
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        paths.append(out_dir / f"{kind}.png")
        save_figure_atomic(fig, paths[-1], dpi=120)
        plt.close(fig)
    return paths[0], paths[1]


def results_dict(lb: Leaderboard, summary: dict[str, Any]) -> dict[str, Any]:
    """``results.json``: config, benchmark, budget, statistics, curves; timing apart."""
    return {
        "format": "nasrepro-leaderboard-1",
        # "all" resolved: the strategies that ran, and those skipped as n/a
        "config": lb.config.to_dict() | {"strategies": [*lb.runs, *lb.skipped]},
        "benchmark": lb.benchmark,
        "budget": {"kind": lb.budget.kind, "value": lb.budget.value, "text": lb.config.budget},
        "workers": lb.config.workers,
        "skipped": lb.skipped,
        # a warning per strategy (one that seems to ignore its seed); only when there is one
        **({"warnings": lb.notes} if lb.notes else {}),
        "environment": run_environment(),
        **summary,
        "timing": {
            "wall_s": lb.wall_s,
            "strategies": {
                n: {
                    "wall_s": float(sum(r.wall_s for r in rs)),
                    "strategy_s": float(sum(r.strategy_s for r in rs)),
                    "simulated_s": float(sum(r.simulated_s for r in rs)),
                }
                for n, rs in lb.runs.items()
            },
        },
    }


_LATEX_SPECIAL = {c: "\\" + c for c in "&%$#_{}"}
_LATEX_SPECIAL.update(
    {
        "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}",
        "\\": r"\textbackslash{}",
        "<": "$<$",  # text mode would print these as other glyphs
        ">": "$>$",
        "±": r"$\pm$",
    }
)


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped (``regularized_ea`` ->
    ``regularized\\_ea``)."""
    return "".join(_LATEX_SPECIAL.get(c, c) for c in text)


def to_latex(lb: Leaderboard, summary: dict[str, Any]) -> str:
    """The leaderboard as a LaTeX ``table`` for a paper (needs ``\\usepackage{booktabs}``):
    the markdown table's columns, the best mean final regret in bold, and a caption that
    names the benchmark, budget, seeds, statistics and the pairs the seeds tell apart."""
    rows = _table_rows(summary)
    best = min((s["mean"] for _, s in rows if math.isfinite(s["mean"])), default=math.nan)
    b = lb.benchmark
    ident = f"protocol {b['protocol_id'][:16]}, " if b.get("protocol_id") else ""
    caption = (
        f"{_header(lb)}. Final test regret in percent points (optimum minus the incumbent's "
        "mean final test accuracy; the incumbent is the best validation accuracy seen): mean "
        "and 95% Student-t CI over seeds. AUC: mean regret over the anytime curves' "
        f"log-spaced grid. {pairwise_text(summary)}"
        + "".join(f" {n}: {note}." for n, note in lb.notes.items())
    )
    lines = [
        f"% nasrepro leaderboard: {b['name']}, {ident}table metrics "
        f"{str(b.get('metrics_sha256', ''))[:16]}; needs \\usepackage{{booktabs}}",
        "\\begin{table}[t]",
        "\\centering",
        f"\\caption{{{latex_escape(caption)}}}",
        f"\\label{{tab:leaderboard-{latex_escape(b['name'])}}}",
        "\\begin{tabular}{rlrrrrrr}",
        "\\toprule",
        f"\\# & Strategy & Final regret & 95\\% CI & {latex_escape(_test_header(lb))} & "
        "Median & AUC & Avg.~rank \\\\",
        "\\midrule",
    ]
    for k, (n, s) in enumerate(rows, start=1):
        mean = f"{s['mean']:.3f}"
        if s["mean"] == best:
            mean = f"\\textbf{{{mean}}}"
        ci = _ci_text(s).replace("[n/a: one seed]", "n/a")
        test = latex_escape(pm(s["test_mean"], s["test_std"]))
        lines.append(
            f"{k} & {latex_escape(n)} & {mean} & {ci} & {test} & {s['median']:.3f} & "
            f"{s['auc']:.3f} & {s['rank']:.2f} \\\\"
        )
    for n, why in lb.skipped.items():
        lines.append(
            f"-- & {latex_escape(n)} & \\multicolumn{{6}}{{l}}{{{latex_escape(why)}}} \\\\"
        )
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines) + "\n"


def write_outputs(lb: Leaderboard, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the leaderboard files into ``out_dir`` (created), each whole or not at all
    (:func:`~nasrepro.tables.write_text_atomic`); returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(lb)
    paths = {
        "markdown": out / "leaderboard.md",
        "html": out / "leaderboard.html",
        "latex": out / "leaderboard.tex",
        "results": out / "results.json",
    }
    write_text_atomic(paths["markdown"], to_markdown(lb, summary))
    write_text_atomic(paths["html"], to_html(lb, summary))
    write_text_atomic(paths["latex"], to_latex(lb, summary))
    write_text_atomic(paths["results"], json.dumps(results_dict(lb, summary), indent=1) + "\n")
    per_training = lb.benchmark.get("cost_model") == "per-training"
    paths["regret"], paths["ranks"] = plot(
        summary, out, lb.benchmark["name"], per_training=per_training
    )
    return paths


def track(lb: Leaderboard, paths: dict[str, Path], *, enabled: bool = True) -> str | None:
    """Log to MLflow: one parent run with the files, one child run per strategy.

    Returns:
        The parent run id, or ``None`` when tracking is off or failed.
    """
    from nasrepro.bench.tracking import mlflow_run

    results = json.loads(paths["results"].read_text())
    params = {
        "benchmark": lb.benchmark["name"],
        "budget": budget_text(lb),
        "budget_spec": lb.config.budget,
        "workers": lb.config.workers,
        "seeds": len(lb.config.seeds),
        "strategies": ",".join(lb.runs),
    }
    tags = {"kind": "leaderboard", **{k: v for k, v in lb.benchmark.items() if k != "name"}}
    with mlflow_run(
        f"leaderboard-{lb.benchmark['name']}", params=params, tags=tags, enabled=enabled
    ) as parent:
        for p in paths.values():
            parent.log_artifact(p)
        for n, s in results["strategies"].items():
            with mlflow_run(
                n,
                params={**params, "strategy": n},
                tags={"kind": "leaderboard-strategy"},
                enabled=parent.active,
                nested=True,
            ) as child:
                child.log_metrics({_METRIC_NAMES.get(k, k): v for k, v in s["summary"].items()})
                if not child.active:
                    continue
                with warnings.catch_warnings():  # grid points before any run's first result
                    warnings.simplefilter("ignore", RuntimeWarning)  # are all-NaN: not logged
                    mean = np.nanmean(np.asarray(s["curves"], dtype=np.float64), axis=0)
                for step, v in enumerate(mean.tolist()):
                    if math.isfinite(v):
                        child.log_metrics(
                            {"mean_regret": v, "rank": results["ranks"][n][step]}, step=step
                        )
        return parent.run_id
