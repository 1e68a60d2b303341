"""A fitted model as the project uses it: the pipeline, its metadata and its schema, and how a
frame of features is scored (``predict_frame``: batch scoring, the canary, monitoring)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from .errors import ProjectError
from .schema import PROBABILITY_PREFIX, Schema


class PredictionError(ProjectError, RuntimeError):
    """The model produced unusable output (NaN or infinite values)."""


@dataclass(frozen=True)
class LoadedModel:
    """A verified model with its metadata and the schema it was trained on."""

    pipeline: Pipeline
    metadata: dict[str, Any]
    schema: Schema

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    @property
    def classes(self) -> list[str]:
        """The classes in the model's own order (its probability columns), or [] (regression)."""
        return [str(c) for c in self.pipeline.classes_] if self.schema.is_classification else []


def schema_misfit(pipeline: Pipeline, schema: Schema) -> str | None:
    """Why ``pipeline`` cannot be a model of ``schema`` (other inputs, another kind of problem,
    classes the schema lacks), or None; only what the pipeline records is compared."""
    inputs = [str(name) for name in getattr(pipeline, "feature_names_in_", schema.feature_names)]
    if inputs != schema.feature_names:
        lacking = [name for name in inputs if name not in schema.feature_names]
        unread = [name for name in schema.feature_names if name not in inputs]
        found = [f"the schema's features lack {', '.join(lacking)}"] if lacking else []
        found += [f"the model does not read {', '.join(unread)}"] if unread else []
        return "; ".join(found) or "the schema lists the model's features in another order"
    if schema.is_classification != hasattr(pipeline, "predict_proba"):
        kind = "a classifier" if hasattr(pipeline, "predict_proba") else "a regressor"
        return f"the model is {kind}, the schema's problem is {schema.problem_type}"
    classes = getattr(pipeline, "classes_", ()) if schema.is_classification else ()
    unknown = sorted({str(c) for c in classes} - set(schema.classes))
    if unknown:
        return f"the model predicts {', '.join(unknown)}, which the schema's target lacks"
    return None


def predict_frame(model: LoadedModel, features: pd.DataFrame) -> pd.DataFrame:
    """One row per input: ``prediction`` and, for classification, ``proba_<class>`` columns."""
    pipeline = model.pipeline
    out: pd.DataFrame = pd.DataFrame(index=features.index)
    if model.schema.is_classification:
        proba = pipeline.predict_proba(features)
        classes = model.classes
        if not np.isfinite(proba).all():
            raise PredictionError(f"model {model.version} returned non-finite probabilities")
        out["prediction"] = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
        for index, name in enumerate(classes):
            out[PROBABILITY_PREFIX + name] = proba[:, index]
    else:
        predicted = np.asarray(pipeline.predict(features), dtype=float)
        if not np.isfinite(predicted).all():
            raise PredictionError(f"model {model.version} returned non-finite predictions")
        out["prediction"] = predicted
    return out
