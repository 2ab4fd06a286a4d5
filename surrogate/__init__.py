"""Surrogates: predict trained accuracy and cost from space-agnostic graph features.

The table covers a bounded cell space only; a surrogate answers for the spaces no
table can enumerate, as NAS-Bench-301 did for the DARTS space. Importing this package
registers the ``chain-mnist1d-tiny-surrogate`` and
``hierarchical-mnist1d-tiny-surrogate`` benchmarks.

Example:
    >>> from nasrepro.tables import Table
    >>> from nasrepro.surrogate import Surrogate, evaluate, load_table
    >>> train = Table.open("chain-train.h5")  # doctest: +SKIP
    >>> s = Surrogate("xgb", random_state=0).fit(load_table(train))  # doctest: +SKIP
    >>> evaluate(s, Table.open("chain-test.h5")).metrics["kendall_tau"]  # doctest: +SKIP
    0.78
"""

from __future__ import annotations

from nasrepro.spaces._errors import ConfigError, NasreproError
from nasrepro.surrogate._benchmark import SurrogateBenchmark
from nasrepro.surrogate._calibrate import calibrate, kappa_for_coverage
from nasrepro.surrogate._data import (
    SurrogateError,
    TrainingData,
    arch_classes,
    encode,
    grouped_folds,
    load_table,
    split_rows,
    trained_rows,
)
from nasrepro.surrogate._evaluate import (
    METRICS,
    SpaceEvaluation,
    evaluate,
    noise_ceiling_tau,
    rank_metrics,
    write_report,
)
from nasrepro.surrogate._features import (
    DEFAULT_INPUT_SHAPE,
    DEFAULT_NUM_CLASSES,
    count_flops,
    count_params,
    feature_names,
    features,
    features_many,
)
from nasrepro.surrogate._models import (
    DEFAULT_MODEL,
    GPSurrogate,
    ParamRange,
    RandomForestSurrogate,
    SurrogateModel,
    XGBAdjacencySurrogate,
    XGBSurrogate,
    create_model,
    list_models,
    model_class,
    register_model,
)
from nasrepro.surrogate._paired import (
    N_BOOT,
    PAIRED_METRICS,
    MetricDifference,
    PairedComparison,
    compare_evaluations,
)
from nasrepro.surrogate._surrogate import (
    TARGETS,
    Prediction,
    Surrogate,
    arch_hash,
    check_save_dir,
    load_shipped,
    shipped_path,
)

__all__ = [
    "calibrate",
    "kappa_for_coverage",
    "SurrogateBenchmark",
    "NasreproError",
    "ConfigError",
    "SurrogateError",
    "TrainingData",
    "encode",
    "load_table",
    "split_rows",
    "trained_rows",
    "arch_classes",
    "grouped_folds",
    "METRICS",
    "SpaceEvaluation",
    "evaluate",
    "noise_ceiling_tau",
    "rank_metrics",
    "write_report",
    "N_BOOT",
    "PAIRED_METRICS",
    "MetricDifference",
    "PairedComparison",
    "compare_evaluations",
    "TARGETS",
    "Prediction",
    "Surrogate",
    "arch_hash",
    "check_save_dir",
    "load_shipped",
    "shipped_path",
    "DEFAULT_INPUT_SHAPE",
    "DEFAULT_NUM_CLASSES",
    "count_flops",
    "count_params",
    "feature_names",
    "features",
    "features_many",
    "DEFAULT_MODEL",
    "SurrogateModel",
    "ParamRange",
    "XGBSurrogate",
    "XGBAdjacencySurrogate",
    "RandomForestSurrogate",
    "GPSurrogate",
    "create_model",
    "list_models",
    "model_class",
    "register_model",
]
