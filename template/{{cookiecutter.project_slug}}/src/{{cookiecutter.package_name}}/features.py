"""The feature pipeline, built from the schema and ``features:`` in the training config.

Steps: coerce types; per type, impute, then scale or discretize (numeric) or one-hot encode
(categorical; unknown categories become all zeros); then optional feature selection. It is
fitted once as part of the model, so training, batch scoring and the API transform features
with the same code and the same fitted state.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.feature_selection import (
    RFE,
    SelectFromModel,
    SelectKBest,
    chi2,
    f_classif,
    f_regression,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Lasso, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    KBinsDiscretizer,
    MinMaxScaler,
    OneHotEncoder,
    RobustScaler,
    StandardScaler,
)
from sklearn.svm import LinearSVC

from .config import ConfigError, FeatureConfig, SelectionConfig
from .schema import Schema

MISSING_CATEGORY = "__missing__"


def category_text(value: object) -> str:
    """A category as text; integral floats (``3.0``, from CSV columns with gaps) become ``"3"``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def numbers(values: pd.Series) -> pd.Series:
    """``values`` as floats, NaN where missing or not a number (``pd.to_numeric``, coerced).

    Text that is all numbers is parsed by Arrow: several times faster than pandas, same values.
    """
    if not pd.api.types.is_numeric_dtype(values):
        try:
            parsed = pc.cast(pa.array(values, type=pa.string(), from_pandas=True), pa.float64())
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass  # a value that is not a number, or not text: pandas makes it NaN
        else:
            return pd.Series(parsed.to_numpy(zero_copy_only=False), values.index, float)
    return pd.to_numeric(values, errors="coerce").astype(float)


def coerce_types(df: pd.DataFrame, types: dict[str, str]) -> pd.DataFrame:
    """Give each feature the dtype the pipeline expects, whatever the source (CSV, JSON).

    numeric and boolean become float (missing = NaN); categorical become Python strings in an
    object column (missing = NaN). Columns not in ``types`` are dropped.
    """
    out = pd.DataFrame(index=df.index)
    for name, kind in types.items():
        values = df[name]
        if kind == "categorical" and pd.api.types.infer_dtype(values, skipna=True) == "string":
            out[name] = values.astype(object).where(values.notna(), np.nan)  # text already
        elif kind == "categorical":
            text = [np.nan if pd.isna(v) else category_text(v) for v in values]
            out[name] = pd.Series(text, index=df.index, dtype=object)
        elif kind == "boolean" and (
            pd.api.types.is_bool_dtype(values)
            or pd.api.types.is_integer_dtype(values)
            or pd.api.types.is_float_dtype(values)
        ):  # vectorized: exactly 1 and 0 (not -0.0, written "-0.0") as the text map below does
            number = values.astype(float)
            known = (number == 1.0) | ((number == 0.0) & ~np.signbit(number))
            out[name] = number.where(known)
        elif kind == "boolean":
            lowered = values.astype(object).map(lambda v: str(v).lower() if pd.notna(v) else v)
            mapped = lowered.map(
                {"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0, "1.0": 1.0, "0.0": 0.0}
            )
            out[name] = mapped.astype(float)
        else:
            out[name] = numbers(values)
    return out


def _coerced_names(transformer: FunctionTransformer, input_features: object) -> np.ndarray:
    return np.asarray(list(transformer.kw_args["types"]), dtype=object)


SCALERS = {"standard": StandardScaler, "robust": RobustScaler, "minmax": MinMaxScaler}


def _numeric_steps(config: FeatureConfig, seed: int) -> list[tuple[str, BaseEstimator]]:
    steps: list[tuple[str, BaseEstimator]] = [
        ("impute", SimpleImputer(strategy=config.numeric_imputation))
    ]
    if config.discretize_bins:
        bins = KBinsDiscretizer(
            n_bins=config.discretize_bins,
            encode="onehot-dense",
            strategy="quantile",
            random_state=seed,
        )
        steps.append(("discretize", bins))
    elif config.scaling != "none":
        steps.append(("scale", SCALERS[config.scaling]()))
    return steps


def build_selector(schema: Schema, config: SelectionConfig, seed: int) -> BaseEstimator:
    """The feature-selection step of ``config.method`` (not ``none``) for the problem type."""
    classify = schema.is_classification
    if config.method == "k_best":
        if config.score == "chi2" and not classify:
            raise ConfigError("feature selection score chi2 needs a classification target")
        score = chi2 if config.score == "chi2" else f_classif if classify else f_regression
        return SelectKBest(score, k=config.k)
    if config.method == "l1":
        if classify:
            model = LinearSVC(penalty="l1", dual=False, C=1.0 / config.l1_strength, max_iter=5000)
        else:
            model = Lasso(alpha=config.l1_strength, max_iter=5000, random_state=seed)
        return SelectFromModel(model)
    if config.method == "rfe":
        ranker = LogisticRegression(max_iter=2000) if classify else Ridge()
        return RFE(ranker, n_features_to_select=config.k)
    raise ValueError(f"no selector for method {config.method!r}")


def build_preprocessor(
    schema: Schema, config: FeatureConfig | None = None, seed: int = 0
) -> Pipeline:
    """Coerce types, impute and encode each type, then select features if configured.

    Only ``role: feature`` columns are used: ids, targets and ignored columns are dropped.
    """
    config = config or FeatureConfig()
    types = {c.name: c.type for c in schema.features}
    numeric = schema.features_of_type("numeric")
    categorical = schema.features_of_type("categorical")
    boolean = schema.features_of_type("boolean")
    transformers = []
    if numeric:
        transformers.append(("numeric", Pipeline(_numeric_steps(config, seed)), numeric))
    if categorical:
        categorical_steps = [
            (
                "impute",
                SimpleImputer(strategy=config.categorical_imputation, fill_value=MISSING_CATEGORY),
            ),
            ("one_hot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
        transformers.append(("categorical", Pipeline(categorical_steps), categorical))
    if boolean:
        impute = SimpleImputer(strategy=config.boolean_imputation, fill_value=0.0)
        transformers.append(("boolean", impute, boolean))
    columns = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=True)
    coerce = FunctionTransformer(
        coerce_types, kw_args={"types": types}, feature_names_out=_coerced_names
    )
    steps: list[tuple[str, BaseEstimator]] = [("coerce", coerce), ("columns", columns)]
    if config.selection.method != "none":
        steps.append(("select", build_selector(schema, config.selection, seed)))
    return Pipeline(steps)
