"""UTC time as text: the one place that formats and parses the project's timestamps.

``iso()`` gives ISO 8601 with a ``Z`` (``2026-01-31T12:00:00Z``; with ``digits`` 3 or 6,
milliseconds or microseconds), which sorts as text; ``compact()`` gives the form in version
names and run ids (``20260131T120000Z``). ``parse`` reads either ISO form back.
"""

from __future__ import annotations

import calendar
import time

from .errors import ProjectError


def now() -> float:
    """Seconds since the epoch."""
    return time.time()


def iso(seconds: float | None = None, digits: int = 0) -> str:
    """``seconds`` (default: now) as ISO 8601 UTC, with ``digits`` (0, 3 or 6) of fraction."""
    seconds = now() if seconds is None else seconds
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if digits:
        fraction = int(seconds % 1 * 10**digits)
        text += f".{fraction:0{digits}d}"
    return text + "Z"


def compact(seconds: float | None = None) -> str:
    """``seconds`` (default: now) as ``YYYYMMDDTHHMMSSZ``."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now() if seconds is None else seconds))


def parse(text: str) -> float:
    """Seconds since the epoch of an ISO 8601 UTC time (``...Z``, fraction optional).

    ValueError if ``text`` is not one.
    """
    whole, _, fraction = text.removesuffix("Z").partition(".")
    seconds = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return seconds + (float(f"0.{fraction}") if fraction.isdigit() else 0.0)


def days_since(text: str, seconds: float | None = None) -> float:
    """Days from the ISO time ``text`` to ``seconds`` (default: now)."""
    return ((now() if seconds is None else seconds) - parse(text)) / 86400.0


def window_start(since: str | None, days: float | None) -> str | None:
    """The start of a time window as ISO time: ``since`` (checked), or ``days`` before now."""
    if since and days is not None:
        raise ProjectError("give --since or --days, not both")
    if days is not None:
        return iso(now() - days * 86400, digits=6)
    if since and not since[:4].isdigit():
        raise ProjectError(f"--since must be an ISO time such as 2026-01-31, not {since}")
    return since
