"""The design doc's "Current model" section is rewritten from an evaluation, and nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prodml_runtime.training.reporting import (
    CURRENT_MODEL_END,
    CURRENT_MODEL_START,
    update_design_doc,
)

#: A design doc as prodml generates it: hand-written sections around the generated one.
DESIGN_DOC = f"""# Design: demo

## Current model

`make train` and `make evaluate` rewrite the lines below from the latest evaluation.

{CURRENT_MODEL_START}
- No model trained yet: run `make train`. Every number is also in [the model card](model-card.md).
{CURRENT_MODEL_END}

## Data and labels

- One feature schema, `configs/schema.yaml`, is the contract.
"""


def a_report(version: str, champion_score: float) -> dict[str, Any]:
    """The parts of an evaluation report (evaluate.evaluate_model) the section reads."""
    return {
        "model_version": version,
        "champion": "hist_gradient_boosting",
        "primary_metric": "roc_auc",
        "higher_is_better": True,
        "test": {
            "baseline": {"roc_auc": 0.5},
            "linear": {"roc_auc": 0.71},
            "hist_gradient_boosting": {"roc_auc": champion_score},
        },
        "lift": {
            "baseline": {"roc_auc": champion_score - 0.5},
            "linear": {"roc_auc": champion_score - 0.71},
        },
        "data": {"path": "data/raw/sample.csv", "sha256": "ab" * 32, "test_rows": 600},
    }


METADATA = {"created_at": "2026-01-02T03:04:05Z", "lineage": {"git_commit": "0123abc"}}


@pytest.fixture
def design_doc(tmp_path: Path) -> Path:
    """A generated project's docs/design.md."""
    path = tmp_path / "design.md"
    path.write_text(DESIGN_DOC, encoding="utf-8")
    return path


def test_the_section_shows_the_evaluated_model(design_doc: Path) -> None:
    # Given the project's design doc, when an evaluation is written into it
    assert update_design_doc(design_doc, a_report("20260102T030405Z", 0.8123), METADATA)

    # Then its section names the version, the metric against both references and the lineage
    text = design_doc.read_text(encoding="utf-8")
    section = text[text.index(CURRENT_MODEL_START) : text.index(CURRENT_MODEL_END)]
    assert "`20260102T030405Z` (hist_gradient_boosting), created 2026-01-02T03:04:05Z" in section
    assert "Test `roc_auc` (higher is better): 0.8123; dummy baseline 0.5000" in section
    assert "(lift 0.3123), linear model 0.7100 (lift 0.1023)" in section
    assert "600 held-out test rows" in section and "`abababababab`" in section
    assert "`0123abc`" in section and "No model trained yet" not in section


def test_only_the_section_changes_and_a_rerun_changes_nothing(design_doc: Path) -> None:
    original = design_doc.read_text(encoding="utf-8")
    before, after = original.split(CURRENT_MODEL_START)[0], original.split(CURRENT_MODEL_END)[1]

    update_design_doc(design_doc, a_report("v1", 0.8), METADATA)
    first = design_doc.read_text(encoding="utf-8")
    update_design_doc(design_doc, a_report("v2", 0.9), METADATA)
    second = design_doc.read_text(encoding="utf-8")

    # The hand-written parts are untouched; the second evaluation replaces the first.
    for text in (first, second):
        assert text.startswith(before + CURRENT_MODEL_START) and text.endswith(
            CURRENT_MODEL_END + after
        )
    assert "`v1`" in first and "`v1`" not in second and "`v2`" in second
    assert second.count(CURRENT_MODEL_START) == 1 and second.count(CURRENT_MODEL_END) == 1

    # The same evaluation again leaves the file as it is.
    mtime = design_doc.stat().st_mtime_ns
    update_design_doc(design_doc, a_report("v2", 0.9), METADATA)
    assert design_doc.read_text(encoding="utf-8") == second
    assert design_doc.stat().st_mtime_ns == mtime


def test_a_doc_without_the_section_or_no_doc_is_left_alone(tmp_path: Path) -> None:
    edited, text = tmp_path / "design.md", "# Design\n\nThe team removed the generated section.\n"
    edited.write_text(text, encoding="utf-8")

    assert not update_design_doc(edited, a_report("v1", 0.8), METADATA)
    assert edited.read_text(encoding="utf-8") == text
    assert not update_design_doc(tmp_path / "missing.md", a_report("v1", 0.8), METADATA)
    assert not (tmp_path / "missing.md").exists()
