"""Model families (a project's models.py): any list of them trains; a family that cannot work is
refused before any search, naming it; the model file trusts each family's estimator and the
types it lists, and nothing else; another library's model is one entry (LightGBM)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMClassifier, LGBMRegressor
from prodml_runtime.config import ConfigError, TrainConfig
from prodml_runtime.core.schema import Schema
from prodml_runtime.io import registry
from prodml_runtime.io.run_store import RunStore
from prodml_runtime.jobs import CanaryError, Outputs, TrainOutcome, train_job
from prodml_runtime.project import Project
from prodml_runtime.training.config_check import check_config
from prodml_runtime.training.families import Family, grid, loguniform, randint, randomized
from prodml_runtime.training.train import BASELINE, Candidates, train
from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.svm import LinearSVC

#: What a fitted LightGBM model holds besides its estimator class (reviewed).
LIGHTGBM_TYPES = ("lightgbm.basic.Booster", "collections.OrderedDict")


class NotedLogistic(LogisticRegression):  # type: ignore[misc]
    """A logistic regression that keeps its training rows' count as a Fraction: a type the
    model file does not trust on its own (the test runs on the binary schema: which types a
    family holds is not a matter of the problem type)."""

    def fit(self, x: Any, y: Any, sample_weight: Any = None) -> NotedLogistic:
        super().fit(x, y, sample_weight)
        self.rows_ = Fraction(len(y))
        return self


def _outputs(folder: Path) -> Outputs:
    runs = RunStore.inside("local", "demo", folder)
    return Outputs(folder / "models", folder / "reports", folder / "card.md", runs)


def _train(
    families: dict[str, Family], schema: Schema, sample_path: Path, config: TrainConfig, at: Path
) -> tuple[TrainOutcome, Project, list[str]]:
    """``train_job`` of the demo project with ``families``; its outcome and progress lines."""
    project = Project(name="demo", data=sample_path, models=families)
    lines: list[str] = []
    outcome = train_job(sample_path, schema, config, _outputs(at), project, lines.append)
    return outcome, project, lines


def _weak_linear(schema: Schema) -> Family:
    """A linear family regularised until it predicts little: any real model beats it."""
    if schema.is_classification:
        return Family(LogisticRegression(max_iter=2000), grid(C=[1e-4]))
    return Family(Ridge(), grid(alpha=[1e6]))


def _lightgbm(schema: Schema, trusted: tuple[str, ...] = LIGHTGBM_TYPES) -> Family:
    """The LightGBM family as a project adds it to models.py (one thread: LightGBM chooses
    its own thread count, which the runtime's ``threads`` setting does not reach)."""
    estimator = LGBMClassifier if schema.is_classification else LGBMRegressor
    search = randomized(2, learning_rate=loguniform(0.05, 0.2), num_leaves=[7, 15])
    return Family(estimator(verbose=-1, n_jobs=1), search, trusted=trusted)


def _scores(schema: Schema, model: Any, rows: pd.DataFrame) -> np.ndarray:
    return model.predict_proba(rows) if schema.is_classification else model.predict(rows)


def test_a_family_list_of_the_projects_choosing_trains(
    schema: Schema, sample: pd.DataFrame, fast_config: TrainConfig, candidates: Candidates
) -> None:
    classify = schema.is_classification
    trees = ExtraTreesClassifier if classify else ExtraTreesRegressor
    neighbours = KNeighborsClassifier() if classify else KNeighborsRegressor()
    families = {
        "linear": candidates.families["linear"],
        "extra_trees": Family(trees(n_estimators=30, n_jobs=1), grid(min_samples_leaf=[1, 5])),
        "neighbours": Family(neighbours, randomized(2, n_neighbors=randint(5, 30))),
    }
    result = train(sample, schema, fast_config, Candidates(families))
    assert set(result.cv) == set(result.validation) == {BASELINE, *families}
    assert result.champion in families
    assert type(result.pipeline[-1]) is type(families[result.champion].estimator)
    assert 5 <= result.best_params["neighbours"]["n_neighbors"] < 30
    assert result.best_params["extra_trees"]["min_samples_leaf"] in (1, 5)
    recorded = json.loads(json.dumps(result.registry_params()))["candidates"]["families"]
    assert recorded["neighbours"]["estimator"] == families["neighbours"].type_name
    assert recorded["neighbours"]["space"] == {"n_neighbors": {"randint": [5, 30]}}


def test_a_family_not_suiting_the_problem_type_is_refused_before_any_search(
    schema: Schema, sample_path: Path, fast_config: TrainConfig, tmp_path: Path
) -> None:
    misfits = [LinearSVC(), Ridge()] if schema.is_classification else [LogisticRegression()]
    for misfit in misfits:  # a classifier needs predict_proba; a regressor must not classify
        families = {"linear": _weak_linear(schema), "misfit": Family(misfit)}
        with pytest.raises(ConfigError, match="model family 'misfit'") as refused:
            _train(families, schema, sample_path, fast_config, tmp_path)
        message = str(refused.value)
        assert f"({Family(misfit).type_name}) does not suit" in message
        assert schema.problem_type in message and "models.py" in message
        assert "\n" not in message
    assert not (tmp_path / "models").exists() and not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "search",
    [grid(depth=[3]), randomized(2, depth=loguniform(0.1, 1.0))],
    ids=["grid", "randomized"],
)
def test_a_search_parameter_the_estimator_lacks_is_refused_naming_it(
    schema: Schema,
    sample: pd.DataFrame,
    sample_path: Path,
    fast_config: TrainConfig,
    tmp_path: Path,
    search: Any,
) -> None:
    linear = _weak_linear(schema).estimator
    families = {"linear": _weak_linear(schema), "mine": Family(linear, search)}
    with pytest.raises(ConfigError, match=r"^models\.py 'mine' search depth: .* is refused"):
        check_config(schema, fast_config, Candidates(families), sample)
    lines: list[str] = []
    project = Project(name="demo", data=sample_path, models=families)
    with pytest.raises(ConfigError, match=r"models\.py 'mine' search depth"):
        train_job(sample_path, schema, fast_config, _outputs(tmp_path), project, lines.append)
    assert not [line for line in lines if line.startswith("search_")], "no search started"
    assert not (tmp_path / "models").exists()


@pytest.mark.parametrize("problem", ["binary"], indirect=True)
def test_the_model_file_trusts_each_family_and_its_reviewed_types_only(
    schema: Schema, sample_path: Path, fast_config: TrainConfig, tmp_path: Path
) -> None:
    noted = NotedLogistic(max_iter=2000)
    name = f"{__name__}.NotedLogistic"
    families = {"linear": Family(noted, grid(), trusted=("fractions.Fraction",))}
    outcome, project, _ = _train(families, schema, sample_path, fast_config, tmp_path / "a")
    assert {name, "fractions.Fraction"} <= set(project.parts.trusted)
    assert outcome.promoted, outcome.message
    models = tmp_path / "a" / "models"
    loaded = registry.load(models, outcome.version, trusted=project.parts.trusted)
    assert isinstance(loaded.pipeline[-1], NotedLogistic)
    with pytest.raises(registry.RegistryError, match="refusing to load") as refused:
        registry.load(models, outcome.version)
    assert name in str(refused.value) and "fractions.Fraction" in str(refused.value)

    # The same family without its reviewed type: the canary refuses it, naming that type only.
    unreviewed = {"linear": Family(noted, grid())}
    with pytest.raises(CanaryError, match=r"fractions\.Fraction") as refused:
        _train(unreviewed, schema, sample_path, fast_config, tmp_path / "b")
    assert name not in str(refused.value), "the estimator class is trusted"
    assert registry.current_champion(tmp_path / "b" / "models") is None
    (run,) = RunStore.inside("local", "demo", tmp_path / "b").runs()
    assert run["status"] == "canary_failed"


def test_lightgbm_is_one_family_entry(
    schema: Schema,
    sample: pd.DataFrame,
    sample_path: Path,
    fast_config: TrainConfig,
    tmp_path: Path,
) -> None:
    families = {"linear": _weak_linear(schema), "lightgbm": _lightgbm(schema)}
    outcome, project, lines = _train(families, schema, sample_path, fast_config, tmp_path)
    assert any(line.startswith("search_lightgbm: ") for line in lines)
    assert outcome.result.champion == "lightgbm" and outcome.promoted, outcome.message
    assert outcome.report is not None and outcome.report["champion"] == "lightgbm"
    loaded = registry.load(tmp_path / "models", outcome.version, trusted=project.parts.trusted)
    assert registry.champion(tmp_path / "models") == outcome.version
    rows = sample[schema.feature_names].head(200)
    np.testing.assert_array_equal(
        _scores(schema, loaded.pipeline, rows), _scores(schema, outcome.result.pipeline, rows)
    )


@pytest.mark.parametrize("problem", ["binary"], indirect=True)
def test_lightgbm_without_its_reviewed_types_is_refused_by_the_canary(
    schema: Schema, sample_path: Path, fast_config: TrainConfig, tmp_path: Path
) -> None:
    families = {"linear": _weak_linear(schema), "lightgbm": _lightgbm(schema, trusted=())}
    with pytest.raises(CanaryError, match="canary check failed") as refused:
        _train(families, schema, sample_path, fast_config, tmp_path)
    message = str(refused.value)
    assert all(name in message for name in LIGHTGBM_TYPES), message
    assert "LGBMClassifier" not in message and "\n" not in message
    assert registry.current_champion(tmp_path / "models") is None
