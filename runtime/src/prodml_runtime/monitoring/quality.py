"""Live quality from delayed labels: ground truth joined to logged predictions by request id.

A labels file is a CSV with ``request_id``, optionally ``item`` (the record's position in a
batch request or file; 0 when absent) and the target column named as in the schema. The live
primary metric is computed on the champion's labelled predictions and compared with the
champion's offline test metric from its metadata.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import LabelConfig
from ..core.coerce import target_values
from ..core.metrics import binary_metrics, multiclass_metrics, regression_metrics
from ..core.model import LoadedModel
from ..core.schema import Schema
from ..io.parquet_log import open_log
from ..io.tables import codec
from .checks import ALERT, NOT_ENOUGH, OK
from .current import MonitorError


def read_labels(path: Path, schema: Schema) -> pd.DataFrame:
    """request_id, item and the target from a labels CSV (written as the schema says the data
    files are), the target read as training reads it; MonitorError if unusable."""
    target = schema.target
    if not path.is_file():
        raise MonitorError(f"labels file not found: {path}")
    try:
        labels = pd.read_csv(
            path, sep=schema.separator, decimal=schema.decimal, keep_default_na=False,
            na_values=["", *schema.na_values], dtype={"request_id": str, target: object},
            encoding=codec(schema.encoding),
        )  # fmt: skip
    except (ValueError, UnicodeDecodeError) as error:
        raise MonitorError(f"could not read labels {path} as CSV: {error}") from None
    missing = [name for name in ("request_id", target) if name not in labels.columns]
    if missing:
        raise MonitorError(f"labels file {path} is missing column(s): {', '.join(missing)}")
    if "item" not in labels.columns:
        labels["item"] = 0
    labels[target] = target_values(labels[target], schema)
    labels = labels.dropna(subset=["request_id", target])
    labels["item"] = pd.to_numeric(labels["item"], errors="coerce").fillna(0).astype(int)
    unique: pd.DataFrame = labels[["request_id", "item", target]].drop_duplicates(
        ["request_id", "item"]
    )
    return unique


def join_labels(labels: pd.DataFrame, log_path: Path) -> pd.DataFrame:
    """Labelled predictions: the log rows whose (request_id, item) has a label."""
    if not log_path.exists():
        raise MonitorError(f"no prediction log at {log_path} to join the labels to")
    logged = open_log(log_path).read()
    logged = logged[logged["request_id"].isin(set(labels["request_id"]))]
    joined: pd.DataFrame = logged.merge(labels, on=["request_id", "item"], how="inner")
    return joined


def live_metric(model: LoadedModel, joined: pd.DataFrame, metric: str) -> float:
    """The primary metric of the logged outputs against the joined labels."""
    schema = model.schema
    truth = joined[schema.target]
    outputs = joined["outputs"].tolist()
    if not schema.is_classification:
        predicted = np.array([float(o["prediction"]) for o in outputs])
        return regression_metrics(truth.astype(float), predicted, [metric])[metric]
    classes = [str(c) for c in model.pipeline.classes_]
    proba = np.array([[float(o["probabilities"][c]) for c in classes] for o in outputs])
    if schema.problem_type == "binary_classification":
        positive = schema.classes[-1]
        return binary_metrics(truth, proba[:, classes.index(positive)], positive, [metric])[metric]
    return multiclass_metrics(truth, proba, classes, [metric])[metric]


def quality_check(
    model: LoadedModel, labels_path: Path, log_path: Path, config: LabelConfig
) -> dict[str, Any]:
    """Live vs offline primary metric of the champion; status alert on a drop beyond tolerance."""
    metrics = model.metadata.get("metrics", {})
    try:
        metric = metrics["primary_metric"]
        offline = float(metrics["test"][metrics["champion"]][metric])
    except (KeyError, TypeError):
        raise MonitorError(f"model {model.version} has no offline test metric to compare") from None
    higher = bool(metrics.get("higher_is_better", True))
    labels = read_labels(labels_path, model.schema)
    joined = join_labels(labels, log_path)
    champion = joined[joined["model_version"] == model.version]
    result: dict[str, Any] = {
        "check": "live_quality",
        "subject": metric,
        "labels": len(labels),
        "matched": len(joined),
        "matched_champion": len(champion),
        "offline": offline,
        "live": None,
        "relative_drop": None,
        "threshold": config.max_relative_drop,
        "rule": f"relative drop > {config.max_relative_drop:g}",
        "status": NOT_ENOUGH,
        "value": None,
    }
    if len(champion) < config.min_matched:
        result["note"] = f"{len(champion)} labelled predictions, {config.min_matched} needed"
        return result
    try:
        live = live_metric(model, champion, metric)
    except (ValueError, KeyError) as error:  # e.g. a single class among the labels
        result["note"] = f"live {metric} undefined on these labels: {error}"
        return result
    drop = (offline - live) if higher else (live - offline)
    relative = drop / abs(offline) if offline else drop
    breached = relative > config.max_relative_drop
    status = ALERT if breached else OK
    return {**result, "live": live, "relative_drop": relative, "value": relative, "status": status}
