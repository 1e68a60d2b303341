"""Batch scoring's failures: a one-line reason, no half-written output, nothing logged twice,
and nothing left of a killed run."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from prodml_runtime.core.model import LoadedModel, PredictionError
from prodml_runtime.core.schema import Schema
from prodml_runtime.io.atomic import process_name
from prodml_runtime.io.prediction_log import PredictionLog
from prodml_runtime.io.tables import TableError, read_table
from prodml_runtime.scoring.predict import predict_file

from tests.demo import BadCell
from tests.scoring.support import scoring_input


def test_a_log_failure_ends_the_run_and_leaves_no_output(
    loaded: LoadedModel, schema: Schema, sample: pd.DataFrame, tmp_path: Path
) -> None:
    """The log cannot insert (its table is not a prediction log): the error ends the run."""
    scoring_input(sample, schema, 100).to_csv(tmp_path / "input.csv", index=False)
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
    scoring_input(sample, schema, 100).to_csv(tmp_path / "input.csv", index=False)
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
    frame = scoring_input(sample, schema, 20)
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
    frame = scoring_input(sample, schema, 200)
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
    scoring_input(sample, schema, 30).to_csv(tmp_path / "input.csv", index=False)
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
    scoring_input(sample, schema, 30).to_csv(tmp_path / "input.csv", index=False)
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
    frame = scoring_input(sample, schema, 20)
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
