"""Scoring: batch files (chunked, validated, atomic, idempotent, logged) and API records agree."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.core.coerce import coerce_features
from {{ cookiecutter.package_name }}.core.model import LoadedModel, PredictionError, predict_frame
from {{ cookiecutter.package_name }}.core.schema import Schema
from {{ cookiecutter.package_name }}.core.validation import row_problems
from {{ cookiecutter.package_name }}.io.atomic import process_name
from {{ cookiecutter.package_name }}.io.prediction_log import PredictionLog
from {{ cookiecutter.package_name }}.io.tables import TableError, read_table
from {{ cookiecutter.package_name }}.scoring.log_rows import json_records
from {{ cookiecutter.package_name }}.scoring.predict import batch_request_id, predict_file

if TYPE_CHECKING:  # the fixtures' types (conftest is not importable at run time)
    from conftest import BadCell


def _scoring_input(sample: pd.DataFrame, schema: Schema, rows: int = 300) -> pd.DataFrame:
    """Scoring data as it arrives: no target."""
    return sample.head(rows).drop(columns=schema.target)


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
    _scoring_input(sample, schema, 50).to_csv(source, index=False)
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
    frame = _scoring_input(sample, schema)
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
    frame = _scoring_input(sample, schema, 120)
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
    frame = _scoring_input(sample, schema, 40)
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
    frame = _scoring_input(sample, schema, 60)
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
    frame = _scoring_input(sample, schema, 40)
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
    frame = _scoring_input(sample, schema, 80)
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


def test_a_log_failure_ends_the_run_and_leaves_no_output(
    loaded: LoadedModel, schema: Schema, sample: pd.DataFrame, tmp_path: Path
) -> None:
    """The log cannot insert (its table is not a prediction log): the error ends the run."""
    _scoring_input(sample, schema, 100).to_csv(tmp_path / "input.csv", index=False)
    log = PredictionLog(tmp_path / "log.db")
    with sqlite3.connect(log.path) as db:
        db.executescript("DROP TABLE predictions; CREATE TABLE predictions (x)")
    output = tmp_path / "scored.csv"
    with pytest.raises(sqlite3.OperationalError):
        predict_file(loaded, tmp_path / "input.csv", output, log=log, chunk_rows=40)
    assert not list(tmp_path.glob("*scored*"))


def test_a_failure_leaves_no_half_written_output(
    loaded: LoadedModel, schema: Schema, sample: pd.DataFrame, tmp_path: Path
) -> None:
    """The model fails on the second chunk: the previous output stays, no temporary file."""
    _scoring_input(sample, schema, 100).to_csv(tmp_path / "input.csv", index=False)
    (tmp_path / "p.csv").write_text("previous run\n")

    class FailsLater:
        calls = 0
        classes_ = getattr(loaded.pipeline, "classes_", None)

        def _count(self, features: pd.DataFrame) -> None:
            FailsLater.calls += 1
            if FailsLater.calls > 1:
                raise PredictionError("model crashed")

        def predict(self, features: pd.DataFrame) -> np.ndarray:
            self._count(features)
            return loaded.pipeline.predict(features)

        def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
            self._count(features)
            return loaded.pipeline.predict_proba(features)

    broken = LoadedModel(FailsLater(), loaded.metadata, loaded.schema)
    with pytest.raises(PredictionError):
        predict_file(broken, tmp_path / "input.csv", tmp_path / "p.csv", chunk_rows=40)
    assert (tmp_path / "p.csv").read_text() == "previous run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.csv", "p.csv"]


def test_unusable_inputs_fail_with_one_line_reasons(
    loaded: LoadedModel,
    schema: Schema,
    sample: pd.DataFrame,
    tmp_path: Path,
    invalid_cells: list[BadCell],
) -> None:
    frame = _scoring_input(sample, schema, 20)
    frame.to_csv(tmp_path / "input.csv", index=False)
    cases = {
        "must end in .csv or .parquet": (tmp_path / "input.csv", tmp_path / "p.json"),
        "input file not found": (tmp_path / "missing.csv", tmp_path / "p.csv"),
    }
    frame.drop(columns=schema.feature_names[0]).to_csv(tmp_path / "narrow.csv", index=False)
    cases[r"missing column\(s\): " + re.escape(schema.feature_names[0])] = (
        tmp_path / "narrow.csv",
        tmp_path / "p.csv",
    )
    (tmp_path / "garbage.parquet").write_bytes(b"not parquet at all")
    cases["could not read"] = (tmp_path / "garbage.parquet", tmp_path / "p.csv")
    frame.head(0).to_csv(tmp_path / "empty.csv", index=False)
    cases["has no rows"] = (tmp_path / "empty.csv", tmp_path / "p.csv")
    every_row_bad = frame.copy()
    invalid_cells[0].put(every_row_bad, every_row_bad.index)
    every_row_bad.to_csv(tmp_path / "bad.csv", index=False)
    cases["all 20 rows"] = (tmp_path / "bad.csv", tmp_path / "p.csv")
    for message, (source, target) in cases.items():
        with pytest.raises(TableError, match=message) as error:
            predict_file(loaded, source, target)
        assert "\n" not in str(error.value)
    assert not (tmp_path / "p.csv").exists(), "nothing scored, nothing written"
    assert len(read_table(tmp_path / "p.rejects.csv")) == 20, "the rejected rows are kept"


def _logged_rows(path: Path) -> int:
    """Every row in the log file, counted or not (what a rerun could double)."""
    with sqlite3.connect(path) as raw:
        return int(raw.execute("SELECT COUNT(*) FROM predictions").fetchone()[0])


def test_a_file_failing_midway_logs_nothing_and_its_fixed_rerun_logs_once(
    loaded: LoadedModel, schema: Schema, sample: pd.DataFrame, tmp_path: Path
) -> None:
    """Invalid UTF-8 after the first chunks: exit with the reason, no output and no log rows;
    the fixed file (another hash, so another request id) then logs each row once."""
    frame = _scoring_input(sample, schema, 200)
    frame.to_csv(tmp_path / "fixed.csv", index=False)
    text = (tmp_path / "fixed.csv").read_bytes().splitlines(keepends=True)
    text[150] = b"\xff\xfe" + text[150]
    (tmp_path / "broken.csv").write_bytes(b"".join(text))
    log = PredictionLog(tmp_path / "log.db")
    with pytest.raises(TableError, match="could not read"):
        predict_file(loaded, tmp_path / "broken.csv", tmp_path / "p.csv", log=log, chunk_rows=50)
    assert not (tmp_path / "p.csv").exists() and not (tmp_path / "p.rejects.csv").exists()
    assert _logged_rows(log.path) == 0 and log.count() == 0
    summary = predict_file(loaded, tmp_path / "fixed.csv", tmp_path / "p.csv", log=log)
    assert summary.logged == log.count() == _logged_rows(log.path) == summary.scored


def test_unwritable_destinations_are_refused_before_anything_is_written(
    loaded: LoadedModel, schema: Schema, sample: pd.DataFrame, tmp_path: Path
) -> None:
    _scoring_input(sample, schema, 30).to_csv(tmp_path / "input.csv", index=False)
    (tmp_path / "a-directory.csv").mkdir()
    (tmp_path / "a-file").write_text("")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    cases = {
        "is a directory": tmp_path / "a-directory.csv",
        "which is a file": tmp_path / "a-file" / "p.csv",
    }
    if os.geteuid() != 0:  # root writes anywhere
        cases["no permission"] = locked / "p.csv"
    log = PredictionLog(tmp_path / "log.db")
    for message, output in cases.items():
        with pytest.raises(TableError, match=message):
            predict_file(loaded, tmp_path / "input.csv", output, log=log)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a-directory.csv", "a-file", "input.csv", "locked", "log.db", "log.db-shm", "log.db-wal",
    ]  # fmt: skip
    assert log.count() == 0


def test_a_killed_runs_temporary_output_is_removed_by_the_rerun(
    loaded: LoadedModel, schema: Schema, sample: pd.DataFrame, tmp_path: Path
) -> None:
    _scoring_input(sample, schema, 30).to_csv(tmp_path / "input.csv", index=False)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    host = process_name().rpartition("-")[0]
    for name in ("p.csv", "p.rejects.csv"):  # what a kill -9 leaves, named as the writer names it
        (tmp_path / f".{name}.{host}-{dead}-0123abcd.tmp").write_text("half")
    predict_file(loaded, tmp_path / "input.csv", tmp_path / "p.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.csv", "p.csv", "p.rejects.csv"]


def test_a_file_naming_a_column_twice_is_refused(
    loaded: LoadedModel, schema: Schema, sample: pd.DataFrame, tmp_path: Path
) -> None:
    """pandas would read the second copy as ``name.1`` and score with the first, silently."""
    frame = _scoring_input(sample, schema, 20)
    name = schema.feature_names[0]
    text = frame.to_csv(index=False).splitlines()
    values = frame[name].astype(str).tolist()
    lines = [f"{text[0]},{name}"] + [
        f"{row},{value}" for row, value in zip(text[1:], values, strict=True)
    ]
    (tmp_path / "twice.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(TableError, match=re.escape(f"more than once: '{name}'")):
        predict_file(loaded, tmp_path / "twice.csv", tmp_path / "p.csv")
    with pytest.raises(TableError, match="more than once"):
        read_table(tmp_path / "twice.csv")
    assert not (tmp_path / "p.csv").exists()


def test_api_records_and_batch_scoring_agree(
    loaded: LoadedModel, schema: Schema, sample: pd.DataFrame
) -> None:
    """Skew check: a record sent as JSON (missing values as null, in any key order) scores
    exactly like the same row from a CSV. (With an API, tests/api/test_fast_path.py checks the
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
