"""The feature pipeline, built from the schema and fitted once as part of the model.

Because it travels inside the saved model, training, batch scoring and the API transform
features with the same code and the same fitted state.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from .schema import Schema

MISSING_CATEGORY = "__missing__"


def category_text(value: object) -> str:
    """A category as text; integral floats (``3.0``, from CSV columns with gaps) become ``"3"``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def coerce_types(df: pd.DataFrame, types: dict[str, str]) -> pd.DataFrame:
    """Give each feature the dtype the pipeline expects, whatever the source (CSV, JSON).

    numeric and boolean become float (missing = NaN); categorical become Python strings in an
    object column (missing = NaN). Columns not in ``types`` are dropped.
    """
    out = pd.DataFrame(index=df.index)
    for name, kind in types.items():
        values = df[name]
        if kind == "categorical":
            text = [np.nan if pd.isna(v) else category_text(v) for v in values]
            out[name] = pd.Series(text, index=df.index, dtype=object)
        elif kind == "boolean":
            lowered = values.astype(object).map(lambda v: str(v).lower() if pd.notna(v) else v)
            mapped = lowered.map(
                {"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0, "1.0": 1.0, "0.0": 0.0}
            )
            out[name] = mapped.astype(float)
        else:
            out[name] = pd.to_numeric(values, errors="coerce").astype(float)
    return out


def _coerced_names(transformer: FunctionTransformer, input_features: object) -> np.ndarray:
    return np.asarray(list(transformer.kw_args["types"]), dtype=object)


def build_preprocessor(schema: Schema) -> Pipeline:
    """Coerce types, then impute/scale numeric, impute/one-hot categorical, impute boolean.

    Only ``role: feature`` columns are used: ids, targets and ignored columns are dropped.
    """
    types = {c.name: c.type for c in schema.features}
    numeric = schema.features_of_type("numeric")
    categorical = schema.features_of_type("categorical")
    boolean = schema.features_of_type("boolean")
    transformers = []
    if numeric:
        numeric_steps = [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
        transformers.append(("numeric", Pipeline(numeric_steps), numeric))
    if categorical:
        categorical_steps = [
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
            ("one_hot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
        transformers.append(("categorical", Pipeline(categorical_steps), categorical))
    if boolean:
        transformers.append(("boolean", SimpleImputer(strategy="most_frequent"), boolean))
    columns = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=True)
    coerce = FunctionTransformer(
        coerce_types, kw_args={"types": types}, feature_names_out=_coerced_names
    )
    return Pipeline([("coerce", coerce), ("columns", columns)])
