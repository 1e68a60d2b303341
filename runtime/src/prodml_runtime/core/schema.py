"""The feature schema (``configs/schema.yaml``): the single source of truth for every column.

Validation, the feature pipeline, the API request model and batch scoring all read it.
"""

from __future__ import annotations

import codecs
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import ProjectError

ProblemType = Literal["binary_classification", "multiclass_classification", "regression"]
Role = Literal["feature", "target", "id", "ignored"]
ColumnType = Literal["numeric", "categorical", "boolean", "datetime", "string"]


#: The columns batch scoring writes besides an id and passthrough columns (and ``proba_<class>``).
PROBABILITY_PREFIX = "proba_"
SCORING_COLUMNS = ("row", "reason", "prediction", "model_version")
#: Characters no CSV separator can be.
SPECIAL = frozenset("\"'\r\n.")


class SchemaError(ProjectError, ValueError):
    """The schema file is missing or does not describe a usable dataset."""


class Column(BaseModel):
    """One column: its role, type and the values it may take."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    role: Role = "feature"
    type: ColumnType
    description: str = ""
    nullable: bool = False
    min: float | None = Field(None, allow_inf_nan=False)
    max: float | None = Field(None, allow_inf_nan=False)
    categories: tuple[str, ...] | None = None
    #: datetime: how the file writes it (a ``strptime`` format; default ISO 8601, e.g.
    #: ``2024-05-31`` or ``2024-05-31T12:00:00Z``), and the date its age in days counts to.
    format: str | None = None
    as_of: date | None = None
    slice: bool = False
    sensitive: bool = False
    #: ignored: left out because the column alone predicts the target almost perfectly (a leak
    #: found by ``schema infer``); delete ``role`` and ``leak`` to make it a feature again.
    leak: bool = False
    #: target: other texts of a class, each read as a declared category or, when null, as
    #: missing (the row is unlabelled); ``schema infer --rare-classes`` writes them.
    aliases: dict[str, str | None] | None = None

    @model_validator(mode="after")
    def _check_type_details(self) -> Column:
        if self.type == "categorical" and not self.categories:
            raise ValueError(f"categorical column {self.name!r} needs a list of categories")
        if self.type != "categorical" and self.categories is not None:
            raise ValueError(f"only categorical columns take categories ({self.name!r})")
        if self.type != "numeric" and (self.min is not None or self.max is not None):
            raise ValueError(f"only numeric columns take min/max ({self.name!r})")
        if self.type != "datetime" and (self.format is not None or self.as_of is not None):
            raise ValueError(f"only datetime columns take format/as_of ({self.name!r})")
        if self.format is not None and "%" not in self.format:
            raise ValueError(
                f"column {self.name!r}: format {self.format!r} is no strptime format "
                "(e.g. '%d/%m/%Y'); leave it out for ISO 8601 dates"
            )
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"column {self.name!r}: min is greater than max")
        if self.type == "string" and self.role == "feature":
            raise ValueError(f"string column {self.name!r} can only be an id or ignored column")
        if self.leak and self.role != "ignored":
            raise ValueError(f"only ignored columns take leak ({self.name!r})")
        if self.aliases is not None:
            self._check_aliases()
        if (self.slice or self.sensitive) and (
            self.type not in ("categorical", "boolean") or self.role not in ("feature", "ignored")
        ):
            raise ValueError(
                f"only categorical or boolean feature/ignored columns can be a slice or "
                f"sensitive ({self.name!r})"
            )
        return self

    def _check_aliases(self) -> None:
        if self.role != "target" or self.type != "categorical":
            raise ValueError(f"only a categorical target takes aliases ({self.name!r})")
        declared = set(self.categories or ())
        unknown = sorted({c for c in (self.aliases or {}).values() if c is not None} - declared)
        if unknown:
            raise ValueError(f"column {self.name!r}: aliases name undeclared categories {unknown}")
        if None in (self.aliases or {}).values() and not self.nullable:
            raise ValueError(
                f"column {self.name!r}: an alias of null reads a class as missing: the target "
                "needs nullable: true"
            )
        taken = sorted(declared & set(self.aliases or {}))
        if taken:
            raise ValueError(f"column {self.name!r}: {taken} are categories, not aliases")


class FeatureBudget(BaseModel):
    """What the fitted feature pipeline may cost to transform 1,000 rows."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ms_per_1k_rows: float = Field(1000.0, gt=0)
    kb_per_1k_rows: float = Field(1024.0, gt=0)


class Schema(BaseModel):
    """The dataset: what is predicted, from which columns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    problem_type: ProblemType
    target: str
    id: str | None = None
    #: Cell texts that mean "missing" in the data files (an empty cell always does).
    na_values: tuple[str, ...] = ()
    #: How the CSV files write a row: the character between cells, and the decimal mark of
    #: their numbers (``,`` in many European exports, with ``;`` between cells).
    separator: str = ","
    decimal: Literal[".", ","] = "."
    #: The text encoding of the CSV files (``cp1252`` for many Windows exports).
    encoding: str = "utf-8"
    #: Input columns (besides the id) copied as they are into batch predictions and rejects,
    #: e.g. keys to join the predictions back on; scoring files must hold them.
    passthrough: tuple[str, ...] = ()
    columns: tuple[Column, ...]
    feature_budget: FeatureBudget = Field(default_factory=FeatureBudget)

    @model_validator(mode="after")
    def _check_format(self) -> Schema:
        if len(self.separator) != 1 or self.separator.isalnum() or self.separator in SPECIAL:
            raise ValueError(
                f"separator {self.separator!r} must be one character that is no letter, digit, "
                "quote, line break or dot (e.g. ',', ';', '\\t', '|')"
            )
        if self.separator == self.decimal:
            raise ValueError(f"the separator and the decimal mark are both {self.decimal!r}")
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise ValueError(
                f"encoding {self.encoding!r} is not one Python knows (e.g. utf-8, cp1252, latin-1)"
            ) from None
        return self

    @model_validator(mode="after")
    def _check_roles(self) -> Schema:
        names = [c.name for c in self.columns]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate column names: {duplicates}")
        targets = [c.name for c in self.columns if c.role == "target"]
        if targets != [self.target]:
            raise ValueError(f"exactly one column with role 'target' named {self.target!r} needed")
        ids = [c.name for c in self.columns if c.role == "id"]
        if ids != ([self.id] if self.id else []):
            raise ValueError(f"the column with role 'id' must be the declared id ({self.id!r})")
        if not self.features:
            raise ValueError("at least one column with role 'feature' is needed")
        copied = [*([self.id] if self.id else []), *self.passthrough]
        taken = [n for n in copied if n in SCORING_COLUMNS or n.startswith(PROBABILITY_PREFIX)]
        if taken or len(set(copied)) < len(copied):
            raise ValueError(
                f"the id and passthrough columns are copied into batch predictions: each once, "
                f"and none named {', '.join(SCORING_COLUMNS)} or {PROBABILITY_PREFIX}* "
                f"(rename {taken or copied})"
            )
        target = self.column(self.target)
        if self.problem_type == "regression" and target.type != "numeric":
            raise ValueError("a regression target must be numeric")
        if self.problem_type != "regression":
            wanted = 2 if self.problem_type == "binary_classification" else 3
            count = len(target.categories or ())
            if target.type != "categorical" or count < wanted:
                raise ValueError(
                    f"a {self.problem_type} target must be categorical with >= {wanted} categories"
                )
            if self.problem_type == "binary_classification" and count != 2:
                raise ValueError("a binary target must have exactly two categories")
        return self

    @property
    def reading(self) -> dict[str, Any]:
        """How the data files write cells, as ``io.tables``' readers take it: the texts that
        mean missing, the separator, the decimal mark and the encoding."""
        return {
            "missing": self.na_values, "separator": self.separator, "decimal": self.decimal,
            "encoding": self.encoding,
        }  # fmt: skip

    @property
    def writing(self) -> dict[str, Any]:
        """How to write a CSV as the data files are (``DataFrame.to_csv``'s arguments)."""
        return {"sep": self.separator, "decimal": self.decimal, "encoding": self.encoding}

    @property
    def is_classification(self) -> bool:
        return self.problem_type != "regression"

    @property
    def features(self) -> tuple[Column, ...]:
        """Columns the model may use (id and ignored columns never are)."""
        return tuple(c for c in self.columns if c.role == "feature")

    @property
    def feature_names(self) -> list[str]:
        return [c.name for c in self.features]

    def features_of_type(self, column_type: ColumnType) -> list[str]:
        return [c.name for c in self.features if c.type == column_type]

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def slice_columns(self) -> list[str]:
        """Columns to report quality on per value: marked ``slice``, else the first categorical."""
        marked = [c.name for c in self.columns if c.slice]
        return marked or self.features_of_type("categorical")[:1]

    @property
    def sensitive_columns(self) -> list[str]:
        """Columns marked ``sensitive``: the groups of the fairness check."""
        return [c.name for c in self.columns if c.sensitive]

    @property
    def classes(self) -> list[str]:
        """Target classes in schema order (the positive class of a binary problem comes last)."""
        return list(self.column(self.target).categories or ())


def problems(error: ValidationError) -> str:
    """A validation failure as one line: ``field.path: message; ...``."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}" for e in error.errors()
    )


def parse_schema(raw: object, source: str = "schema") -> Schema:
    """Validate an already-parsed mapping (a schema file, a model's metadata) into a Schema."""
    try:
        return Schema.model_validate(raw)
    except ValidationError as error:
        raise SchemaError(f"invalid {source}: {problems(error)}") from None
