"""Training: searches, champion choice, reproducibility, and model-quality expectations."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from prodml_runtime.config import ConfigError, TrainConfig, load_config
from prodml_runtime.core.metrics import primary_metric
from prodml_runtime.core.schema import Schema
from prodml_runtime.io import registry
from prodml_runtime.project import PartError, Project
from prodml_runtime.training.config_check import check_config
from prodml_runtime.training.families import Family, grid, loguniform
from prodml_runtime.training.reporting import sampling_lines
from prodml_runtime.training.train import (
    BASELINE,
    Candidates,
    TrainingError,
    TrainingResult,
    build_pipeline,
    make_estimator,
    make_search,
    split_data,
    train,
    tuning_rows,
)
from pydantic import ValidationError
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, StratifiedKFold

from tests import shipped


def _ordinal_score(schema: Schema, model: BaseEstimator, frame: pd.DataFrame) -> np.ndarray:
    """Where each prediction sits on the target's order: P(positive class), expected class
    index (classes in schema order), or the predicted value."""
    if not schema.is_classification:
        return model.predict(frame)
    order = np.array([schema.classes.index(str(c)) for c in model.classes_])
    return model.predict_proba(frame) @ order


def test_model_beats_the_dummy_baseline(schema: Schema, trained: TrainingResult) -> None:
    metric, higher_is_better = primary_metric(schema)
    champion, baseline = trained.test[trained.champion][metric], trained.test[BASELINE][metric]
    assert trained.champion != BASELINE
    assert (champion > baseline) if higher_is_better else (champion < baseline)
    if schema.is_classification:
        assert trained.test[BASELINE][metric] == pytest.approx(0.5)


def test_results_follow_the_registry_contract(trained: TrainingResult) -> None:
    metrics, params = trained.registry_metrics(), trained.registry_params()
    assert set(metrics["test"]) == {BASELINE, "linear", trained.champion}
    names = set(metrics["test"][trained.champion])
    assert all(set(scores) == names for scores in metrics["test"].values())
    assert metrics["primary_metric"] in names and isinstance(metrics["higher_is_better"], bool)
    assert set(metrics["cv"]) == {BASELINE, "linear", "hist_gradient_boosting"}
    for scores in metrics["cv"].values():
        assert set(scores) == names
        assert all(set(s) == {"mean", "std"} and s["std"] >= 0 for s in scores.values())
    assert params["family"] == trained.champion
    assert params["config"]["min_improvement"] == trained.config.min_improvement
    assert set(params["candidates"]["families"]) == {"linear", "hist_gradient_boosting"}


def test_champion_is_the_best_candidate_on_validation(
    schema: Schema, trained: TrainingResult
) -> None:
    metric, higher_is_better = primary_metric(schema)
    scores = {f: s[metric] for f, s in trained.validation.items() if f != BASELINE}
    best = max(scores.values()) if higher_is_better else min(scores.values())
    assert scores[trained.champion] == best


def test_same_data_and_config_give_identical_metrics_and_artifact(
    sample: pd.DataFrame,
    schema: Schema,
    fast_config: TrainConfig,
    candidates: Candidates,
    trained: TrainingResult,
    tmp_path: Path,
    register: Callable[..., str],
) -> None:
    lines: list[str] = []
    again = train(sample, schema, fast_config, candidates, progress=lines.append)
    assert (again.test, again.cv, again.best_params) == (
        trained.test,
        trained.cv,
        trained.best_params,
    )
    hashes = []
    for result, name in ((trained, "first"), (again, "second")):
        root = tmp_path / name
        version = register(result, root)
        hashes.append(registry.read_metadata(root, version)["sha256"])
    assert hashes[0] == hashes[1], "identical fitted pipelines give identical artifacts"
    assert any(line.startswith("search_hist_gradient_boosting: ") for line in lines)
    assert {"refit", "test"} <= set(again.durations)


def test_split_is_deterministic_disjoint_and_stratified(
    sample: pd.DataFrame, schema: Schema, fast_config: TrainConfig
) -> None:
    first, second = split_data(sample, schema, fast_config), split_data(sample, schema, fast_config)
    for a, b in zip(first, second, strict=True):
        assert a.features.index.equals(b.features.index)
    indexes = [set(part.features.index) for part in first]
    assert sum(map(len, indexes)) == len(sample) == len(set().union(*indexes))
    if schema.is_classification:
        overall = sample[schema.target].value_counts(normalize=True)
        test_share = first[2].target.value_counts(normalize=True)
        assert (test_share - overall).abs().max() < 0.03


def test_searches_follow_the_families(
    schema: Schema, fast_config: TrainConfig, candidates: Candidates
) -> None:
    linear = make_search("linear", candidates, schema, fast_config)
    boosting = make_search("hist_gradient_boosting", candidates, schema, fast_config)
    assert isinstance(linear, GridSearchCV) and isinstance(boosting, RandomizedSearchCV)
    assert boosting.n_iter == 2 and boosting.n_jobs == 1
    assert isinstance(linear.cv, StratifiedKFold) == schema.is_classification
    assert linear.cv.n_splits == fast_config.cv_folds


def test_shipped_config_is_valid_and_tunes_every_family(schema: Schema, tmp_path: Path) -> None:
    config = load_config(shipped.train_config(schema, tmp_path))
    families = shipped.families(schema)
    assert set(families) == {"linear", "hist_gradient_boosting", "random_forest"}
    for family, entry in families.items():
        assert entry.search.space, f"{family} has a search space"
    assert 0 < config.test_size < 0.5 and 0 < config.validation_size < 0.5


def test_invalid_configs_are_refused(tmp_path: Path, sample_path: Path) -> None:
    cases = {  # a 0.1 project's model sections, and a typo
        "no_linear.yaml": "models:\n  random_forest: {}\n",
        "grid_range.yaml": "models:\n  linear:\n    space:\n      C: {loguniform: [0.1, 1]}\n",
        "typo.yaml": "cv_fold: 3\n",
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError):
            load_config(tmp_path / name)
    # The same mistakes in models.py.
    no_linear = Project("demo", sample_path, {"random_forest": Family(RandomForestClassifier())})
    with pytest.raises(PartError, match="must include 'linear'"):
        no_linear.parts  # noqa: B018 (the property checks the parts)
    with pytest.raises(ValueError, match="grid search needs a list of values for 'C'"):
        grid(C=loguniform(0.1, 1))  # type: ignore[arg-type]


def test_a_0_1_models_section_is_refused_saying_the_families_moved(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text("cv_folds: 3\nmodels:\n  linear:\n    search: grid\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"models: .*models\.py") as refused:
        load_config(path)
    assert "\n" not in str(refused.value) and str(path) in str(refused.value)
    with pytest.raises(ValidationError, match=r"models\.py since prodml 0\.2"):
        TrainConfig(models={"linear": {"search": "grid"}})  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "is empty"),
        ("# only comments\n", "is empty"),
        ("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n", "aliases"),
        ("random_state: [unclosed\n", "not valid YAML"),
    ],
    ids=["empty", "comments only", "alias bomb", "invalid YAML"],
)
def test_unusable_config_files_are_refused_in_one_line(
    tmp_path: Path, text: str, reason: str
) -> None:
    (tmp_path / "train.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=reason) as refused:
        load_config(tmp_path / "train.yaml")
    assert "\n" not in str(refused.value)


def test_a_config_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    (tmp_path / "train.yaml").write_bytes("random_state: 42 # \u00e9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(tmp_path / "train.yaml")


def _with_space(candidates: Candidates, family: str, space: dict[str, Any]) -> Candidates:
    """``candidates`` with ``family`` searching the grid ``space``."""
    families = dict(candidates.families)
    families[family] = Family(families[family].estimator, grid(**space))
    return Candidates(families, candidates.derived)


def _strength(schema: Schema, candidates: Candidates) -> str:
    """The linear model's regularisation parameter: C (logistic) or alpha (ridge)."""
    linear = make_estimator("linear", candidates, schema, 0)
    return "C" if "C" in linear.get_params() else "alpha"


@pytest.mark.parametrize(
    ("values", "reason"),
    [(["abc"], "'abc' is refused"), ([1.0, -1.0], "-1.0 is refused")],
    ids=["text for a number", "negative"],
)
def test_estimator_values_are_checked_before_the_search(
    schema: Schema,
    sample: pd.DataFrame,
    fast_config: TrainConfig,
    candidates: Candidates,
    values: list[Any],
    reason: str,
) -> None:
    """Settings that pass the families' own validation and would fail inside scikit-learn,
    mid-search, with a long traceback: refused at once, naming the setting."""
    name = _strength(schema, candidates)
    changed = _with_space(candidates, "linear", {name: values})
    with pytest.raises(ConfigError, match=f"models.py 'linear' search {name}: {reason}") as refused:
        check_config(schema, fast_config, changed, sample)
    assert "\n" not in str(refused.value)


def test_an_unknown_estimator_parameter_is_refused(
    schema: Schema, sample: pd.DataFrame, fast_config: TrainConfig, candidates: Candidates
) -> None:
    changed = _with_space(candidates, "linear", {"not_a_parameter": [1]})
    with pytest.raises(ConfigError, match="not_a_parameter: 1 is refused: Invalid parameter"):
        check_config(schema, fast_config, changed, sample)


def test_a_selection_k_above_the_encoded_features_is_refused(
    schema: Schema, sample: pd.DataFrame, fast_config: TrainConfig, candidates: Candidates
) -> None:
    changed = _with_space(candidates, "linear", {"features__select__k": [10_000]})
    raw = fast_config.model_dump()
    raw["features"]["selection"] = {"method": "k_best", "k": 1}
    with pytest.raises(ConfigError, match="k = 10000 but the features encode to"):
        check_config(schema, TrainConfig.model_validate(raw), changed, sample)


def test_the_shipped_config_passes_its_checks(
    schema: Schema, sample: pd.DataFrame, tmp_path: Path
) -> None:
    config = load_config(shipped.train_config(schema, tmp_path))
    check_config(schema, config, Candidates(shipped.families(schema)), sample)


def test_invariance_id_and_ignored_columns_do_not_change_predictions(
    schema: Schema, sample: pd.DataFrame, trained: TrainingResult
) -> None:
    rows = sample.loc[trained.test_split.features.index]
    changed = rows.copy()
    for column in schema.columns:
        if column.role in ("id", "ignored"):
            changed[column.name] = changed[column.name].to_numpy()[::-1]
    np.testing.assert_array_equal(
        _ordinal_score(schema, trained.pipeline, rows),
        _ordinal_score(schema, trained.pipeline, changed),
    )


def test_directional_the_sample_interaction_raises_the_target(
    schema: Schema, sample: pd.DataFrame, trained: TrainingResult
) -> None:
    """data.generate_sample raises the latent score when exactly one of the first two numeric
    features is above its median. Each feature's own effect cancels between the pairs
    (high, low) + (low, high) and (high, high) + (low, low), so the first pair must score
    higher on average."""
    numeric = schema.features_of_type("numeric")[:2]
    if len(numeric) < 2:
        pytest.skip("the interaction needs two numeric features")
    rows = trained.test_split.features
    low, high = sample[numeric].quantile(0.25), sample[numeric].quantile(0.75)

    def mean_score(first: float, second: float) -> float:
        frame = rows.assign(**{numeric[0]: first, numeric[1]: second})
        return float(_ordinal_score(schema, trained.pipeline, frame).mean())

    a, b = numeric
    mixed = mean_score(high[a], low[b]) + mean_score(low[a], high[b])
    aligned = mean_score(high[a], high[b]) + mean_score(low[a], low[b])
    assert mixed > aligned


def test_a_class_too_rare_for_the_protocol_is_refused_naming_it(
    schema: Schema, sample: pd.DataFrame, fast_config: TrainConfig
) -> None:
    if not schema.is_classification:
        pytest.skip("a regression target has no classes")
    rare = schema.classes[-1]
    kept = sample[sample[schema.target].astype(str) != rare]
    frame = pd.concat([kept, sample[sample[schema.target].astype(str) == rare].head(2)])
    with pytest.raises(TrainingError, match=rf"class\(es\) '{rare}' \(2 rows\) .* fewer than"):
        split_data(frame, schema, fast_config)


def test_searches_tune_on_a_sample_of_search_rows_that_keeps_every_class(
    schema: Schema, sample: pd.DataFrame, fast_config: TrainConfig
) -> None:
    train_split, _, _ = split_data(sample, schema, fast_config)
    config = fast_config.model_copy(update={"search_rows": 120})
    tuning = tuning_rows(train_split, schema, config)
    assert tuning.features.index.equals(tuning.target.index)
    assert set(tuning.features.index) <= set(train_split.features.index)
    if schema.is_classification:
        counts = train_split.target.value_counts()
        kept = tuning.target.value_counts().reindex(counts.index, fill_value=0)
        assert (kept >= counts.clip(upper=2 * config.cv_folds)).all(), "every fold sees a class"
        assert len(tuning.target) <= 120 + 2 * config.cv_folds * len(counts)
    else:
        assert len(tuning.target) == 120
    unlimited = fast_config.model_copy(update={"search_rows": None})
    assert tuning_rows(train_split, schema, unlimited) is train_split


def test_large_data_bounds_apply_and_the_evaluation_report_says_so(
    schema: Schema, sample: pd.DataFrame, fast_config: TrainConfig, candidates: Candidates
) -> None:
    forest = RandomForestClassifier if schema.is_classification else RandomForestRegressor
    with_forest = Candidates(
        {
            "linear": candidates.families["linear"],
            "random_forest": Family(forest(n_jobs=1), grid(n_estimators=[5])),
        }
    )
    config = TrainConfig(
        **{
            **fast_config.model_dump(),
            "search_rows": 120,
            "tree_rows": 100,
            "jobs": 2,  # the searches' fits in two processes
        }
    )
    result = train(sample, schema, config, with_forest)
    train_split, _, _ = split_data(sample, schema, config)
    assert result.sampling["training_rows"] == len(train_split.target)
    assert 120 <= result.sampling["tuning_rows"] < len(train_split.target)  # type: ignore[operator]
    assert result.sampling["tree_rows"] == 100
    bounded = build_pipeline("random_forest", with_forest, schema, config, rows=1000)
    assert bounded.named_steps["model"].max_samples == pytest.approx(0.1)
    unbounded = build_pipeline("random_forest", with_forest, schema, config, rows=100)
    assert unbounded.named_steps["model"].max_samples is None
    if result.champion == "random_forest":
        assert result.pipeline.named_steps["model"].max_samples < 1.0
    text = "\n".join(sampling_lines({"sampling": result.sampling}))
    assert f"random sample of {result.sampling['tuning_rows']:,} of the" in text
    assert "at most 100 rows" in text
    assert sampling_lines({"sampling": {}}) == []
