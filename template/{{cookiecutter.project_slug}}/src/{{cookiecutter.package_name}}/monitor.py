"""Monitoring: the champion's reference profile against recent predictions, with thresholds.

``reference_profile`` runs at training time and is stored with the model version
(``reference.json``), so a rollback also rolls back the reference. ``monitor_job`` compares it
with the prediction log (or a batch file): PSI and KS per numeric feature, PSI and chi-square
per categorical or boolean feature, missing-rate change, schema-violation rate, prediction
drift and model age; with ``labels``, live quality against the offline test metric. Each check
is ok, alert, or not_enough_data (fewer than ``min_rows`` values: not judged).
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from sklearn.pipeline import Pipeline

from . import drift
from .config import ConfigError, read_model
from .predict import canonical_features, predict_frame, row_problems
from .prediction_log import PredictionLog
from .registry import LoadedModel
from .schema import Schema
from .tables import columns, read_chunks

DEFAULT_CONFIG_PATH = Path("configs/monitor.yaml")
OK, ALERT, NOT_ENOUGH = "ok", "alert", "not_enough_data"
FROZEN = ConfigDict(frozen=True, extra="forbid")


class MonitorError(RuntimeError):
    """Nothing to monitor (no logged predictions) or an unusable input or config."""


class LabelConfig(BaseModel):
    """Delayed labels: how many must match, and the largest tolerated quality drop."""

    model_config = FROZEN

    min_matched: int = Field(50, ge=1, description="labelled predictions needed to judge")
    max_relative_drop: float = Field(
        0.05, gt=0.0, lt=1.0, description="alert when live quality is this much worse (share)"
    )


class MonitorConfig(BaseModel):
    """Alert thresholds (``configs/monitor.yaml``)."""

    model_config = FROZEN

    min_rows: int = Field(200, ge=1, description="fewer current values: drift not judged")
    psi: float = Field(0.25, gt=0.0, description="feature PSI above this: alert")
    ks_pvalue: float = Field(0.01, gt=0.0, lt=1.0)
    ks_statistic: float = Field(0.1, gt=0.0, le=1.0, description="KS alerts need both")
    chi2_pvalue: float = Field(0.01, gt=0.0, lt=1.0)
    chi2_effect: float = Field(0.1, gt=0.0, le=1.0, description="Cramér's V; chi2 needs both")
    missing_rate_change: float = Field(0.1, gt=0.0, le=1.0, description="absolute change")
    violation_rate: float = Field(0.05, ge=0.0, le=1.0, description="rows breaking the schema")
    prediction_psi: float = Field(0.25, gt=0.0, description="prediction distribution PSI")
    max_model_age_days: float = Field(180.0, gt=0.0)
    labels: LabelConfig = Field(default_factory=LabelConfig)


def load_monitor_config(path: Path | str = DEFAULT_CONFIG_PATH) -> MonitorConfig:
    """Read and validate the thresholds; MonitorError with a one-line reason if invalid."""
    try:
        return read_model(path, MonitorConfig, "monitoring config")
    except ConfigError as error:
        raise MonitorError(str(error)) from None


def _profile(values: pd.Series, kind: str) -> dict[str, Any]:
    if kind == "numeric":
        return drift.numeric_profile(values)
    return drift.categorical_profile(values)


def reference_profile(pipeline: Pipeline, schema: Schema, frame: pd.DataFrame) -> dict[str, Any]:
    """The training data's profile: every feature, and the model's predictions on it."""
    features = canonical_features(frame, schema)
    scorer = LoadedModel(pipeline, {"version": "reference"}, schema)
    predictions = predict_frame(scorer, features)["prediction"]
    kind = "categorical" if schema.is_classification else "numeric"
    return {
        "rows": len(frame),
        "features": {c.name: _profile(features[c.name], c.type) for c in schema.features},
        "prediction": _profile(predictions, kind),
    }


@dataclass(frozen=True)
class Current:
    """The data being judged: valid rows' features, the champion's predictions, row counts."""

    source: str
    features: pd.DataFrame
    predictions: pd.Series
    rows: int
    violations: int


def current_from_log(log_path: Path, model: LoadedModel, since: str | None) -> Current:
    """Logged predictions (all versions' inputs; the champion's outputs) since ``since``."""
    if not log_path.is_file():
        raise MonitorError(
            f"no prediction log at {log_path}: run `make predict` or serve some traffic first"
        )
    logged = PredictionLog(log_path).read(since=since)
    if logged.empty:
        window = f" since {since}" if since else ""
        raise MonitorError(
            f"no logged predictions in {log_path}{window}: run `make predict` or serve some "
            "traffic first"
        )
    schema = model.schema
    inputs = pd.DataFrame.from_records(logged["inputs"].tolist(), columns=schema.feature_names)
    problems = row_problems(inputs, schema)
    valid = inputs.drop(index=problems.index)
    champion = logged["model_version"] == model.version
    predictions = pd.Series([o.get("prediction") for o in logged.loc[champion, "outputs"]])
    source = f"prediction log {log_path}" + (f" since {since}" if since else "")
    return Current(
        source, canonical_features(valid, schema), predictions, len(logged), len(problems)
    )


def current_from_file(path: Path, model: LoadedModel, chunk_rows: int = 50_000) -> Current:
    """A batch file, validated and scored with the champion in chunks (nothing logged)."""
    schema = model.schema
    missing = [name for name in schema.feature_names if name not in columns(path)]
    if missing:
        raise MonitorError(f"{path} is missing column(s): {', '.join(missing)}")
    features, predictions, rows, violations = [], [], 0, 0
    for chunk in read_chunks(path, chunk_rows, schema.feature_names):
        rows += len(chunk)
        problems = row_problems(chunk, schema)
        violations += len(problems)
        valid = canonical_features(chunk.drop(index=problems.index), schema)
        features.append(valid)
        if len(valid):
            predictions.append(predict_frame(model, valid)["prediction"])
    if rows == 0:
        raise MonitorError(f"{path} has no rows")
    frame = pd.concat(features)
    scored = pd.concat(predictions) if predictions else pd.Series(dtype=float)
    return Current(f"file {path}", frame, scored.reset_index(drop=True), rows, violations)


def _check(
    check: str,
    subject: str,
    value: float | None,
    threshold: float,
    breached: bool,
    enough: bool,
    rule: str | None = None,
) -> dict[str, Any]:
    """One row of the report: ``rule`` says when it alerts (default: value > threshold)."""
    status = (ALERT if breached else OK) if enough else NOT_ENOUGH
    return {
        "check": check,
        "subject": subject,
        "value": value,
        "threshold": threshold,
        "rule": rule or f"> {threshold:g}",
        "status": status,
    }


def _shares(reference: dict[str, Any], values: pd.Series) -> tuple[list[str], np.ndarray]:
    """Bin (or category) labels, and the current values' shares in the reference's bins."""
    if reference["kind"] == "numeric":
        edges = reference["edges"]
        numbers = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
        bounds = ["-inf", *(f"{e:.4g}" for e in edges), "inf"]
        labels = [f"[{low}, {high})" for low, high in zip(bounds, bounds[1:], strict=False)]
        return labels, drift.bin_shares(numbers, edges)
    categories = list(reference["frequencies"])
    return [*categories, "(other)"], drift.category_shares(values, categories)


def _reference_shares(reference: dict[str, Any]) -> np.ndarray:
    if reference["kind"] == "numeric":
        return np.asarray(reference["proportions"], dtype=float)
    return np.append(np.asarray(list(reference["frequencies"].values()), dtype=float), 0.0)


def compare_feature(
    name: str, reference: dict[str, Any], values: pd.Series, config: MonitorConfig
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The checks of one feature, and the details (shares per bin) for the report."""
    present = values.dropna()
    enough = len(present) >= config.min_rows
    missing = float(values.isna().mean()) if len(values) else 0.0
    change = abs(missing - reference["missing_rate"])
    checks = [
        _check(
            "missing_rate_change",
            name,
            change,
            config.missing_rate_change,
            change > config.missing_rate_change,
            len(values) >= config.min_rows,
        )
    ]
    labels, current = _shares(reference, present)
    expected = _reference_shares(reference)
    value = drift.psi(expected, current)
    checks.append(_check("psi", name, value, config.psi, value > config.psi, enough))
    details: dict[str, Any] = {
        "kind": reference["kind"],
        "rows": int(len(values)),
        "missing_rate": {"reference": reference["missing_rate"], "current": missing},
        "bins": labels,
        "reference_shares": expected.tolist(),
        "current_shares": current.tolist(),
        "psi": value,
    }
    if reference["kind"] == "numeric" and len(present) and reference["quantiles"]:
        statistic, pvalue = drift.ks_test(reference["quantiles"], present.to_numpy(dtype=float))
        breached = pvalue < config.ks_pvalue and statistic > config.ks_statistic
        rule = f"> {config.ks_statistic:g} and p < {config.ks_pvalue:g} (p = {pvalue:.2g})"
        checks.append(_check("ks", name, statistic, config.ks_statistic, breached, enough, rule))
        details["ks"] = {"statistic": statistic, "pvalue": pvalue}
    elif reference["kind"] == "categorical":
        statistic, pvalue, effect = drift.chi_square(expected, current * len(present))
        breached = pvalue < config.chi2_pvalue and effect > config.chi2_effect
        rule = f"V > {config.chi2_effect:g} and p < {config.chi2_pvalue:g} (p = {pvalue:.2g})"
        checks.append(_check("chi2", name, effect, config.chi2_effect, breached, enough, rule))
        details["chi2"] = {"statistic": statistic, "pvalue": pvalue, "cramers_v": effect}
    return checks, details


def model_age_days(metadata: dict[str, Any], now: float | None = None) -> float:
    """Days since the model was trained (``created_at`` in its metadata)."""
    created = calendar.timegm(time.strptime(metadata["created_at"], "%Y-%m-%dT%H:%M:%SZ"))
    return ((time.time() if now is None else now) - created) / 86400.0


def compare_prediction(
    reference: dict[str, Any], predictions: pd.Series, config: MonitorConfig
) -> tuple[dict[str, Any], dict[str, Any]]:
    """PSI of the champion's prediction distribution (classes, or value bins) vs training."""
    present = predictions.dropna()
    labels, current = _shares(reference, present)
    expected = _reference_shares(reference)
    value = drift.psi(expected, current)
    enough = len(present) >= config.min_rows
    check = _check(
        "prediction_psi",
        "prediction",
        value,
        config.prediction_psi,
        value > config.prediction_psi,
        enough,
    )
    details = {
        "kind": reference["kind"],
        "rows": int(len(present)),
        "bins": labels,
        "reference_shares": expected.tolist(),
        "current_shares": current.tolist(),
        "psi": value,
    }
    return check, details


def data_checks(
    model: LoadedModel, reference: dict[str, Any], current: Current, config: MonitorConfig
) -> dict[str, Any]:
    """Every check except live quality: the report's ``checks``, ``features`` and ``prediction``."""
    checks: list[dict[str, Any]] = []
    features: dict[str, Any] = {}
    for column in model.schema.features:
        found, features[column.name] = compare_feature(
            column.name, reference["features"][column.name], current.features[column.name], config
        )
        checks += found
    check, prediction = compare_prediction(reference["prediction"], current.predictions, config)
    checks.append(check)
    rate = current.violations / current.rows if current.rows else 0.0
    checks.append(
        _check(
            "violation_rate",
            "rows",
            rate,
            config.violation_rate,
            rate > config.violation_rate,
            current.rows >= config.min_rows,
        )
    )
    age = model_age_days(model.metadata)
    checks.append(
        _check(
            "model_age_days",
            "model",
            age,
            config.max_model_age_days,
            age > config.max_model_age_days,
            True,
        )
    )
    return {"checks": checks, "features": features, "prediction": prediction, "model_age": age}
