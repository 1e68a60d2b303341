"""Model staleness: how much of its edge over the baseline a model keeps on later data.

The sample has no time column, so row order (ids are sequential) stands for time: the model is
trained on the earliest 60% of rows and scored on the rest. A sample drawn with another seed
stands for a changed process (new category mixes and feature effects).
"""

from __future__ import annotations

import pandas as pd
from prodml_runtime.config import TrainConfig
from prodml_runtime.core.schema import Schema
from prodml_runtime.data.sample import generate_sample
from prodml_runtime.training.train import Candidates, target_series, train
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.metrics import get_scorer

SCORERS = {
    "binary_classification": "roc_auc",
    "multiclass_classification": "roc_auc_ovr",
    "regression": "neg_root_mean_squared_error",
}


def test_edge_over_baseline_on_later_and_shifted_data(
    schema: Schema, sample: pd.DataFrame, fast_config: TrainConfig, candidates: Candidates
) -> None:
    """Model 4: the drop on later data is small; a changed process costs clearly more."""
    if schema.id:
        assert sample[schema.id].is_monotonic_increasing, "row order stands for time"
    cut = int(0.6 * len(sample))
    early, later = sample.iloc[:cut], sample.iloc[cut:]
    result = train(early, schema, fast_config, candidates)
    dummy = DummyClassifier(strategy="prior") if schema.is_classification else DummyRegressor()
    dummy.fit(early[schema.feature_names], target_series(early, schema))
    scorer = get_scorer(SCORERS[schema.problem_type])

    def edge(frame: pd.DataFrame) -> float:
        x, y = frame[schema.feature_names], target_series(frame, schema)
        return scorer(result.pipeline, x, y) - scorer(dummy, x, y)

    held_out = result.test_split.features.join(result.test_split.target)
    in_period = edge(held_out)
    drop_later = in_period - edge(later)
    drop_shifted = in_period - edge(generate_sample(schema, rows=500, seed=1234))
    report = f"edge {in_period:.4f}; drop: later rows {drop_later:.4f}, shifted {drop_shifted:.4f}"
    assert in_period > 0, report
    assert drop_later < 0.5 * in_period, f"a model this stale needs retraining: {report}"
    assert drop_shifted > max(drop_later, 0.0), f"a changed process went unnoticed: {report}"
