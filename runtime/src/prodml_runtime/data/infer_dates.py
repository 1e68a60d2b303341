"""Schema inference of dates: the format a column's text (or numbers) are dates in, if any."""

from __future__ import annotations

import pandas as pd

from ..core import coerce
from ..core.coerce import number_text
from .choice import Choice, is_integer

#: Date formats tried, in order, on text that looks like dates (month first before day first,
#: as pandas reads them; a day above 12 somewhere tells them apart).
DATE_FORMATS = (
    "ISO8601",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%d-%m-%Y",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%d %b %Y",
    "%b %d %Y",
)
#: Years a date column's values must lie in (a column of other numbers is not taken for dates).
YEARS = (1800, 2200)
DATE_LIKE = r"\d{1,4}[-/. ]\w{1,3}[-/. ]\d{1,4}|^\w{3} \d{1,2} \d{4}"


def _read_dates(values: pd.Series, date_format: str) -> pd.Series | None:
    """``values`` as ``coerce.datetimes`` reads them in ``date_format``, or None unless every
    one is a date within ``YEARS``."""
    stamps = coerce.datetimes(values, None if date_format == "ISO8601" else date_format)
    return stamps if stamps.notna().all() and stamps.dt.year.between(*YEARS).all() else None


def _swapped(date_format: str) -> str:
    """A day-first format as month-first, or the other way round."""
    return date_format.replace("%m/%d", "%M").replace("%d/%m", "%m/%d").replace("%M", "%d/%m")


def date_format(present: pd.Series) -> tuple[str, bool, pd.Series] | None:
    """The first of ``DATE_FORMATS`` every distinct value is a date in ("ISO8601" for ISO),
    whether the day and month could be swapped, and the distinct dates; or None. A number is a
    date only as ``%Y%m%d`` (``20170204``). The first values decide whether to look at all."""
    head = present.head(200)
    if pd.api.types.is_numeric_dtype(present):
        if not (is_integer(head) and head.between(YEARS[0] * 10**4, YEARS[1] * 10**4).all()):
            return None
        values = pd.Series(present.unique()).map(number_text)
        candidates: tuple[str, ...] = ("%Y%m%d",)
    elif pd.api.types.is_bool_dtype(present) or not (
        head.astype(str).str.contains(DATE_LIKE, regex=True).all()
    ):
        return None
    else:
        values, candidates = pd.Series(present.unique()).astype(str), DATE_FORMATS
    for candidate in candidates:
        stamps = _read_dates(values, candidate)
        if stamps is not None:
            swapped = _swapped(candidate)
            ambiguous = swapped != candidate and _read_dates(values, swapped) is not None
            return candidate, ambiguous, stamps
    return None


def datetime_choice(found: tuple[str, bool, pd.Series]) -> Choice:
    """The entry of a datetime feature in the format ``date_format`` found."""
    found_format, ambiguous, stamps = found
    iso = found_format == "ISO8601"
    first, last = stamps.min().date(), stamps.max().date()
    why = (
        f"datetime: {'ISO 8601' if iso else found_format}, {first} to {last}; model inputs: "
        "year, month, day_of_week, age_days (days before as_of, the latest date)"
    )
    if ambiguous:
        why += f"; day and month are both <= 12 in every row: is it {_swapped(found_format)}?"
    entry = {"type": "datetime", "nullable": True, **({} if iso else {"format": found_format})}
    return Choice({**entry, "as_of": last.isoformat()}, why)
