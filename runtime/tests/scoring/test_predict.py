"""Scoring: batch files (chunked, validated, atomic, idempotent, logged) and API records agree."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from prodml_runtime.core.coerce import coerce_features
from prodml_runtime.core.model import LoadedModel, PredictionError, predict_frame
from prodml_runtime.core.schema import Schema
from prodml_runtime.core.validation import row_problems
from prodml_runtime.io.prediction_log import PredictionLog
from prodml_runtime.io.tables import read_table
from prodml_runtime.scoring.log_rows import json_records
from prodml_runtime.scoring.predict import batch_request_id, predict_file

from tests.demo import BadCell
from tests.scoring.support import scoring_input


def _break_rows(frame: pd.DataFrame, cells: list[BadCell]) -> dict[int, str]:
    """Make rows 3, 10 and 11 invalid, with refused values of as many kinds as the schema has;
    return row -> column expected in the reason."""
    broken = {}
    for row, cell in zip((3, 10, 11), cells * 3, strict=False):
        cell.put(frame, [row])
        broken[row] = cell.column
    return broken


def _assert_same_predictions(written: pd.DataFrame, expected: pd.DataFrame, schema: Schema) -> None:
    """Rows scored alike and in order (whether or not the schema has an id to join on)."""
    if schema.is_classification:
        assert written["prediction"].tolist() == expected["prediction"].tolist()
    else:
        np.testing.assert_allclose(written["prediction"], expected["prediction"])


def test_batch_writes_one_row_per_input_with_model_version(
    loaded: LoadedModel, schema: Schema, sample: pd.DataFrame, tmp_path: Path
) -> None:
    source = tmp_path / "input.csv"
    scoring_input(sample, schema, 50).to_csv(source, index=False)
    summary = predict_file(loaded, source, tmp_path / "out" / "predictions.csv")
    written = read_table(tmp_path / "out" / "predictions.csv")
    assert summary.scored == summary.rows == len(written) == 50 and summary.rejected == 0
    if schema.id:
        assert written[schema.id].tolist() == sample[schema.id].head(50).tolist()
    assert (written["model_version"] == loaded.version).all()
    if schema.is_classification:
        probabilities = written[[f"proba_{c}" for c in schema.classes]]
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    _assert_same_predictions(written, predict_frame(loaded, sample.head(50)), schema)
    assert read_table(tmp_path / "out" / "predictions.rejects.csv").empty


def test_chunked_scoring_equals_one_shot_byte_for_byte(
    loaded: LoadedModel,
    schema: Schema,
    sample: pd.DataFrame,
    tmp_path: Path,
    invalid_cells: list[BadCell],
) -> None:
    source = tmp_path / "input.csv"
    frame = scoring_input(sample, schema)
    _break_rows(frame, invalid_cells)
    frame.to_csv(source, index=False)
    for name, chunk_rows in (("one.csv", 10_000), ("many.csv", 7)):
        predict_file(loaded, source, tmp_path / name, chunk_rows=chunk_rows)
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "many.csv").read_bytes()
    rejects = ("one.rejects.csv", "many.rejects.csv")
    assert (tmp_path / rejects[0]).read_bytes() == (tmp_path / rejects[1]).read_bytes()


def test_parquet_and_csv_inputs_and_outputs_agree(
    loaded: LoadedModel, schema: Schema, sample: pd.DataFrame, tmp_path: Path
) -> None:
    frame = scoring_input(sample, schema, 120)
    frame.to_csv(tmp_path / "input.csv", index=False)
    frame.to_parquet(tmp_path / "input.parquet", index=False)
    predict_file(loaded, tmp_path / "input.csv", tmp_path / "from_csv.csv", chunk_rows=50)
    predict_file(loaded, tmp_path / "input.parquet", tmp_path / "out.parquet", chunk_rows=50)
    from_csv = read_table(tmp_path / "from_csv.csv")
    from_parquet = pd.read_parquet(tmp_path / "out.parquet")
    assert list(from_parquet.columns) == list(from_csv.columns)
    if schema.id:
        assert from_parquet[schema.id].tolist() == from_csv[schema.id].tolist()
    if schema.is_classification:
        assert from_parquet["prediction"].tolist() == from_csv["prediction"].tolist()
    np.testing.assert_allclose(
        from_parquet.select_dtypes("number"), from_csv.select_dtypes("number"), rtol=1e-12
    )


def test_bad_rows_go_to_rejects_with_reason_and_good_rows_are_scored(
    loaded: LoadedModel,
    schema: Schema,
    sample: pd.DataFrame,
    tmp_path: Path,
    invalid_cells: list[BadCell],
) -> None:
    frame = scoring_input(sample, schema, 40)
    broken = _break_rows(frame, invalid_cells)
    frame.to_csv(tmp_path / "input.csv", index=False)
    summary = predict_file(
        loaded, tmp_path / "input.csv", tmp_path / "p.csv", rejects_path=tmp_path / "bad.csv"
    )
    assert (summary.rows, summary.scored, summary.rejected) == (40, 37, 3)
    rejects = read_table(tmp_path / "bad.csv")
    assert rejects["row"].tolist() == sorted(broken)
    for row, column in broken.items():
        (reason,) = rejects.loc[rejects["row"] == row, "reason"]
        assert reason.startswith(f"{column}: ")
    scored = read_table(tmp_path / "p.csv")
    kept = [i for i in range(40) if i not in broken]
    if schema.id:
        assert scored[schema.id].tolist() == frame[schema.id].iloc[kept].tolist()
    _assert_same_predictions(scored, predict_frame(loaded, sample.head(40).iloc[kept]), schema)


def test_rerun_is_idempotent_output_bytes_and_log_rows(
    loaded: LoadedModel,
    schema: Schema,
    sample: pd.DataFrame,
    tmp_path: Path,
    invalid_cells: list[BadCell],
) -> None:
    frame = scoring_input(sample, schema, 60)
    broken = _break_rows(frame, invalid_cells)
    frame.to_csv(tmp_path / "input.csv", index=False)
    log = PredictionLog(tmp_path / "log.db")
    first = predict_file(loaded, tmp_path / "input.csv", tmp_path / "p.csv", log=log, chunk_rows=25)
    written = (tmp_path / "p.csv").read_bytes()
    again = predict_file(loaded, tmp_path / "input.csv", tmp_path / "p.csv", log=log)
    assert first.logged == first.scored == 57 and again.logged == 0
    assert log.count() == 57
    assert (tmp_path / "p.csv").read_bytes() == written
    logged = log.read(source="batch")
    assert set(logged["request_id"]) == {batch_request_id(tmp_path / "input.csv", loaded.version)}
    assert sorted(logged["item"]) == [i for i in range(60) if i not in broken]
    outputs = logged["outputs"].iloc[0]
    assert set(logged["inputs"].iloc[0]) == set(schema.feature_names)
    if schema.is_classification:
        assert outputs["prediction"] in schema.classes
        assert sum(outputs["probabilities"].values()) == pytest.approx(1.0)
    else:
        assert np.isfinite(outputs["prediction"])


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_every_input_row_is_in_the_output_or_the_rejects_with_its_row_and_passthrough_keys(
    loaded: LoadedModel,
    schema: Schema,
    sample: pd.DataFrame,
    tmp_path: Path,
    invalid_cells: list[BadCell],
    suffix: str,
) -> None:
    keyed = dataclasses.replace(
        loaded, schema=schema.model_copy(update={"passthrough": ("order ref", "batch")})
    )
    frame = scoring_input(sample, schema, 40)
    frame["order ref"] = [f"ORD-{i}" for i in range(40)]
    frame["batch"] = [i // 10 for i in range(40)]  # numbers: kept as the file types them
    broken = _break_rows(frame, invalid_cells)
    source = tmp_path / "input.csv"
    frame.to_csv(source, index=False)
    if suffix == ".parquet":  # text cells, and the typed numbers of the key
        text = pd.read_csv(source, dtype=str, keep_default_na=False, na_values=[""])
        source = tmp_path / "input.parquet"
        text.assign(batch=frame["batch"]).to_parquet(source, index=False)
    predict_file(keyed, source, tmp_path / f"p{suffix}", rejects_path=tmp_path / "bad.csv")
    scored, rejects = read_table(tmp_path / f"p{suffix}"), read_table(tmp_path / "bad.csv")
    if suffix == ".parquet":
        assert pd.api.types.is_integer_dtype(scored["batch"]), "a typed key keeps its type"
    copied = ["row", *([schema.id] if schema.id else []), "order ref", "batch"]
    assert list(scored.columns[: len(copied)]) == copied, "the row, the id, the keys first"
    assert sorted([*scored["row"], *rejects["row"]]) == list(range(40)), "every row, once"
    assert set(rejects["row"]) == set(broken)
    for written in (scored, rejects):
        keys = written[["order ref", "batch"]].astype(str).to_numpy().tolist()
        expected = frame.loc[written["row"], ["order ref", "batch"]].astype(str)
        assert keys == expected.to_numpy().tolist(), "the keys of each row, as the file had them"


def test_logged_batch_rows_hold_exactly_the_scored_inputs_and_outputs(
    loaded: LoadedModel, schema: Schema, sample: pd.DataFrame, tmp_path: Path
) -> None:
    frame = scoring_input(sample, schema, 80)
    frame.to_csv(tmp_path / "input.csv", index=False)
    log = PredictionLog(tmp_path / "log.db")
    predict_file(loaded, tmp_path / "input.csv", tmp_path / "p.csv", log=log, chunk_rows=30)
    logged = log.read(source="batch").sort_values("item")
    expected = coerce_features(read_table(tmp_path / "input.csv"), schema)
    inputs = pd.DataFrame(logged["inputs"].tolist(), columns=schema.feature_names)
    assert row_problems(inputs, schema).empty, "logged inputs are valid inputs"
    pd.testing.assert_frame_equal(coerce_features(inputs, schema), expected, check_dtype=False)
    scored = pd.read_csv(tmp_path / "p.csv", keep_default_na=False)
    outputs = logged["outputs"].tolist()
    if schema.is_classification:
        assert [o["prediction"] for o in outputs] == scored["prediction"].astype(str).tolist()
        for name in schema.classes:
            assert [o["probabilities"][name] for o in outputs] == scored[f"proba_{name}"].tolist()
    else:
        assert [o["prediction"] for o in outputs] == scored["prediction"].tolist()


def test_json_records_escape_text_and_null_missing_or_non_finite_numbers() -> None:
    frame = pd.DataFrame(
        {
            "text": ['say "hi"', "back\\slash", "line\nbreak", "café", None],
            "number": [0.1 + 0.2, 1e-7, float("nan"), float("inf"), -1e300],
            "flag": [True, False, None, True, False],
            "count": [1, 2, 3, 4, 5],
        }
    )
    assert [json.loads(line) for line in json_records(frame)] == [
        {"text": 'say "hi"', "number": 0.1 + 0.2, "flag": True, "count": 1},
        {"text": "back\\slash", "number": 1e-7, "flag": False, "count": 2},
        {"text": "line\nbreak", "number": None, "flag": None, "count": 3},
        {"text": "café", "number": None, "flag": True, "count": 4},
        {"text": None, "number": -1e300, "flag": False, "count": 5},
    ]
    assert json_records(frame.iloc[:0]) == []


def test_api_records_and_batch_scoring_agree(
    loaded: LoadedModel, schema: Schema, sample: pd.DataFrame
) -> None:
    """Skew check: a record sent as JSON (missing values as null, in any key order) scores
    exactly like the same row from a CSV. (tests/serving/test_fast_path.py checks the
    served fast path against the pipeline.)"""
    rows = sample.head(5)
    names = schema.feature_names
    records = [
        {k: (None if pd.isna(v) else v) for k, v in reversed(row.items()) if k in names}
        for row in rows.to_dict(orient="records")
    ]
    from_json = predict_frame(loaded, pd.DataFrame(records))
    from_csv = predict_frame(loaded, rows)
    pd.testing.assert_frame_equal(from_json, from_csv.reset_index(drop=True))


def test_non_finite_output_is_refused(loaded: LoadedModel, sample: pd.DataFrame) -> None:
    """Monitoring 5: NaN or infinite predictions raise instead of being served."""

    class NanModel:
        classes_ = loaded.pipeline.classes_ if loaded.schema.is_classification else None

        def predict(self, features: pd.DataFrame) -> np.ndarray:
            return np.full(len(features), np.nan)

        def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
            return np.full((len(features), len(self.classes_)), np.nan)

    broken = LoadedModel(NanModel(), loaded.metadata, loaded.schema)
    with pytest.raises(PredictionError, match="non-finite"):
        predict_frame(broken, sample.head(3))
