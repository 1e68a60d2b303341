"""The feature pipeline, built from the schema and ``features:`` in the training config.

Steps: coerce types; append the project's derived features (``derived``), if it has any; per
type, impute, then scale or discretize (numeric and derived features, and the inputs derived
from a date: ``core.dates``) or one-hot encode (categorical; unknown categories become all
zeros); then optional feature selection. It is
fitted once as part of the model, so training, batch scoring and the API transform features
with the same code and the same fitted state.
"""

from __future__ import annotations

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

from ..config import ConfigError, FeatureConfig, SelectionConfig
from ..core.coerce import coerce_types, coerced_names, feature_types
from ..core.dates import as_of_days, date_parts, part_names
from ..core.schema import Schema
from .derived import Derive, DerivedFeatures

MISSING_CATEGORY = "__missing__"


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
    schema: Schema,
    config: FeatureConfig | None = None,
    seed: int = 0,
    derived: DerivedFeatures | None = None,
) -> Pipeline:
    """Coerce types, derive features, impute and encode each type, then select features if
    configured.

    Only ``role: feature`` columns are used: ids, targets and ignored columns are dropped.
    """
    config = config or FeatureConfig()
    types, declared, formats = feature_types(schema)
    numeric = schema.features_of_type("numeric")
    categorical = schema.features_of_type("categorical")
    boolean = schema.features_of_type("boolean")
    dated = schema.features_of_type("datetime")
    transformers = []
    if numeric:
        transformers.append(("numeric", Pipeline(_numeric_steps(config, seed)), numeric))
    if derived:
        transformers.append(("derived", Pipeline(_numeric_steps(config, seed)), derived.names))
    if dated:
        parts = FunctionTransformer(
            date_parts, kw_args={"as_of": as_of_days(schema)}, feature_names_out=part_names
        )
        dates = Pipeline([("parts", parts), *_numeric_steps(config, seed)])
        transformers.append(("datetime", dates, dated))
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
        coerce_types,
        kw_args={"types": types, "categories_of": declared, "formats": formats},
        feature_names_out=coerced_names,
    )
    steps: list[tuple[str, BaseEstimator]] = [("coerce", coerce)]
    if derived:
        steps.append(("derive", Derive(tuple(derived))))
    steps.append(("columns", columns))
    if config.selection.method != "none":
        steps.append(("select", build_selector(schema, config.selection, seed)))
    return Pipeline(steps)
