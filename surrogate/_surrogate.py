"""A fitted surrogate: one model per target, a cost model, metadata; saved as JSON.

A :class:`Surrogate` predicts, for any architecture of the spaces it was fitted on,
the final validation and test accuracy (mean and seed-noise standard deviation) and
the training time. On disk it is a directory::

    DIR/metadata.json          # feature names, training-data sha256, protocol, version, ...
    DIR/valid_acc.*.json.gz    # the valid_acc model (gzipped XGBoost JSON for XGBoost models)
    DIR/test_acc.*.json.gz
    DIR/cost.*.json.gz         # log training time (always XGBoost)
    DIR/{space}.valid_acc.*    # a space's own models, where it has them (format 3)

No pickle is written or read. ``metadata.json`` records the sha256 of every model file
(since 2026-12-07), and loading checks them, so a directory that mixes the files of two
fits, or holds an edited or truncated one, is refused. A save writes the whole
directory beside the old one and swaps it in by renames (see :meth:`Surrogate.save`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import shutil
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from nasrepro.spaces import Architecture, SearchSpace, get_space
from nasrepro.spaces._errors import ConfigError, access_error
from nasrepro.surrogate._data import SurrogateError, TrainingData, arch_classes, encode
from nasrepro.surrogate._features import feature_names
from nasrepro.surrogate._files import (
    _check_hashes,
    _killed_save_advice,
    _left_by_a_killed_save,
    _remove_stale,
    _sha256,
    _sync_dir,
    check_save_dir,
    fit_versions,
)
from nasrepro.surrogate._forest import Forest
from nasrepro.surrogate._models import (
    DEFAULT_MODEL,
    SurrogateModel,
    XGBSurrogate,
    check_model_params,
    create_model,
    model_class,
)
from nasrepro.surrogate._rows import _as64, _distinct_rows, _epoch_rows, _mean_std, _with_epoch
from nasrepro.tables import Protocol

__all__ = [
    "Surrogate",
    "Prediction",
    "arch_hash",
    "TARGETS",
    "FORMAT_VERSION",
    "shipped_path",
    "load_shipped",
    "check_save_dir",
]

logger = logging.getLogger(__name__)

#: Accuracy targets, each with its own model.
TARGETS: tuple[str, ...] = ("valid_acc", "test_acc")
#: 3: per-space models (written only by surrogates that have them); 2: XGBoost boosters
#: gzipped (.json.gz); 1 and 2 are still read.
FORMAT_VERSION = 3
SHIPPED = "mnist1d-tiny"
_COST_PARAMS: dict[str, Any] = {"n_estimators": 200, "max_depth": 4, "learning_rate": 0.1}
#: Batches up to this many rows are predicted by the numpy :class:`Forest`, larger ones by
#: XGBoost; both give the same bits. ``benchmarks/surrogate_speed.py`` prints the
#: crossover: on the shipped surrogate, 1 core, 2026-12-04, the forest took 17.7 ms for
#: 64 chain rows against XGBoost's 20.9 ms, and lost at 128 (38.5 against 18.6).
FOREST_ROWS = 64

#: Distinct architectures whose predictions :meth:`Surrogate.predict` remembers, per
#: space and epoch; past it the memo starts again (measured with tracemalloc on 50,000
#: chain strings, 2026-12-06: 111 bytes an entry besides the architecture itself, so
#: about 30 MB and the strings at this size); 0 turns it off.
MEMO_SIZE = 1 << 18
_SPACE_KEYS: weakref.WeakKeyDictionary[SearchSpace[Any], str] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Prediction:
    """Predictions for ``n`` architectures; every array has shape ``(n,)``.

    Attributes:
        valid_acc, test_acc: Predicted mean final accuracy (percent), clipped to [0, 100].
        valid_std, test_std: Standard deviation of one training run around the mean: the
            seed noise, and where the surrogate is calibrated its model error ``kappa``
            in quadrature (see :meth:`Surrogate.predict`).
        cost_s: Predicted training time of all epochs (seconds).
    """

    valid_acc: np.ndarray
    valid_std: np.ndarray
    test_acc: np.ndarray
    test_std: np.ndarray
    cost_s: np.ndarray


class Surrogate:
    """Predicts final accuracy and training cost of architectures from several spaces.

    Besides the final-epoch models, with ``fidelities`` it fits one more model per
    accuracy on the earlier epochs, with the epoch (as a fraction of the protocol's)
    as an extra input, so that multi-fidelity strategies can query partial
    trainings; their cost is the full cost times the median fraction of training
    time spent by that epoch in the training data.

    With ``space_models``, a space also gets accuracy models of its own, fitted only on
    the rows of the spaces it names (e.g. ``{"cell": ["cell"]}``: the cell space is
    answered by a model fitted on cell rows alone). Other spaces, including spaces
    never trained on, are answered by the joint models fitted on every row; the cost
    model is always joint. Which grouping serves a space best is measured by
    cross-validation on the training data (``benchmarks/surrogate_space_models.py``).

    Args:
        model: Name of a registered surrogate model (see ``list_models()``).
        random_state: Seeds every model.
        fidelities: Also fit the earlier-epoch models.
        space_models: Space name to the spaces whose rows fit its own models.
        params: Constructor arguments of the model (e.g. ``n_estimators=300``).

    Example:
        >>> from nasrepro.tables import Table
        >>> from nasrepro.surrogate import Surrogate, load_table
        >>> table = Table.open("tests/data/cell-mnist1d-smoke.h5")  # doctest: +SKIP
        >>> s = Surrogate("xgb", random_state=0).fit(load_table(table))  # doctest: +SKIP
        >>> s.predict(["|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"],
        ...           "cell").valid_acc.shape  # doctest: +SKIP
        (1,)
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        random_state: int = 0,
        fidelities: bool = True,
        space_models: Mapping[str, Sequence[str]] | None = None,
        **params: Any,
    ):
        self.model = model
        self.random_state = random_state
        self.fidelities = fidelities
        self.space_models = _check_space_models(space_models)
        if "random_state" in params:  # it would reach the models twice
            raise ConfigError(
                "random_state is the surrogate's own argument (the CLI's --seed), not a "
                "model parameter; pass it as random_state=, not among the parameters"
            )
        check_model_params(model, params)
        self.params = params

    def __repr__(self) -> str:
        fitted = "fitted" if hasattr(self, "metadata_") else "unfitted"
        return f"Surrogate({self.model!r}, {fitted})"

    @property
    def encoding(self) -> str:
        return model_class(self.model).encoding

    def _new(self) -> SurrogateModel:
        return create_model(self.model, random_state=self.random_state, **self.params)

    def fit_rows(self, space: str, spaces: Sequence[str] | np.ndarray) -> np.ndarray:
        """Which training rows (their ``spaces``) fit the accuracy models that answer
        for ``space``: its group's rows where it has its own models, else every row."""
        spaces = np.asarray(spaces)
        group = self.space_models.get(space)
        return np.ones(len(spaces), bool) if group is None else np.isin(spaces, group)

    def fit(self, data: TrainingData) -> Surrogate:
        """Fit the target models and the cost model on ``data``; returns ``self``.

        Raises:
            SurrogateError: ``data`` is empty or encoded differently from the model's
                ``encoding``, or a space of ``space_models`` has no rows in it.
        """
        if len(data) < 2:
            raise SurrogateError(f"need at least 2 training rows, got {len(data)}")
        if data.encoding != self.encoding:
            raise SurrogateError(
                f"model {self.model!r} takes {self.encoding!r} inputs but the data is "
                f"{data.encoding!r}; load the tables with encoding={self.encoding!r}"
            )
        present = set(data.spaces)
        for sp, group in self.space_models.items():
            missing = sorted({sp, *group} - present)
            if missing:
                raise SurrogateError(
                    f"space_models[{sp!r}] needs rows of {missing}, which the training data "
                    f"lacks (it has {sorted(present)}); add their tables or drop {sp!r}"
                )
        self.__dict__.pop("_forests", None)  # built from the old boosters
        self.clear_memo()
        self.models_ = self._fit_accuracy(data, "")
        for sp in sorted(self.space_models):
            self.models_.update(
                self._fit_accuracy(data.select(self.fit_rows(sp, data.spaces)), f"{sp}:")
            )
        E = data.n_epochs
        self.cost_ = XGBSurrogate(random_state=self.random_state, **_COST_PARAMS).fit(
            data.X, np.log(np.maximum(data.cost_s, 1e-6))
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.nanmedian(data.cost_curve / data.cost_curve[:, -1:], axis=0)
        spaces = sorted(set(data.spaces))
        self.protocol_ = data.protocol
        self.metadata_: dict[str, Any] = {
            "format_version": FORMAT_VERSION if self.space_models else 2,
            "nasrepro_version": (versions := fit_versions())["nasrepro"],
            "versions": versions,
            "model": self.model,
            "model_params": self.models_["valid_acc"].get_params(),
            "random_state": self.random_state,
            "encoding": data.encoding,
            "n_epochs": E,
            "fidelities": "valid_acc_epoch" in self.models_,
            "epoch_cost_fraction": [float(v) for v in frac],
            "feature_names": list(feature_names()) if data.encoding == "graph" else [],
            "n_features": int(data.X.shape[1]),
            "protocol": data.protocol.to_dict(),
            "protocol_id": data.protocol_id,
            "training_data_sha256": data.sha256(),
            "n_train_rows": len(data),
            "n_train_archs": {
                s: len({a for a, t in zip(data.archs, data.spaces, strict=True) if t == s})
                for s in spaces
            },
            "spaces": spaces,
            "space_models": {sp: list(g) for sp, g in sorted(self.space_models.items())},
            "sources": [dict(s) for s in data.sources],
            "train_archs": {
                s: sorted(
                    {arch_hash(a) for a, t in zip(data.archs, data.spaces, strict=True) if t == s}
                )
                for s in spaces
            },
        }
        self.record_train_classes(data)
        return self

    def record_train_classes(self, data: TrainingData) -> None:
        """Record the classes of ``data``'s architectures (:func:`arch_classes`) in
        ``metadata_["train_classes"]``, per space; :meth:`fit` does this itself.

        A surrogate fitted before 2026-12-07 lacks them; given its exact training data
        (``benchmarks/surrogate_train_classes.py`` rebuilds it), this adds them without
        refitting anything.

        Raises:
            SurrogateError: ``data``'s architectures are not the ones this surrogate was
                fitted on (of some space, some are missing or others are there).
        """
        self._check_fitted()
        out: dict[str, list[str]] = {}
        for sp in self.metadata_["spaces"]:
            archs = sorted({a for a, t in zip(data.archs, data.spaces, strict=True) if t == sp})
            n = self.metadata_["n_train_archs"].get(sp, 0)
            if len(archs) != n or not self.trained_on(archs, sp).all():
                raise SurrogateError(
                    f"the {len(archs)} {sp} architectures given are not the {n} this surrogate "
                    "was fitted on; pass its exact training data"
                )
            out[sp] = sorted(set(arch_classes(archs, sp, data.protocol)))
        self.metadata_["train_classes"] = out

    def _fit_accuracy(self, data: TrainingData, prefix: str) -> dict[str, SurrogateModel]:
        """The accuracy models (final epoch, and earlier epochs with ``fidelities``) on
        ``data``, keyed ``prefix + target``."""
        _, groups = np.unique(
            np.array([f"{t}:{a}" for a, t in zip(data.archs, data.spaces, strict=True)]),
            return_inverse=True,
        )
        models = {
            f"{prefix}valid_acc": self._new().fit(data.X, data.valid_acc, groups),
            f"{prefix}test_acc": self._new().fit(data.X, data.test_acc, groups),
        }
        E = data.n_epochs
        if self.fidelities and E > 1:
            X_e, valid_e, test_e = _epoch_rows(data)
            g_e = np.concatenate([groups * (E - 1) + e for e in range(E - 1)])  # (arch, epoch)
            ok = np.isfinite(valid_e) & np.isfinite(test_e)
            models[f"{prefix}valid_acc_epoch"] = self._new().fit(X_e[ok], valid_e[ok], g_e[ok])
            models[f"{prefix}test_acc_epoch"] = self._new().fit(X_e[ok], test_e[ok], g_e[ok])
        return models

    # ------------------------------------------------------------------ predict
    def trained_on(self, archs: Sequence[str], space: str) -> np.ndarray:
        """Whether each architecture string of ``space`` was in the training data, bool ``(n,)``."""
        self._check_fitted()
        seen = set(self.metadata_["train_archs"].get(space, ()))
        return np.array([arch_hash(a) in seen for a in archs], dtype=bool)

    def trained_on_class(self, archs: Sequence[str], space: str) -> np.ndarray | None:
        """Whether each architecture of ``space`` is, up to relabelling, a network of the
        training data (its :func:`~nasrepro.surrogate.arch_classes` class was trained),
        bool ``(n,)``; ``None`` for a surrogate that recorded no classes (fitted before
        2026-12-07; see :meth:`record_train_classes`). An architecture that
        :meth:`trained_on` finds is always found here too."""
        self._check_fitted()
        recorded = self.metadata_.get("train_classes")
        if recorded is None:
            return None
        seen = set(recorded.get(space, ()))
        if not seen or not len(archs):
            return np.zeros(len(archs), dtype=bool)
        classes = arch_classes(list(archs), space, self.protocol)
        return np.array([c in seen for c in classes], dtype=bool)

    def _check_fitted(self) -> None:
        if not hasattr(self, "metadata_"):
            raise SurrogateError("this surrogate is not fitted; call fit() or Surrogate.load()")

    @property
    def protocol(self) -> Protocol:
        """The protocol the training data was trained under."""
        self._check_fitted()
        return self.protocol_

    def encode(
        self, archs: Sequence[Architecture | str], space: SearchSpace[Any] | str
    ) -> np.ndarray:
        """Model inputs of ``archs``, shape ``(n, n_features)``."""
        self._check_fitted()
        sp = get_space(space) if isinstance(space, str) else space
        if self.encoding == "adjacency" and sp.name not in self.metadata_["spaces"]:
            raise SurrogateError(
                f"this adjacency-encoded surrogate was fitted on {self.metadata_['spaces']}, "
                f"not {sp.name!r}"
            )
        return encode(archs, sp, self.protocol, self.encoding)

    @property
    def n_epochs(self) -> int:
        """Epochs of a full training under the surrogate's protocol."""
        self._check_fitted()
        return int(self.metadata_["n_epochs"])

    def predict_features(
        self, X: np.ndarray, epoch: int | None = None, space: str | None = None
    ) -> Prediction:
        """Predictions from model inputs ``X`` ``(n, n_features)`` at ``epoch``.

        Args:
            X: Model inputs (:meth:`encode`).
            epoch: ``1..n_epochs``; ``None`` is the final epoch.
            space: The space ``X`` comes from, which picks its own models where it has
                them; ``None``, or a space without them, uses the joint models. The
                noise stds are the models' seed noise only (no ``kappa``).

        Raises:
            SurrogateError: ``X`` has the wrong width, or ``epoch`` is out of range or
                needs the earlier-epoch models, which were not fitted.
        """
        self._check_fitted()
        if X.ndim != 2 or X.shape[1] != self.metadata_["n_features"]:
            raise SurrogateError(
                f"expected inputs of shape (n, {self.metadata_['n_features']}), got {X.shape}"
            )
        prefix = f"{space}:" if space in self.space_models else ""
        if len(X) > FOREST_ROWS:  # predict each distinct row once
            X = np.ascontiguousarray(X, dtype=np.float64)
            first, inverse = _distinct_rows(X)
            if len(first) < len(X):
                p = self._predict_distinct(X[first], epoch, prefix)
                return Prediction(*(getattr(p, f)[inverse] for f in _FIELDS))
        return self._predict_distinct(X, epoch, prefix)

    def set_threads(self, n: int) -> None:
        """Threads of XGBoost's predictions on large batches (1 for a fair 1-core figure)."""
        for m in [*self.models_.values(), self.cost_]:
            for booster in (getattr(m, "mean_", None), getattr(m, "noise_", None)):
                if booster is not None and hasattr(booster, "set_params"):
                    booster.set_params(n_jobs=int(n))

    def _predict_distinct(self, X: np.ndarray, epoch: int | None, prefix: str) -> Prediction:
        E = self.n_epochs
        e = E if epoch is None else int(epoch)
        if not 1 <= e <= E:
            raise SurrogateError(f"{epoch=} is outside 1..{E}")
        if e == E:
            names = (f"{prefix}valid_acc", f"{prefix}test_acc")
        elif f"{prefix}valid_acc_epoch" in self.models_:
            names = (f"{prefix}valid_acc_epoch", f"{prefix}test_acc_epoch")
        else:
            raise SurrogateError(
                f"{epoch=}: this surrogate was fitted on final-epoch results only; refit it "
                "with fidelities=True to answer partial trainings"
            )
        X_acc = X if e == E else _with_epoch(X, np.full(len(X), e), E)
        small = len(X) <= FOREST_ROWS
        cost_forest = self._forest(("cost",)) if small else None
        acc_forest = self._forest(names) if small else None
        if cost_forest is not None:
            log_cost = _as64(cost_forest.predict(X)["cost"][:, 0])
        else:
            log_cost = _as64(self.cost_.mean_.predict(X))  # the cost's noise booster is unused
        cost = np.exp(log_cost) * self.metadata_["epoch_cost_fraction"][e - 1]
        if acc_forest is not None:
            out = acc_forest.predict(X_acc)
            (vm, vs), (tm, ts) = (
                _mean_std(out[f"{n}.mean"][:, 0], out[f"{n}.noise"], self.models_[n].z_)  # type: ignore[attr-defined]
                for n in names
            )
        else:
            vm, vs = self.models_[names[0]].predict_dist(X_acc)
            tm, ts = self.models_[names[1]].predict_dist(X_acc)
        # a regression tree's sum can pass 100% near the top of a space; no training can
        vm, tm = np.clip(vm, 0.0, 100.0), np.clip(tm, 0.0, 100.0)
        return Prediction(vm, vs, tm, ts, cost)

    def _forest(self, names: tuple[str, ...]) -> Forest | None:
        """The numpy :class:`Forest` of these targets' XGBoost boosters (``"cost"``: the
        cost booster), built once; ``None`` where a model is not XGBoost."""
        cache: dict[tuple[str, ...], Forest | None] = self.__dict__.setdefault("_forests", {})
        if names not in cache:
            pairs: list[tuple[str, Any]] = []
            for n in names:
                m = self.cost_ if n == "cost" else self.models_[n]
                if not isinstance(m, XGBSurrogate):
                    cache[names] = None
                    return None
                pairs.append((n if n == "cost" else f"{n}.mean", m.mean_.get_booster()))
                if n != "cost":
                    pairs.append((f"{n}.noise", m.noise_.get_booster()))
            try:
                cache[names] = Forest(pairs)
            except ValueError as err:  # a booster this reader does not handle
                logger.debug("numpy forest unavailable (%s); using XGBoost", err)
                cache[names] = None
        return cache[names]

    def predict(
        self,
        archs: Sequence[Architecture | str],
        space: SearchSpace[Any] | str,
        epoch: int | None = None,
    ) -> Prediction:
        """Predictions for architectures (objects or strings) of ``space`` at ``epoch``.

        Where the surrogate is calibrated (``nasrepro.surrogate.calibrate``), the stds
        are those of a single run around the prediction: the seed noise and the
        space's model-error std ``kappa`` in quadrature (the same at every epoch).

        Each distinct architecture of a call is predicted once, and its prediction is
        remembered (up to :data:`MEMO_SIZE` per space and epoch; :meth:`clear_memo`), so
        that asking again, as evolution and local search do, costs a lookup. Predictions
        do not depend on what else is in the batch, so the memo gives the same bits.
        In a space that sets ``features_of_canonical`` (the cell space), each
        architecture is predicted as its class representative, so isomorphs get one
        prediction, as a table gives them one row.
        """
        self._check_fitted()
        if isinstance(archs, (str, Architecture)):
            raise SurrogateError(
                f"predict() takes a sequence of architectures, got one {type(archs).__name__} "
                f"({str(archs)[:60]!r}); wrap it in a list: predict([arch], space)"
            )
        sp = get_space(space) if isinstance(space, str) else space
        memo = self._memo(sp, epoch) if MEMO_SIZE > 0 else _Memo()  # 0: remember nothing
        first: dict[Architecture | str, int] = {}
        index = np.fromiter((first.setdefault(a, len(first)) for a in archs), np.int64, len(archs))
        distinct = list(first)
        rows = memo.rows(distinct)
        miss = np.flatnonzero(rows < 0)
        if len(miss) == len(distinct):  # nothing remembered: no table to assemble
            p = self.predict_features(self.encode(distinct, sp), epoch, sp.name)
            table = np.column_stack([getattr(p, f) for f in _FIELDS])
        else:
            table = memo.values[rows]
            if len(miss):
                p = self.predict_features(
                    self.encode([distinct[i] for i in miss], sp), epoch, sp.name
                )
                table[miss] = np.column_stack([getattr(p, f) for f in _FIELDS])
        if len(miss) and MEMO_SIZE > 0:
            keys = distinct if len(miss) == len(distinct) else [distinct[i] for i in miss]
            memo.add(keys, table[miss] if len(miss) < len(distinct) else table)
        out = table[index] if len(distinct) < len(archs) else table
        vm, vs, tm, ts, cost = (np.ascontiguousarray(out[:, j]) for j in range(len(_FIELDS)))
        kappa = self.metadata_.get("model_error_std", {}).get(sp.name)
        if kappa:
            vs, ts = np.hypot(vs, kappa["valid_acc"]), np.hypot(ts, kappa["test_acc"])
        return Prediction(vm, vs, tm, ts, cost)

    def _memo(self, sp: SearchSpace[Any], epoch: int | None) -> _Memo:
        """The remembered predictions for this space (by type and settings) and epoch."""
        memos: dict[Any, _Memo] = self.__dict__.setdefault("_memos", {})
        settings = _SPACE_KEYS.get(sp)
        if settings is None:  # spaces are not changed after construction
            settings = _SPACE_KEYS[sp] = json.dumps(sp.info(), sort_keys=True, default=str)
        return memos.setdefault((type(sp), settings, epoch), _Memo())

    def clear_memo(self) -> None:
        """Forget the remembered predictions (:meth:`predict`)."""
        self.__dict__.pop("_memos", None)

    # ---------------------------------------------------------------- save/load
    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the surrogate as JSON files into ``directory``; returns it.

        The files, and ``metadata.json`` with the sha256 of each, are written into a
        new directory beside ``directory`` (``.NAME.saving-*``), which then replaces it
        by renames: the old directory is moved aside (``.NAME.replaced-*``), the new one
        moved in, the old one removed. A save killed at any point leaves the old
        surrogate or the new one whole, never a mix; directories such a save left
        beside ``directory`` are removed by the next save into it.

        Raises:
            SurrogateError: ``directory`` cannot take a surrogate (see
                :func:`check_save_dir`), or writing failed; the old surrogate, if any,
                is then left as it was.
        """
        self._check_fitted()
        d = check_save_dir(directory)
        tag = f"{os.getpid()}-{secrets.token_hex(4)}"
        new, aside = d.parent / f".{d.name}.saving-{tag}", d.parent / f".{d.name}.replaced-{tag}"
        moved_aside = False
        try:
            new.mkdir()
            files = {t: m.save(new, t.replace(":", ".")) for t, m in self.models_.items()}
            files["cost"] = self.cost_.save(new, "cost")
            hashes = {name: _sha256(new / name, sync=True) for f in files.values() for name in f}
            meta = {**self.metadata_, "files": files, "sha256": hashes}
            text = json.dumps(meta, indent=1, sort_keys=True, default=_json)
            with open(new / "metadata.json", "w") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            _sync_dir(new)
            if d.exists():
                os.rename(d, aside)
                moved_aside = True
            os.rename(new, d)
        except BaseException as e:  # a full disk, or Ctrl-C: no half-written directory stays
            shutil.rmtree(new, ignore_errors=True)
            if moved_aside and not d.exists():
                with contextlib.suppress(OSError):
                    os.rename(aside, d)  # put the old one back
            if not isinstance(e, OSError | ValueError):  # XGBoost's errors are ValueErrors
                raise
            if d.exists():
                kept = "the surrogate that was there is unchanged"
            elif moved_aside:
                kept = f"the surrogate that was there is in {aside}"
            else:
                kept = "nothing was written"
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e).splitlines()[0]
            raise SurrogateError(
                f"{directory}: writing the surrogate failed ({why}); {kept}; free space or "
                "choose another directory, and save again"
            ) from None
        _sync_dir(d.parent)
        if moved_aside:
            shutil.rmtree(aside, ignore_errors=True)
        _remove_stale(d)
        return Path(directory)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> Surrogate:
        """Read a surrogate written by :meth:`save`.

        Raises:
            SurrogateError: The directory is missing, or written by a newer format.
        """
        d = Path(directory)
        path = d / "metadata.json"
        if not path.is_file():
            left = _left_by_a_killed_save(d)
            if left and not d.exists():
                raise SurrogateError(f"{d}: no surrogate here; {_killed_save_advice(d, left)}")
            raise SurrogateError(f"{d}: no surrogate here (no metadata.json); fit one first")
        try:
            meta = json.loads(path.read_text())
        except PermissionError as e:
            raise access_error(path, e, "surrogate") from None
        except (OSError, ValueError) as e:  # unreadable, or not JSON
            raise SurrogateError(
                f"{path}: not a readable surrogate metadata file ({e}); fit the surrogate again"
            ) from None
        try:
            self, meta, params = cls._from_metadata(d, meta)
        except (ConfigError, KeyError, TypeError, ValueError, AttributeError) as e:
            what = f"no {e}" if isinstance(e, KeyError) else str(e)
            raise SurrogateError(
                f"{path}: invalid surrogate metadata ({what}); refit the surrogate, or copy "
                "its directory again"
            ) from None
        mcls = model_class(meta["model"])
        if "quantiles" in params:
            params["quantiles"] = tuple(params["quantiles"])
        for key in ("noise_estimators", "noise_learning_rate"):
            if key in mcls().get_params():  # not recorded before 2026-12-06: then None
                params.setdefault(key, None)
        # Models refitted from a loaded surrogate (calibration's folds, `_new`) take the
        # recorded settings, not whatever the class's defaults are today.
        self.params = {k: v for k, v in params.items() if k != "random_state"}
        files = meta["files"]
        missing = [
            f
            for names in files.values()
            for f in names
            if not (d / f).is_file() and not (d / f.removesuffix(".gz")).is_file()
        ]
        if missing or "cost" not in files:
            raise SurrogateError(
                f"{d}: the surrogate is incomplete (missing {missing or ['cost model']}); "
                "copy the whole directory again, or refit it"
            )
        _check_hashes(d, meta)
        self.models_ = {}
        for t in files:
            try:
                if t == "cost":
                    cost_params = {**_COST_PARAMS, "random_state": self.random_state}
                    self.cost_ = XGBSurrogate.load(d, "cost", cost_params)
                else:
                    self.models_[t] = mcls.load(d, t.replace(":", "."), params)
            except PermissionError as e:
                raise access_error(e.filename or d, e, "surrogate") from None
            except (OSError, EOFError, ValueError) as e:  # gzip, JSON and XGBoost errors
                raise SurrogateError(
                    f"{d}: the {t!r} model files {files[t]} are unreadable "
                    f"({str(e).splitlines()[0]}); copy the directory again, or refit it"
                ) from None
        meta.pop("files", None)
        meta.pop("sha256", None)  # of this directory's files; a save records its own
        try:
            self.protocol_ = Protocol.from_dict(meta["protocol"], str(meta["protocol_id"]))
        except ValueError as e:
            raise SurrogateError(
                f"{d}: the recorded training protocol is invalid ({e}); refit the surrogate"
            ) from e
        self.metadata_ = meta
        return self

    @classmethod
    def _from_metadata(cls, d: Path, meta: Any) -> tuple[Surrogate, dict[str, Any], dict[str, Any]]:
        """An unfitted surrogate as ``metadata.json`` describes it, the metadata and the
        model's recorded settings; raises ``KeyError``, ``TypeError`` or ``ValueError`` on
        metadata of the wrong shape (the caller turns them into one message)."""
        if not isinstance(meta, dict):
            raise TypeError(f"a JSON {type(meta).__name__}, not an object")
        version = meta.get("format_version", 0)
        if not isinstance(version, int):
            raise TypeError(f"format_version {version!r} is not an integer")
        if version > FORMAT_VERSION:
            raise SurrogateError(
                f"{d}: surrogate format {version} is newer than this nasrepro reads "
                f"({FORMAT_VERSION}); upgrade nasrepro"
            )
        for key in ("model", "encoding", "random_state", "fidelities", "model_params", "protocol",
                    "protocol_id", "n_features", "epoch_cost_fraction"):  # fmt: skip
            meta[key]  # noqa: B018 - a KeyError names the missing key
        _check_shapes(meta)
        if meta["encoding"] == "graph" and (
            meta["feature_names"] != list(feature_names())
            or meta["n_features"] != len(meta["feature_names"])
        ):
            raise SurrogateError(
                f"{d}: fitted on other features than this nasrepro computes; refit it"
            )
        if not isinstance(meta.get("files"), dict) or not isinstance(meta["model_params"], dict):
            raise TypeError("'files' and 'model_params' must be objects")
        self = cls(
            meta["model"],
            random_state=int(meta["random_state"]),
            fidelities=bool(meta["fidelities"]),
            space_models=meta.get("space_models") or None,
        )
        params = dict(meta["model_params"])
        return self, meta, params


_FIELDS = ("valid_acc", "valid_std", "test_acc", "test_std", "cost_s")


def _check_shapes(meta: dict[str, Any]) -> None:
    """Raise ``TypeError`` naming the first metadata value of the wrong shape (they were
    an IndexError or a TypeError deep in a prediction)."""
    files, fractions = meta.get("files"), meta["epoch_cost_fraction"]
    if not isinstance(files, dict) or not all(
        isinstance(v, list) and all(isinstance(f, str) for f in v) for v in files.values()
    ):
        raise TypeError("'files' must map each model to a list of file names")
    if not isinstance(meta["n_features"], int) or isinstance(meta["n_features"], bool):
        raise TypeError(f"n_features {meta['n_features']!r} is not an integer")
    if not (isinstance(fractions, list) and fractions) or not all(
        isinstance(x, int | float) and 0 < x <= 1 for x in fractions
    ):
        raise TypeError(f"epoch_cost_fraction {fractions!r} is not a list of fractions in (0, 1]")
    for space, kappa in (meta.get("model_error_std") or {}).items():
        if not (isinstance(kappa, dict) and all(
            isinstance(v, int | float) and v >= 0 for v in kappa.values()
        )):  # fmt: skip
            raise TypeError(f"model_error_std of {space!r}: {kappa!r} is not stds >= 0 by metric")


def _check_space_models(
    space_models: Mapping[str, Sequence[str]] | None,
) -> dict[str, tuple[str, ...]]:
    """``space_models`` as ``{space: (spaces...)}``, checked for shape."""
    out: dict[str, tuple[str, ...]] = {}
    for sp, group in (space_models or {}).items():
        names = (group,) if isinstance(group, str) else tuple(group)
        if not isinstance(sp, str) or not sp or ":" in sp or not names:
            raise ConfigError(
                f"space_models must map a space name to the spaces whose rows fit its "
                f"models, e.g. {{'cell': ['cell']}}; got {sp!r}: {group!r}"
            )
        out[sp] = tuple(dict.fromkeys(str(n) for n in names))
    return out


class _Memo:
    """Predictions remembered by architecture: a dict to a row of one growing array of
    the :data:`_FIELDS` (no tuple per architecture); it starts again past MEMO_SIZE."""

    def __init__(self) -> None:
        self.row: dict[Any, int] = {}
        self.values = np.empty((0, len(_FIELDS)))

    def __len__(self) -> int:
        return len(self.row)

    def rows(self, keys: Sequence[Any]) -> np.ndarray:
        """Each key's row, -1 where it is not remembered, ``(len(keys),)``."""
        get = self.row.get
        return np.fromiter((get(k, -1) for k in keys), np.int64, len(keys))

    def add(self, keys: Sequence[Any], values: np.ndarray) -> None:
        if len(self.row) + len(keys) > MEMO_SIZE:
            self.row = {}
        start, stop = len(self.row), len(self.row) + len(keys)
        if stop > len(self.values):
            grown = np.empty((max(stop, 2 * len(self.values)), len(_FIELDS)))
            grown[:start] = self.values[:start]
            self.values = grown
        self.values[start:stop] = values
        self.row.update(zip(keys, range(start, stop), strict=True))


def arch_hash(arch: str) -> str:
    """A short stable hash of an architecture string (training sets store these)."""
    return hashlib.sha256(arch.encode()).hexdigest()[:16]


def _json(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"not JSON serializable: {type(v).__name__}")


def shipped_path() -> Path:
    """Directory of the surrogate shipped in ``nasrepro/surrogate/data/mnist1d-tiny``."""
    res = resources.files("nasrepro.surrogate").joinpath("data", SHIPPED)
    with resources.as_file(res) as p:
        return Path(p)


def load_shipped() -> Surrogate:
    """The shipped surrogate (``mnist1d-tiny``: cell table plus chain/hier samples).

    Raises:
        SurrogateError: It is not shipped in this install yet; the message names the fix.
    """
    p = shipped_path()
    if not (p / "metadata.json").is_file():
        raise SurrogateError(
            f"the shipped surrogate {p} is not in this install yet; fit it with "
            "`nasrepro surrogate fit` (see `nasrepro surrogate fit --help`) and write it "
            f"to surrogate/data/{SHIPPED}, or pass --models DIR"
        )
    return Surrogate.load(p)
