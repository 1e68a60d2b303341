"""Batch prediction writes one row per input; batch and API scoring agree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.data import (
    DataValidationError,
    read_csv,
)
from {{ cookiecutter.package_name }}.predict import (
    PredictionError,
    predict_batch,
    predict_csv,
    predict_frame,
    predict_records,
)
from {{ cookiecutter.package_name }}.registry import LoadedModel
from {{ cookiecutter.package_name }}.schema import Schema


def test_batch_writes_one_row_per_input_with_model_version(
    loaded: LoadedModel, schema: Schema, sample: pd.DataFrame, tmp_path: Path
) -> None:
    source = tmp_path / "input.csv"
    sample.head(50).drop(columns=schema.target).to_csv(source, index=False)
    rows = predict_csv(loaded, source, tmp_path / "out" / "predictions.csv")
    written = read_csv(tmp_path / "out" / "predictions.csv")
    assert rows == len(written) == 50
    assert written[schema.id].tolist() == sample[schema.id].head(50).tolist()
    assert (written["model_version"] == loaded.version).all()
    if schema.is_classification:
        probabilities = written[[f"proba_{c}" for c in schema.classes]]
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
        assert set(written["prediction"]) <= set(schema.classes)
    else:
        assert np.isfinite(written["prediction"]).all()


def test_invalid_batch_is_refused(
    loaded: LoadedModel, schema: Schema, sample: pd.DataFrame
) -> None:
    with pytest.raises(DataValidationError):
        predict_batch(loaded, sample.drop(columns=schema.feature_names[0]))


def test_api_records_and_batch_scoring_agree(
    loaded: LoadedModel, schema: Schema, sample: pd.DataFrame
) -> None:
    """Skew check: a record sent as JSON scores exactly like the same row from a CSV."""
    rows = sample.head(5)
    records = [
        {k: (None if pd.isna(v) else v) for k, v in row.items() if k in schema.feature_names}
        for row in rows.to_dict(orient="records")
    ]
    responses = predict_records(loaded, records)
    batch = predict_frame(loaded, rows)
    assert [r["prediction"] for r in responses] == batch["prediction"].tolist()
    assert all(r["model_version"] == loaded.version for r in responses)


def test_non_finite_output_is_refused(loaded: LoadedModel, sample: pd.DataFrame) -> None:
    """Monitoring 5: NaN or infinite predictions raise instead of being served."""

    class NanModel:
        classes_ = loaded.pipeline.classes_ if loaded.schema.is_classification else None

        def predict(self, features: pd.DataFrame) -> np.ndarray:
            return np.full(len(features), np.nan)

        def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
            return np.full((len(features), len(self.classes_)), np.nan)

    broken = LoadedModel(NanModel(), loaded.metadata, loaded.schema)
    with pytest.raises(PredictionError, match="non-finite"):
        predict_frame(broken, sample.head(3))
