"""Stand-in models for registry tests: distinct bytes each, with the metrics the gate reads."""

from __future__ import annotations

import itertools
from pathlib import Path

from prodml_runtime.core.schema import Schema
from prodml_runtime.io import registry
from sklearn.dummy import DummyRegressor
from sklearn.pipeline import Pipeline

_distinct = itertools.count()


def stand_in(
    root: Path,
    schema: Schema,
    score: float,
    baseline: float = 0.5,
    metric: str = "roc_auc",
    margin: float = 0.05,
) -> str:
    """Store a stand-in model (distinct bytes each call) whose metadata says ``score``."""
    pipeline = Pipeline([("model", DummyRegressor(constant=float(next(_distinct))))])
    return registry.save(
        pipeline,
        root,
        schema=schema,
        metrics={
            "primary_metric": metric,
            "champion": "candidate",
            "test": {"candidate": {metric: score}, "baseline": {metric: baseline}},
        },
        params={"config": {"min_improvement": margin}},
    )
