"""Surrogate models that extend the table to spaces no table can enumerate."""

from __future__ import annotations

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
    RandomForestSurrogate,
    SurrogateModel,
    XGBAdjacencySurrogate,
    XGBSurrogate,
    create_model,
    list_models,
    model_class,
    register_model,
)

__all__ = [
    "DEFAULT_INPUT_SHAPE",
    "DEFAULT_NUM_CLASSES",
    "count_flops",
    "count_params",
    "feature_names",
    "features",
    "features_many",
    "DEFAULT_MODEL",
    "SurrogateModel",
    "XGBSurrogate",
    "XGBAdjacencySurrogate",
    "RandomForestSurrogate",
    "GPSurrogate",
    "create_model",
    "list_models",
    "model_class",
    "register_model",
]
