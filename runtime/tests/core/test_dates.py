"""Datetime features: read in their format (or ISO 8601), the model's inputs derived from them,
and a pipeline with one saved, loaded and scored like any other (whatever the project's schema)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest
from prodml_runtime.config import TrainConfig
from prodml_runtime.core.coerce import datetimes
from prodml_runtime.core.dates import date_parts, with_parts
from prodml_runtime.core.schema import Schema, parse_schema
from prodml_runtime.core.validation import row_problems
from prodml_runtime.data.sample import generate_sample
from prodml_runtime.io import artifact
from prodml_runtime.training.train import Candidates, build_pipeline, target_series

FEB_4 = pd.Timestamp("2017-02-04")


@pytest.mark.parametrize(
    ("written", "date_format"),
    [
        (["2017-02-04", "2017-02-04T00:00:00Z", "2017-02-04T02:00:00+02:00"], None),
        (["04/02/2017", "2017-02-04"], "%d/%m/%Y"),  # ISO 8601 is always accepted too
        ([20170204, "20170204", 20170204.0], "%Y%m%d"),
        ([dt.date(2017, 2, 4), pd.Timestamp("2017-02-04")], "%d.%m.%Y"),
    ],
)
def test_a_date_reads_the_same_however_it_is_written(
    written: list[Any], date_format: str | None
) -> None:
    read = datetimes(pd.Series(written, dtype=object), date_format)
    assert read.tolist() == [FEB_4] * len(written)


def test_what_is_no_date_in_the_format_is_missing_and_reading_twice_changes_nothing() -> None:
    values = pd.Series(["2017-02-30", "04/02/2017", "soon", None, True, 7.5], dtype=object)
    assert datetimes(values, "%Y%m%d").isna().all()
    once = datetimes(pd.Series(["2017-02-04T10:30:00", None]))
    pd.testing.assert_series_equal(datetimes(once), once)
    zoned = pd.Series(pd.to_datetime(["2017-02-04 12:00"]).tz_localize("Europe/Paris"))
    assert datetimes(zoned).tolist() == [pd.Timestamp("2017-02-04 11:00")], "zoned: to UTC"


def test_derived_inputs_are_year_month_day_of_week_and_age_before_as_of() -> None:
    dates = pd.DataFrame({"d": datetimes(pd.Series(["2017-02-04", None, "2016-12-31T12:00"]))})
    as_of = float((pd.Timestamp("2017-02-14") - pd.Timestamp("1970-01-01")).days)
    parts = date_parts(dates, {"d": as_of})
    assert list(parts.columns) == ["d_year", "d_month", "d_day_of_week", "d_age_days"]
    np.testing.assert_array_equal(parts.iloc[0], [2017, 2, 5, 10])  # a Saturday, 10 days before
    assert parts.iloc[1].isna().all(), "a missing date gives NaN in each input"
    assert parts.iloc[2].tolist() == [2016, 12, 5, 44.5]
    assert list(date_parts(dates, {"d": None}).columns) == ["d_year", "d_month", "d_day_of_week"]


def with_a_date(schema: Schema) -> Schema:
    """The project's schema with one more feature: a date written day first."""
    raw = schema.model_dump(mode="json", exclude_none=True)
    raw["columns"].append(
        {"name": "signed on", "type": "datetime", "format": "%d/%m/%Y", "as_of": "2025-06-30"}
    )
    return parse_schema(raw)


def test_a_datetime_feature_is_validated_trained_on_saved_and_scored(
    schema: Schema, fast_config: TrainConfig, candidates: Candidates
) -> None:
    dated = with_a_date(schema)
    frame = generate_sample(dated, rows=400, seed=3)
    assert datetimes(frame["signed on"], "%d/%m/%Y").notna().all()
    assert row_problems(frame, dated).empty, "the sample's dates are valid"
    bad = frame.head(3).assign(**{"signed on": ["31/02/2025", "2025-06-01", "yesterday"]})
    assert list(row_problems(bad, dated).index) == [0, 2]

    pipeline = build_pipeline("linear", candidates, dated, fast_config)
    pipeline.fit(frame, target_series(frame, dated))
    names = list(pipeline[:-1].get_feature_names_out())
    parts = ["year", "month", "day_of_week", "age_days"]
    assert [n for n in names if "signed on" in n] == [f"datetime__signed on_{p}" for p in parts]
    loaded = artifact.loads(artifact.dumps(pipeline))  # its functions are trusted by name
    scores = "predict_proba" if dated.is_classification else "predict"
    np.testing.assert_array_equal(getattr(loaded, scores)(frame), getattr(pipeline, scores)(frame))
    monitored = with_parts(pipeline[0][0].transform(frame), dated)
    assert {f"signed on_{p}" for p in parts} <= set(monitored.columns)
    assert "signed on" not in monitored.columns, "drift is watched on what the model reads"
