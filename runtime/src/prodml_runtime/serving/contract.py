"""The API contract: request models generated from the schema, and the response models built
around the project's ``Answer`` (its ``api.py``).

Both web servers validate requests with ``request_model(schema)`` and ``batch_model(...)``, so
the API accepts exactly what the schema allows of the features: numeric ranges (finite numbers,
or numeric text; not booleans), known categories, booleans, dates in the column's format,
required vs nullable fields; the model's JSON Schema says which JSON values each feature takes
(``texts``), so that the published OpenAPI document and the server agree.
Other fields (an id, an ignored column, anything else) are accepted and ignored, as batch
scoring ignores such columns, and the response names them (``ignored``).
``errors`` turns a validation failure into the field-level ``detail`` list both servers return.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    WithJsonSchema,
    create_model,
    field_validator,
)
from pydantic_core import PydanticCustomError

if sys.version_info >= (3, 11):
    from typing import Self
else:  # pragma: no cover (Python 3.10)
    from typing_extensions import Self

from ..core.coerce import (
    boolean_value,
    category_lookup,
    category_text,
    datetimes,
    number_text,
    numbers,
)
from ..core.schema import Column, Schema
from ..core.validation import expectation
from ..data.sample import example_record
from ..io.prediction_log import to_json
from .texts import (
    BOOLEAN_PATTERN,
    NUMERIC_TEXT,
    boolean_schema,
    category_pattern,
    category_schema,
    date_schema,
    numeric_schema,
    read_text,
)

REQUEST_CONFIG = ConfigDict(extra="allow", allow_inf_nan=False, frozen=True)

#: What a response's ``ignored`` lists.
IGNORED = "fields sent that are not features: accepted, and not used by the model"
#: The error type of a batch with more records than allowed (answered with 413, not 422).
TOO_MANY_RECORDS = "too_many_records"


class Answer(BaseModel):
    """The API's answer for one record: the label or value and, for classification, each
    class's probability.

    A project adds a field by subclassing it (``api.py``): a ``computed_field`` computed from
    the prediction, or a field that ``of`` fills from the record too. Both endpoints build
    every answer through the subclass (validated) and document it in the OpenAPI schema.
    """

    prediction: str | float
    probabilities: dict[str, float] | None = None

    @classmethod
    def of(cls, record: Mapping[str, Any], scored: Mapping[str, Any]) -> Self:
        """The answer for ``record`` (its validated features) given what the model ``scored``
        (``prediction``, and ``probabilities`` for classification)."""
        return cls.model_validate(scored)


class Envelope(BaseModel):
    """What every prediction response carries besides the answers."""

    model_version: str
    request_id: str
    ignored: list[str] = Field(default_factory=list, description=IGNORED)


def response_models(answer: type[Answer]) -> tuple[type[BaseModel], type[BaseModel]]:
    """The responses of ``POST /predict`` (one ``answer`` and the envelope) and of
    ``POST /predict/batch`` (``predictions``: one answer per record, in order)."""
    single = create_model("PredictionResponse", __base__=(answer, Envelope))
    batch = create_model(
        "BatchResponse",
        __base__=Envelope,
        predictions=(list[answer], ...),  # type: ignore[valid-type]
    )
    return single, batch


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"


class ReadyResponse(BaseModel):
    status: Literal["ready", "not ready"]
    model_version: str | None = None
    detail: str | None = None


class Lineage(BaseModel):
    """Where the served model came from."""

    data_sha256: str | None = None
    git_commit: str | None = None
    run_id: str | None = None


class ModelResponse(BaseModel):
    """The served model: ``GET /model``."""

    model_config = ConfigDict(populate_by_name=True)
    version: str
    trained_at: str
    metrics: dict[str, Any]
    schema_: dict[str, Any] = Field(alias="schema")
    lineage: Lineage
    sha256: str
    fast_path: str = Field(
        description="how the API scores: compiled, features, estimator, pipeline"
    )
    fast_path_refused: list[str] = Field(
        default_factory=list, description="why each faster mode was refused"
    )


class ErrorDetail(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorResponse(BaseModel):
    detail: list[ErrorDetail]


class MessageResponse(BaseModel):
    detail: str


_NUMERIC_TEXT = re.compile(NUMERIC_TEXT)
_BOOLEAN_TEXT = re.compile(BOOLEAN_PATTERN)


def _as_category(declared: tuple[str, ...]) -> Any:
    """A validator giving the declared category a number, or a text matching the category
    pattern (``texts``), stands for (``coerce``); other values as they are, refused."""
    lookup = category_lookup(declared)
    pattern = re.compile(category_pattern(declared))

    def read(value: Any) -> Any:
        if read_text(pattern, value) or (
            isinstance(value, int | float) and not isinstance(value, bool)
        ):
            return category_text(value, lookup)
        return value

    return BeforeValidator(read)


def _as_boolean(value: Any) -> Any:
    """What ``coerce.booleans`` reads as a boolean: the numbers 1 and 0, ``BOOLEAN_TEXT``."""
    if (isinstance(value, int | float) and not isinstance(value, bool)) or (
        read_text(_BOOLEAN_TEXT, value)
    ):
        number = boolean_value(value)
        return value if number is None else bool(number)
    return value


def _as_number(value: Any) -> Any:
    """Numeric text (as a CSV holds it) read as ``coerce.numbers`` reads it; other values as
    they are, for pydantic's strict float to judge."""
    if read_text(_NUMERIC_TEXT, value):
        number = numbers(pd.Series([value])).iloc[0]
        return value if math.isnan(number) else float(number)
    return value


def _as_date(column: Column) -> Any:
    """A validator keeping a date (text, or a number such as ``20170204``) as the text batch
    scoring would read: a value ``coerce.datetimes`` does not read as a date is refused."""
    expected = expectation(column, "datetime")

    def read(value: Any) -> str:
        text = value if isinstance(value, str) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            text = number_text(value)
        if text is None or pd.isna(datetimes(pd.Series([text], dtype=object), column.format)[0]):
            raise PydanticCustomError("datetime", "expected {expected}", {"expected": expected})
        return text

    return BeforeValidator(read)


def _field(column: Column) -> tuple[Any, Any]:
    """(annotation, default) of one feature in the request model.

    It accepts what batch scoring accepts of a JSON value (``core.coerce``): numbers (or numeric
    text) for numeric features; booleans, 0/1 or true/false for boolean features; a category as
    its text or, for a number-like category, as the number; a date as text in the column's
    format (or the number that spells it). Its JSON Schema says so (``texts``); a text is read
    only when it matches the pattern published for it.
    """
    annotation: Any
    if column.type == "numeric":
        annotation = Annotated[
            float,
            Field(ge=column.min, le=column.max, allow_inf_nan=False, strict=True),
            BeforeValidator(_as_number),
            WithJsonSchema(numeric_schema(column)),
        ]
    elif column.type == "categorical":
        declared = tuple(column.categories or ())
        annotation = Annotated[
            Literal[declared], _as_category(declared), WithJsonSchema(category_schema(declared))
        ]
    elif column.type == "datetime":
        annotation = Annotated[str, _as_date(column), WithJsonSchema(date_schema(column))]
    else:
        annotation = Annotated[
            StrictBool, BeforeValidator(_as_boolean), WithJsonSchema(boolean_schema())
        ]
    description = column.description or None
    if column.nullable:
        return annotation | None, Field(None, description=description)
    return annotation, Field(..., description=description)


def request_model(schema: Schema, example: dict[str, Any] | None = None) -> type[BaseModel]:
    """A pydantic model with one field per feature; other fields are kept aside (``split``)."""
    # (annotation, default) per feature, typed loosely: mypy checks ``**fields`` against
    # create_model's own keyword parameters (``__base__``, ``__module__``...) too.
    fields: dict[str, Any] = {column.name: _field(column) for column in schema.features}
    shown = example or example_record(schema)
    config = ConfigDict(**REQUEST_CONFIG, json_schema_extra={"examples": [shown]})
    model: type[BaseModel] = create_model("PredictionRequest", __config__=config, **fields)
    return model


def split(records: list[BaseModel]) -> tuple[list[dict[str, Any]], list[str]]:
    """Validated records as feature values, and the names of the other fields they sent."""
    ignored = sorted({name for record in records for name in record.model_extra or {}})
    return [record.model_dump(exclude=set(ignored)) for record in records], ignored


def batch_model(record: type[BaseModel], max_records: int) -> type[BaseModel]:
    """``{"records": [...]}`` with 1 to ``max_records`` records.

    A longer list fails with the ``TOO_MANY_RECORDS`` error before any record is validated.
    """

    def _not_too_many(cls: type[BaseModel], value: Any) -> Any:
        if isinstance(value, list) and len(value) > max_records:
            raise PydanticCustomError(
                TOO_MANY_RECORDS,
                "{count} records sent; at most {limit} are allowed per request (MAX_BATCH_SIZE)",
                {"count": len(value), "limit": max_records},
            )
        return value

    records = Annotated[
        list[record],  # type: ignore[valid-type]
        Field(min_length=1, description=f"1 to {max_records} records"),
    ]
    return create_model(
        "BatchRequest",
        __config__=ConfigDict(extra="forbid", frozen=True),
        __validators__={"not_too_many": field_validator("records", mode="before")(_not_too_many)},
        records=(records, ...),
    )


def errors(error: ValidationError | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Field-level errors as JSON-safe dicts (no echo of the input, which may be NaN)."""
    items = (
        error.errors(include_url=False, include_context=False, include_input=False)
        if isinstance(error, ValidationError)
        else error
    )
    return [{"loc": list(e["loc"]), "msg": str(e["msg"]), "type": str(e["type"])} for e in items]


def body_too_large(limit: int) -> str:
    """The 413 ``detail`` for a request body over ``MAX_BODY_BYTES``."""
    return f"request body over {limit} bytes; at most MAX_BODY_BYTES={limit} are accepted"


def too_slow(part: str, seconds: float) -> str:
    """The 408 ``detail`` for a request ``part`` (head, body) slower than the request timeout."""
    return f"request {part} not received within {seconds:g} s (REQUEST_TIMEOUT_SECONDS)"


def raw_response(status: int, reason: str, detail: str) -> bytes:
    """A complete HTTP/1.1 response with a JSON ``detail``, closing the connection.

    For what a server answers before any application sees the request (a head that is too
    slow, too large or malformed).
    """
    body = to_json({"detail": detail}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


def client_error(details: list[dict[str, Any]]) -> tuple[int, Any]:
    """Status and ``detail`` of a request that failed validation with ``details``: 413 for too
    many records, 400 for a body that is not JSON, else 422 with the field-level errors."""
    message = next((d["msg"] for d in details if d["type"] == TOO_MANY_RECORDS), None)
    if message:
        return 413, message
    if any(d["type"] == "json_invalid" for d in details):
        return 400, "request body is not valid JSON"
    return 422, details
