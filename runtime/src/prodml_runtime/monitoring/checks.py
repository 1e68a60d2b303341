"""The data checks: the champion's reference profile against the current data, with thresholds.

PSI and KS per numeric feature, PSI and chi-square per categorical or boolean feature,
missing-rate change, schema-violation rate, prediction drift and model age (``monitor_job``
adds live quality from delayed labels), then the project's own checks (its ``checks.py``: each
a ``Check``, a function of the current tallies, the reference profile, the model and the
thresholds that returns report rows made with ``result``). Each check is ok, alert, or
not_enough_data (fewer than ``min_rows`` values: not judged). The thresholds are
``config.MonitorConfig``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..config import MonitorConfig
from ..core import clock
from ..core.errors import ProjectError
from ..core.model import LoadedModel
from . import drift
from .tally import Current, Tally

OK, ALERT, NOT_ENOUGH = "ok", "alert", "not_enough_data"
STATUSES = (OK, ALERT, NOT_ENOUGH)
#: A project's own check: (current, reference, model, thresholds) -> report rows (``result``).
Check = Callable[[Current, dict[str, Any], LoadedModel, MonitorConfig], list[dict[str, Any]]]
#: The keys of a report row, and the types its value and threshold may have.
ROW = ("check", "subject", "value", "threshold", "rule", "status")
REAL = (int, float, np.integer, np.floating)


class CheckError(ProjectError, TypeError):
    """A project's own check returned something other than report rows."""


def result(
    check: str,
    subject: str,
    value: float,
    threshold: float,
    *,
    enough: bool,
    breached: bool | None = None,
    rule: str | None = None,
) -> dict[str, Any]:
    """One row of the report. It alerts when ``breached`` (default: value > threshold), as
    ``rule`` says, unless there is not ``enough`` data to judge."""
    breached = value > threshold if breached is None else breached
    status = (ALERT if breached else OK) if enough else NOT_ENOUGH
    return {
        "check": check,
        "subject": subject,
        "value": value,
        "threshold": threshold,
        "rule": rule or f"> {threshold:g}",
        "status": status,
    }


def _bins(reference: dict[str, Any]) -> list[str]:
    """The labels of a reference's bins (or categories, then "(other)")."""
    if reference["kind"] == "numeric":
        bounds = ["-inf", *(f"{e:.4g}" for e in reference["edges"]), "inf"]
        return [f"[{low}, {high})" for low, high in itertools.pairwise(bounds)]
    return [*reference["frequencies"], "(other)"]


def reference_shares(reference: dict[str, Any]) -> np.ndarray:
    """A profile's shares per bin (or category, then other), as a tally's ``bins`` are kept."""
    if reference["kind"] == "numeric":
        return np.asarray(reference["proportions"], dtype=float)
    return np.append(np.asarray(list(reference["frequencies"].values()), dtype=float), 0.0)


def compare_feature(
    name: str, reference: dict[str, Any], current: Tally, config: MonitorConfig
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The checks of one feature, and the details (shares per bin) for the report."""
    enough = current.present >= config.min_rows
    missing = current.missing / current.values if current.values else 0.0
    change = abs(missing - reference["missing_rate"])
    checks = [
        result(
            "missing_rate_change",
            name,
            change,
            config.missing_rate_change,
            enough=current.values >= config.min_rows,
        )
    ]
    shares = drift.shares(current.bins)
    expected = reference_shares(reference)
    value = drift.psi(expected, shares)
    checks.append(result("psi", name, value, config.psi, enough=enough))
    details: dict[str, Any] = {
        "kind": reference["kind"],
        "rows": current.values,
        "missing_rate": {"reference": reference["missing_rate"], "current": missing},
        "bins": _bins(reference),
        "reference_shares": expected.tolist(),
        "current_shares": shares.tolist(),
        "psi": value,
    }
    if reference["kind"] == "numeric" and current.present and current.ks is not None:
        statistic, pvalue = drift.ks_test(reference["quantiles"], current.ks)
        test, size, prefix = "ks", statistic, ""
        limit, p_limit = config.ks_statistic, config.ks_pvalue
        details["ks"] = {"statistic": statistic, "pvalue": pvalue}
    elif reference["kind"] == "categorical":
        statistic, pvalue, size = drift.chi_square(expected, current.bins)
        test, prefix = "chi2", "V "
        limit, p_limit = config.chi2_effect, config.chi2_pvalue
        details["chi2"] = {"statistic": statistic, "pvalue": pvalue, "cramers_v": size}
    else:
        return checks, details
    rule = f"{prefix}> {limit:g} and p < {p_limit:g} (p = {pvalue:.2g})"
    breached = pvalue < p_limit and size > limit  # a significant shift, and a large one
    checks.append(result(test, name, size, limit, enough=enough, breached=breached, rule=rule))
    return checks, details


def model_age_days(metadata: dict[str, Any], now: float | None = None) -> float:
    """Days since the model was trained (``created_at`` in its metadata)."""
    return clock.days_since(metadata["created_at"], now)


def compare_prediction(
    reference: dict[str, Any], predictions: Tally, config: MonitorConfig
) -> tuple[dict[str, Any], dict[str, Any]]:
    """PSI of the champion's prediction distribution (classes, or value bins) vs training."""
    current = drift.shares(predictions.bins)
    expected = reference_shares(reference)
    value = drift.psi(expected, current)
    enough = predictions.present >= config.min_rows
    check = result("prediction_psi", "prediction", value, config.prediction_psi, enough=enough)
    details = {
        "kind": reference["kind"],
        "rows": predictions.present,
        "bins": _bins(reference),
        "reference_shares": expected.tolist(),
        "current_shares": current.tolist(),
        "psi": value,
    }
    return check, details


def own_checks(
    checks: Sequence[Check],
    current: Current,
    reference: dict[str, Any],
    model: LoadedModel,
    config: MonitorConfig,
) -> list[dict[str, Any]]:
    """The rows of the project's own checks; CheckError naming a check that returns anything
    but a list of report rows (``result``'s keys, a status, numbers for value and threshold)."""
    rows: list[dict[str, Any]] = []
    for check in checks:
        name = getattr(check, "__name__", repr(check))
        rows += _report_rows(name, check(current, reference, model, config))
    return rows


def _report_rows(name: str, found: object) -> list[dict[str, Any]]:
    """What check ``name`` returned, as report rows; CheckError if it is anything else."""
    listed: list[Any] = found if isinstance(found, list) else [found]
    wrong = [row for row in listed if not _is_row(row)]
    if wrong or not isinstance(found, list):
        text = " ".join(repr(wrong[0] if wrong else found).split())
        raise CheckError(
            f"monitoring check {name} (checks.py) must return a list of rows made by "
            f"result(); it returned {text:.200}"
        )
    numbers = ("value", "threshold")  # numpy numbers too, as JSON numbers
    return [{**row, **{key: float(row[key]) for key in numbers}} for row in listed]


def _is_row(row: object) -> bool:
    """Whether ``row`` is a report row, as ``result`` makes them."""
    if not isinstance(row, dict) or set(row) != set(ROW) or row["status"] not in STATUSES:
        return False
    numbers = (row["value"], row["threshold"])
    texts = (row["check"], row["subject"], row["rule"])
    real = all(isinstance(v, REAL) and not isinstance(v, bool) for v in numbers)
    return real and all(isinstance(text, str) for text in texts)


def data_checks(
    model: LoadedModel, reference: dict[str, Any], current: Current, config: MonitorConfig
) -> dict[str, Any]:
    """Every check except live quality: the report's ``checks``, ``features`` and ``prediction``."""
    checks: list[dict[str, Any]] = []
    features: dict[str, Any] = {}
    for name, profile in reference["features"].items():
        found, features[name] = compare_feature(name, profile, current.features[name], config)
        checks += found
    check, prediction = compare_prediction(reference["prediction"], current.prediction, config)
    checks.append(check)
    rate = current.violations / current.rows if current.rows else 0.0
    enough = current.rows >= config.min_rows
    checks.append(result("violation_rate", "rows", rate, config.violation_rate, enough=enough))
    age = model_age_days(model.metadata)
    checks.append(result("model_age_days", "model", age, config.max_model_age_days, enough=True))
    return {"checks": checks, "features": features, "prediction": prediction, "model_age": age}
