"""Scoring with a loaded model: shared by batch prediction and both web servers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .data import check, read_csv
from .registry import LoadedModel

PROBABILITY_PREFIX = "proba_"


class PredictionError(RuntimeError):
    """The model produced unusable output (NaN or infinite values)."""


def predict_frame(model: LoadedModel, features: pd.DataFrame) -> pd.DataFrame:
    """One row per input: ``prediction`` and, for classification, ``proba_<class>`` columns."""
    pipeline = model.pipeline
    out = pd.DataFrame(index=features.index)
    if model.schema.is_classification:
        proba = pipeline.predict_proba(features)
        classes = [str(c) for c in pipeline.classes_]
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


def predict_batch(model: LoadedModel, df: pd.DataFrame) -> pd.DataFrame:
    """Validate ``df`` against the model's schema, then score it (id, prediction, ..., version)."""
    schema = model.schema
    check(df, schema, "prediction input", require_target=False)
    scored = predict_frame(model, df)
    if schema.id:
        scored.insert(0, schema.id, df[schema.id].to_numpy())
    scored["model_version"] = model.version
    return scored


def predict_csv(model: LoadedModel, input_path: Path, output_path: Path) -> int:
    """Score a CSV file into another CSV file; return the number of rows written."""
    scored = predict_batch(model, read_csv(input_path))
    output_path.parent.mkdir(parents=True, exist_ok=True)
    scored.to_csv(output_path, index=False)
    return len(scored)


def predict_records(model: LoadedModel, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Score already-validated request records (from the API contract) into response dicts."""
    names = model.schema.feature_names
    frame = pd.DataFrame(
        [{name: record.get(name) for name in names} for record in records], columns=names
    )
    scored = predict_frame(model, frame)
    responses: list[dict[str, Any]] = []
    for _, row in scored.iterrows():
        response: dict[str, Any] = {"prediction": row["prediction"], "model_version": model.version}
        if model.schema.is_classification:
            response["probabilities"] = {
                c[len(PROBABILITY_PREFIX) :]: float(row[c])
                for c in scored.columns
                if c != "prediction"
            }
        else:
            response["prediction"] = float(row["prediction"])
        responses.append(response)
    return responses
