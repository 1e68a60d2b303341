"""Evaluation of a registered model on the deterministic test split of a dataset.

The test split is recomputed from the data with the model's own training config, so on the
training data it is exactly the split the model never saw. The dummy baseline and the linear
model are refitted on the rest of the data with their tuned settings from the model's
metadata, so every comparison is on the same rows, also on newer data (model staleness).

Writes ``reports/metrics.json``, ``reports/evaluation.md``, ``reports/figures/*.png`` and the
model card. ``train`` runs the same evaluation for the model it registers.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from ..config import TrainConfig
from ..core.coerce import category_text, coerce_features
from ..core.metrics import lift, model_metrics, primary_metric
from ..core.model import LoadedModel
from ..core.schema import Schema
from ..io import atomic
from .families import LINEAR
from .figures import write_figures
from .reporting import evaluation_markdown, model_card_markdown, update_design_doc
from .train import BASELINE, Candidates, Split, build_pipeline, split_data

MISSING_GROUP = "(missing)"
#: What an evaluation writes into the reports folder.
FIGURES, METRICS, REPORT = "figures", "metrics.json", "evaluation.md"
IMPORTANCE_REPEATS = 5
#: Test rows each permutation-importance repeat scores (drawn at random when there are more).
IMPORTANCE_ROWS = 10_000


def reference_models(
    schema: Schema,
    config: TrainConfig,
    candidates: Candidates,
    best_params: dict[str, dict[str, Any]],
    fit: Split,
) -> dict[str, Pipeline]:
    """The baseline and the linear model, refitted on ``fit`` with their tuned settings."""
    return {
        family: build_pipeline(family, candidates, schema, config, best_params.get(family, {})).fit(
            fit.features, fit.target
        )
        for family in (BASELINE, LINEAR)
    }


def _measurable(schema: Schema, y: pd.Series) -> bool:
    """Whether every metric is defined on ``y`` (all classes present; two rows for R²)."""
    if schema.is_classification:
        return set(schema.classes) <= set(y)
    return len(y) >= 2


def _group_label(value: Any) -> str:  # an element of a Series of any dtype
    return MISSING_GROUP if pd.isna(value) else category_text(value)


def _fairness_rates(
    schema: Schema, model: BaseEstimator, x: pd.DataFrame, y: pd.Series
) -> dict[str, float | None]:
    """Group rates behind demographic parity and equal opportunity (binary), or mean levels."""
    if schema.problem_type == "regression":
        return {"mean_prediction": float(np.mean(model.predict(x))), "mean_actual": float(y.mean())}
    if schema.problem_type == "multiclass_classification":
        return {}
    positive = schema.classes[-1]
    classes = [str(c) for c in model.classes_]
    flagged = model.predict_proba(x)[:, classes.index(positive)] >= 0.5
    actual = np.asarray(y == positive)
    return {
        "predicted_positive_rate": float(flagged.mean()),
        "true_positive_rate": float(flagged[actual].mean()) if actual.any() else None,
    }


def group_metrics(
    schema: Schema,
    model: BaseEstimator,
    test: Split,
    groups: pd.Series,
    rates: bool = False,
) -> list[dict[str, Any]]:
    """Metrics per value of ``groups`` (aligned with ``test``), largest group first.

    A group whose metrics are undefined (a class missing from it) gets ``metrics: null``.
    """
    labels = groups.map(_group_label)
    rows = []
    for value, index in labels.groupby(labels, sort=True).groups.items():
        x, y = test.features.loc[index], test.target.loc[index]
        measured: dict[str, float | None] | None = None
        if _measurable(schema, y):
            measured = {**model_metrics(schema, model, x, y)}
            if rates:
                measured.update(_fairness_rates(schema, model, x, y))
        rows.append({"value": str(value), "n": len(index), "metrics": measured})
    return sorted(rows, key=lambda row: -row["n"])


def gaps(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Largest minus smallest value of each metric across the groups that have it."""
    measured = [row["metrics"] for row in rows if row["metrics"]]
    spread = {}
    for name in measured[0] if measured else {}:
        values = [m[name] for m in measured if m.get(name) is not None]
        if len(values) >= 2:
            spread[name] = float(max(values) - min(values))
    return spread


def _signed_primary(schema: Schema, model: BaseEstimator, x: pd.DataFrame, y: pd.Series) -> float:
    name, higher = primary_metric(schema)
    value = model_metrics(schema, model, x, y, names=[name])[name]
    return value if higher else -value


def feature_importance(
    schema: Schema, model: BaseEstimator, test: Split, seed: int
) -> list[dict[str, Any]]:
    """Permutation importance of each schema feature on ``test`` (at most ``IMPORTANCE_ROWS``
    of it per repeat): the primary-metric drop.

    The features are coerced once first (coercion is idempotent and per value, so permuting
    coerced values is permuting the raw ones): each of the many scorings then skips parsing."""
    result = permutation_importance(
        model,
        coerce_features(test.features, schema),
        test.target,
        scoring=partial(_signed_primary, schema),
        n_repeats=IMPORTANCE_REPEATS,
        max_samples=min(len(test.target), IMPORTANCE_ROWS),
        random_state=seed,
        n_jobs=1,
    )
    rows = [
        {"feature": name, "mean": float(mean), "std": float(std)}
        for name, mean, std in zip(
            test.features.columns, result.importances_mean, result.importances_std, strict=True
        )
    ]
    return sorted(rows, key=lambda row: -row["mean"])


def evaluate_model(
    model: LoadedModel, frame: pd.DataFrame, data: dict[str, Any], candidates: Candidates
) -> tuple[dict[str, Any], Split]:
    """The evaluation report of ``model`` on the test split of ``frame``, and that split; the
    reference models are the project's ``candidates``' baseline and linear family.

    ``data`` describes the dataset (e.g. path and sha256) and is copied into the report.
    """
    config = TrainConfig.model_validate(model.metadata["params"]["config"])
    with threadpool_limits(limits=config.threads):
        return _evaluate(model, frame, data, config, candidates)


def _evaluate(
    model: LoadedModel,
    frame: pd.DataFrame,
    data: dict[str, Any],
    config: TrainConfig,
    candidates: Candidates,
) -> tuple[dict[str, Any], Split]:
    schema, metadata = model.schema, model.metadata
    recorded, params = metadata["metrics"], metadata["params"]
    train, validation, test = split_data(frame, schema, config)
    fit = Split(
        pd.concat([train.features, validation.features]),
        pd.concat([train.target, validation.target]),
    )
    champion = recorded["champion"]
    models = reference_models(schema, config, candidates, params["best_params"], fit)
    models[champion] = model.pipeline
    scores = {
        family: model_metrics(schema, pipeline, test.features, test.target)
        for family, pipeline in models.items()
    }
    rows = frame.loc[test.features.index]
    fairness = {}
    for column in schema.sensitive_columns:
        groups = group_metrics(schema, model.pipeline, test, rows[column], rates=True)
        fairness[column] = {"groups": groups, "gaps": gaps(groups)}
    metric, higher = primary_metric(schema)
    report = {
        "model_version": model.version,
        "problem_type": schema.problem_type,
        "target": schema.target,
        "primary_metric": metric,
        "higher_is_better": higher,
        "champion": champion,
        "data": {**data, "rows": len(frame), "test_rows": len(test.target)},
        "test": scores,
        "lift": {
            reference: lift(scores[champion], scores[reference]) for reference in (BASELINE, LINEAR)
        },
        "cv": recorded.get("cv", {}),
        "validation": recorded.get("validation", {}),
        "sampling": recorded.get("sampling", {}),
        "slices": {
            column: group_metrics(schema, model.pipeline, test, rows[column])
            for column in schema.slice_columns
        },
        "fairness": fairness,
        "leaks": [c.name for c in schema.columns if c.leak],
        "feature_importance": feature_importance(schema, model.pipeline, test, config.random_state),
    }
    return report, test


def write_evaluation(
    model: LoadedModel,
    frame: pd.DataFrame,
    data: dict[str, Any],
    reports: Path,
    model_card: Path,
    package: str,
    candidates: Candidates,
) -> dict[str, Any]:
    """Evaluate, then write metrics.json, evaluation.md, the figures, the model card (of the
    project ``package``) and the design doc's "Current model" section (``design.md`` beside
    the model card).

    The reports are written to a staging folder and moved into ``reports`` together at the end,
    so a failed or killed evaluation leaves the previous ones whole.
    """
    report, test = evaluate_model(model, frame, data, candidates)
    reports.mkdir(parents=True, exist_ok=True)
    atomic.remove_stale(reports)
    staging = atomic.staging_folder(reports / "evaluation")
    try:
        figures = write_figures(
            staging / FIGURES,
            model.schema,
            model.pipeline,
            (test.features, test.target),
            report["feature_importance"],
            report["primary_metric"],
        )
        report["figures"] = {
            name: path.relative_to(staging).as_posix() for name, path in figures.items()
        }
        (staging / METRICS).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        (staging / REPORT).write_text(evaluation_markdown(report), encoding="utf-8")
        atomic.publish(staging, [FIGURES, METRICS, REPORT], reports)
    except BaseException:
        atomic.remove(staging)
        raise
    model_card.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(model_card, model_card_markdown(report, model.metadata, package))
    update_design_doc(model_card.parent / "design.md", report, model.metadata)
    return report
