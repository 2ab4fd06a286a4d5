"""A :class:`~nasrepro.tables.Benchmark` backed by a surrogate, for unbounded spaces.

As NAS-Bench-301 did for the DARTS space: a query returns a draw from the
surrogate's predictive distribution (mean plus seed noise) and the predicted
training cost. A draw is a pure function of the architecture and the seed, so the
same (architecture, seed) gives the same result, as a table would.

The shipped surrogate benchmarks are declared as ``nasrepro.benchmarks`` entry points in
nasrepro's ``pyproject.toml`` (``"module:factory"``, naming :func:`chain_mnist1d_tiny` and
:func:`hierarchical_mnist1d_tiny`), which the tables' registry reads by name and imports
on first use, so importing this module registers nothing and the tables layer names no
module of this one.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import numpy as np

from nasrepro.spaces import Architecture, SearchSpace, get_space, parse_in
from nasrepro.spaces._errors import ConfigError
from nasrepro.surrogate._data import SurrogateError
from nasrepro.surrogate._surrogate import Surrogate, load_shipped
from nasrepro.tables import Benchmark, Evaluation, Protocol

__all__ = ["SurrogateBenchmark", "chain_mnist1d_tiny", "hierarchical_mnist1d_tiny"]


class SurrogateBenchmark:
    """A surrogate benchmark over one space (the :class:`~nasrepro.tables.Benchmark` protocol).

    Partial trainings (``epoch < max_epoch``) are answered by the surrogate's
    earlier-epoch models, when it has them (``Surrogate(fidelities=True)``).

    Args:
        model: A fitted :class:`~nasrepro.surrogate.Surrogate`, or a saved one's directory.
        space: The space (or its name) whose architectures are queried.
        seed_mode: As in :class:`~nasrepro.tables.TabularBenchmark`: ``"random"``
            draws a training seed per query, an ``int`` always uses that seed, and
            ``"mean"`` returns the predicted mean (``Evaluation.seed`` is ``None``).
        name: Benchmark name (default ``"{space}-surrogate"``).
        seed: Seeds the generator that picks training seeds for ``seed=None``
            queries without an ``rng``, and the samples behind :attr:`optimum` (the
            regret's reference) and :attr:`typical_cost_s` (what an ``"Nx"`` budget
            means). The default ``0`` keeps both the same in every process; ``None``
            draws fresh entropy, so regrets of two processes would not compare.
        n_optimum: Architectures sampled (then improved by local search) to estimate
            :attr:`optimum`, the best predicted mean test accuracy.

    Example:
        >>> bench = SurrogateBenchmark(load_shipped(), "chain")  # doctest: +SKIP
        >>> ev = bench.query("conv3x3@1.0|skip@1.0", seed=0)  # doctest: +SKIP
        >>> round(ev.valid_acc, 2), round(ev.cost_s, 2)  # doctest: +SKIP
        (53.33, 1.34)
    """

    def __init__(
        self,
        model: Surrogate | str | os.PathLike[str],
        space: SearchSpace[Any] | str,
        seed_mode: str | int = "random",
        *,
        name: str | None = None,
        seed: int | None = 0,
        n_optimum: int = 5000,
    ) -> None:
        if isinstance(seed_mode, str) and seed_mode not in ("random", "mean"):
            raise ConfigError(f"{seed_mode=}; expected 'random', 'mean' or an int seed")
        if isinstance(model, str | os.PathLike):  # a saved surrogate's directory
            model = Surrogate.load(model)
        elif not isinstance(model, Surrogate):
            raise ConfigError(
                f"model {model!r} ({type(model).__name__}): expected a Surrogate (load_shipped(), "
                "Surrogate.load(DIR)) or a saved surrogate's directory"
            )
        model._check_fitted()
        sp = get_space(space) if isinstance(space, str) else space
        if sp.name not in model.metadata_["spaces"] and model.encoding == "adjacency":
            raise SurrogateError(f"{model!r} was not fitted on space {sp.name!r}")
        self.model = model
        self.seed_mode = seed_mode
        self.space: SearchSpace[Any] = sp
        self.name = name if name is not None else f"{sp.name}-surrogate"
        self.max_epoch = model.n_epochs
        #: Predicted training times are charged (in seconds); curves are predicted per epoch.
        self.cost_model = "recorded"
        self.has_curves = True
        self.n_optimum = n_optimum
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self._optimum: float | None = None
        self._typical: float | None = None

    def __repr__(self) -> str:
        return f"SurrogateBenchmark({self.name!r}, space={self.space.name!r})"

    @property
    def protocol(self) -> Protocol:
        """The protocol the surrogate's training data was trained under.

        Raises:
            SurrogateError: The stored protocol does not hash to the recorded id.
        """
        protocol = self.model.protocol  # a Protocol, checked when the model was loaded
        recorded = str(self.model.metadata_.get("protocol_id", ""))
        if protocol.id != recorded:
            raise SurrogateError(
                f"the surrogate's protocol hashes to {protocol.id}, not its recorded "
                f"{recorded}; the model files are inconsistent, refit it"
            )
        return protocol

    def provenance(self) -> dict[str, Any]:
        """The surrogate model's identity (kind, training data, seed) and its protocol id."""
        meta = self.model.metadata_
        return {
            "surrogate": {
                "model": meta.get("model"),
                "encoding": meta.get("encoding"),
                "format_version": meta.get("format_version"),
                "random_state": meta.get("random_state"),
                "training_data_sha256": meta.get("training_data_sha256"),
            },
            "protocol_id": meta.get("protocol_id"),
            "seed_mode": self.seed_mode,
        }

    def model_sha256(self) -> str:
        """sha256 of what else decides the answers: the model's hyperparameters, its
        per-space models, noise calibration and error, and the installed XGBoost. A
        leaderboard keys its stored runs by it, so that after a refit on the same data
        (other hyperparameters, a recalibration) or an XGBoost upgrade they run again
        instead of being read back."""
        from importlib import metadata

        meta = self.model.metadata_
        fields = ("model_params", "space_models", "calibration", "model_error_std", "n_epochs")
        ident: dict[str, Any] = {k: meta.get(k) for k in fields}
        try:
            ident["xgboost"] = metadata.version("xgboost")
        except metadata.PackageNotFoundError:
            ident["xgboost"] = None
        text = json.dumps(ident, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def _arch(self, arch: Architecture | str) -> Architecture:
        return parse_in(self.space, arch) if isinstance(arch, str) else arch

    def query(
        self,
        arch: Architecture | str,
        epoch: int | None = None,
        seed: int | None = None,
        *,
        rng: np.random.Generator | None = None,
    ) -> Evaluation:
        """A draw of one training of ``arch`` up to ``epoch`` with ``seed``.

        The same standard-normal draw, a function of ``(arch, seed)``, scales the
        seed-noise of every epoch and of both accuracies, so one seed's results are
        consistent across fidelities.

        Args:
            arch: An architecture of :attr:`space`, or its string.
            epoch: ``1..max_epoch``; ``None`` is ``max_epoch``.
            seed: Training seed; ``None`` follows ``seed_mode`` (``"random"`` draws
                one from ``rng``, default: the benchmark's own generator).
            rng: Draws the seed when ``seed`` is ``None``.

        Raises:
            ValueError: ``epoch`` is out of range or not answerable, or ``arch`` is
                malformed.
        """
        e = self.max_epoch if epoch is None else int(epoch)
        a = self._arch(arch)
        s = a.to_string()
        p = self.model.predict([a], self.space, e)
        cost = float(p.cost_s[0])
        if seed is None and self.seed_mode == "mean":
            return Evaluation(s, e, None, float(p.valid_acc[0]), float(p.test_acc[0]), cost)
        if seed is None and isinstance(self.seed_mode, int):
            seed = self.seed_mode
        if seed is None:
            seed = int((rng if rng is not None else self._rng).integers(2**31))
        key = int.from_bytes(hashlib.sha256(s.encode()).digest()[:8], "little")
        z = float(np.random.default_rng([int(seed), key]).standard_normal())
        valid = float(np.clip(p.valid_acc[0] + z * p.valid_std[0], 0.0, 100.0))
        test = float(np.clip(p.test_acc[0] + z * p.test_std[0], 0.0, 100.0))
        return Evaluation(s, e, int(seed), valid, test, cost)

    def final_test_acc(self, arch: Architecture | str) -> float:
        """Predicted mean final test accuracy of ``arch`` (percent)."""
        return float(self.model.predict([self._arch(arch)], self.space).test_acc[0])

    @property
    def typical_cost_s(self) -> float:
        """Mean predicted training cost of 1,000 architectures sampled with ``seed``."""
        if self._typical is None:
            rng = np.random.default_rng(self._seed)
            archs = [self.space.sample(rng) for _ in range(1000)]
            self._typical = float(self.model.predict(archs, self.space).cost_s.mean())
        return self._typical

    @property
    def optimum(self) -> float:
        """Best predicted mean final test accuracy found by sampling and local search.

        ``n_optimum`` sampled architectures, then steepest-ascent over
        ``space.neighbors`` from the best five until no neighbour improves. It is an
        estimate: a strategy may find better, and show a negative regret.
        """
        if self._optimum is None:
            rng = np.random.default_rng(self._seed)
            archs = [self.space.sample(rng) for _ in range(self.n_optimum)]
            acc = self.model.predict(archs, self.space).test_acc
            best = float(acc.max())
            for i in np.argsort(-acc)[:5].tolist():
                cur, val = archs[i], float(acc[i])
                while True:
                    nbrs = self.space.neighbors(cur)
                    nacc = self.model.predict(nbrs, self.space).test_acc
                    j = int(np.argmax(nacc))
                    if nacc[j] <= val:
                        break
                    cur, val = nbrs[j], float(nacc[j])
                best = max(best, val)
            self._optimum = best
        return self._optimum


def _shipped_benchmark(space: str, **kwargs: Any) -> Benchmark:
    name = f"{space}-mnist1d-tiny-surrogate"
    return SurrogateBenchmark(load_shipped(), space, name=name, **kwargs)


def chain_mnist1d_tiny(**kwargs: Any) -> Benchmark:
    """The shipped surrogate on the chain space (``mnist1d-tiny``)."""
    return _shipped_benchmark("chain", **kwargs)


def hierarchical_mnist1d_tiny(**kwargs: Any) -> Benchmark:
    """The shipped surrogate on the hierarchical space (``mnist1d-tiny``)."""
    return _shipped_benchmark("hierarchical", **kwargs)
