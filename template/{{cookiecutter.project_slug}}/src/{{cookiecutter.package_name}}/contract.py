"""The API contract: a request model generated from the schema, and the response model.

Both web servers validate requests with ``request_model(schema)``, so the API accepts exactly
what the schema allows: numeric ranges, known categories, required vs nullable fields.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, create_model

from .schema import Column, Schema

REQUEST_CONFIG = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class PredictionResponse(BaseModel):
    """One prediction: the label or value, class probabilities (classification), model version."""

    prediction: str | float
    probabilities: dict[str, float] | None = None
    model_version: str


def _field(column: Column) -> tuple[Any, Any]:
    """(annotation, default) of one feature in the request model."""
    annotation: Any
    if column.type == "numeric":
        annotation = Annotated[float, Field(ge=column.min, le=column.max, allow_inf_nan=False)]
    elif column.type == "categorical":
        annotation = Literal[tuple(column.categories or ())]
    else:
        annotation = StrictBool
    description = column.description or None
    if column.nullable:
        return annotation | None, Field(None, description=description)
    return annotation, Field(..., description=description)


def request_model(schema: Schema) -> type[BaseModel]:
    """A pydantic model with one field per feature; unknown fields are rejected."""
    fields = {column.name: _field(column) for column in schema.features}
    return create_model("PredictionRequest", __config__=REQUEST_CONFIG, **fields)
