"""The EDA report: every section and figure, computed from schema roles, without personal data."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from prodml_runtime.cli import command_line
from prodml_runtime.core.dates import input_names
from prodml_runtime.core.schema import Schema
from prodml_runtime.data.eda import (
    correlated_pairs,
    quantile_bins,
    target_indicators,
    variance_inflation,
)
from prodml_runtime.project import Project


@pytest.fixture(scope="module")
def report_dir(
    tmp_path_factory: pytest.TempPathFactory,
    sample: pd.DataFrame,
    schema_path: Path,
    project: Project,
) -> Path:
    """The `eda` command run once on part of the sample."""
    root = tmp_path_factory.mktemp("eda")
    sample.head(400).to_csv(root / "data.csv", index=False)
    args = ["eda", "--schema", str(schema_path), "--data", str(root / "data.csv")]
    result = CliRunner().invoke(command_line(project), [*args, "--output", str(root / "eda")])
    assert result.exit_code == 0, result.output
    return root / "eda"


def test_report_has_every_section_and_its_figures(report_dir: Path, schema: Schema) -> None:
    text = (report_dir / "eda.md").read_text()
    sections = ["Missing values", "Feature distributions", "Correlations", "Target by feature"]
    sections.append("Class balance" if schema.is_classification else "Target distribution")
    for section in sections:
        assert f"## {section}" in text
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    expected = {"missing.png", "target.png"}
    if schema.features_of_type("numeric"):
        expected.add("numeric.png")
    if schema.features_of_type("categorical") or schema.features_of_type("boolean"):
        expected.add("categorical.png")
    assert expected <= set(figures)
    for figure in figures:
        assert (report_dir / figure).read_bytes().startswith(b"\x89PNG")
    for name in input_names(schema):
        assert f"### {name}" in text, "every model input's relationship with the target"
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert all(line == line.rstrip() for line in text.splitlines())


def test_report_never_shows_id_or_ignored_values(
    report_dir: Path, schema: Schema, sample: pd.DataFrame
) -> None:
    text = (report_dir / "eda.md").read_text()
    hidden = [c.name for c in schema.columns if c.role in ("id", "ignored")]
    for value in sample[hidden].head(400).stack().astype(str):
        assert value not in text


def test_correlated_pairs_and_vif_flag_redundant_columns() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=500)
    numeric = pd.DataFrame(
        {"a": base, "b": 2 * base + rng.normal(0, 0.05, 500), "c": rng.normal(size=500)}
    )
    pairs = correlated_pairs(numeric)
    assert pairs[["first", "second"]].values.tolist() == [["a", "b"]]
    vif = variance_inflation(numeric)
    assert vif["a"] > 10 and vif["b"] > 10 and vif["c"] < 1.1


def test_quantile_bins_are_ordered_with_missing_last() -> None:
    values = pd.Series([1.0, 2.0, 3.0, 4.0, np.nan, 100.0])
    bins = quantile_bins(values, bins=2)
    assert list(bins.cat.categories)[-1] == "(missing)"
    assert bins.iloc[4] == "(missing)" and bins.iloc[0] == bins.cat.categories[0]


def test_target_indicators_follow_the_problem_type(schema: Schema, sample: pd.DataFrame) -> None:
    indicators = target_indicators(sample, schema)
    if schema.problem_type == "regression":
        assert indicators.shape[1] == 1
        assert indicators.iloc[:, 0].mean() == pytest.approx(sample[schema.target].mean())
    else:
        expected = 1 if schema.problem_type == "binary_classification" else len(schema.classes)
        assert indicators.shape[1] == expected
        assert set(np.unique(indicators.to_numpy())) <= {0.0, 1.0}
