"""Evaluation: the same test split as training, lift, slices, fairness, figures, model card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from prodml_runtime.config import TrainConfig
from prodml_runtime.core.model import LoadedModel
from prodml_runtime.core.schema import Schema, parse_schema
from prodml_runtime.data.sample import generate_sample
from prodml_runtime.io import registry
from prodml_runtime.training.evaluate import (
    MISSING_GROUP,
    group_metrics,
    write_evaluation,
)
from prodml_runtime.training.train import Candidates, TrainingResult, train

from tests.conftest import Register

CLASSIFICATION_FIGURES = {"confusion_matrix", "roc_curve", "pr_curve", "calibration"}
REGRESSION_FIGURES = {"predicted_vs_actual", "residuals"}


@pytest.fixture(scope="module")
def evaluated(
    loaded: LoadedModel,
    sample: pd.DataFrame,
    candidates: Candidates,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, Any], Path]:
    root = tmp_path_factory.mktemp("evaluation")
    data = {"path": "sample.csv", "sha256": "0" * 64}
    reports, card = root / "reports", root / "docs" / "card.md"
    report = write_evaluation(loaded, sample, data, reports, card, "demo", candidates)
    return report, root


def test_writes_metrics_json_report_figures_and_model_card(
    evaluated: tuple[dict[str, Any], Path], schema: Schema
) -> None:
    report, root = evaluated
    reports = root / "reports"
    assert json.loads((reports / "metrics.json").read_text()) == report
    kinds = CLASSIFICATION_FIGURES if schema.is_classification else REGRESSION_FIGURES
    assert set(report["figures"]) == kinds | {"permutation_importance"}
    markdown = (reports / "evaluation.md").read_text()
    for path in report["figures"].values():
        assert (reports / path).read_bytes().startswith(b"\x89PNG")
        assert f"]({path})" in markdown
    card = (root / "docs" / "card.md").read_text()
    assert report["model_version"] in card and "## Intended use" in card
    assert "## Limitations" in card and "make train" in card


def test_test_metrics_are_those_of_training_on_the_same_split(
    evaluated: tuple[dict[str, Any], Path], trained: TrainingResult
) -> None:
    report, _ = evaluated
    assert report["test"] == trained.test
    assert report["data"]["test_rows"] == len(trained.test_split.target)
    assert report["cv"] == trained.cv


def test_lift_over_baseline_and_linear(evaluated: tuple[dict[str, Any], Path]) -> None:
    report, _ = evaluated
    metric, champion = report["primary_metric"], report["champion"]
    assert report["lift"]["baseline"][metric] > 0
    sign = 1 if report["higher_is_better"] else -1
    expected = sign * (report["test"][champion][metric] - report["test"]["linear"][metric])
    assert report["lift"]["linear"][metric] == pytest.approx(expected)


def test_slices_and_fairness_cover_the_test_split(
    evaluated: tuple[dict[str, Any], Path], schema: Schema
) -> None:
    report, _ = evaluated
    assert list(report["slices"]) == schema.slice_columns
    assert list(report["fairness"]) == schema.sensitive_columns
    views = [*report["slices"].values(), *(v["groups"] for v in report["fairness"].values())]
    for rows in views:
        assert sum(row["n"] for row in rows) == report["data"]["test_rows"]
    for view in report["fairness"].values():
        assert report["primary_metric"] in view["gaps"]


def test_permutation_importance_covers_every_feature(
    evaluated: tuple[dict[str, Any], Path], schema: Schema
) -> None:
    importance = evaluated[0]["feature_importance"]
    assert {row["feature"] for row in importance} == set(schema.feature_names)
    assert importance[0]["mean"] > 0, "the most important feature helps"


def test_groups_include_missing_values_and_tolerate_undefined_metrics(
    loaded: LoadedModel, trained: TrainingResult, schema: Schema
) -> None:
    test = trained.test_split
    groups = pd.Series("big", index=test.features.index, dtype=object)
    groups.iloc[0] = None
    groups.iloc[1] = "tiny"
    rows = {row["value"]: row for row in group_metrics(schema, loaded.pipeline, test, groups)}
    assert rows["big"]["n"] == len(test.target) - 2 and rows["big"]["metrics"]
    assert rows[MISSING_GROUP]["n"] == rows["tiny"]["n"] == 1
    assert rows["tiny"]["metrics"] is None, "one row cannot carry every metric"


def test_columns_left_out_as_leaks_are_listed_in_the_report(
    schema: Schema,
    fast_config: TrainConfig,
    candidates: Candidates,
    tmp_path: Path,
    register: Register,
) -> None:
    """A column inference left out as a leak (``leak: true``) is named in the evaluation."""
    raw = schema.model_dump(mode="json", exclude_none=True)
    raw["columns"].append(
        {"name": "given away", "role": "ignored", "type": "numeric", "leak": True, "nullable": True}
    )
    leaky = parse_schema(raw)
    frame = generate_sample(leaky, rows=400, seed=5)
    linear = Candidates({"linear": candidates.families["linear"]})
    version = register(train(frame, leaky, fast_config, linear), tmp_path / "m", schema=leaky)
    model = registry.load(tmp_path / "m", version)
    data = {"path": "leaky.csv", "sha256": "0" * 64}
    report = write_evaluation(model, frame, data, tmp_path / "r", tmp_path / "card.md", "d", linear)
    assert report["leaks"] == ["given away"]
    text = (tmp_path / "r" / "evaluation.md").read_text(encoding="utf-8")
    assert "## Columns left out as leaks" in text and "`given away`" in text
    assert "Left out as leaks: given away" in (tmp_path / "card.md").read_text(encoding="utf-8")
