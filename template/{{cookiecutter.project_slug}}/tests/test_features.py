"""The feature pipeline: built from the schema, robust to missing/unknown values, skew-free."""

from __future__ import annotations

import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }}.data import read_csv
from {{ cookiecutter.package_name }}.features import (
    build_preprocessor,
    coerce_types,
)
from {{ cookiecutter.package_name }}.schema import Schema


def test_output_is_finite_with_one_row_per_input(schema: Schema, sample: pd.DataFrame) -> None:
    matrix = build_preprocessor(schema).fit_transform(sample)
    assert matrix.shape[0] == len(sample)
    assert np.isfinite(matrix).all(), "missing values are imputed"


def test_id_target_and_ignored_columns_never_become_features(
    schema: Schema, sample: pd.DataFrame
) -> None:
    names = build_preprocessor(schema).fit(sample).get_feature_names_out()
    denied = [c.name for c in schema.columns if c.role != "feature"]
    assert not [n for n in names for d in denied if d in n]


def test_output_ignores_non_feature_columns(schema: Schema, sample: pd.DataFrame) -> None:
    pipeline = build_preprocessor(schema).fit(sample)
    without = sample[schema.feature_names]
    np.testing.assert_array_equal(pipeline.transform(sample), pipeline.transform(without))


def test_unknown_category_is_encoded_as_all_zeros(schema: Schema, sample: pd.DataFrame) -> None:
    name = schema.features_of_type("categorical")[0]
    pipeline = build_preprocessor(schema).fit(sample)
    row = sample.head(1).copy()
    row[name] = row[name].astype(object)
    row.loc[row.index[0], name] = "brand-new"
    encoded = pd.Series(pipeline.transform(row)[0], index=pipeline.get_feature_names_out())
    assert (encoded[[n for n in encoded.index if f"__{name}_" in n]] == 0).all()


def test_coerce_types_normalises_json_and_csv_values() -> None:
    raw = pd.DataFrame({"n": ["1.5", None], "c": [3, None], "b": ["true", False]})
    out = coerce_types(raw, {"n": "numeric", "c": "categorical", "b": "boolean"})
    assert out["n"].tolist()[0] == 1.5 and np.isnan(out["n"].tolist()[1])
    assert out["c"].tolist()[0] == "3" and pd.isna(out["c"].tolist()[1])
    assert out["b"].tolist() == [1.0, 0.0]


def test_csv_round_trip_gives_identical_features(
    schema: Schema, sample: pd.DataFrame, tmp_path
) -> None:
    """Training-serving skew check: data read back from disk transforms exactly the same."""
    path = tmp_path / "data.csv"
    sample.to_csv(path, index=False)
    pipeline = build_preprocessor(schema).fit(sample)
    np.testing.assert_allclose(pipeline.transform(sample), pipeline.transform(read_csv(path)))
